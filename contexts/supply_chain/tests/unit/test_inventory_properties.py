"""Whatever happens to an item, stock never goes negative and the books add up."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from contexts.supply_chain.domain import AdjustmentReason, InventoryItem, ReservationRef, TransferId
from contexts.supply_chain.domain.inventory.events import (
    StockAdjusted,
    StockReceived,
    StockShipped,
    StockTransferred,
)
from contexts.supply_chain.tests.unit.examples import HUB, T0, W1, W2, each
from shared_kernel.domain import BusinessRuleViolation

amounts = st.integers(min_value=1, max_value=60)
references = st.sampled_from(["O-1", "O-2", "O-3"])
maybe_amounts = st.none() | amounts

movements = st.lists(
    st.one_of(
        st.tuples(st.just("receive"), amounts),
        st.tuples(st.just("reserve"), references, amounts),
        st.tuples(st.just("release"), references, maybe_amounts),
        st.tuples(st.just("ship"), references, maybe_amounts),
        st.tuples(st.just("adjust"), st.integers(min_value=0, max_value=120)),
        st.tuples(st.just("transfer"), amounts),
    ),
    max_size=40,
)


def apply(item: InventoryItem, movement: tuple) -> None:
    kind, *args = movement
    if kind == "receive":
        item.receive(each(args[0]), at=T0)
    elif kind == "reserve":
        item.reserve(ReservationRef(args[0]), each(args[1]), at=T0)
    elif kind in ("release", "ship"):
        quantity = None if args[1] is None else each(args[1])
        getattr(item, kind)(ReservationRef(args[0]), quantity, at=T0)
    elif kind == "adjust":
        item.adjust(each(args[0]), AdjustmentReason.CYCLE_COUNT, at=T0)
    else:
        item.transfer_out(each(args[0]), W2, TransferId("T-1"), at=T0)


@settings(max_examples=150, deadline=None)
@given(movements)
def test_stock_never_goes_negative_and_on_hand_is_the_sum_of_movements(sequence):
    item = InventoryItem(W1, HUB, "each")
    refused = 0
    for movement in sequence:
        before = (item.on_hand, item.reserved, item.version)
        try:
            apply(item, movement)
        except BusinessRuleViolation:
            refused += 1
            assert (item.on_hand, item.reserved, item.version) == before
        assert Decimal(0) <= item.reserved.amount <= item.on_hand.amount
        assert item.reserved == sum((r.quantity for r in item.reservations), each(0))
        assert all(r.quantity.amount > 0 for r in item.reservations)

    events = item.pull_events()
    booked = (
        sum(e.quantity for e in events if isinstance(e, StockReceived))
        - sum(e.quantity for e in events if isinstance(e, StockShipped))
        - sum(e.quantity for e in events if isinstance(e, StockTransferred))
        + sum(e.difference for e in events if isinstance(e, StockAdjusted))
    )
    assert item.on_hand.amount == booked
    assert len(events) == len(sequence) - refused == item.version
    if events:
        last = events[-1]
        assert (last.on_hand, last.reserved, last.available) == (
            item.on_hand.amount,
            item.reserved.amount,
            item.available.amount,
        )
