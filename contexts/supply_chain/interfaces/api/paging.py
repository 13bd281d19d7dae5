"""``limit`` and ``offset`` query parameters, shared by every list route."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from contexts.supply_chain.application.queries.messages import MAX_PAGE_SIZE

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size.")]
Offset = Annotated[int, Query(ge=0, description="How many matches to skip.")]
