"""A tiny domain built only from shared-kernel blocks, used by the unit tests.

A counter that can be incremented and reset: small enough to read at a glance,
yet it records events, guards an invariant and has a typed id.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared_kernel.application.messages import Command
from shared_kernel.domain import AggregateRoot, BusinessRuleViolation, DomainEvent, EntityId


@dataclass(frozen=True, slots=True)
class CounterId(EntityId):
    pass


@dataclass(frozen=True, slots=True)
class TallyId(EntityId):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class CounterEvent(DomainEvent):
    context = "testing"
    aggregate_type = "counter"


@dataclass(frozen=True, slots=True, kw_only=True)
class CounterOpened(CounterEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Incremented(CounterEvent):
    by: int
    total: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Reset(CounterEvent):
    pass


class Counter(AggregateRoot[CounterId]):
    """Counts upwards; a step must be positive."""

    def __init__(self, id: CounterId, total: int = 0, version: int = 0) -> None:
        super().__init__(id, version)
        self.total = total

    @classmethod
    def open(cls, id: CounterId) -> Counter:
        counter = cls(id)
        counter._record(CounterOpened())
        return counter

    def increment(self, by: int = 1) -> None:
        if by <= 0:
            raise BusinessRuleViolation("positive_step", f"cannot increment by {by}")
        self.total += by
        self._record(Incremented(by=by, total=self.total))

    def reset(self) -> None:
        self.total = 0
        self._record(Reset())


class Tally(AggregateRoot[TallyId]):
    """Another aggregate type, to show that equality needs the same type."""


@dataclass(frozen=True, slots=True)
class OpenCounter(Command):
    counter_id: str


@dataclass(frozen=True, slots=True)
class IncrementCounter(Command):
    counter_id: str
    by: int = 1


@dataclass(frozen=True, slots=True)
class ResetCounter(Command):
    counter_id: str
