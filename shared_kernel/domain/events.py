"""Domain events: facts the business cares about, recorded by aggregates.

An event is a frozen, slotted, keyword-only dataclass. Each context declares a base per
aggregate that fixes ``context`` and ``aggregate_type``; concrete events add their
facts. ``aggregate_id`` and ``aggregate_version`` are stamped by
``AggregateRoot._record`` so the aggregate cannot get them wrong.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class DomainEvent:
    """Base of every domain event.

    Class attributes (not payload):
    - ``context``: owning bounded context, e.g. ``"supply_chain"``;
    - ``aggregate_type``: e.g. ``"inventory"``; with ``context`` and the schema's major
      version it names the topic ``<context>.<aggregate_type>.v<major>``;
    - ``schema_version``: major version of the event's published schema. Raise it for
      any change that would break a consumer (the contract check enforces this).
    """

    context: ClassVar[str] = "shared"
    aggregate_type: ClassVar[str] = "aggregate"
    schema_version: ClassVar[int] = 1

    event_id: uuid.UUID = field(default_factory=uuid.uuid4)
    occurred_at: datetime = field(default_factory=_now)
    aggregate_id: str = ""
    aggregate_version: int = 0

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware (UTC)")

    @classmethod
    def type_name(cls) -> str:
        """Stable type, ``<context>.<EventName>``; used as CloudEvents ``type``."""
        return f"{cls.context}.{cls.__name__}"

    @property
    def event_type(self) -> str:
        return self.type_name()
