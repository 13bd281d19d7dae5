"""Delivery timelines built from the shipment's own events, and delay alerts."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from contexts.supply_chain.application.analytics import (
    AlertType,
    Severity,
    TimelineAnalytics,
    TimelineLeg,
    TimelineState,
    TimelineUpdate,
    Transition,
    UnusableFact,
    alert_id,
)
from contexts.supply_chain.domain.shipping.events import ShipmentEvent
from contexts.supply_chain.tests.unit.analytics.builders import (
    T0,
    at,
    planned_shipment,
    shipment_events,
)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def apply_all(events: list[ShipmentEvent], state: TimelineState | None = None):
    analytics = TimelineAnalytics()
    updates: list[TimelineUpdate] = []
    for event in events:
        update = analytics.apply(state, event, event.occurred_at)
        assert update is not None
        state = update.state
        updates.append(update)
    return state, updates


def test_a_delayed_shipment_from_plan_to_late_delivery():
    shipment = planned_shipment()
    shipment.dispatch(T0 + hours(1), at=T0 + hours(1))
    shipment.record_departure(1, T0 + hours(2.5), at=T0 + hours(2.5))  # 30 min late
    shipment.record_arrival(1, T0 + hours(8), at=T0 + hours(8))
    shipment.update_eta(T0 + hours(34), at=T0 + hours(9))  # 4 h past the plan
    state, updates = apply_all(shipment_events(shipment))
    assert state is not None
    t = state.timeline

    assert (t.shipment_id, t.account, t.warehouse) == ("SH-1", "ACC-ORBITAL", "LYS-1")
    assert t.destination == "Orbital SA, Nanterre"
    assert (t.status, t.delay_minutes, t.on_time) == ("delayed", 240, None)
    assert (t.planned_delivery, t.eta, t.dispatched_at) == (
        T0 + hours(30),
        T0 + hours(34),
        T0 + hours(1),
    )
    assert t.legs == (
        TimelineLeg(1, "LYS-1", "Paris hub", "Geodis", T0 + hours(2), T0 + hours(8),
                    T0 + hours(2.5), T0 + hours(8), 30, 0),
        TimelineLeg(2, "Paris hub", "Orbital SA, Nanterre", "Chronopost", T0 + hours(24),
                    T0 + hours(30), None, None, None, None),
    )  # fmt: skip
    assert t.as_of == T0 + hours(9)
    assert [u.state.timeline.status for u in updates] == [
        "planned",
        "dispatched",
        "in_transit",
        "in_transit",
        "delayed",  # ETA updated past the plan
        "delayed",  # ShipmentDelayed
    ]

    raised = updates[4].alert
    assert raised is not None
    assert raised.transition is Transition.RAISED
    assert raised.alert.alert_id == alert_id(AlertType.DELIVERY_DELAY, "SH-1", T0 + hours(9))
    assert raised.alert.severity is Severity.WARNING
    assert raised.alert.details["delay_minutes"] == 240
    assert updates[5].alert is not None
    assert updates[5].alert.transition is Transition.UPDATED

    shipment.record_departure(2, T0 + hours(27), at=T0 + hours(27))
    shipment.deliver(T0 + hours(33), at=T0 + hours(33))
    state, more = apply_all(shipment_events(shipment), state)
    assert state is not None
    t = state.timeline
    assert (t.status, t.delivered_at, t.eta, t.delay_minutes, t.on_time) == (
        "delivered",
        T0 + hours(33),
        T0 + hours(33),
        180,
        False,
    )
    assert t.legs[1].departed_at == T0 + hours(27)
    assert t.legs[1].departure_delay_minutes == 180
    cleared = more[-1].alert
    assert cleared is not None
    assert cleared.transition is Transition.CLEARED
    assert cleared.alert.alert_id == raised.alert.alert_id
    assert cleared.alert.cleared_at == T0 + hours(33)
    assert cleared.alert.details["on_time"] is False
    assert state.alert is None


def test_a_day_late_is_critical_and_an_eta_back_within_plan_clears():
    shipment = planned_shipment()
    shipment.dispatch(T0 + hours(1), at=T0 + hours(1))
    shipment.update_eta(T0 + hours(60), at=T0 + hours(3))
    shipment.update_eta(T0 + hours(29), at=T0 + hours(5))
    _, updates = apply_all(shipment_events(shipment))
    changes = [u.alert for u in updates if u.alert is not None]
    assert [(c.transition, c.alert.severity) for c in changes] == [
        (Transition.RAISED, Severity.CRITICAL),  # 30 h late
        (Transition.UPDATED, Severity.CRITICAL),  # ShipmentDelayed
        (Transition.CLEARED, Severity.CRITICAL),
    ]
    assert updates[-1].state.timeline.status == "in_transit"
    assert updates[-1].state.timeline.delay_minutes == 0


def test_on_time_delivery_raises_nothing():
    shipment = planned_shipment()
    shipment.dispatch(T0 + hours(1), at=T0 + hours(1))
    shipment.record_departure(1, T0 + hours(2), at=T0 + hours(2))
    shipment.deliver(T0 + hours(29), at=T0 + hours(29))
    state, updates = apply_all(shipment_events(shipment))
    assert state is not None
    assert all(u.alert is None for u in updates)
    assert (state.timeline.status, state.timeline.on_time) == ("delivered", True)


def test_redeliveries_change_nothing_and_the_state_round_trips():
    shipment = planned_shipment()
    shipment.dispatch(T0 + hours(1), at=T0 + hours(1))
    shipment.update_eta(T0 + hours(40), at=T0 + hours(3))
    events = shipment_events(shipment)
    state, _ = apply_all(events)
    assert state is not None
    for event in events:
        assert TimelineAnalytics().apply(state, event, event.occurred_at) is None
    assert TimelineState.from_json(state.to_json()) == state


def test_a_leg_event_without_its_plan_still_shows_up():
    shipment = planned_shipment()
    shipment.dispatch(T0 + hours(1), at=T0 + hours(1))
    shipment.record_departure(1, T0 + hours(2), at=T0 + hours(2))
    _planned, dispatched, departed = shipment_events(shipment)
    state, _ = apply_all([dispatched, departed])  # the plan was lost
    assert state is not None
    (leg,) = state.timeline.legs
    assert (leg.sequence, leg.origin, leg.departed_at, leg.planned_arrival) == (
        1,
        "LYS-1",
        T0 + hours(2),
        None,
    )
    assert state.timeline.status == "in_transit"


def test_an_event_without_a_version_is_unusable():
    (planned,) = shipment_events(planned_shipment())
    with pytest.raises(UnusableFact):
        TimelineAnalytics().apply(None, replace(planned, aggregate_version=0), at(0))
