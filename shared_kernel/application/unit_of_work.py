"""The unit of work port: one business transaction, committed explicitly."""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import Protocol, Self

from shared_kernel.domain.events import DomainEvent


class UnitOfWork(Protocol):
    """Async context manager around one transaction.

    Leaving the block without ``commit()`` rolls back. ``commit()`` stores the
    aggregates the unit saw together with their events (in an outbox), atomically.
    Committed events are then available once through ``collect_committed_events``
    for in-context handlers.
    """

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...

    def collect_committed_events(self) -> Iterator[DomainEvent]: ...
