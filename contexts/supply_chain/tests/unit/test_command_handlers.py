"""The bus can dispatch every command the application defines."""

import inspect

from contexts.supply_chain.application import COMMAND_HANDLERS, SYSTEM_CLOCK, command_handlers
from contexts.supply_chain.application.commands import catalog, inventory, purchasing, shipping
from contexts.supply_chain.application.commands.catalog import RegisterSupplier
from contexts.supply_chain.domain.catalog.events import SupplierRegistered
from contexts.supply_chain.tests.fakes import FixedClock
from shared_kernel.application import Command, MessageBus


def defined_commands() -> set[type[Command]]:
    return {
        kind
        for module in (catalog, inventory, purchasing, shipping)
        for _, kind in inspect.getmembers(module, inspect.isclass)
        if issubclass(kind, Command) and kind.__module__ == module.__name__
    }


def test_every_command_has_exactly_one_handler():
    assert set(COMMAND_HANDLERS) == defined_commands()


def test_handlers_read_the_clock_they_are_given():
    clock = FixedClock()

    assert all(h.keywords["clock"] is SYSTEM_CLOCK for h in COMMAND_HANDLERS.values())
    assert all(h.keywords["clock"] is clock for h in command_handlers(clock).values())


async def test_the_bus_hands_committed_events_to_event_handlers(uow, clock):
    seen = []

    async def remember(event, _uow):
        seen.append(event)

    bus = MessageBus(uow, command_handlers(clock), {SupplierRegistered: [remember]})
    await bus.handle(RegisterSupplier(id="ACME", name="Acme", country="DE"))

    assert [(type(e), e.supplier, e.occurred_at) for e in seen] == [
        (SupplierRegistered, "ACME", clock.now())
    ]
