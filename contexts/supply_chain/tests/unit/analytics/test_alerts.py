"""The alert life cycle: raise once, update while the condition holds, clear once."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from contexts.supply_chain.application.analytics import (
    AlertState,
    AlertType,
    Severity,
    Transition,
    alert_id,
)
from contexts.supply_chain.application.analytics.alerts import track
from contexts.supply_chain.tests.unit.analytics.builders import at

SUBJECT = "LYS-1:KD-HUB-200"


def step(current: AlertState | None, severity: Severity | None, hours: float):
    return track(AlertType.STOCK_OUT_RISK, SUBJECT, current, severity, {"n": hours}, at(0, hours))


def test_raise_update_clear():
    state, raised = step(None, Severity.WARNING, 1)
    assert state is not None
    assert raised is not None
    assert raised.transition is Transition.RAISED
    assert raised.published
    assert raised.alert.alert_id == alert_id(AlertType.STOCK_OUT_RISK, SUBJECT, at(0, 1))
    assert (raised.alert.raised_at, raised.alert.cleared_at) == (at(0, 1), None)

    state, updated = step(state, Severity.CRITICAL, 2)
    assert state is not None
    assert updated is not None
    assert updated.transition is Transition.UPDATED
    assert not updated.published
    assert updated.alert.alert_id == raised.alert.alert_id
    assert (updated.alert.severity, updated.alert.raised_at) == (Severity.CRITICAL, at(0, 1))
    assert updated.alert.details == {"n": 2}

    state, cleared = step(state, None, 3)
    assert state is None
    assert cleared is not None
    assert cleared.transition is Transition.CLEARED
    assert cleared.published
    assert cleared.alert.alert_id == raised.alert.alert_id
    assert (cleared.alert.cleared_at, cleared.alert.active) == (at(0, 3), False)
    assert cleared.alert.severity is Severity.CRITICAL

    assert step(None, None, 4) == (None, None)


def test_ids_are_stable_and_distinct():
    same = alert_id(AlertType.STOCK_OUT_RISK, SUBJECT, at(1))
    assert same == alert_id(AlertType.STOCK_OUT_RISK, SUBJECT, at(1).astimezone())
    assert same != alert_id(AlertType.DELIVERY_DELAY, SUBJECT, at(1))
    assert same != alert_id(AlertType.STOCK_OUT_RISK, "HAM-2:KD-HUB-200", at(1))
    assert same != alert_id(AlertType.STOCK_OUT_RISK, SUBJECT, at(2))
    _, raised = step(None, Severity.WARNING, 1)
    state, _ = step(None, Severity.WARNING, 1)
    _, cleared = step(state, None, 2)
    assert raised is not None
    assert cleared is not None
    assert raised.event_id() != cleared.event_id()
    assert raised.event_id() == step(None, Severity.WARNING, 1)[1].event_id()  # type: ignore[union-attr]


def test_state_round_trip():
    state, _ = step(None, Severity.CRITICAL, 5)
    assert state is not None
    assert AlertState.from_json(state.to_json()) == state
    assert AlertState.from_json(None) is None


@given(st.lists(st.sampled_from([None, Severity.WARNING, Severity.CRITICAL]), max_size=30))
def test_raises_and_clears_alternate_and_an_alert_is_active_exactly_while_the_condition_holds(
    conditions,
):
    state = None
    published = []
    for n, severity in enumerate(conditions):
        state, change = step(state, severity, n)
        assert (state is not None) == (severity is not None)
        if change is not None and change.published:
            published.append(change.transition)
    assert published == [
        Transition.RAISED if i % 2 == 0 else Transition.CLEARED for i in range(len(published))
    ]
