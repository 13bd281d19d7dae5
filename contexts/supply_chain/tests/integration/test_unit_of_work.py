"""The supply chain's unit of work on a real database: outbox rows with every command,
optimistic concurrency, and constraint violations reported in the domain's terms."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from contexts.supply_chain.application.commands.catalog import RegisterWarehouse
from contexts.supply_chain.application.commands.inventory import ReceiveStock, ReserveStock
from contexts.supply_chain.application.commands.purchasing import (
    DraftPurchaseOrder,
    OrderLineInput,
    PlacePurchaseOrder,
)
from contexts.supply_chain.application.commands.shipping import PlanShipment, ShipmentLineInput
from contexts.supply_chain.bootstrap import SupplyChainContainer
from contexts.supply_chain.domain import (
    LineSpec,
    PurchaseOrder,
    PurchaseOrderId,
    ReservationRef,
    SkuCode,
    SupplierId,
    Warehouse,
    WarehouseCode,
)
from contexts.supply_chain.domain.values import GeoLocation
from contexts.supply_chain.infrastructure.persistence.tables import inventory_items, outbox
from contexts.supply_chain.tests.conftest import NOW
from contexts.supply_chain.tests.scenario import catalog, eur, legs, run
from shared_kernel.domain import BusinessRuleViolation, ConcurrencyConflict, Conflict, Quantity

pytestmark = pytest.mark.integration

LYS, HUB = WarehouseCode("LYS-1"), SkuCode("KD-HUB-200")


async def outbox_rows(container: SupplyChainContainer) -> list[Any]:
    async with container.engine().connect() as connection:
        return list((await connection.execute(select(outbox).order_by(outbox.c.seq))).all())


@pytest.fixture
async def seeded(migrated: SupplyChainContainer, pinned_clock: Any) -> SupplyChainContainer:
    await run(migrated.message_bus(), pinned_clock, catalog())
    return migrated


async def test_every_command_leaves_its_events_in_the_outbox_on_its_aggregates_topic(
    migrated: SupplyChainContainer, pinned_clock: Any
) -> None:
    bus = migrated.message_bus()
    await run(bus, pinned_clock, catalog())
    after_catalog = await outbox_rows(migrated)
    await run(
        bus,
        pinned_clock,
        [
            ReceiveStock(warehouse="LYS-1", sku="KD-HUB-200", quantity=Decimal(200)),
            DraftPurchaseOrder(
                purchase_order_id="PO-1",
                supplier="ACME",
                warehouse="LYS-1",
                lines=(
                    OrderLineInput(sku="KD-HUB-200", quantity=Decimal(5), unit_price=eur("18")),
                ),
            ),
            PlacePurchaseOrder(purchase_order_id="PO-1"),
            PlanShipment(
                shipment_id="SH-1",
                account="ACC-1",
                warehouse="LYS-1",
                lines=(ShipmentLineInput(sku="KD-HUB-200", quantity=Decimal(1)),),
                legs=legs(NOW.date()),
            ),
        ],
    )

    rows = await outbox_rows(migrated)
    assert [(row.topic, row.event_type, row.message_key) for row in after_catalog] == [
        ("supply_chain.warehouse.v1", "supply_chain.WarehouseRegistered", "LYS-1"),
        ("supply_chain.warehouse.v1", "supply_chain.WarehouseRegistered", "HAM-2"),
        ("supply_chain.supplier.v1", "supply_chain.SupplierRegistered", "ACME"),
        ("supply_chain.supplier.v1", "supply_chain.SupplierRegistered", "BOLT"),
        ("supply_chain.sku.v1", "supply_chain.SkuRegistered", "KD-HUB-200"),
        ("supply_chain.sku.v1", "supply_chain.SkuRegistered", "KD-CAM-10"),
        ("supply_chain.sku.v1", "supply_chain.SkuRegistered", "KD-RESIN"),
    ]
    assert [
        (row.topic, row.event_type, row.message_key, row.aggregate_version)
        for row in rows[len(after_catalog) :]
    ] == [
        ("supply_chain.inventory.v1", "supply_chain.StockReceived", "LYS-1:KD-HUB-200", 1),
        ("supply_chain.purchase_order.v1", "supply_chain.PurchaseOrderDrafted", "PO-1", 1),
        ("supply_chain.purchase_order.v1", "supply_chain.PurchaseOrderPlaced", "PO-1", 2),
        ("supply_chain.shipment.v1", "supply_chain.ShipmentPlanned", "SH-1", 1),
    ]
    received = json.loads(rows[len(after_catalog)].payload)
    assert (received["on_hand"], received["quantity"]) == ("200", "200")
    assert all(row.published_at is None for row in rows)


async def test_a_refused_command_leaves_nothing_behind(seeded: SupplyChainContainer) -> None:
    bus = seeded.message_bus()
    await bus.handle(ReceiveStock(warehouse="HAM-2", sku="KD-HUB-200", quantity=Decimal(40)))
    before = await outbox_rows(seeded)

    with pytest.raises(BusinessRuleViolation) as refused:
        await bus.handle(ReceiveStock(warehouse="HAM-2", sku="KD-HUB-200", quantity=Decimal(11)))

    assert refused.value.rule == "warehouse_capacity_exceeded"
    assert await outbox_rows(seeded) == before


async def test_the_second_of_two_concurrent_writers_gets_a_concurrency_conflict(
    seeded: SupplyChainContainer,
) -> None:
    await seeded.message_bus().handle(
        ReceiveStock(warehouse="LYS-1", sku="KD-HUB-200", quantity=Decimal(100))
    )
    async with seeded.unit_of_work() as first, seeded.unit_of_work() as second:
        mine = await first.inventory.get(LYS, HUB)
        theirs = await second.inventory.get(LYS, HUB)
        mine.reserve(ReservationRef("SO-1"), Quantity(Decimal(60)), at=NOW)
        theirs.reserve(ReservationRef("SO-2"), Quantity(Decimal(70)), at=NOW)
        await first.commit()
        with pytest.raises(ConcurrencyConflict) as clash:
            await second.commit()

    assert "InventoryItem LYS-1:KD-HUB-200" in str(clash.value)
    async with seeded.engine().connect() as connection:
        stored = (await connection.execute(select(inventory_items))).one()
    assert (stored.reserved, stored.version) == (Decimal(60), 2)
    reservations = [json.loads(row.payload) for row in await outbox_rows(seeded)]
    assert [r.get("reference") for r in reservations if "reference" in r] == [None, "SO-1"]


async def test_a_stale_if_match_is_refused_before_anything_is_written(
    seeded: SupplyChainContainer,
) -> None:
    bus = seeded.message_bus()
    await bus.handle(ReceiveStock(warehouse="LYS-1", sku="KD-HUB-200", quantity=Decimal(100)))
    await bus.handle(
        ReserveStock(warehouse="LYS-1", sku="KD-HUB-200", reference="SO-1", quantity=Decimal(1))
    )

    with pytest.raises(ConcurrencyConflict) as stale:
        await bus.handle(
            ReserveStock(
                warehouse="LYS-1",
                sku="KD-HUB-200",
                reference="SO-2",
                quantity=Decimal(1),
                expected_version=1,
            )
        )
    assert (stale.value.expected, stale.value.actual) == (1, 2)


async def test_two_writers_registering_one_code_end_in_a_conflict(
    migrated: SupplyChainContainer,
) -> None:
    """Both find the code free; the database's primary key stops the second."""

    def berlin() -> Warehouse:
        return Warehouse.register(
            WarehouseCode("BER-3"),
            "Berlin",
            GeoLocation(Decimal(52), Decimal(13)),
            Quantity(Decimal(10)),
            at=NOW,
        )

    async with migrated.unit_of_work() as first, migrated.unit_of_work() as second:
        assert await first.warehouses.get(WarehouseCode("BER-3")) is None
        assert await second.warehouses.get(WarehouseCode("BER-3")) is None
        await first.warehouses.add(berlin())
        await second.warehouses.add(berlin())
        await first.commit()
        with pytest.raises(Conflict) as duplicate:
            await second.commit()

    assert not isinstance(duplicate.value, ConcurrencyConflict)
    assert [row.message_key for row in await outbox_rows(migrated)] == ["BER-3"]


async def test_a_registration_command_racing_another_reports_a_conflict(
    migrated: SupplyChainContainer,
) -> None:
    command = RegisterWarehouse(
        code="BER-3",
        name="Berlin",
        latitude=Decimal(52),
        longitude=Decimal(13),
        capacity=Decimal(9),
    )
    await migrated.message_bus().handle(command)

    with pytest.raises(Conflict):
        await migrated.message_bus().handle(command)


async def test_an_idempotency_key_drafts_one_order_only(seeded: SupplyChainContainer) -> None:
    key = "replenishment:LYS-1:KD-HUB-200:2025-03-03"

    def proposal(order_id: str) -> PurchaseOrder:
        return PurchaseOrder.draft(
            PurchaseOrderId(order_id),
            SupplierId("ACME"),
            LYS,
            [LineSpec(HUB, Quantity(Decimal(95)), eur("18"))],
            at=NOW,
            idempotency_key=key,
        )

    async with seeded.unit_of_work() as first, seeded.unit_of_work() as second:
        await first.purchase_orders.add(proposal("PO-A"))
        await second.purchase_orders.add(proposal("PO-B"))
        await first.commit()
        with pytest.raises(Conflict):
            await second.commit()

    async with seeded.unit_of_work() as uow:
        found = await uow.purchase_orders.get_by_idempotency_key(key)
        assert found is not None
        assert str(found.id) == "PO-A"


async def test_after_commit_callbacks_run_once_the_change_is_stored(
    seeded: SupplyChainContainer,
) -> None:
    """The hook the outbox relay's ``wake`` is attached to."""
    from dependency_injector import providers

    woken: list[int] = []

    async def stored_rows() -> int:
        return len(await outbox_rows(seeded))

    seeded.after_commit.add_args(providers.Object(lambda: woken.append(1)))
    before = await stored_rows()
    await seeded.message_bus().handle(
        ReceiveStock(warehouse="LYS-1", sku="KD-HUB-200", quantity=Decimal(1))
    )
    assert woken == [1]
    assert await stored_rows() == before + 1
