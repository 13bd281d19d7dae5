"""Domain events for the analytics tests, recorded by the real aggregates.

The aggregates stamp ids and versions exactly as in production, so the computations
see what the outbox relay would publish. Moments are explicit: ``T0`` is Monday
2025-03-03 09:00 UTC and ``at(days, hours)`` counts from it.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    ReplenishmentPolicy,
    ReservationRef,
    Shipment,
    ShipmentId,
    ShipmentItem,
    Sku,
    SkuCode,
    Supplier,
    SupplierId,
    WarehouseCode,
)
from contexts.supply_chain.domain.catalog.events import SkuRegistered, SupplierRegistered
from contexts.supply_chain.domain.inventory.events import InventoryEvent
from contexts.supply_chain.domain.purchasing.events import GoodsReceived, InspectedLine
from contexts.supply_chain.domain.shipping.events import ShipmentEvent
from shared_kernel.domain import DomainEvent, Money, Quantity

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
DAY0 = T0.date()


def at(days: float = 0, hours: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours)


def day(offset: int) -> date:
    return DAY0 + timedelta(days=offset)


def each(amount: int | str) -> Quantity:
    return Quantity(Decimal(amount), "each")


def sku_registered(
    code: str = "KD-HUB-200",
    *,
    reorder_point: int = 80,
    safety_stock: int = 50,
    lead_time_days: int = 7,
    when: datetime = T0,
) -> SkuRegistered:
    sku = Sku.register(
        SkuCode(code),
        f"Kestrel {code}",
        ReplenishmentPolicy(each(reorder_point), each(safety_stock), lead_time_days),
        preferred_supplier=SupplierId("ACME"),
        standard_cost=Money(Decimal(18), "EUR"),
        at=when,
    )
    (event,) = sku.pull_events()
    assert isinstance(event, SkuRegistered)
    return event


def supplier_registered(
    code: str = "ACME", name: str = "Acme Components", when: datetime = T0
) -> SupplierRegistered:
    (event,) = Supplier.register(SupplierId(code), name, "DE", at=when).pull_events()
    assert isinstance(event, SupplierRegistered)
    return event


class Stock:
    """An inventory item driven through its aggregate; each call returns its events."""

    def __init__(self, warehouse: str = "LYS-1", sku: str = "KD-HUB-200") -> None:
        self.item = InventoryItem(WarehouseCode(warehouse), SkuCode(sku), "each")
        self._orders = 0

    def receive(self, quantity: int, when: datetime) -> list[InventoryEvent]:
        self.item.receive(each(quantity), at=when)
        return self._events()

    def ship(self, quantity: int, when: datetime) -> list[InventoryEvent]:
        """Reserve then ship ``quantity`` for a new order (two events)."""
        self._orders += 1
        reference = ReservationRef(f"SO-{self._orders}")
        self.item.reserve(reference, each(quantity), at=when)
        self.item.ship(reference, at=when)
        return self._events()

    def _events(self) -> list[InventoryEvent]:
        events = self.item.pull_events()
        assert all(isinstance(e, InventoryEvent) for e in events)
        return [e for e in events if isinstance(e, InventoryEvent)]


def goods_received(
    po: str,
    number: int,
    *,
    received_on: date,
    lead_time_days: int,
    on_time: bool,
    accepted: int,
    rejected: int = 0,
    supplier: str = "ACME",
    when: datetime | None = None,
) -> GoodsReceived:
    """A receipt with the given figures, built directly (for the computations' tests)."""
    placed_on = received_on - timedelta(days=lead_time_days)
    return GoodsReceived(
        occurred_at=when or datetime.combine(received_on, T0.timetz()),
        aggregate_id=po,
        aggregate_version=3 + number,
        purchase_order_id=po,
        supplier=supplier,
        warehouse="LYS-1",
        receipt_number=number,
        received_on=received_on,
        placed_on=placed_on,
        promised_on=received_on if on_time else received_on - timedelta(days=1),
        on_time=on_time,
        lead_time_days=lead_time_days,
        lines=(
            InspectedLine(
                sku="KD-HUB-200",
                unit="each",
                accepted=Decimal(accepted),
                rejected=Decimal(rejected),
            ),
        ),
        fully_received=False,
    )


def purchase(
    po: str,
    *,
    placed: datetime,
    promised_on: date,
    deliveries: Sequence[tuple[date, int, int]],
    supplier: str = "ACME",
    sku: str = "KD-HUB-200",
) -> list[DomainEvent]:
    """A purchase order drafted, placed and confirmed, then ``deliveries`` of
    ``(received_on, accepted, rejected)``; ordered quantity: all that is accepted."""
    order = PurchaseOrder.draft(
        PurchaseOrderId(po),
        SupplierId(supplier),
        WarehouseCode("LYS-1"),
        [LineSpec(SkuCode(sku), each(sum(a for _, a, _ in deliveries)), Money(Decimal(18), "EUR"))],
        at=placed,
    )
    order.place(at=placed)
    order.confirm(promised_on, at=placed)
    for received_on, accepted, rejected in deliveries:
        order.receive(
            [Inspection(SkuCode(sku), each(accepted), each(rejected))],
            received_on,
            at=datetime.combine(received_on, placed.timetz()),
        )
    return order.pull_events()


def route(start: datetime) -> list[LegPlan]:
    """Warehouse -> Paris hub (2 h to 8 h) -> customer (24 h to 30 h after ``start``)."""
    return [
        LegPlan(
            "LYS-1", "Paris hub", "Geodis", start + timedelta(hours=2), start + timedelta(hours=8)
        ),
        LegPlan(
            "Paris hub",
            "Orbital SA, Nanterre",
            "Chronopost",
            start + timedelta(hours=24),
            start + timedelta(hours=30),
        ),
    ]


def planned_shipment(shipment_id: str = "SH-1", start: datetime = T0) -> Shipment:
    return Shipment.plan(
        ShipmentId(shipment_id),
        AccountId("ACC-ORBITAL"),
        WarehouseCode("LYS-1"),
        [ShipmentItem(SkuCode("KD-HUB-200"), each(3))],
        route(start),
        at=start,
    )


def shipment_events(shipment: Shipment) -> list[ShipmentEvent]:
    events = shipment.pull_events()
    return [e for e in events if isinstance(e, ShipmentEvent)]
