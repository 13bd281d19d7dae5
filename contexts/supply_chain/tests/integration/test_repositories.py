"""Each aggregate, with its children, survives a trip through the database unchanged.

Aggregates are built in memory in interesting states (partial receipts, a delayed
shipment, half-shipped reservations), stored by one unit of work and loaded by
another; every attribute the domain declares must come back equal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError

from contexts.supply_chain.bootstrap import SupplyChainContainer
from contexts.supply_chain.domain import (
    AccountId,
    Inspection,
    InventoryItem,
    LegPlan,
    LineSpec,
    PurchaseOrder,
    PurchaseOrderId,
    ReplenishmentPolicy,
    ReservationRef,
    Shipment,
    ShipmentId,
    ShipmentItem,
    Sku,
    SkuCode,
    Supplier,
    SupplierId,
    Warehouse,
    WarehouseCode,
)
from contexts.supply_chain.domain.values import GeoLocation
from contexts.supply_chain.infrastructure.persistence.tables import (
    inventory_reservations,
    purchase_order_lines,
)
from contexts.supply_chain.tests.conftest import NOW
from contexts.supply_chain.tests.scenario import catalog, run
from shared_kernel.domain import Money, Quantity

pytestmark = pytest.mark.integration

LYS, HAM = WarehouseCode("LYS-1"), WarehouseCode("HAM-2")
HUB, CAM = SkuCode("KD-HUB-200"), SkuCode("KD-CAM-10")
ACME = SupplierId("ACME")


def each(amount: str | int) -> Quantity:
    return Quantity(Decimal(amount), "each")


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


# -- comparing what the domain declares --------------------------------------------


def _declared(cls: type) -> list[str]:
    """Public attributes the class and its bases annotate (ClassVars excluded)."""
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        for name, annotation in vars(klass).get("__annotations__", {}).items():
            if not name.startswith("_") and "ClassVar" not in str(annotation) and name not in names:
                names.append(name)
    return names


def snapshot(value: Any) -> Any:
    """Domain objects as nested dicts of their declared attributes; values as they are."""
    if isinstance(value, list | tuple):
        return [snapshot(item) for item in value]
    if (
        isinstance(value, Enum)
        or dataclasses.is_dataclass(value)
        or not type(value).__module__.startswith("contexts.supply_chain.domain")
    ):
        return value
    return {name: snapshot(getattr(value, name)) for name in _declared(type(value))}


# -- examples ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Example:
    name: str
    repository: str
    build: Callable[[], Any]
    load: Callable[[Any], Awaitable[Any]]


def warehouse() -> Warehouse:
    return Warehouse.register(
        WarehouseCode("BER-3"),
        "Berlin cross-dock",
        GeoLocation(Decimal("52.5200066"), Decimal("-13.4049540")),
        Quantity(Decimal("1500.5"), "pallet"),
        at=NOW,
    )


def supplier() -> Supplier:
    return Supplier.register(SupplierId("ZED.PL"), "Zed Parts", "PL", at=NOW)


def sourced_sku() -> Sku:
    return Sku.register(
        SkuCode("KD-DOCK"),
        "Kestrel Dock",
        ReplenishmentPolicy(Quantity(Decimal("12.5"), "box"), Quantity(Decimal(3), "box"), 21),
        preferred_supplier=ACME,
        standard_cost=Money(Decimal("12.345"), "BHD"),
        at=NOW,
    )


def unsourced_sku() -> Sku:
    return Sku.register(
        SkuCode("KD-CABLE"),
        "Cable",
        ReplenishmentPolicy(Quantity(Decimal(0), "m"), Quantity(Decimal(0), "m"), 0),
        at=NOW,
    )


def inventory_item() -> InventoryItem:
    item = InventoryItem(HAM, CAM, "each")
    item.receive(each(40), at=NOW, reference="GRN-7")
    item.reserve(ReservationRef("SO-9"), each("10.5"), at=NOW + timedelta(minutes=1))
    item.reserve(ReservationRef("SO-3"), each(5), at=NOW + timedelta(minutes=2))
    item.ship(ReservationRef("SO-9"), each(4), at=NOW + timedelta(minutes=3))
    return item


def purchase_order() -> PurchaseOrder:
    order = PurchaseOrder.draft(
        PurchaseOrderId("PO-77"),
        ACME,
        LYS,
        [LineSpec(HUB, each(40), eur("17.99")), LineSpec(CAM, each(3), eur("29.50"))],
        at=NOW,
    )
    order.place(at=NOW)
    order.confirm(NOW.date() + timedelta(days=7), at=NOW)
    order.receive([Inspection(HUB, each(10), each(2))], NOW.date() + timedelta(days=6), at=NOW)
    order.receive(
        [Inspection(CAM, each(3), each(0)), Inspection(HUB, each(5), each(0))],
        NOW.date() + timedelta(days=9),
        at=NOW,
    )
    return order


def shipment() -> Shipment:
    route = [
        LegPlan("LYS-1", "Paris hub", "RoadCo", NOW + timedelta(hours=2), NOW + timedelta(hours=8)),
        LegPlan(
            "Paris hub",
            "Orbital SA",
            "CityVan",
            NOW + timedelta(hours=24),
            NOW + timedelta(hours=30),
        ),
    ]
    shipment = Shipment.plan(
        ShipmentId("SH-9"),
        AccountId("ACC-ORBITAL"),
        LYS,
        [ShipmentItem(CAM, each(2)), ShipmentItem(HUB, each(3))],
        route,
        at=NOW,
    )
    shipment.dispatch(NOW + timedelta(hours=2), at=NOW)
    shipment.record_departure(1, NOW + timedelta(hours=2, minutes=10), at=NOW)
    shipment.record_arrival(1, NOW + timedelta(hours=9), at=NOW)
    shipment.update_eta(NOW + timedelta(hours=33), at=NOW)
    return shipment


EXAMPLES = [
    Example(
        "warehouse", "warehouses", warehouse, lambda uow: uow.warehouses.get(WarehouseCode("BER-3"))
    ),
    Example("supplier", "suppliers", supplier, lambda uow: uow.suppliers.get(SupplierId("ZED.PL"))),
    Example("sourced sku", "skus", sourced_sku, lambda uow: uow.skus.get(SkuCode("KD-DOCK"))),
    Example("unsourced sku", "skus", unsourced_sku, lambda uow: uow.skus.get(SkuCode("KD-CABLE"))),
    Example("inventory item", "inventory", inventory_item, lambda uow: uow.inventory.get(HAM, CAM)),
    Example(
        "purchase order",
        "purchase_orders",
        purchase_order,
        lambda uow: uow.purchase_orders.get(PurchaseOrderId("PO-77")),
    ),
    Example("shipment", "shipments", shipment, lambda uow: uow.shipments.get(ShipmentId("SH-9"))),
]


@pytest.fixture
async def seeded(migrated: SupplyChainContainer, pinned_clock: Any) -> SupplyChainContainer:
    await run(migrated.message_bus(), pinned_clock, catalog())
    return migrated


async def store(container: SupplyChainContainer, repository: str, aggregate: Any) -> None:
    async with container.unit_of_work() as uow:
        await getattr(uow, repository).add(aggregate)
        await uow.commit()


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: example.name)
async def test_an_aggregate_comes_back_as_it_was_stored(
    seeded: SupplyChainContainer, example: Example
) -> None:
    original = example.build()
    await store(seeded, example.repository, original)

    async with seeded.unit_of_work() as uow:
        loaded = await example.load(uow)
        assert loaded is not None
        assert loaded is not original
        assert snapshot(loaded) == snapshot(original)
        assert loaded.pending_events == ()


async def test_changed_children_are_written_and_dropped_ones_deleted(
    seeded: SupplyChainContainer,
) -> None:
    await store(seeded, "inventory", inventory_item())
    order = PurchaseOrder.draft(
        PurchaseOrderId("PO-8"),
        ACME,
        LYS,
        [LineSpec(HUB, each(10), eur("18")), LineSpec(CAM, each(2), eur("30"))],
        at=NOW,
    )
    await store(seeded, "purchase_orders", order)

    async with seeded.unit_of_work() as uow:
        item = await uow.inventory.get(HAM, CAM)
        item.release(ReservationRef("SO-3"), at=NOW)
        item.reserve(ReservationRef("SO-4"), each(1), at=NOW)
        draft = await uow.purchase_orders.get(PurchaseOrderId("PO-8"))
        draft.remove_line(HUB, at=NOW)
        draft.set_line(LineSpec(CAM, each(5), eur("28.40")), at=NOW)
        draft.set_line(
            LineSpec(SkuCode("KD-RESIN"), Quantity(Decimal("2.5"), "kg"), eur("9")), at=NOW
        )
        await uow.commit()

    async with seeded.unit_of_work() as uow:
        item_again = await uow.inventory.get(HAM, CAM)
        draft_again = await uow.purchase_orders.get(PurchaseOrderId("PO-8"))
        assert snapshot(item_again) == snapshot(item)
        assert [str(r.reference) for r in item_again.reservations] == ["SO-9", "SO-4"]
        assert snapshot(draft_again) == snapshot(draft)
        assert [(str(line.sku), line.quantity) for line in draft_again.lines] == [
            ("KD-CAM-10", each(5)),
            ("KD-RESIN", Quantity(Decimal("2.5"), "kg")),
        ]
    async with seeded.engine().connect() as connection:
        reservations = await connection.scalar(
            select(func.count()).select_from(inventory_reservations)
        )
        lines = await connection.scalar(select(func.count()).select_from(purchase_order_lines))
    assert (reservations, lines) == (2, 2)


async def test_get_answers_none_for_an_unknown_id(migrated: SupplyChainContainer) -> None:
    async with migrated.unit_of_work() as uow:
        found = [
            await uow.warehouses.get(WarehouseCode("NOPE")),
            await uow.skus.get(SkuCode("NOPE")),
            await uow.suppliers.get(SupplierId("NOPE")),
            await uow.inventory.get(LYS, HUB),
            await uow.purchase_orders.get(PurchaseOrderId("NOPE")),
            await uow.purchase_orders.get_by_idempotency_key("NOPE"),
            await uow.shipments.get(ShipmentId("NOPE")),
        ]
    assert found == [None] * 7


async def test_one_unit_of_work_hands_out_one_object_per_aggregate(
    seeded: SupplyChainContainer,
) -> None:
    async with seeded.unit_of_work() as uow:
        first = await uow.warehouses.get(LYS)
        second = await uow.warehouses.get(WarehouseCode("LYS-1"))
    assert first is second


async def test_totals_include_changes_not_yet_committed(seeded: SupplyChainContainer) -> None:
    """A transfer and a replenishment proposal read totals inside their transaction."""
    async with seeded.unit_of_work() as uow:
        hub = InventoryItem(LYS, HUB, "each")
        hub.receive(each("120.25"), at=NOW)
        cam = InventoryItem(LYS, CAM, "each")
        cam.receive(each(30), at=NOW)
        resin = InventoryItem(LYS, SkuCode("KD-RESIN"), "kg")
        resin.receive(Quantity(Decimal(7), "kg"), at=NOW)
        for item in (hub, cam, resin):
            await uow.inventory.add(item)
        open_order = PurchaseOrder.draft(
            PurchaseOrderId("PO-OPEN"), ACME, LYS, [LineSpec(HUB, each(25), eur("18"))], at=NOW
        )
        other_warehouse = PurchaseOrder.draft(
            PurchaseOrderId("PO-HAM"), ACME, HAM, [LineSpec(HUB, each(9), eur("18"))], at=NOW
        )
        cancelled = PurchaseOrder.draft(
            PurchaseOrderId("PO-OFF"), ACME, LYS, [LineSpec(HUB, each(7), eur("18"))], at=NOW
        )
        cancelled.cancel("duplicate", at=NOW)
        for order in (open_order, other_warehouse, cancelled):
            await uow.purchase_orders.add(order)

        assert await uow.inventory.total_on_hand(LYS, "each") == Decimal("150.25")
        assert await uow.inventory.total_on_hand(LYS, "kg") == Decimal(7)
        assert await uow.inventory.total_on_hand(HAM, "each") == Decimal(0)
        assert await uow.purchase_orders.quantity_on_order(LYS, HUB) == Decimal(25)
        assert await uow.purchase_orders.quantity_on_order(LYS, CAM) == Decimal(0)


async def test_outstanding_quantity_counts_only_what_is_not_yet_accepted(
    seeded: SupplyChainContainer,
) -> None:
    await store(seeded, "purchase_orders", purchase_order())  # 40 hubs, 15 accepted
    async with seeded.unit_of_work() as uow:
        assert await uow.purchase_orders.quantity_on_order(LYS, HUB) == Decimal(25)
        assert await uow.purchase_orders.quantity_on_order(LYS, CAM) == Decimal(0)


async def test_an_order_is_found_by_its_idempotency_key(seeded: SupplyChainContainer) -> None:
    order = PurchaseOrder.draft(
        PurchaseOrderId("PO-AUTO"),
        ACME,
        LYS,
        [LineSpec(HUB, each(95), eur("18"))],
        at=NOW,
        idempotency_key="replenishment:LYS-1:KD-HUB-200:2025-03-03",
    )
    await store(seeded, "purchase_orders", order)
    async with seeded.unit_of_work() as uow:
        found = await uow.purchase_orders.get_by_idempotency_key(
            "replenishment:LYS-1:KD-HUB-200:2025-03-03"
        )
        again = await uow.purchase_orders.get(PurchaseOrderId("PO-AUTO"))
        assert found is again
        assert snapshot(found) == snapshot(order)


async def test_an_amount_finer_than_its_column_is_refused_not_rounded(
    seeded: SupplyChainContainer,
) -> None:
    item = InventoryItem(LYS, HUB, "each")
    item.receive(each("1.0000001"), at=NOW)
    with pytest.raises(StatementError, match="more than 6 decimal places"):
        await store(seeded, "inventory", item)
    async with seeded.unit_of_work() as uow:
        assert await uow.inventory.get(LYS, HUB) is None
