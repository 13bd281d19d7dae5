"""SQLAlchemy unit of work: aggregates and their events in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, Self

from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from shared_kernel.domain.entity import AggregateRoot
from shared_kernel.domain.errors import ConcurrencyConflict, Conflict
from shared_kernel.domain.events import DomainEvent
from shared_kernel.infrastructure.persistence.outbox import OutboxWriter

AfterCommit = Callable[[], None]
BeforeCommit = Callable[[AsyncSession], Awaitable[None]]

logger = logging.getLogger(__name__)


class SqlAlchemyUnitOfWork:
    """Collects events from the aggregates it saw and writes them to the outbox.

    Repositories call ``track`` for every aggregate they add or load. ``commit``
    pulls the aggregates' pending events, inserts them as outbox rows and commits
    once: the change and its events are stored together or not at all. A stale
    version (another writer committed first) becomes ``ConcurrencyConflict``; a
    violated unique or foreign key constraint (two writers registering the same code
    at once) becomes ``Conflict``.

    ``before_commit`` hooks run inside the transaction, after the outbox rows and
    before the commit, with the session: what they write is stored with the change or
    not at all (an API records an idempotency key this way). A hook that raises
    aborts the commit.

    ``after_commit`` callbacks run once the transaction is durable; the outbox relay
    registers one to publish at once instead of waiting for its next poll. A failing
    callback is logged and the others still run: the commit happened, so ``commit``
    must not tell the caller otherwise (a retry would apply the change twice).

    ``rollback`` (explicit, on a conflict, or on leaving the block without commit)
    also forgets the aggregates seen so far, so events of discarded changes never
    reach the outbox.

    Subclass per context and create repositories in ``_open_repositories``.
    """

    session: AsyncSession

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        outbox: OutboxWriter,
        after_commit: Sequence[AfterCommit] = (),
        before_commit: Sequence[BeforeCommit] = (),
    ) -> None:
        self._session_factory = session_factory
        self._outbox = outbox
        self._after_commit = list(after_commit)
        self._before_commit = list(before_commit)
        self._seen: list[AggregateRoot[Any]] = []
        self._committed_events: list[DomainEvent] = []
        self._open = False

    def add_after_commit(self, callback: AfterCommit) -> None:
        self._after_commit.append(callback)

    def add_before_commit(self, hook: BeforeCommit) -> None:
        self._before_commit.append(hook)

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
        if isinstance(exc, IntegrityError):
            # Raised by a flush before commit (a query autoflushes what was added):
            # another transaction took the key first, as at commit.
            raise _collision() from exc

    def track(self, aggregate: AggregateRoot[Any]) -> None:
        if not any(seen is aggregate for seen in self._seen):
            self._seen.append(aggregate)

    async def commit(self) -> None:
        suspects = self._stale_candidates()
        events = [event for aggregate in self._seen for event in aggregate.pull_events()]
        try:
            await self._outbox.write(self.session, events)
            for hook in self._before_commit:
                await hook(self.session)
            await self.session.commit()
        except StaleDataError:
            await self.rollback()
            raise _conflict(suspects) from None
        except IntegrityError as error:
            await self.rollback()
            raise _collision() from error
        self._committed_events.extend(events)
        for callback in self._after_commit:
            try:
                callback()
            except Exception:
                logger.exception("after-commit callback %r failed", callback)

    def _stale_candidates(self) -> list[tuple[str, str]]:
        """Type and id of each aggregate a stale write can come from: the loaded ones.

        Read before flushing: a failed flush expires the objects, and reading an
        expired id would need a query, which an async session cannot run implicitly.
        """
        loaded = [a for a in self._seen if _was_loaded(a)]
        return [(type(a).__name__, str(a.id)) for a in loaded or self._seen]

    async def rollback(self) -> None:
        self._seen = []
        await self.session.rollback()

    def collect_committed_events(self) -> Iterator[DomainEvent]:
        while self._committed_events:
            yield self._committed_events.pop(0)


def _was_loaded(aggregate: AggregateRoot[Any]) -> bool:
    state = inspect(aggregate, raiseerr=False)
    return state is not None and state.has_identity


def _conflict(suspects: Sequence[tuple[str, str]]) -> ConcurrencyConflict:
    if len(suspects) == 1:
        [(kind, identifier)] = suspects
        return ConcurrencyConflict(kind, identifier, None, None)
    names = ", ".join(f"{kind} {identifier}" for kind, identifier in suspects)
    return ConcurrencyConflict("aggregates", names, None, None)


def _collision() -> Conflict:
    return Conflict(
        "the change collides with stored data (a key that must be unique is taken, "
        "or a referenced record is missing): another request may have made it first"
    )
