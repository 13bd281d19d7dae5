"""Dispatch a command to its single handler, then committed events to their handlers.

Handlers are plain async callables ``(message, uow) -> result``. Event handlers run
after the command's transaction committed, each in its own transaction, so a failing
reaction never undoes the fact that caused it; the failure is logged and re-raised
only for commands. Events a command committed before it failed are still dispatched:
the facts are stored, so their reactions are due. Reactions that must survive a crash
belong on the broker, where the outbox guarantees delivery.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from shared_kernel.application.messages import Command
from shared_kernel.application.unit_of_work import UnitOfWork
from shared_kernel.domain.events import DomainEvent

U = TypeVar("U", bound=UnitOfWork)

CommandHandler = Callable[[Any, U], Awaitable[Any]]
EventHandler = Callable[[Any, U], Awaitable[None]]

logger = logging.getLogger(__name__)


class UnknownCommand(LookupError):
    """No handler is registered for the command type (a wiring bug)."""


class MessageBus(Generic[U]):
    def __init__(
        self,
        uow: U,
        command_handlers: Mapping[type[Command], CommandHandler[U]],
        event_handlers: Mapping[type[DomainEvent], Sequence[EventHandler[U]]] | None = None,
    ) -> None:
        self.uow = uow
        self._command_handlers = dict(command_handlers)
        self._event_handlers = dict(event_handlers or {})

    async def handle(self, command: Command) -> Any:
        """Run the command's handler and return its result, then the event cascade."""
        try:
            handler = self._command_handlers[type(command)]
        except KeyError:
            raise UnknownCommand(f"no handler for {type(command).__name__}") from None
        try:
            return await handler(command, self.uow)
        finally:
            await self._dispatch_events()

    async def _dispatch_events(self) -> None:
        queue = list(self.uow.collect_committed_events())
        while queue:
            event = queue.pop(0)
            for handler in self._event_handlers.get(type(event), ()):
                try:
                    await handler(event, self.uow)
                except Exception:
                    logger.exception(
                        "event handler %s failed for %s", _name_of(handler), event.event_type
                    )
                queue.extend(self.uow.collect_committed_events())


def _name_of(handler: Callable[..., object]) -> str:
    """A readable name for any callable: function, bound method, partial or instance."""
    name = getattr(handler, "__qualname__", None) or getattr(handler, "__name__", None)
    if isinstance(name, str):
        return name
    if isinstance(handler, functools.partial):
        return f"partial({_name_of(handler.func)})"
    return repr(handler)
