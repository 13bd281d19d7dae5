"""The supply chain's event base: fixes the context part of every topic name.

Each aggregate's events derive from a base that sets ``aggregate_type``, which makes
the topic ``supply_chain.<aggregate_type>.v<schema_version>``. Event fields are the
published language: primitives, Decimal, dates, enums and nested frozen dataclasses
(``Money``), never typed ids, so consumers in other contexts need none of our classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from shared_kernel.domain import DomainEvent

CONTEXT = "supply_chain"


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplyChainEvent(DomainEvent):
    context: ClassVar[str] = CONTEXT


def topic_of(event_type: type[DomainEvent]) -> str:
    """``supply_chain.<aggregate_type>.v<major>``, as the outbox relay names it."""
    return f"{event_type.context}.{event_type.aggregate_type}.v{event_type.schema_version}"
