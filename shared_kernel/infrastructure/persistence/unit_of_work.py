"""SQLAlchemy unit of work: aggregates and their events in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from shared_kernel.domain.entity import AggregateRoot
from shared_kernel.domain.errors import ConcurrencyConflict
from shared_kernel.domain.events import DomainEvent
from shared_kernel.infrastructure.persistence.outbox import OutboxWriter

AfterCommit = Callable[[], None]


class SqlAlchemyUnitOfWork:
    """Collects events from the aggregates it saw and writes them to the outbox.

    Repositories call ``track`` for every aggregate they add or load. ``commit``
    pulls the aggregates' pending events, inserts them as outbox rows and commits
    once: the change and its events are stored together or not at all. A stale
    version (another writer committed first) becomes ``ConcurrencyConflict``.

    ``after_commit`` callbacks run once the transaction is durable; the outbox relay
    registers one to publish at once instead of waiting for its next poll.

    Subclass per context and create repositories in ``_open_repositories``.
    """

    session: AsyncSession

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        outbox: OutboxWriter,
        after_commit: Sequence[AfterCommit] = (),
    ) -> None:
        self._session_factory = session_factory
        self._outbox = outbox
        self._after_commit = list(after_commit)
        self._seen: list[AggregateRoot[Any]] = []
        self._committed_events: list[DomainEvent] = []
        self._open = False

    def add_after_commit(self, callback: AfterCommit) -> None:
        self._after_commit.append(callback)

    async def __aenter__(self) -> Self:
        if self._open:
            raise RuntimeError("unit of work is already open; nest a new one instead")
        self.session = self._session_factory()
        self._seen = []
        self._open = True
        self._open_repositories(self.session)
        return self

    def _open_repositories(self, session: AsyncSession) -> None:
        """Hook for subclasses: build the context's repositories on ``session``."""

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.session.rollback()
        finally:
            await self.session.close()
            self._seen = []
            self._open = False

    def track(self, aggregate: AggregateRoot[Any]) -> None:
        if not any(seen is aggregate for seen in self._seen):
            self._seen.append(aggregate)

    async def commit(self) -> None:
        events = [event for aggregate in self._seen for event in aggregate.pull_events()]
        try:
            await self._outbox.write(self.session, events)
            await self.session.commit()
        except StaleDataError:
            await self.session.rollback()
            raise self._conflict() from None
        self._committed_events.extend(events)
        for callback in self._after_commit:
            callback()

    def _conflict(self) -> ConcurrencyConflict:
        if len(self._seen) == 1:
            aggregate = self._seen[0]
            return ConcurrencyConflict(type(aggregate).__name__, aggregate.id, None, None)
        names = ", ".join(f"{type(a).__name__} {a.id}" for a in self._seen)
        return ConcurrencyConflict("aggregates", names, None, None)

    async def rollback(self) -> None:
        await self.session.rollback()

    def collect_committed_events(self) -> Iterator[DomainEvent]:
        while self._committed_events:
            yield self._committed_events.pop(0)
