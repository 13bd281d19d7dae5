"""Inventory levels, the stock-out forecast, its alert and the replenishment request.

The running example (SKU KD-HUB-200 in LYS-1: reorder point 80, safety stock 50,
7 days of lead time; demand measured over 7 days):

- day 0: 200 received; days 0 to 6: 10 shipped a day (at 10:00), leaving 130. The
  window (days 0 to 6) holds 70: 10 a day, threshold 10 * 7 + 50 = 120, not at risk;
  13 days of cover, stock out on day 19;
- day 6, 11:00: 14 more reserved, 116 available: below 120, at risk (short by 4),
  the alert fires and a replenishment is asked for day 6;
- then shipped: 84 in the window, 12 a day; threshold 12 * 7 + 50 = 134, short by 18.
  Cover 116 / 12 = 9.66 days, stock out on day 15, after an order placed on day 6
  would arrive (day 13): a warning;
- day 7: 100 received, 216 available: the alert clears.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contexts.supply_chain.application.analytics import (
    AlertType,
    InventoryAnalytics,
    InventoryUpdate,
    ItemState,
    Severity,
    SkuReference,
    Transition,
    UnusableFact,
    alert_id,
)
from contexts.supply_chain.application.analytics.inventory import daily_demand
from contexts.supply_chain.domain.inventory.events import InventoryEvent
from contexts.supply_chain.tests.unit.analytics.builders import (
    Stock,
    at,
    day,
    sku_registered,
)

REGISTERED = sku_registered(when=at(-10))


class Item:
    """Feeds one item's events through the computations, as the worker would."""

    def __init__(self, analytics: InventoryAnalytics | None = None, *, known: bool = True):
        self.analytics = analytics or InventoryAnalytics()
        self.state: ItemState | None = None
        self.sku = (
            SkuReference("KD-HUB-200").registered(REGISTERED).with_warehouse("LYS-1")
            if known
            else None
        )
        self.updates: list[InventoryUpdate] = []

    def apply(self, events: list[InventoryEvent]) -> InventoryUpdate:
        for event in events:
            update = self.analytics.apply_movement(self.state, self.sku, event, event.occurred_at)
            assert update is not None
            self.state = update.item
            if update.proposal is not None:  # the proposer answered
                self.state = self.analytics.proposal_made(
                    self.state, update.proposal, succeeded=True
                )
            self.updates.append(update)
        return self.updates[-1]


def first_week(stock: Stock) -> list[InventoryEvent]:
    events = stock.receive(200, at(0))
    for offset in range(7):
        events += stock.ship(10, at(offset, hours=1))
    return events


def test_levels_carry_the_newest_figures_and_the_demand_over_the_window():
    stock = Stock()
    level = Item().apply(first_week(stock)).level

    assert (level.on_hand, level.reserved, level.available) == (130, 0, 130)
    assert level.daily_demand == Decimal("10.0000")
    assert level.risk_threshold == 120
    assert level.at_risk is False
    assert level.days_of_cover == Decimal("13.00")
    assert level.stock_out_on == day(19)
    assert (level.lead_time_days, level.safety_stock, level.reorder_point) == (7, 50, 80)
    assert level.as_of == at(6, hours=1)


def test_the_stock_out_alert_fires_once_and_asks_for_one_replenishment():
    stock, item = Stock(), Item()
    item.apply(first_week(stock))
    reserve, ship = stock.ship(14, at(6, hours=2))

    on_reserve = item.apply([reserve])  # 116 available already: at risk
    level = on_reserve.level
    assert (level.available, level.daily_demand, level.risk_threshold) == (116, 10, 120)
    assert level.at_risk
    assert level.shortfall == 4
    assert on_reserve.alert is not None
    assert on_reserve.alert.transition is Transition.RAISED
    raised = on_reserve.alert.alert
    assert raised.alert_id == alert_id(AlertType.STOCK_OUT_RISK, "LYS-1:KD-HUB-200", at(6, hours=2))
    assert (raised.severity, raised.raised_at, raised.active) == (
        Severity.WARNING,
        at(6, hours=2),
        True,
    )
    assert on_reserve.proposal is not None
    assert (on_reserve.proposal.warehouse, on_reserve.proposal.sku) == ("LYS-1", "KD-HUB-200")
    assert (on_reserve.proposal.day, on_reserve.proposal.alert_id) == (day(6), raised.alert_id)
    assert on_reserve.proposal.daily_demand == 10

    on_ship = item.apply([ship])
    level = on_ship.level
    assert level.daily_demand == Decimal("12.0000")
    assert (level.available, level.risk_threshold, level.shortfall) == (116, 134, 18)
    assert level.days_of_cover == Decimal("9.66")
    assert level.stock_out_on == day(15)
    assert on_ship.alert is not None
    assert on_ship.alert.transition is Transition.UPDATED
    assert on_ship.alert.alert.alert_id == raised.alert_id
    assert on_ship.alert.alert.severity is Severity.WARNING
    assert on_ship.alert.alert.details["shortfall"] == "18.0000"
    assert on_ship.proposal is None

    cleared = item.apply(stock.receive(100, at(7)))
    assert cleared.level.at_risk is False
    assert cleared.alert is not None
    assert cleared.alert.transition is Transition.CLEARED
    assert cleared.alert.alert.alert_id == raised.alert_id
    assert cleared.alert.alert.cleared_at == at(7)
    assert cleared.proposal is None
    assert item.state is not None
    assert item.state.alert is None

    proposals = [u.proposal for u in item.updates if u.proposal is not None]
    assert len(proposals) == 1


def test_an_empty_shelf_or_a_stock_out_before_delivery_is_critical():
    stock, item = Stock(), Item()
    item.apply(first_week(stock))
    # 60 more shipped on day 6: 130 a week, 18.5714 a day; the 70 left run out on
    # day 9, before an order placed on day 6 arrives (day 13).
    update = item.apply(stock.ship(60, at(6, hours=2)))
    assert update.level.stock_out_on == day(9)
    assert update.alert is not None
    assert update.alert.alert.severity is Severity.CRITICAL

    emptied = item.apply(stock.ship(70, at(6, hours=3)))
    assert emptied.level.available == 0
    assert emptied.alert is not None
    assert emptied.alert.alert.severity is Severity.CRITICAL


def test_without_the_sku_policy_there_is_no_forecast_until_it_is_registered():
    stock, item = Stock(), Item(known=False)
    item.apply(first_week(stock))
    update = item.apply(stock.ship(14, at(6, hours=2)))
    level = update.level
    assert level.available == 116
    assert level.daily_demand == Decimal("12.0000")
    assert (level.at_risk, level.risk_threshold, level.lead_time_days) == (None, None, None)
    assert update.alert is None
    assert update.proposal is None

    assert item.state is not None
    sku = SkuReference("KD-HUB-200", warehouses=("LYS-1",))
    late = item.analytics.apply_registration(sku, REGISTERED, at(6, hours=5), [item.state])
    assert late is not None
    assert late.sku.lead_time_days == 7
    assert late.sku.warehouses == ("LYS-1",)
    (reassessed,) = late.items
    assert reassessed.level.at_risk is True
    assert reassessed.level.as_of == at(6, hours=5)
    assert reassessed.alert is not None
    assert reassessed.alert.transition is Transition.RAISED
    assert reassessed.alert.alert.raised_at == at(6, hours=5)
    assert reassessed.proposal is not None
    assert reassessed.proposal.day == day(6)
    assert item.analytics.apply_registration(late.sku, REGISTERED, at(9), [item.state]) is None


def test_a_registration_older_than_the_stock_keeps_the_items_as_of():
    stock, item = Stock(), Item(known=False)
    item.apply(first_week(stock))
    assert item.state is not None
    late = item.analytics.apply_registration(None, REGISTERED, REGISTERED.occurred_at, [item.state])
    assert late is not None
    (reassessed,) = late.items
    assert reassessed.level.as_of == at(6, hours=1)
    assert reassessed.level.at_risk is False


def test_redelivered_movements_change_nothing():
    stock, item = Stock(), Item()
    events = first_week(stock)
    item.apply(events)
    for event in (events[0], events[-1], events[5]):
        assert item.analytics.apply_movement(item.state, item.sku, event, event.occurred_at) is None


def test_a_failed_proposal_is_asked_again_on_a_later_day_only():
    stock = Stock()
    analytics = InventoryAnalytics()
    sku = SkuReference("KD-HUB-200").registered(REGISTERED)
    state = None
    for event in first_week(stock):
        update = analytics.apply_movement(state, sku, event, event.occurred_at)
        assert update is not None
        state = update.item
    reserve, ship = stock.ship(14, at(6, hours=2))
    update = analytics.apply_movement(state, sku, reserve, reserve.occurred_at)
    assert update is not None
    assert update.proposal is not None
    state = analytics.proposal_made(update.item, update.proposal, succeeded=False)

    same_day = analytics.apply_movement(state, sku, ship, ship.occurred_at)
    assert same_day is not None
    assert same_day.proposal is None

    next_day_events = stock.ship(1, at(7))
    next_day = analytics.apply_movement(same_day.item, sku, next_day_events[0], at(7))
    assert next_day is not None
    assert next_day.proposal is not None
    assert next_day.proposal.day == day(7)
    assert next_day.proposal.alert_id == update.proposal.alert_id


def test_an_event_without_version_or_with_negative_figures_is_unusable():
    (event,) = Stock().receive(5, at(0))
    with pytest.raises(UnusableFact):
        InventoryAnalytics().apply_movement(None, None, replace(event, aggregate_version=0), at(0))
    with pytest.raises(UnusableFact):
        InventoryAnalytics().apply_movement(
            None, None, replace(event, available=Decimal(-1)), at(0)
        )


def test_states_survive_the_changelog_round_trip():
    stock, item = Stock(), Item()
    item.apply(first_week(stock))
    item.apply(stock.ship(14, at(6, hours=2)))
    assert item.state is not None
    assert item.state.alert is not None
    assert ItemState.from_json(item.state.to_json()) == item.state
    assert item.sku is not None
    assert SkuReference.from_json(item.sku.to_json()) == item.sku


@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(1, 1000)), min_size=0, max_size=40),
    st.integers(1, 30),
    st.integers(1, 14),
)
def test_daily_demand_is_the_windows_shipments_over_its_days(shipments, today, window):
    shipped = [(day(d), Decimal(q)) for d, q in shipments]
    inside = sum(q for d, q in shipments if today - window < d <= today)
    demand = daily_demand(shipped, day(today), window)
    assert abs(demand * window - inside) <= Decimal("0.00005") * window
    assert demand >= 0


@given(st.lists(st.sampled_from(["receive", "ship"]), min_size=1, max_size=25))
def test_an_active_alert_exists_exactly_while_the_item_is_at_risk(steps):
    stock, item = Stock(), Item()
    item.apply(stock.receive(150, at(0)))
    for n, step in enumerate(steps, start=1):
        when = at(n * 0.5)
        if step == "ship" and stock.item.available.amount >= 20:
            update = item.apply(stock.ship(20, when))
        else:
            update = item.apply(stock.receive(15, when))
        assert item.state is not None
        assert (item.state.alert is not None) == bool(update.level.at_risk)
    raised = [
        u for u in item.updates if u.alert is not None and u.alert.transition is Transition.RAISED
    ]
    proposals = [u for u in item.updates if u.proposal is not None]
    assert len(proposals) <= len(raised)
    assert all(p.proposal.day == p.level.as_of.date() for p in proposals if p.proposal)
    assert len({(p.proposal.day) for p in proposals if p.proposal}) == len(proposals)


def test_demand_ignores_shipments_older_than_the_window():
    stock, item = Stock(), Item(InventoryAnalytics(demand_window_days=3))
    item.apply(stock.receive(500, at(0)))
    item.apply(stock.ship(30, at(0, hours=1)))
    update = item.apply(stock.receive(1, at(0) + timedelta(days=3)))
    assert update.level.daily_demand == 0
    assert item.state is not None
    assert item.state.shipped == ()
