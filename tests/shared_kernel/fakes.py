"""An in-memory unit of work with real transaction semantics, for message-bus tests.

Committed state lives in ``store`` as plain data; every unit rebuilds aggregates from
it, so a change that is not committed never leaks into the next unit.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import Self

from shared_kernel.domain import AggregateRoot, DomainEvent, NotFound
from tests.shared_kernel.sample_domain import Counter, CounterId


class FakeCounters:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    async def add(self, counter: Counter) -> None:
        self._uow.track(counter)

    async def get(self, counter_id: CounterId) -> Counter:
        try:
            total, version = self._uow.store[counter_id]
        except KeyError:
            raise NotFound("Counter", counter_id) from None
        counter = Counter(counter_id, total=total, version=version)
        self._uow.track(counter)
        return counter


class FakeUnitOfWork:
    def __init__(self) -> None:
        self.store: dict[CounterId, tuple[int, int]] = {}
        self.commits = 0
        self.counters = FakeCounters(self)
        self._seen: list[AggregateRoot[CounterId]] = []
        self._committed: list[DomainEvent] = []
        self._open = False

    def track(self, aggregate: AggregateRoot[CounterId]) -> None:
        if not self._open:
            raise RuntimeError("used outside its block")
        self._seen.append(aggregate)

    async def __aenter__(self) -> Self:
        if self._open:
            raise RuntimeError("already open")
        self._open = True
        self._seen = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.rollback()
        self._open = False

    async def commit(self) -> None:
        events: list[DomainEvent] = []
        for aggregate in self._seen:
            assert isinstance(aggregate, Counter)
            self.store[aggregate.id] = (aggregate.total, aggregate.version)
            events.extend(aggregate.pull_events())
        self._seen = []
        self.commits += 1
        self._committed.extend(events)

    async def rollback(self) -> None:
        self._seen = []

    def collect_committed_events(self) -> Iterator[DomainEvent]:
        while self._committed:
            yield self._committed.pop(0)
