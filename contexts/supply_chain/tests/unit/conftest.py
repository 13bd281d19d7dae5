"""Fixtures for use-case tests: a fake database, a pinned clock and a message bus."""

from decimal import Decimal

import pytest

from contexts.supply_chain.application import command_handlers
from contexts.supply_chain.application.commands.catalog import (
    RegisterSku,
    RegisterSupplier,
    RegisterWarehouse,
)
from contexts.supply_chain.tests.fakes import FakeDatabase, FakeUnitOfWork, FixedClock
from shared_kernel.application import MessageBus
from shared_kernel.domain import Money


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def database() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def uow(database: FakeDatabase) -> FakeUnitOfWork:
    return FakeUnitOfWork(database)


@pytest.fixture
def bus(uow: FakeUnitOfWork, clock: FixedClock) -> MessageBus[FakeUnitOfWork]:
    return MessageBus(uow, command_handlers(clock))


@pytest.fixture
async def catalog(bus: MessageBus[FakeUnitOfWork], database: FakeDatabase) -> FakeDatabase:
    """Two warehouses (LYS-1 holds 1000 units, HAM-2 holds 50), supplier ACME and SKUs:
    KD-HUB-200 (reorder 80, safety 50, 7 days, ACME at 18 EUR), KD-CAM-10 (no sourcing)
    and KD-RESIN counted in kg. The registration events are cleared."""
    for command in (
        RegisterWarehouse(
            code="LYS-1",
            name="Lyon",
            latitude=Decimal("45.76"),
            longitude=Decimal("4.84"),
            capacity=Decimal(1000),
        ),
        RegisterWarehouse(
            code="HAM-2",
            name="Hamburg",
            latitude=Decimal("53.55"),
            longitude=Decimal("9.99"),
            capacity=Decimal(50),
        ),
        RegisterSupplier(id="ACME", name="Acme Components", country="DE"),
        RegisterSku(
            code="KD-HUB-200",
            name="Kestrel Hub 200",
            reorder_point=Decimal(80),
            safety_stock=Decimal(50),
            lead_time_days=7,
            preferred_supplier="ACME",
            standard_cost=Money(Decimal(18), "EUR"),
        ),
        RegisterSku(
            code="KD-CAM-10",
            name="Kestrel Cam 10",
            reorder_point=Decimal(10),
            safety_stock=Decimal(5),
            lead_time_days=14,
        ),
        RegisterSku(
            code="KD-RESIN",
            name="Potting resin",
            unit="kg",
            reorder_point=Decimal(20),
            safety_stock=Decimal(10),
            lead_time_days=3,
        ),
    ):
        await bus.handle(command)
    database.events.clear()
    return database
