from datetime import datetime
from decimal import Decimal

import pytest

from contexts.supply_chain.domain import AdjustmentReason, InventoryItem, ReservationRef, TransferId
from contexts.supply_chain.domain.inventory.events import (
    ReservationReleased,
    StockAdjusted,
    StockReceived,
    StockReserved,
    StockShipped,
    StockTransferred,
)
from contexts.supply_chain.tests.unit.examples import HUB, T0, W1, W2, each, stocked_item
from shared_kernel.domain import BusinessRuleViolation, InvalidValue, Quantity

O1, O2 = ReservationRef("O-1"), ReservationRef("O-2")


def levels(item: InventoryItem) -> tuple[int, int, int]:
    return int(item.on_hand.amount), int(item.reserved.amount), int(item.available.amount)


def test_a_new_item_is_empty_and_addressed_by_warehouse_and_sku():
    item = InventoryItem(W1, HUB, "each")

    assert levels(item) == (0, 0, 0)
    assert str(item.id) == "LYS-1:KD-HUB-200"
    assert item.version == 0


def test_receiving_adds_to_on_hand_and_records_the_resulting_levels():
    item = InventoryItem(W1, HUB, "each")

    item.receive(each(12), at=T0, reference="PO-7")

    assert levels(item) == (12, 0, 12)
    [event] = item.pull_events()
    assert isinstance(event, StockReceived)
    assert (event.quantity, event.on_hand, event.available) == (12, 12, 12)
    assert (event.warehouse, event.sku, event.reference) == ("LYS-1", "KD-HUB-200", "PO-7")
    assert (event.aggregate_id, event.aggregate_version) == ("LYS-1:KD-HUB-200", 1)
    assert event.occurred_at == T0


def test_reserving_moves_stock_from_available_to_reserved():
    item = stocked_item(on_hand=10)

    item.reserve(O1, each(4), at=T0)

    assert levels(item) == (10, 4, 6)
    [event] = item.pull_events()
    assert isinstance(event, StockReserved)
    assert (event.reference, event.quantity, event.reserved) == ("O-1", 4, 4)


def test_cannot_reserve_more_than_available():
    item = stocked_item(on_hand=10, reserved=7)

    with pytest.raises(BusinessRuleViolation) as refused:
        item.reserve(O2, each(4), at=T0)

    assert refused.value.rule == "insufficient_stock"
    assert levels(item) == (10, 7, 3)
    assert item.pending_events == ()


def test_a_reference_holds_one_reservation():
    item = stocked_item(on_hand=10, reserved=2)

    with pytest.raises(BusinessRuleViolation) as refused:
        item.reserve(O1, each(1), at=T0)

    assert refused.value.rule == "duplicate_reservation"


def test_releasing_part_of_a_reservation_keeps_the_rest_reserved():
    item = stocked_item(on_hand=10, reserved=6)

    item.release(O1, each(2), at=T0)

    assert levels(item) == (10, 4, 6)
    assert item.reservation(O1) is not None
    assert item.reservation(O1).quantity == each(4)  # type: ignore[union-attr]
    [event] = item.pull_events()
    assert isinstance(event, ReservationReleased)
    assert event.quantity == 2


def test_releasing_without_quantity_releases_all_and_closes_the_reservation():
    item = stocked_item(on_hand=10, reserved=6)

    item.release(O1, at=T0)

    assert levels(item) == (10, 0, 10)
    assert item.reservations == []


@pytest.mark.parametrize("action", ["release", "ship"])
def test_release_and_ship_need_an_open_reservation(action: str):
    item = stocked_item(on_hand=10, reserved=6)

    with pytest.raises(BusinessRuleViolation) as refused:
        getattr(item, action)(O2, each(1), at=T0)

    assert refused.value.rule == "unknown_reservation"


@pytest.mark.parametrize("action", ["release", "ship"])
def test_release_and_ship_cannot_exceed_the_reservation(action: str):
    item = stocked_item(on_hand=10, reserved=6)

    with pytest.raises(BusinessRuleViolation) as refused:
        getattr(item, action)(O1, each(7), at=T0)

    assert refused.value.rule == "exceeds_reservation"
    assert levels(item) == (10, 6, 4)


def test_shipping_takes_reserved_stock_out_of_the_warehouse():
    item = stocked_item(on_hand=10, reserved=6)

    item.ship(O1, each(5), at=T0)

    assert levels(item) == (5, 1, 4)
    [event] = item.pull_events()
    assert isinstance(event, StockShipped)
    assert (event.reference, event.quantity, event.on_hand, event.reserved) == ("O-1", 5, 5, 1)


def test_shipping_the_whole_reservation_closes_it():
    item = stocked_item(on_hand=10, reserved=6)

    item.ship(O1, at=T0)

    assert levels(item) == (4, 0, 4)
    assert item.reservation(O1) is None


def test_a_count_sets_on_hand_and_records_the_signed_difference():
    item = stocked_item(on_hand=10, reserved=2)

    item.adjust(each(7), AdjustmentReason.DAMAGED, at=T0)

    assert levels(item) == (7, 2, 5)
    [event] = item.pull_events()
    assert isinstance(event, StockAdjusted)
    assert (event.counted, event.difference, event.reason) == (7, -3, AdjustmentReason.DAMAGED)


def test_a_count_that_confirms_the_books_is_still_recorded():
    item = stocked_item(on_hand=10)

    item.adjust(each(10), AdjustmentReason.CYCLE_COUNT, at=T0)

    [event] = item.pull_events()
    assert isinstance(event, StockAdjusted)
    assert event.difference == 0


def test_a_count_below_what_is_reserved_is_refused():
    item = stocked_item(on_hand=10, reserved=6)

    with pytest.raises(BusinessRuleViolation) as refused:
        item.adjust(each(5), AdjustmentReason.LOST, at=T0)

    assert refused.value.rule == "count_below_reserved"
    assert levels(item) == (10, 6, 4)


def test_a_transfer_sends_available_stock_to_another_warehouse():
    item = stocked_item(on_hand=10, reserved=6)

    item.transfer_out(each(3), W2, TransferId("T-1"), at=T0)

    assert levels(item) == (7, 6, 1)
    [event] = item.pull_events()
    assert isinstance(event, StockTransferred)
    assert (event.destination_warehouse, event.transfer_id, event.quantity) == ("HAM-2", "T-1", 3)


def test_reserved_stock_cannot_be_transferred():
    item = stocked_item(on_hand=10, reserved=6)

    with pytest.raises(BusinessRuleViolation) as refused:
        item.transfer_out(each(5), W2, TransferId("T-1"), at=T0)

    assert refused.value.rule == "insufficient_stock"


def test_a_transfer_goes_to_another_warehouse():
    item = stocked_item(on_hand=10)

    with pytest.raises(BusinessRuleViolation) as refused:
        item.transfer_out(each(1), W1, TransferId("T-1"), at=T0)

    assert refused.value.rule == "same_warehouse"


@pytest.mark.parametrize(
    "move",
    [
        lambda item, q: item.receive(q, at=T0),
        lambda item, q: item.reserve(O2, q, at=T0),
        lambda item, q: item.ship(O1, q, at=T0),
        lambda item, q: item.release(O1, q, at=T0),
        lambda item, q: item.transfer_out(q, W2, TransferId("T-1"), at=T0),
    ],
    ids=["receive", "reserve", "ship", "release", "transfer"],
)
def test_movements_of_nothing_are_refused(move):
    item = stocked_item(on_hand=10, reserved=5)

    with pytest.raises(InvalidValue) as refused:
        move(item, each(0))

    assert refused.value.field == "quantity"


def test_quantities_in_another_unit_are_refused():
    item = stocked_item(on_hand=10)

    with pytest.raises(InvalidValue) as refused:
        item.receive(Quantity(Decimal(1), "kg"), at=T0)

    assert refused.value.field == "unit"
    assert levels(item) == (10, 0, 10)


def test_a_moment_without_time_zone_is_refused_before_anything_changes():
    item = stocked_item(on_hand=10)

    with pytest.raises(InvalidValue):
        item.reserve(O1, each(1), at=datetime(2025, 3, 3, 9, 0))

    assert levels(item) == (10, 0, 10)
    assert item.reservations == []


def test_every_event_advances_the_version():
    item = InventoryItem(W1, HUB, "each")

    item.receive(each(5), at=T0)
    item.reserve(O1, each(2), at=T0)
    item.ship(O1, at=T0)

    assert item.version == 3
    assert [e.aggregate_version for e in item.pull_events()] == [1, 2, 3]
