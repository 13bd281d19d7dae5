from datetime import datetime

import pytest

from contexts.supply_chain.domain import (
    AccountId,
    LegPlan,
    Shipment,
    ShipmentId,
    ShipmentItem,
    ShipmentStatus,
)
from contexts.supply_chain.domain.shipping.events import (
    LegArrived,
    LegDeparted,
    ShipmentDelayed,
    ShipmentDelivered,
    ShipmentDispatched,
    ShipmentEtaUpdated,
    ShipmentPlanned,
)
from contexts.supply_chain.tests.unit.examples import (
    CAM,
    HUB,
    T0,
    W1,
    each,
    hours,
    planned_shipment,
    route,
)
from shared_kernel.domain import BusinessRuleViolation, InvalidValue

S = ShipmentStatus
PLANNED_DELIVERY = T0 + hours(30)


def in_transit() -> Shipment:
    shipment = planned_shipment()
    shipment.dispatch(T0 + hours(1), at=T0)
    shipment.record_departure(1, T0 + hours(2), at=T0)
    shipment.pull_events()
    return shipment


def plan(items, legs) -> Shipment:
    return Shipment.plan(ShipmentId("SH-9"), AccountId("ACC-1"), W1, items, legs, at=T0)


def test_a_planned_shipment_publishes_its_lines_route_and_planned_delivery():
    shipment = plan([ShipmentItem(HUB, each(3))], route())

    assert shipment.status is S.PLANNED
    assert shipment.planned_delivery == shipment.eta == PLANNED_DELIVERY
    [event] = shipment.pull_events()
    assert isinstance(event, ShipmentPlanned)
    assert [(leg.sequence, leg.origin, leg.destination) for leg in event.legs] == [
        (1, "LYS-1", "Paris hub"),
        (2, "Paris hub", "Orbital SA, Nanterre"),
    ]
    assert event.destination == "Orbital SA, Nanterre"
    assert [(line.sku, line.quantity) for line in event.lines] == [("KD-HUB-200", 3)]
    assert (event.account, event.warehouse) == ("ACC-1", "LYS-1")


def test_a_shipment_carries_something_each_sku_once():
    with pytest.raises(InvalidValue):
        plan([], route())
    with pytest.raises(InvalidValue):
        plan([ShipmentItem(HUB, each(1)), ShipmentItem(HUB, each(2))], route())
    with pytest.raises(InvalidValue):
        ShipmentItem(CAM, each(0))


def test_a_route_is_a_chain_of_legs_in_time_order():
    first, second = route()
    elsewhere = LegPlan(
        "Lyon hub",
        second.destination,
        "Chronopost",
        second.planned_departure,
        second.planned_arrival,
    )
    too_early = LegPlan(
        second.origin, second.destination, "Chronopost", T0 + hours(7), second.planned_arrival
    )

    with pytest.raises(InvalidValue):
        plan([ShipmentItem(HUB, each(1))], [])
    with pytest.raises(InvalidValue):
        plan([ShipmentItem(HUB, each(1))], [first, elsewhere])
    with pytest.raises(InvalidValue):
        plan([ShipmentItem(HUB, each(1))], [first, too_early])


def test_a_leg_arrives_after_it_departs_somewhere_else():
    with pytest.raises(InvalidValue):
        LegPlan("A", "B", "Geodis", T0, T0)
    with pytest.raises(InvalidValue):
        LegPlan("A", "A", "Geodis", T0, T0 + hours(1))
    with pytest.raises(InvalidValue):
        LegPlan("A", "B", " ", T0, T0 + hours(1))
    with pytest.raises(InvalidValue):
        LegPlan("A", "B", "Geodis", datetime(2025, 3, 3), datetime(2025, 3, 4))


def test_the_happy_path_from_dispatch_to_delivery():
    shipment = planned_shipment()

    shipment.dispatch(T0 + hours(1), at=T0)
    assert shipment.status is S.DISPATCHED
    shipment.record_departure(1, T0 + hours(2), at=T0)
    assert shipment.status is S.IN_TRANSIT
    shipment.record_arrival(1, T0 + hours(9), at=T0)
    shipment.record_departure(2, T0 + hours(24), at=T0)
    shipment.record_arrival(2, T0 + hours(29), at=T0)
    shipment.deliver(T0 + hours(29), at=T0)

    assert shipment.status is S.DELIVERED
    kinds = [type(e) for e in shipment.pull_events()]
    assert kinds == [
        ShipmentDispatched,
        LegDeparted,
        LegArrived,
        LegDeparted,
        LegArrived,
        ShipmentDelivered,
    ]


def test_leg_events_carry_planned_and_actual_times():
    shipment = in_transit()

    shipment.record_arrival(
        1,
        T0
        + hours(
            9,
        ),
        at=T0,
    )

    [event] = shipment.pull_events()
    assert isinstance(event, LegArrived)
    assert (event.sequence, event.carrier) == (1, "Geodis")
    assert (event.planned_arrival, event.arrived_at) == (T0 + hours(8), T0 + hours(9))
    assert event.delay_minutes == 60


def test_legs_depart_in_order_once_and_arrive_after_departing():
    shipment = in_transit()

    with pytest.raises(BusinessRuleViolation) as out_of_order:
        shipment.record_departure(2, T0 + hours(3), at=T0)
    with pytest.raises(BusinessRuleViolation) as twice:
        shipment.record_departure(1, T0 + hours(3), at=T0)
    with pytest.raises(BusinessRuleViolation) as not_departed:
        shipment.record_arrival(2, T0 + hours(3), at=T0)
    with pytest.raises(InvalidValue):
        shipment.record_arrival(1, T0 + hours(1), at=T0)
    with pytest.raises(InvalidValue):
        shipment.record_arrival(3, T0 + hours(9), at=T0)

    assert out_of_order.value.rule == "leg_out_of_order"
    assert twice.value.rule == "leg_already_departed"
    assert not_departed.value.rule == "leg_not_departed"
    shipment.record_arrival(1, T0 + hours(9), at=T0)
    with pytest.raises(BusinessRuleViolation) as arrived:
        shipment.record_arrival(1, T0 + hours(10), at=T0)
    assert arrived.value.rule == "leg_already_arrived"


def test_the_first_leg_departs_after_dispatch():
    shipment = planned_shipment()
    shipment.dispatch(T0 + hours(2), at=T0)

    with pytest.raises(InvalidValue):
        shipment.record_departure(1, T0 + hours(1), at=T0)


def test_an_eta_past_plan_delays_the_shipment_once():
    shipment = in_transit()

    shipment.update_eta(PLANNED_DELIVERY + hours(3), at=T0)
    shipment.update_eta(PLANNED_DELIVERY + hours(5), at=T0)

    assert shipment.status is S.DELAYED
    assert shipment.delay_minutes == 300
    updated, delayed, updated_again = shipment.pull_events()
    assert isinstance(updated, ShipmentEtaUpdated)
    assert (updated.previous_eta, updated.eta, updated.delayed) == (
        PLANNED_DELIVERY,
        PLANNED_DELIVERY + hours(3),
        True,
    )
    assert isinstance(delayed, ShipmentDelayed)
    assert (delayed.delay_minutes, delayed.planned_delivery) == (180, PLANNED_DELIVERY)
    assert isinstance(updated_again, ShipmentEtaUpdated)
    assert updated_again.delay_minutes == 300


def test_a_delay_is_entered_from_dispatched_too():
    shipment = planned_shipment()
    shipment.dispatch(T0 + hours(1), at=T0)

    shipment.update_eta(PLANNED_DELIVERY + hours(1), at=T0)

    assert shipment.status is S.DELAYED


def test_an_eta_back_within_plan_returns_to_in_transit():
    shipment = in_transit()
    shipment.update_eta(PLANNED_DELIVERY + hours(3), at=T0)

    shipment.update_eta(PLANNED_DELIVERY, at=T0)

    assert shipment.status is S.IN_TRANSIT
    assert shipment.pull_events()[-1].delayed is False  # type: ignore[attr-defined]


def test_an_eta_within_plan_changes_no_status():
    shipment = in_transit()

    shipment.update_eta(PLANNED_DELIVERY - hours(2), at=T0)

    assert shipment.status is S.IN_TRANSIT
    assert [type(e) for e in shipment.pull_events()] == [ShipmentEtaUpdated]


def test_a_delayed_shipment_can_be_delivered_late():
    shipment = in_transit()
    shipment.update_eta(PLANNED_DELIVERY + hours(3), at=T0)
    shipment.pull_events()

    shipment.deliver(PLANNED_DELIVERY + hours(2), at=T0)

    assert shipment.status is S.DELIVERED
    [event] = shipment.pull_events()
    assert isinstance(event, ShipmentDelivered)
    assert (event.on_time, event.delay_minutes) == (False, 120)
    assert event.destination == "Orbital SA, Nanterre"
    assert [(line.sku, line.quantity) for line in event.lines] == [
        ("KD-HUB-200", 3),
        ("KD-CAM-10", 6),
    ]


def test_delivery_by_the_planned_time_is_on_time():
    shipment = in_transit()

    shipment.deliver(PLANNED_DELIVERY, at=T0)

    [event] = shipment.pull_events()
    assert isinstance(event, ShipmentDelivered)
    assert (event.on_time, event.delay_minutes) == (True, 0)


def test_delivery_cannot_precede_dispatch():
    shipment = in_transit()

    with pytest.raises(InvalidValue):
        shipment.deliver(T0, at=T0)


def _planned():
    return planned_shipment()


def _dispatched():
    shipment = planned_shipment()
    shipment.dispatch(T0 + hours(1), at=T0)
    return shipment


def _delayed():
    shipment = in_transit()
    shipment.update_eta(PLANNED_DELIVERY + hours(1), at=T0)
    return shipment


def _delivered():
    shipment = in_transit()
    shipment.deliver(PLANNED_DELIVERY, at=T0)
    return shipment


STATES = {
    S.PLANNED: _planned,
    S.DISPATCHED: _dispatched,
    S.IN_TRANSIT: in_transit,
    S.DELAYED: _delayed,
    S.DELIVERED: _delivered,
}
ACTIONS = {
    "dispatch": (lambda s: s.dispatch(T0 + hours(1), at=T0), {S.PLANNED}),
    "eta": (
        lambda s: s.update_eta(PLANNED_DELIVERY, at=T0),
        {S.DISPATCHED, S.IN_TRANSIT, S.DELAYED},
    ),
    "deliver": (lambda s: s.deliver(PLANNED_DELIVERY, at=T0), {S.IN_TRANSIT, S.DELAYED}),
    "arrival": (
        lambda s: s.record_arrival(1, T0 + hours(8), at=T0),
        {S.DISPATCHED, S.IN_TRANSIT, S.DELAYED},
    ),
}
CASES = [(action, status) for action in ACTIONS for status in S]


def refusal(run, shipment) -> str | None:
    """The rule an action broke, if any (allowed states may refuse for other reasons,
    e.g. an arrival before the leg departed)."""
    try:
        run(shipment)
    except BusinessRuleViolation as error:
        return error.rule
    return None


@pytest.mark.parametrize(("action", "status"), CASES, ids=[f"{a}-when-{s}" for a, s in CASES])
def test_lifecycle_actions_are_refused_outside_their_states(action, status):
    run, allowed = ACTIONS[action]
    shipment = STATES[status]()
    assert shipment.status is status

    if status in allowed:
        assert refusal(run, shipment) != "illegal_transition"
    else:
        with pytest.raises(BusinessRuleViolation) as refused:
            run(shipment)
        assert refused.value.rule == "illegal_transition"
