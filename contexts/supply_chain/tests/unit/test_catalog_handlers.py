from decimal import Decimal

import pytest

from contexts.supply_chain.application import AggregateRef
from contexts.supply_chain.application.commands.catalog import (
    RegisterSku,
    RegisterSupplier,
    RegisterWarehouse,
)
from contexts.supply_chain.domain import Sku, SkuCode, Supplier, Warehouse, WarehouseCode
from contexts.supply_chain.domain.catalog.events import (
    SkuRegistered,
    SupplierRegistered,
    WarehouseRegistered,
)
from shared_kernel.domain import Conflict, InvalidValue, NotFound

LYON = RegisterWarehouse(
    code="LYS-1",
    name="Lyon",
    latitude=Decimal("45.76"),
    longitude=Decimal("4.84"),
    capacity=Decimal(10),
)


def sku(**changes) -> RegisterSku:
    fields = {
        "code": "KD-HUB-200",
        "name": "Hub",
        "reorder_point": Decimal(8),
        "safety_stock": Decimal(5),
        "lead_time_days": 7,
    }
    return RegisterSku(**(fields | changes))


async def test_registering_reference_data(bus, database):
    assert await bus.handle(LYON) == AggregateRef("LYS-1", 1)
    await bus.handle(RegisterSupplier(id="ACME", name="Acme", country="DE"))
    await bus.handle(sku(preferred_supplier="ACME"))

    assert database.table(Warehouse)[WarehouseCode("LYS-1")].capacity.amount == 10
    assert database.table(Sku)[SkuCode("KD-HUB-200")].preferred_supplier is not None
    assert [type(e) for e in database.events] == [
        WarehouseRegistered,
        SupplierRegistered,
        SkuRegistered,
    ]


@pytest.mark.parametrize(
    "command",
    [LYON, RegisterSupplier(id="ACME", name="Acme", country="DE"), sku()],
    ids=["warehouse", "supplier", "sku"],
)
async def test_a_code_is_registered_once(bus, database, command):
    await bus.handle(command)

    with pytest.raises(Conflict):
        await bus.handle(command)

    assert len(database.events) == 1


async def test_a_preferred_supplier_must_exist(bus, database):
    with pytest.raises(NotFound):
        await bus.handle(sku(preferred_supplier="NOPE"))

    assert database.rows(Sku) == []


@pytest.mark.parametrize(
    "command",
    [
        RegisterWarehouse(
            code="L 1", name="Lyon", latitude=Decimal(0), longitude=Decimal(0), capacity=Decimal(1)
        ),
        RegisterWarehouse(
            code="L1", name="Lyon", latitude=Decimal(91), longitude=Decimal(0), capacity=Decimal(1)
        ),
        sku(safety_stock=Decimal(9)),
        sku(unit="Each"),
        RegisterSupplier(id="ACME", name="", country="DE"),
    ],
    ids=["code", "latitude", "policy", "unit", "name"],
)
async def test_invalid_reference_data_is_refused_and_nothing_stored(bus, database, command):
    with pytest.raises(InvalidValue):
        await bus.handle(command)

    assert database.events == []
    assert not any(database.rows(kind) for kind in (Warehouse, Sku, Supplier))
