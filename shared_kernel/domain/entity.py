"""Entities (identity over time) and aggregate roots (consistency boundaries)."""

from __future__ import annotations

import dataclasses
from typing import Generic, TypeVar

from shared_kernel.domain.events import DomainEvent
from shared_kernel.domain.ids import EntityId

IdT = TypeVar("IdT", bound=EntityId)
E = TypeVar("E", bound=DomainEvent)


class Entity(Generic[IdT]):
    """Equal by type and id, whatever its other attributes say."""

    id: IdT

    def __init__(self, id: IdT) -> None:
        self.id = id

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.id == self.id

    def __hash__(self) -> int:
        return hash((type(self), self.id))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!s})"


class AggregateRoot(Entity[IdT]):
    """Consistency boundary: the only entry point for changes to what it contains.

    ``version`` counts the events the aggregate has ever recorded. The unit of work
    persists it with a compare-and-set, so two writers that loaded the same version
    cannot both commit (the second gets ``ConcurrencyConflict``). The same number is
    the HTTP ETag.

    Pending events live in ``__dict__`` rather than a class-level default because an
    ORM may rebuild the object without calling ``__init__``.
    """

    version: int

    def __init__(self, id: IdT, version: int = 0) -> None:
        super().__init__(id)
        self.version = version

    @property
    def _pending(self) -> list[DomainEvent]:
        pending: list[DomainEvent] = self.__dict__.setdefault("_pending_events", [])
        return pending

    def _record(self, event: E) -> E:
        """Stamp ``event`` with this aggregate's id and next version, and queue it."""
        self.version += 1
        stamped = dataclasses.replace(
            event,
            aggregate_id=str(self.id),
            aggregate_version=self.version,
        )
        self._pending.append(stamped)
        return stamped

    @property
    def pending_events(self) -> tuple[DomainEvent, ...]:
        return tuple(self._pending)

    def pull_events(self) -> list[DomainEvent]:
        """Hand the queued events over (to the unit of work) and forget them."""
        events = list(self._pending)
        self._pending.clear()
        return events
