"""Commands that bring a supply chain into known states, for any message bus."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from contexts.supply_chain.application.commands.catalog import (
    RegisterSku,
    RegisterSupplier,
    RegisterWarehouse,
)
from contexts.supply_chain.application.commands.inventory import (
    ReceiveStock,
    ReserveStock,
    ShipStock,
)
from contexts.supply_chain.application.commands.purchasing import (
    ConfirmPurchaseOrder,
    DraftPurchaseOrder,
    InspectionInput,
    OrderLineInput,
    PlacePurchaseOrder,
    ReceiveGoods,
)
from contexts.supply_chain.application.commands.shipping import (
    DispatchShipment,
    LegInput,
    PlanShipment,
    RecordLegArrival,
    RecordLegDeparture,
    ShipmentLineInput,
    UpdateShipmentEta,
)
from contexts.supply_chain.tests.conftest import NOW
from contexts.supply_chain.tests.fakes import FixedClock
from shared_kernel.application import Command, MessageBus
from shared_kernel.domain import Money

TODAY = NOW.date()


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def catalog() -> list[Command]:
    """Warehouses LYS-1 (1000 each) and HAM-2 (50 each), suppliers ACME and BOLT,
    SKUs KD-HUB-200 (from ACME at 18 EUR), KD-CAM-10 (no sourcing), KD-RESIN (kg)."""
    return [
        RegisterWarehouse(
            code="LYS-1",
            name="Lyon",
            latitude=Decimal("45.7640"),
            longitude=Decimal("4.8357"),
            capacity=Decimal(1000),
        ),
        RegisterWarehouse(
            code="HAM-2",
            name="Hamburg",
            latitude=Decimal("53.5511"),
            longitude=Decimal("9.9937"),
            capacity=Decimal(50),
        ),
        RegisterSupplier(id="ACME", name="Acme Components", country="DE"),
        RegisterSupplier(id="BOLT", name="Bolt Logistics", country="FR"),
        RegisterSku(
            code="KD-HUB-200",
            name="Kestrel Hub 200",
            reorder_point=Decimal(80),
            safety_stock=Decimal(50),
            lead_time_days=7,
            preferred_supplier="ACME",
            standard_cost=eur("18"),
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
            reorder_point=Decimal("20.5"),
            safety_stock=Decimal(10),
            lead_time_days=3,
        ),
    ]


def stock() -> list[Command]:
    """Hubs and cameras in both warehouses; an open and a partly shipped reservation."""
    return [
        ReceiveStock(warehouse="LYS-1", sku="KD-HUB-200", quantity=Decimal(200)),
        ReceiveStock(warehouse="LYS-1", sku="KD-CAM-10", quantity=Decimal(8)),
        ReceiveStock(warehouse="HAM-2", sku="KD-HUB-200", quantity=Decimal(30)),
        ReceiveStock(warehouse="LYS-1", sku="KD-RESIN", quantity=Decimal("12.375")),
        ReserveStock(warehouse="LYS-1", sku="KD-HUB-200", reference="SO-1", quantity=Decimal(150)),
        ReserveStock(warehouse="LYS-1", sku="KD-HUB-200", reference="SO-2", quantity=Decimal(20)),
        ShipStock(warehouse="LYS-1", sku="KD-HUB-200", reference="SO-1", quantity=Decimal(50)),
    ]


def purchasing() -> list[Command]:
    """PO-1 partly received (two receipts, a rejection), PO-2 placed (from BOLT, to
    HAM-2), PO-3 a draft."""
    hub = OrderLineInput(sku="KD-HUB-200", quantity=Decimal(40), unit_price=eur("17.99"))
    cam = OrderLineInput(sku="KD-CAM-10", quantity=Decimal(3), unit_price=eur("29.5"))
    return [
        DraftPurchaseOrder(
            purchase_order_id="PO-1", supplier="ACME", warehouse="LYS-1", lines=(hub, cam)
        ),
        PlacePurchaseOrder(purchase_order_id="PO-1"),
        ConfirmPurchaseOrder(purchase_order_id="PO-1", promised_on=TODAY + timedelta(days=7)),
        ReceiveGoods(
            purchase_order_id="PO-1",
            lines=(InspectionInput(sku="KD-HUB-200", accepted=Decimal(10), rejected=Decimal(2)),),
            received_on=TODAY + timedelta(days=6),
        ),
        ReceiveGoods(
            purchase_order_id="PO-1",
            lines=(
                InspectionInput(sku="KD-CAM-10", accepted=Decimal(3)),
                InspectionInput(sku="KD-HUB-200", accepted=Decimal(5)),
            ),
            received_on=TODAY + timedelta(days=9),
        ),
        DraftPurchaseOrder(
            purchase_order_id="PO-2", supplier="BOLT", warehouse="HAM-2", lines=(hub,)
        ),
        PlacePurchaseOrder(purchase_order_id="PO-2"),
        DraftPurchaseOrder(
            purchase_order_id="PO-3", supplier="ACME", warehouse="LYS-1", lines=(cam,)
        ),
    ]


def legs(day: date) -> tuple[LegInput, ...]:
    start = NOW.replace(year=day.year, month=day.month, day=day.day)
    return (
        LegInput(
            origin="LYS-1",
            destination="Paris hub",
            carrier="RoadCo",
            planned_departure=start + timedelta(hours=2),
            planned_arrival=start + timedelta(hours=8),
        ),
        LegInput(
            origin="Paris hub",
            destination="Orbital SA, Nanterre",
            carrier="CityVan",
            planned_departure=start + timedelta(hours=24),
            planned_arrival=start + timedelta(hours=30),
        ),
    )


def shipping() -> list[Command]:
    """SH-1 delayed after its first leg; SH-2 planned for another account, later."""
    first_leg = legs(TODAY)[0]
    return [
        PlanShipment(
            shipment_id="SH-1",
            account="ACC-ORBITAL",
            warehouse="LYS-1",
            lines=(
                ShipmentLineInput(sku="KD-HUB-200", quantity=Decimal(3)),
                ShipmentLineInput(sku="KD-CAM-10", quantity=Decimal(2)),
            ),
            legs=legs(TODAY),
        ),
        DispatchShipment(shipment_id="SH-1", dispatched_at=first_leg.planned_departure),
        RecordLegDeparture(shipment_id="SH-1", sequence=1, departed_at=first_leg.planned_departure),
        RecordLegArrival(
            shipment_id="SH-1",
            sequence=1,
            arrived_at=first_leg.planned_arrival + timedelta(minutes=95),
        ),
        UpdateShipmentEta(
            shipment_id="SH-1", eta=legs(TODAY)[1].planned_arrival + timedelta(hours=3)
        ),
        PlanShipment(
            shipment_id="SH-2",
            account="ACC-NOVA",
            warehouse="HAM-2",
            lines=(ShipmentLineInput(sku="KD-HUB-200", quantity=Decimal(1)),),
            legs=legs(TODAY + timedelta(days=2)),
        ),
    ]


async def run(bus: MessageBus[Any], clock: FixedClock, commands: Sequence[Command]) -> None:
    """Each command a minute after the previous one, so that recorded times differ."""
    for command in commands:
        await bus.handle(command)
        clock.advance(minutes=1)
