from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from shared_kernel.application import Command, MessageBus
from shared_kernel.application.messagebus import CommandHandler, EventHandler, UnknownCommand
from shared_kernel.domain import DomainEvent
from tests.shared_kernel.fakes import FakeUnitOfWork
from tests.shared_kernel.sample_domain import (
    Counter,
    CounterId,
    CounterOpened,
    IncrementCounter,
    Incremented,
    OpenCounter,
    Reset,
    ResetCounter,
)

# -- handlers ----------------------------------------------------------------------


async def open_counter(command: OpenCounter, uow: FakeUnitOfWork) -> str:
    async with uow:
        await uow.counters.add(Counter.open(CounterId(command.counter_id)))
        await uow.commit()
    return command.counter_id


async def increment_counter(command: IncrementCounter, uow: FakeUnitOfWork) -> int:
    async with uow:
        counter = await uow.counters.get(CounterId(command.counter_id))
        counter.increment(command.by)
        await uow.commit()
    return counter.total


async def reset_counter(command: ResetCounter, uow: FakeUnitOfWork) -> None:
    async with uow:
        counter = await uow.counters.get(CounterId(command.counter_id))
        counter.reset()
        await uow.commit()


async def reset_at_ten(event: Incremented, uow: FakeUnitOfWork) -> None:
    """A reaction that changes state again, so its own event cascades."""
    if event.total >= 10:
        await reset_counter(ResetCounter(event.aggregate_id), uow)


COMMANDS: Mapping[type[Command], CommandHandler[FakeUnitOfWork]] = {
    OpenCounter: open_counter,
    IncrementCounter: increment_counter,
    ResetCounter: reset_counter,
}


class Journal:
    """Records what event handlers saw, including the committed state at that moment."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, DomainEvent, tuple[int, int] | None]] = []

    def handler(self, name: str) -> EventHandler[FakeUnitOfWork]:
        async def record(event: DomainEvent, uow: FakeUnitOfWork) -> None:
            stored = uow.store.get(CounterId(event.aggregate_id))
            self.entries.append((name, event, stored))

        record.__name__ = name
        return record

    def names(self) -> list[str]:
        return [name for name, _, _ in self.entries]


def make_bus(
    uow: FakeUnitOfWork,
    events: Mapping[type[DomainEvent], Sequence[EventHandler[FakeUnitOfWork]]] | None = None,
    commands: Mapping[type[Command], CommandHandler[FakeUnitOfWork]] = COMMANDS,
) -> MessageBus[FakeUnitOfWork]:
    return MessageBus(uow, commands, events)


# -- commands ----------------------------------------------------------------------


async def test_a_command_runs_its_handler_and_returns_the_result() -> None:
    uow = FakeUnitOfWork()
    bus = make_bus(uow)

    assert await bus.handle(OpenCounter("c-1")) == "c-1"
    assert await bus.handle(IncrementCounter("c-1", by=4)) == 4
    assert uow.store[CounterId("c-1")] == (4, 2)


async def test_each_command_goes_to_its_own_handler_only() -> None:
    calls: list[str] = []

    async def first(command: Command, uow: FakeUnitOfWork) -> str:
        calls.append("first")
        return "first"

    async def second(command: Command, uow: FakeUnitOfWork) -> str:
        calls.append("second")
        return "second"

    bus = make_bus(FakeUnitOfWork(), commands={OpenCounter: first, ResetCounter: second})

    assert await bus.handle(ResetCounter("c-1")) == "second"
    assert calls == ["second"]


async def test_an_unregistered_command_is_a_wiring_error() -> None:
    uow = FakeUnitOfWork()
    bus = make_bus(uow, commands={OpenCounter: open_counter})

    with pytest.raises(UnknownCommand, match="IncrementCounter"):
        await bus.handle(IncrementCounter("c-1"))
    assert uow.commits == 0


async def test_dispatch_is_by_exact_command_type() -> None:
    @dataclass(frozen=True, slots=True)
    class OpenNamedCounter(OpenCounter):
        name: str = "n"

    bus = make_bus(FakeUnitOfWork())

    with pytest.raises(UnknownCommand):
        await bus.handle(OpenNamedCounter("c-1"))


async def test_a_failing_command_reaches_the_caller_and_commits_nothing() -> None:
    uow = FakeUnitOfWork()
    journal = Journal()
    bus = make_bus(uow, {Incremented: [journal.handler("seen")]})
    await bus.handle(OpenCounter("c-1"))

    with pytest.raises(Exception, match="cannot increment by -1"):
        await bus.handle(IncrementCounter("c-1", by=-1))

    assert uow.store[CounterId("c-1")] == (0, 1)
    assert journal.entries == []


# -- events ------------------------------------------------------------------------


async def test_committed_events_reach_their_handlers_after_the_commit() -> None:
    uow = FakeUnitOfWork()
    journal = Journal()
    bus = make_bus(
        uow,
        {
            CounterOpened: [journal.handler("opened")],
            Incremented: [journal.handler("incremented-a"), journal.handler("incremented-b")],
        },
    )

    await bus.handle(OpenCounter("c-1"))
    await bus.handle(IncrementCounter("c-1", by=3))

    assert journal.names() == ["opened", "incremented-a", "incremented-b"]
    # Each handler already saw the state its event's transaction committed.
    assert [stored for _, _, stored in journal.entries] == [(0, 1), (3, 2), (3, 2)]
    _, event, _ = journal.entries[1]
    assert isinstance(event, Incremented)
    assert (event.aggregate_id, event.by, event.total) == ("c-1", 3, 3)


async def test_events_without_handlers_are_simply_consumed() -> None:
    uow = FakeUnitOfWork()
    bus = make_bus(uow, {})

    await bus.handle(OpenCounter("c-1"))

    assert list(uow.collect_committed_events()) == []


async def test_events_that_were_never_committed_are_not_dispatched() -> None:
    uow = FakeUnitOfWork()
    journal = Journal()

    async def change_without_commit(command: IncrementCounter, uow: FakeUnitOfWork) -> None:
        async with uow:
            counter = await uow.counters.get(CounterId(command.counter_id))
            counter.increment(command.by)

    bus = make_bus(
        uow,
        {Incremented: [journal.handler("incremented")]},
        commands={**COMMANDS, IncrementCounter: change_without_commit},
    )
    await bus.handle(OpenCounter("c-1"))

    await bus.handle(IncrementCounter("c-1", by=5))

    assert journal.entries == []
    assert uow.store[CounterId("c-1")] == (0, 1)


async def test_events_raised_by_reactions_cascade() -> None:
    uow = FakeUnitOfWork()
    journal = Journal()
    bus = make_bus(
        uow,
        {
            Incremented: [reset_at_ten, journal.handler("incremented")],
            Reset: [journal.handler("reset")],
        },
    )
    await bus.handle(OpenCounter("c-1"))

    total = await bus.handle(IncrementCounter("c-1", by=10))

    assert total == 10  # the command's own result, before the reaction
    assert journal.names() == ["incremented", "reset"]
    assert uow.store[CounterId("c-1")] == (0, 3)
    assert uow.commits == 3


async def test_a_failing_reaction_does_not_undo_the_command(
    caplog: pytest.LogCaptureFixture,
) -> None:
    uow = FakeUnitOfWork()
    journal = Journal()

    async def explode(event: DomainEvent, uow: FakeUnitOfWork) -> None:
        raise RuntimeError("reaction failed")

    bus = make_bus(uow, {CounterOpened: [explode, journal.handler("after")]})

    with caplog.at_level(logging.ERROR, logger="shared_kernel.application.messagebus"):
        result = await bus.handle(OpenCounter("c-1"))

    assert result == "c-1"
    assert uow.store[CounterId("c-1")] == (0, 1)
    assert journal.names() == ["after"]  # the next handler still ran
    [record] = caplog.records
    assert "explode" in record.getMessage()
    assert "testing.CounterOpened" in record.getMessage()
    assert record.exc_info is not None


async def test_a_failing_reaction_of_any_callable_shape_is_contained(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Explode:
        async def __call__(self, event: DomainEvent, uow: FakeUnitOfWork) -> None:
            raise RuntimeError("reaction failed")

    async def explode_with(event: DomainEvent, uow: FakeUnitOfWork, reason: str) -> None:
        raise RuntimeError(reason)

    uow = FakeUnitOfWork()
    bus = make_bus(
        uow,
        {CounterOpened: [Explode(), functools.partial(explode_with, reason="partial failed")]},
    )

    with caplog.at_level(logging.ERROR, logger="shared_kernel.application.messagebus"):
        assert await bus.handle(OpenCounter("c-1")) == "c-1"

    assert len(caplog.records) == 2
    assert uow.store[CounterId("c-1")] == (0, 1)


async def test_events_committed_before_a_command_failed_are_still_dispatched() -> None:
    uow = FakeUnitOfWork()
    journal = Journal()

    async def open_then_fail(command: OpenCounter, uow: FakeUnitOfWork) -> Any:
        await open_counter(command, uow)
        raise RuntimeError("failed after the commit")

    bus = make_bus(
        uow,
        {CounterOpened: [journal.handler("opened")]},
        commands={OpenCounter: open_then_fail},
    )

    with pytest.raises(RuntimeError, match="after the commit"):
        await bus.handle(OpenCounter("c-1"))

    # The fact is stored, so its reactions happen now, not with some later command.
    assert journal.names() == ["opened"]
    assert list(uow.collect_committed_events()) == []
