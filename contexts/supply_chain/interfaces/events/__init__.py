"""The supply chain's published language: every domain event other contexts may read.

Each event's JSON Schema is generated from its class and checked in under
``schemas/<EventName>.v<major>.json``; ``make test`` fails when a schema is stale or
changes in a way that breaks consumers without a new major version
(docs/event-contracts.md). Regenerate with ``dpmesh contracts generate``.
"""

from contexts.supply_chain.domain.event_types import EVENT_TYPES

PUBLISHED_EVENTS = EVENT_TYPES

__all__ = ["PUBLISHED_EVENTS"]
