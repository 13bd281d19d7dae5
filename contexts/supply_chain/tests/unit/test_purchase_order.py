from datetime import datetime, timedelta

import pytest

from contexts.supply_chain.domain import (
    Inspection,
    LineSpec,
    PurchaseOrder,
    PurchaseOrderId,
    PurchaseOrderStatus,
    SkuCode,
)
from contexts.supply_chain.domain.purchasing.events import (
    GoodsReceived,
    PurchaseOrderCancelled,
    PurchaseOrderConfirmed,
    PurchaseOrderDrafted,
    PurchaseOrderLineRevised,
    PurchaseOrderPlaced,
    PurchaseOrderReceived,
)
from contexts.supply_chain.tests.unit.examples import (
    ACME,
    CAM,
    DAY0,
    HUB,
    PROMISED,
    T0,
    W1,
    day,
    draft_order,
    each,
    eur,
    order_in,
)
from shared_kernel.domain import BusinessRuleViolation, InvalidValue, Money

S = PurchaseOrderStatus


def test_a_draft_records_its_lines_total_and_idempotency_key():
    order = draft_order(key="replenishment:LYS-1:KD-HUB-200:2025-03-03")

    assert order.status is S.DRAFT
    assert order.total == eur("245.00")  # 10 * 12.50 + 4 * 30
    [event] = order.pull_events()
    assert isinstance(event, PurchaseOrderDrafted)
    assert [(line.sku, line.quantity) for line in event.lines] == [
        ("KD-HUB-200", 10),
        ("KD-CAM-10", 4),
    ]
    assert event.total == eur("245.00")
    assert event.idempotency_key == "replenishment:LYS-1:KD-HUB-200:2025-03-03"
    assert (event.purchase_order_id, event.supplier, event.warehouse) == ("PO-1", "ACME", "LYS-1")


def test_a_draft_needs_lines_each_sku_once_and_one_currency():
    with pytest.raises(InvalidValue):
        PurchaseOrder.draft(PurchaseOrderId("PO-9"), ACME, W1, [], at=T0)
    with pytest.raises(InvalidValue):
        draft_order(LineSpec(HUB, each(1), eur("1")), LineSpec(HUB, each(2), eur("1")))
    with pytest.raises(InvalidValue):
        draft_order(LineSpec(HUB, each(1), eur("1")), LineSpec(CAM, each(1), Money(1, "USD")))


def test_a_line_orders_something_at_a_non_negative_price():
    with pytest.raises(InvalidValue):
        LineSpec(HUB, each(0), eur("1"))
    with pytest.raises(InvalidValue):
        LineSpec(HUB, each(1), eur("-1"))


def test_draft_lines_can_be_set_and_removed():
    order = draft_order()
    order.pull_events()

    order.set_line(LineSpec(HUB, each(20), eur("12.00")), at=T0)
    order.set_line(LineSpec(SkuCode("KD-PLUG"), each(5), eur("8")), at=T0)
    order.remove_line(CAM, at=T0)

    assert [(str(line.sku), int(line.quantity.amount)) for line in order.lines] == [
        ("KD-HUB-200", 20),
        ("KD-PLUG", 5),
    ]
    revised = order.pull_events()
    assert all(isinstance(e, PurchaseOrderLineRevised) for e in revised)
    assert [(e.sku, e.quantity) for e in revised] == [
        ("KD-HUB-200", 20),
        ("KD-PLUG", 5),
        ("KD-CAM-10", 0),
    ]
    assert revised[-1].total == eur("280.00")


def test_the_last_line_cannot_be_removed_nor_an_unknown_one():
    order = draft_order(LineSpec(HUB, each(1), eur("1")))

    with pytest.raises(BusinessRuleViolation) as empty:
        order.remove_line(HUB, at=T0)
    with pytest.raises(BusinessRuleViolation) as unknown:
        order.remove_line(CAM, at=T0)

    assert (empty.value.rule, unknown.value.rule) == ("empty_order", "unknown_line")


@pytest.mark.parametrize("status", [s for s in S if s is not S.DRAFT])
def test_only_drafts_change_their_lines(status):
    order = order_in(status)

    with pytest.raises(BusinessRuleViolation) as refused:
        order.set_line(LineSpec(HUB, each(1), eur("1")), at=T0)

    assert refused.value.rule == "not_editable"


def test_placing_starts_the_lead_time_clock():
    order = draft_order()

    order.place(at=T0 + timedelta(hours=20))  # 2025-03-04 05:00 UTC

    assert order.status is S.PLACED
    assert order.placed_on == day(1)
    event = order.pull_events()[-1]
    assert isinstance(event, PurchaseOrderPlaced)
    assert event.placed_on == day(1)


def test_confirming_records_the_promised_day():
    order = order_in(S.PLACED)

    order.confirm(PROMISED, at=T0)

    assert (order.status, order.promised_on) == (S.CONFIRMED, PROMISED)
    [event] = order.pull_events()
    assert isinstance(event, PurchaseOrderConfirmed)
    assert (event.placed_on, event.promised_on) == (DAY0, PROMISED)


def test_a_promise_before_the_order_was_placed_is_refused():
    order = order_in(S.PLACED)

    with pytest.raises(BusinessRuleViolation) as refused:
        order.confirm(day(-1), at=T0)

    assert refused.value.rule == "promised_before_placed"
    assert order.status is S.PLACED


def test_a_partial_delivery_on_the_promised_day_is_on_time():
    order = order_in(S.CONFIRMED)

    receipt = order.receive([Inspection(HUB, each(6), each(1))], PROMISED, at=T0)

    assert (receipt.number, receipt.on_time, receipt.lead_time_days) == (1, True, 7)
    assert order.status is S.PARTIALLY_RECEIVED
    hub = order.line(HUB)
    assert hub is not None
    assert (hub.accepted, hub.rejected, hub.outstanding) == (each(6), each(1), each(4))
    [event] = order.pull_events()
    assert isinstance(event, GoodsReceived)
    assert (event.on_time, event.lead_time_days, event.fully_received) == (True, 7, False)
    assert [(line.sku, line.accepted, line.rejected) for line in event.lines] == [
        ("KD-HUB-200", 6, 1)
    ]
    assert (event.placed_on, event.promised_on, event.received_on) == (DAY0, PROMISED, PROMISED)


def test_the_last_delivery_receives_the_order_and_a_day_late_is_late():
    order = order_in(S.PARTIALLY_RECEIVED)  # 4 of 10 hubs accepted

    order.receive(
        [Inspection(HUB, each(6), each(0)), Inspection(CAM, each(4), each(2))],
        PROMISED + timedelta(days=1),
        at=T0,
    )

    assert order.status is S.RECEIVED
    goods, received = order.pull_events()
    assert isinstance(goods, GoodsReceived)
    assert (goods.receipt_number, goods.on_time, goods.lead_time_days) == (2, False, 8)
    assert goods.fully_received
    assert isinstance(received, PurchaseOrderReceived)
    assert (received.on_time, received.lead_time_days, received.receipts) == (False, 8, 2)


def test_rejected_goods_leave_the_line_outstanding():
    order = order_in(S.CONFIRMED)

    order.receive(
        [Inspection(HUB, each(8), each(2)), Inspection(CAM, each(4), each(0))], PROMISED, at=T0
    )

    assert order.status is S.PARTIALLY_RECEIVED
    assert order.line(HUB).outstanding == each(2)  # type: ignore[union-attr]


def test_over_receipt_is_refused_and_changes_nothing():
    order = order_in(S.PARTIALLY_RECEIVED)  # 6 hubs still expected

    with pytest.raises(BusinessRuleViolation) as refused:
        order.receive(
            [Inspection(CAM, each(4), each(0)), Inspection(HUB, each(7), each(0))], PROMISED, at=T0
        )

    assert refused.value.rule == "over_receipt"
    assert order.line(CAM).accepted == each(0)  # type: ignore[union-attr]
    assert order.receipts[-1].number == 1
    assert order.pending_events == ()


def test_more_may_arrive_than_expected_when_the_surplus_is_rejected():
    order = order_in(S.PARTIALLY_RECEIVED)

    order.receive([Inspection(HUB, each(6), each(3))], PROMISED, at=T0)

    assert order.line(HUB).outstanding == each(0)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("inspections", "error", "rule"),
    [
        ([], InvalidValue, None),
        ([Inspection(SkuCode("KD-PLUG"), each(1), each(0))], BusinessRuleViolation, "unknown_line"),
        (
            [Inspection(HUB, each(1), each(0)), Inspection(HUB, each(1), each(0))],
            BusinessRuleViolation,
            "unknown_line",
        ),
    ],
    ids=["nothing", "not-ordered", "twice"],
)
def test_a_receipt_inspects_ordered_skus_once_each(inspections, error, rule):
    order = order_in(S.CONFIRMED)

    with pytest.raises(error) as refused:
        order.receive(inspections, PROMISED, at=T0)

    assert getattr(refused.value, "rule", None) == rule


def test_an_inspection_accepts_or_rejects_something():
    with pytest.raises(InvalidValue):
        Inspection(HUB, each(0), each(0))


def test_goods_cannot_arrive_before_the_order_was_placed():
    order = order_in(S.CONFIRMED)

    with pytest.raises(BusinessRuleViolation) as refused:
        order.receive([Inspection(HUB, each(1), each(0))], day(-1), at=T0)

    assert refused.value.rule == "received_before_placed"


def test_cancelling_records_the_reason_and_previous_status():
    order = order_in(S.CONFIRMED)

    order.cancel("supplier cannot deliver", at=T0)

    assert order.status is S.CANCELLED
    [event] = order.pull_events()
    assert isinstance(event, PurchaseOrderCancelled)
    assert (event.reason, event.previous_status) == ("supplier cannot deliver", S.CONFIRMED)


def test_a_cancellation_needs_a_reason():
    with pytest.raises(InvalidValue):
        order_in(S.PLACED).cancel("  ", at=T0)


@pytest.mark.parametrize(
    ("status", "on_order"),
    [
        (S.DRAFT, 10),
        (S.CONFIRMED, 10),
        (S.PARTIALLY_RECEIVED, 6),
        (S.RECEIVED, 0),
        (S.CANCELLED, 0),
    ],
)
def test_what_is_still_on_order(status, on_order):
    order = order_in(status)

    assert order.on_order(HUB) == each(on_order)
    assert order.on_order(SkuCode("KD-PLUG")) is None


def test_a_naive_moment_is_refused_before_anything_changes():
    order = draft_order()

    with pytest.raises(InvalidValue):
        order.place(at=datetime(2025, 3, 3, 9, 0))

    assert (order.status, order.placed_on) == (S.DRAFT, None)
