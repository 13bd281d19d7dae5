from datetime import timedelta
from decimal import Decimal

import pytest

from contexts.supply_chain.application.commands.purchasing import (
    CancelPurchaseOrder,
    ConfirmPurchaseOrder,
    DraftPurchaseOrder,
    InspectionInput,
    OrderLineInput,
    PlacePurchaseOrder,
    ReceiveGoods,
    RemovePurchaseOrderLine,
    SetPurchaseOrderLine,
)
from contexts.supply_chain.domain import (
    InventoryItem,
    InventoryItemId,
    PurchaseOrder,
    PurchaseOrderId,
    PurchaseOrderStatus,
)
from contexts.supply_chain.domain.inventory.events import StockReceived
from contexts.supply_chain.domain.purchasing.events import GoodsReceived, PurchaseOrderReceived
from contexts.supply_chain.tests.fakes import events_of
from contexts.supply_chain.tests.unit.examples import DAY0, day
from shared_kernel.domain import (
    BusinessRuleViolation,
    ConcurrencyConflict,
    Conflict,
    Money,
    NotFound,
)

pytestmark = pytest.mark.usefixtures("catalog")
S = PurchaseOrderStatus


def line(sku: str, quantity: int, price: str = "18.00") -> OrderLineInput:
    return OrderLineInput(
        sku=sku, quantity=Decimal(quantity), unit_price=Money(Decimal(price), "EUR")
    )


def draft(warehouse: str = "LYS-1", **changes) -> DraftPurchaseOrder:
    fields = {
        "supplier": "ACME",
        "warehouse": warehouse,
        "lines": (line("KD-HUB-200", 100), line("KD-CAM-10", 20, "30.00")),
        "purchase_order_id": "PO-1",
    }
    return DraftPurchaseOrder(**(fields | changes))


def order(database, order_id: str = "PO-1") -> PurchaseOrder:
    return database.table(PurchaseOrder)[PurchaseOrderId(order_id)]


def on_hand(database, key: str) -> Decimal | None:
    item = database.table(InventoryItem).get(InventoryItemId(key))
    return None if item is None else item.on_hand.amount


async def confirmed(bus, warehouse: str = "LYS-1") -> None:
    await bus.handle(draft(warehouse))
    await bus.handle(PlacePurchaseOrder(purchase_order_id="PO-1"))
    await bus.handle(ConfirmPurchaseOrder(purchase_order_id="PO-1", promised_on=day(7)))


async def test_drafting_stores_a_draft_with_sku_units(bus, database):
    result = await bus.handle(draft())

    assert (result.id, result.version) == ("PO-1", 1)
    stored = order(database)
    assert stored.status is S.DRAFT
    assert stored.total == Money(Decimal("2400.00"), "EUR")


async def test_drafting_without_an_id_chooses_one(bus, database):
    result = await bus.handle(draft(purchase_order_id=None))

    assert PurchaseOrderId(result.id) in database.table(PurchaseOrder)


async def test_an_id_is_drafted_once(bus):
    await bus.handle(draft())

    with pytest.raises(Conflict):
        await bus.handle(draft())


@pytest.mark.parametrize(
    "changes",
    [{"supplier": "NOPE"}, {"warehouse": "NOPE"}, {"lines": (line("NOPE", 1),)}],
    ids=["supplier", "warehouse", "sku"],
)
async def test_drafting_refers_to_registered_things(bus, database, changes):
    with pytest.raises(NotFound):
        await bus.handle(draft(**changes))

    assert database.rows(PurchaseOrder) == []


async def test_a_draft_is_revised_line_by_line(bus, database):
    await bus.handle(draft())

    await bus.handle(SetPurchaseOrderLine(purchase_order_id="PO-1", line=line("KD-HUB-200", 120)))
    result = await bus.handle(RemovePurchaseOrderLine(purchase_order_id="PO-1", sku="KD-CAM-10"))

    assert result.version == 3
    assert [(str(x.sku), x.quantity.amount) for x in order(database).lines] == [("KD-HUB-200", 120)]


async def test_the_full_cycle_books_accepted_goods_into_the_order_warehouse(bus, database, clock):
    await confirmed(bus)
    clock.advance(days=6)

    await bus.handle(
        ReceiveGoods(
            purchase_order_id="PO-1",
            lines=(
                InspectionInput(sku="KD-HUB-200", accepted=Decimal(98), rejected=Decimal(2)),
                InspectionInput(sku="KD-CAM-10", accepted=Decimal(0), rejected=Decimal(20)),
            ),
        )
    )

    assert order(database).status is S.PARTIALLY_RECEIVED
    assert on_hand(database, "LYS-1:KD-HUB-200") == 98
    assert on_hand(database, "LYS-1:KD-CAM-10") is None  # all rejected: nothing booked
    [goods] = events_of(database, GoodsReceived)
    assert (goods.received_on, goods.on_time, goods.lead_time_days) == (day(6), True, 6)
    [booked] = events_of(database, StockReceived)
    assert (booked.reference, booked.quantity) == ("PO-1", 98)


async def test_the_last_delivery_receives_the_order(bus, database):
    await confirmed(bus)

    await bus.handle(
        ReceiveGoods(
            purchase_order_id="PO-1",
            received_on=day(9),
            lines=(
                InspectionInput(sku="KD-HUB-200", accepted=Decimal(100)),
                InspectionInput(sku="KD-CAM-10", accepted=Decimal(20)),
            ),
        )
    )

    assert order(database).status is S.RECEIVED
    [received] = events_of(database, PurchaseOrderReceived)
    assert (received.on_time, received.lead_time_days) == (False, 9)
    assert on_hand(database, "LYS-1:KD-CAM-10") == 20


async def test_goods_the_warehouse_cannot_hold_are_refused_whole(bus, database):
    await confirmed(bus, warehouse="HAM-2")

    with pytest.raises(BusinessRuleViolation) as refused:
        await bus.handle(
            ReceiveGoods(
                purchase_order_id="PO-1",
                lines=(
                    InspectionInput(sku="KD-HUB-200", accepted=Decimal(40)),
                    InspectionInput(sku="KD-CAM-10", accepted=Decimal(11)),
                ),
            )
        )

    assert refused.value.rule == "warehouse_capacity_exceeded"
    assert order(database).status is S.CONFIRMED
    assert order(database).receipts == []
    assert on_hand(database, "HAM-2:KD-HUB-200") is None


async def test_over_receipt_through_the_handler_is_refused(bus, database):
    await confirmed(bus)

    with pytest.raises(BusinessRuleViolation) as refused:
        await bus.handle(
            ReceiveGoods(
                purchase_order_id="PO-1",
                lines=(InspectionInput(sku="KD-HUB-200", accepted=Decimal(101)),),
            )
        )

    assert refused.value.rule == "over_receipt"
    assert on_hand(database, "LYS-1:KD-HUB-200") is None


async def test_placing_with_a_stale_version_is_refused(bus, database):
    await bus.handle(draft())
    await bus.handle(SetPurchaseOrderLine(purchase_order_id="PO-1", line=line("KD-HUB-200", 5)))

    with pytest.raises(ConcurrencyConflict) as conflict:
        await bus.handle(PlacePurchaseOrder(purchase_order_id="PO-1", expected_version=1))

    assert (conflict.value.expected, conflict.value.actual) == (1, 2)
    assert order(database).status is S.DRAFT


async def test_an_unknown_order_is_not_found(bus):
    with pytest.raises(NotFound):
        await bus.handle(PlacePurchaseOrder(purchase_order_id="PO-404"))


async def test_cancelling_a_confirmed_order(bus, database):
    await confirmed(bus)

    result = await bus.handle(
        CancelPurchaseOrder(purchase_order_id="PO-1", reason="duplicate", expected_version=3)
    )

    assert result.version == 4
    assert order(database).status is S.CANCELLED
    assert order(database).cancellation_reason == "duplicate"


async def test_placing_uses_the_clock_for_the_business_day(bus, database, clock):
    await bus.handle(draft())
    clock.advance(days=2)

    await bus.handle(PlacePurchaseOrder(purchase_order_id="PO-1"))

    assert order(database).placed_on == DAY0 + timedelta(days=2)
