"""Ready-made domain objects for the unit tests, in known states."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from contexts.supply_chain.domain import (
    AccountId,
    Inspection,
    InventoryItem,
    LegPlan,
    LineSpec,
    PurchaseOrder,
    PurchaseOrderId,
    PurchaseOrderStatus,
    ReservationRef,
    Shipment,
    ShipmentId,
    ShipmentItem,
    SkuCode,
    SupplierId,
    WarehouseCode,
)
from shared_kernel.domain import Money, Quantity

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
DAY0 = T0.date()
W1, W2 = WarehouseCode("LYS-1"), WarehouseCode("HAM-2")
HUB, CAM = SkuCode("KD-HUB-200"), SkuCode("KD-CAM-10")
ACME = SupplierId("ACME")


def each(amount: int | str) -> Quantity:
    return Quantity(Decimal(amount), "each")


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def stocked_item(on_hand: int = 0, reserved: int = 0) -> InventoryItem:
    """An item with ``on_hand`` received and ``reserved`` under reservation ``O-1``."""
    item = InventoryItem(W1, HUB, "each")
    if on_hand:
        item.receive(each(on_hand), at=T0)
    if reserved:
        item.reserve(ReservationRef("O-1"), each(reserved), at=T0)
    item.pull_events()
    return item


def draft_order(*lines: LineSpec, key: str | None = None) -> PurchaseOrder:
    specs = lines or (LineSpec(HUB, each(10), eur("12.50")), LineSpec(CAM, each(4), eur("30")))
    return PurchaseOrder.draft(PurchaseOrderId("PO-1"), ACME, W1, specs, at=T0, idempotency_key=key)


PROMISED = DAY0 + timedelta(days=7)


def order_in(status: PurchaseOrderStatus) -> PurchaseOrder:
    """A two-line order (10 hubs, 4 cameras) brought to ``status`` by legal steps."""
    order = draft_order()
    if status is PurchaseOrderStatus.CANCELLED:
        order.cancel("no longer needed", at=T0)
    if status not in (PurchaseOrderStatus.DRAFT, PurchaseOrderStatus.CANCELLED):
        order.place(at=T0)
    if status not in (
        PurchaseOrderStatus.DRAFT,
        PurchaseOrderStatus.PLACED,
        PurchaseOrderStatus.CANCELLED,
    ):
        order.confirm(PROMISED, at=T0)
    if status is PurchaseOrderStatus.PARTIALLY_RECEIVED:
        order.receive([Inspection(HUB, each(4), each(0))], PROMISED, at=T0)
    if status is PurchaseOrderStatus.RECEIVED:
        order.receive(
            [Inspection(HUB, each(10), each(0)), Inspection(CAM, each(4), each(0))],
            PROMISED,
            at=T0,
        )
    order.pull_events()
    return order


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def route() -> list[LegPlan]:
    """Warehouse -> hub -> customer site; planned delivery at T0 + 30 h."""
    return [
        LegPlan("LYS-1", "Paris hub", "Geodis", T0 + hours(2), T0 + hours(8)),
        LegPlan("Paris hub", "Orbital SA, Nanterre", "Chronopost", T0 + hours(24), T0 + hours(30)),
    ]


def planned_shipment() -> Shipment:
    shipment = Shipment.plan(
        ShipmentId("SH-1"),
        AccountId("ACC-ORBITAL"),
        W1,
        [ShipmentItem(HUB, each(3)), ShipmentItem(CAM, each(6))],
        route(),
        at=T0,
    )
    shipment.pull_events()
    return shipment


def day(offset: int) -> date:
    return DAY0 + timedelta(days=offset)
