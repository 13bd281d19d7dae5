"""``limit`` and ``offset`` query parameters, shared by every list route."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from contexts.supply_chain.application.queries.messages import MAX_PAGE_SIZE

#: Larger offsets are refused (422) rather than passed to a database whose integers they
#: overflow (a 500 before); no list here comes near it.
MAX_OFFSET = 2**31 - 1

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="How many matches to skip.")]
