"""Every action in every status: allowed exactly where the life cycle says so."""

from datetime import timedelta

import pytest

from contexts.supply_chain.domain import Inspection, PurchaseOrderStatus
from contexts.supply_chain.domain.purchasing.status import TRANSITIONS
from contexts.supply_chain.tests.unit.examples import HUB, PROMISED, T0, each, order_in
from shared_kernel.domain import BusinessRuleViolation

S = PurchaseOrderStatus

ACTIONS = {
    "place": (lambda o: o.place(at=T0), {S.DRAFT: S.PLACED}),
    "confirm": (
        lambda o: o.confirm(PROMISED + timedelta(days=1), at=T0),
        {S.PLACED: S.CONFIRMED},
    ),
    "receive": (
        lambda o: o.receive([Inspection(HUB, each(1), each(0))], PROMISED, at=T0),
        {S.CONFIRMED: S.PARTIALLY_RECEIVED, S.PARTIALLY_RECEIVED: S.PARTIALLY_RECEIVED},
    ),
    "cancel": (
        lambda o: o.cancel("changed plans", at=T0),
        {S.DRAFT: S.CANCELLED, S.PLACED: S.CANCELLED, S.CONFIRMED: S.CANCELLED},
    ),
}

CASES = [(action, status) for action in ACTIONS for status in S]


@pytest.mark.parametrize(("action", "status"), CASES, ids=[f"{a}-from-{s}" for a, s in CASES])
def test_each_action_is_allowed_only_where_the_life_cycle_allows_it(action, status):
    run, allowed = ACTIONS[action]
    order = order_in(status)
    version = order.version

    if status in allowed:
        run(order)
        assert order.status is allowed[status]
        assert order.version > version
    else:
        with pytest.raises(BusinessRuleViolation) as refused:
            run(order)
        assert refused.value.rule == "illegal_transition"
        assert order.status is status
        assert order.version == version


def test_the_allowed_moves_agree_with_the_transition_table():
    moves = {
        (before, after) for _, allowed in ACTIONS.values() for before, after in allowed.items()
    }
    table = {(before, after) for before, targets in TRANSITIONS.items() for after in targets}
    # the last delivery moves to Received instead of PartiallyReceived
    extra = {(S.CONFIRMED, S.RECEIVED), (S.PARTIALLY_RECEIVED, S.RECEIVED)}
    assert table == moves | extra


@pytest.mark.parametrize("status", [S.RECEIVED, S.CANCELLED])
def test_closed_orders_accept_nothing(status):
    assert TRANSITIONS[status] == frozenset()
    assert not status.is_open
