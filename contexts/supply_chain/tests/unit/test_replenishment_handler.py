"""A stock-out alert proposes one Draft purchase order per warehouse, SKU and day."""

from dataclasses import replace
from decimal import Decimal

import pytest

from contexts.supply_chain.application import ReplenishmentOutcome
from contexts.supply_chain.application.commands.inventory import ReceiveStock
from contexts.supply_chain.application.commands.purchasing import (
    CancelPurchaseOrder,
    ProposeReplenishment,
)
from contexts.supply_chain.domain import PurchaseOrder, PurchaseOrderId, PurchaseOrderStatus
from contexts.supply_chain.domain.purchasing.events import PurchaseOrderDrafted
from contexts.supply_chain.tests.fakes import events_of
from contexts.supply_chain.tests.unit.examples import day
from shared_kernel.domain import BusinessRuleViolation, Money, NotFound

pytestmark = pytest.mark.usefixtures("catalog")

# KD-HUB-200: reorder point 80, lead time 7 days; 10 a day makes the target 150.
ALERT = ProposeReplenishment(warehouse="LYS-1", sku="KD-HUB-200", daily_demand=Decimal(10))


async def test_an_alert_drafts_an_order_from_the_preferred_supplier(bus, database):
    await bus.handle(ReceiveStock(warehouse="LYS-1", sku="KD-HUB-200", quantity=Decimal(35)))

    outcome = await bus.handle(ALERT)

    assert outcome.created
    assert outcome.quantity == 115  # 150 - 35
    order = database.table(PurchaseOrder)[PurchaseOrderId(outcome.purchase_order_id)]
    assert order.status is PurchaseOrderStatus.DRAFT
    assert (str(order.supplier), str(order.warehouse)) == ("ACME", "LYS-1")
    assert [(str(x.sku), x.quantity.amount, x.unit_price) for x in order.lines] == [
        ("KD-HUB-200", 115, Money(Decimal(18), "EUR"))
    ]
    assert order.idempotency_key == "replenishment:LYS-1:KD-HUB-200:2025-03-03"


async def test_the_same_alert_again_returns_the_same_draft_and_changes_nothing(
    bus, database, clock
):
    first = await bus.handle(ALERT)
    events = len(database.events)
    clock.advance(hours=5)

    again = await bus.handle(ALERT)

    assert again == ReplenishmentOutcome(first.purchase_order_id, Decimal(150), created=False)
    assert len(database.rows(PurchaseOrder)) == 1
    assert len(database.events) == events


async def test_the_next_day_the_open_draft_counts_as_on_order(bus, database, clock):
    await bus.handle(ALERT)
    clock.advance(days=1)

    outcome = await bus.handle(ALERT)

    assert outcome == ReplenishmentOutcome(None, Decimal(0), created=False)
    assert len(database.rows(PurchaseOrder)) == 1


async def test_a_cancelled_draft_no_longer_counts(bus, database, clock):
    first = await bus.handle(ALERT)
    await bus.handle(
        CancelPurchaseOrder(purchase_order_id=first.purchase_order_id, reason="too early")
    )

    outcome = await bus.handle(replace(ALERT, on=day(1)))

    assert outcome.created
    assert outcome.quantity == 150
    assert len(events_of(database, PurchaseOrderDrafted)) == 2


async def test_nothing_is_drafted_when_stock_covers_the_target(bus, database):
    await bus.handle(ReceiveStock(warehouse="LYS-1", sku="KD-HUB-200", quantity=Decimal(150)))

    outcome = await bus.handle(ALERT)

    assert outcome == ReplenishmentOutcome(None, Decimal(0), created=False)
    assert database.rows(PurchaseOrder) == []


async def test_a_sku_without_sourcing_cannot_be_replenished_automatically(bus, database):
    with pytest.raises(BusinessRuleViolation) as refused:
        await bus.handle(
            ProposeReplenishment(warehouse="LYS-1", sku="KD-CAM-10", daily_demand=Decimal(1))
        )

    assert refused.value.rule == "no_sourcing"
    assert database.rows(PurchaseOrder) == []


async def test_an_alert_for_an_unknown_sku_is_not_found(bus):
    with pytest.raises(NotFound):
        await bus.handle(
            ProposeReplenishment(warehouse="LYS-1", sku="NOPE", daily_demand=Decimal(1))
        )
