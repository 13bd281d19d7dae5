"""Worked examples of the replenishment proposal (definitions in planning/replenishment.py)."""

from decimal import Decimal

import pytest

from contexts.supply_chain.domain import DemandRate, ReplenishmentPolicy, plan_replenishment
from contexts.supply_chain.tests.unit.examples import each
from shared_kernel.domain import InvalidValue, Quantity

POLICY = ReplenishmentPolicy(reorder_point=each(80), safety_stock=each(50), lead_time_days=7)
TEN_A_DAY = DemandRate(Decimal(10))


def test_orders_up_to_reorder_point_plus_lead_time_demand():
    # target 80 + 10 * 7 = 150; position 35 available + 20 on order = 55; order 95.
    proposal = plan_replenishment(POLICY, TEN_A_DAY, available=each(35), on_order=each(20))

    assert proposal.target == each(150)
    assert proposal.inventory_position == each(55)
    assert proposal.quantity == each(95)
    assert proposal.needed


def test_open_orders_that_reach_the_target_mean_nothing_to_order():
    proposal = plan_replenishment(POLICY, TEN_A_DAY, available=each(35), on_order=each(115))

    assert proposal.quantity == each(0)
    assert not proposal.needed


def test_a_position_above_target_orders_nothing_rather_than_a_negative_amount():
    proposal = plan_replenishment(POLICY, TEN_A_DAY, available=each(400), on_order=each(0))

    assert proposal.quantity == each(0)


def test_fractions_are_rounded_up_to_whole_units():
    # target 80 + 0.35 * 7 = 82.45; position 10: 72.45 rounds up to 73.
    proposal = plan_replenishment(
        POLICY, DemandRate(Decimal("0.35")), available=each(10), on_order=each(0)
    )

    assert proposal.quantity == each(73)


def test_without_lead_time_the_target_is_the_reorder_point():
    same_day = ReplenishmentPolicy(each(20), each(5), lead_time_days=0)

    proposal = plan_replenishment(same_day, TEN_A_DAY, available=each(12), on_order=each(0))

    assert proposal.quantity == each(8)


def test_units_must_agree():
    with pytest.raises(InvalidValue):
        plan_replenishment(
            POLICY, TEN_A_DAY, available=each(1), on_order=Quantity(Decimal(1), "box")
        )


@pytest.mark.parametrize(
    ("reorder_point", "safety_stock", "lead_time_days"),
    [(each(10), each(11), 3), (each(10), each(5), -1), (each(10), each(5), 366)],
    ids=["safety-above-reorder-point", "negative-lead-time", "lead-time-over-a-year"],
)
def test_a_policy_keeps_its_levels_in_order(reorder_point, safety_stock, lead_time_days):
    with pytest.raises(InvalidValue):
        ReplenishmentPolicy(reorder_point, safety_stock, lead_time_days)
