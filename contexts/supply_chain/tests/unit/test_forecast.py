"""Worked examples of the stock-out forecast (definitions in planning/forecast.py)."""

from decimal import Decimal

import pytest

from contexts.supply_chain.domain import DemandRate, ReplenishmentPolicy, forecast_stock_out
from contexts.supply_chain.tests.unit.examples import DAY0, day, each
from shared_kernel.domain import InvalidValue, Quantity

POLICY = ReplenishmentPolicy(reorder_point=each(80), safety_stock=each(50), lead_time_days=7)
TEN_A_DAY = DemandRate(Decimal(10))


def test_stock_exactly_at_the_threshold_is_not_yet_at_risk():
    # 120 available at 10 a day: 12 days of cover; threshold 10 * 7 + 50 = 120.
    forecast = forecast_stock_out(each(120), TEN_A_DAY, POLICY, DAY0)

    assert forecast.days_of_cover == Decimal("12.00")
    assert forecast.stock_out_on == day(12)
    assert forecast.risk_threshold == each(120)
    assert not forecast.at_risk
    assert forecast.shortfall == each(0)


def test_one_unit_below_the_threshold_is_at_risk():
    forecast = forecast_stock_out(each(119), TEN_A_DAY, POLICY, DAY0)

    assert forecast.at_risk
    assert forecast.shortfall == each(1)
    assert forecast.days_of_cover == Decimal("11.90")
    assert forecast.stock_out_on == day(11)


def test_cover_is_rounded_down_and_the_stock_out_day_is_the_day_it_runs_out():
    # 10 units at 3 a day: 10 -> 7 -> 4 -> 1, gone during day 3.
    forecast = forecast_stock_out(each(10), DemandRate(Decimal(3)), POLICY, DAY0)

    assert forecast.days_of_cover == Decimal("3.33")
    assert forecast.stock_out_on == day(3)


def test_without_demand_stock_lasts_but_can_still_sit_below_safety_stock():
    idle = DemandRate(Decimal(0))

    healthy = forecast_stock_out(each(60), idle, POLICY, DAY0)
    thin = forecast_stock_out(each(40), idle, POLICY, DAY0)

    assert (healthy.days_of_cover, healthy.stock_out_on, healthy.at_risk) == (None, None, False)
    assert (thin.at_risk, thin.shortfall) == (True, each(10))


def test_an_empty_shelf_runs_out_today():
    forecast = forecast_stock_out(each(0), TEN_A_DAY, POLICY, DAY0)

    assert (forecast.days_of_cover, forecast.stock_out_on) == (Decimal(0), DAY0)
    assert forecast.shortfall == each(120)


def test_fractional_demand_counts_exactly():
    forecast = forecast_stock_out(each(5), DemandRate(Decimal("0.4")), POLICY, DAY0)

    assert forecast.days_of_cover == Decimal("12.50")
    assert forecast.risk_threshold == Quantity(Decimal("52.8"))


def test_units_must_agree():
    with pytest.raises(InvalidValue):
        forecast_stock_out(Quantity(Decimal(5), "kg"), TEN_A_DAY, POLICY, DAY0)


def test_demand_is_an_exact_non_negative_rate():
    with pytest.raises(InvalidValue):
        DemandRate(Decimal(-1))
    with pytest.raises(InvalidValue):
        DemandRate(2.5)  # type: ignore[arg-type]
