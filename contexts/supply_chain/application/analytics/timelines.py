"""Delivery timelines per shipment, and the delivery-delay alert.

A timeline is rebuilt from the shipment's own events: the plan (legs, planned
delivery), the dispatch, each leg's departure and arrival, ETA updates, and the
delivery. Its status follows the shipment life cycle (see
``domain/shipping/status.py``). The delivery-delay alert is active while the
shipment is Delayed: raised when its ETA slips past the planned delivery, cleared
when the ETA is back within plan or the goods are delivered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from contexts.supply_chain.application.analytics._codec import moment, to_moment, to_opt_moment
from contexts.supply_chain.application.analytics.alerts import AlertChange, AlertState, track
from contexts.supply_chain.application.analytics.errors import UnusableFact
from contexts.supply_chain.application.analytics.products import (
    AlertType,
    DeliveryTimeline,
    DetailValue,
    Severity,
    TimelineLeg,
)
from contexts.supply_chain.domain.shipping.events import (
    LegArrived,
    LegDeparted,
    ShipmentDelayed,
    ShipmentDelivered,
    ShipmentDispatched,
    ShipmentEtaUpdated,
    ShipmentEvent,
    ShipmentPlanned,
)
from contexts.supply_chain.domain.shipping.status import ShipmentStatus

#: A delay of a day or more is critical; anything shorter is a warning.
CRITICAL_DELAY_MINUTES = 24 * 60


@dataclass(frozen=True, slots=True)
class TimelineState:
    """A shipment's timeline, the version of its newest event applied, its alert."""

    timeline: DeliveryTimeline
    version: int
    alert: AlertState | None = None

    def to_json(self) -> dict[str, Any]:
        t = self.timeline
        return {
            "version": self.version,
            "alert": None if self.alert is None else self.alert.to_json(),
            "shipment_id": t.shipment_id,
            "account": t.account,
            "warehouse": t.warehouse,
            "destination": t.destination,
            "status": t.status,
            "planned_delivery": moment(t.planned_delivery),
            "eta": moment(t.eta),
            "dispatched_at": moment(t.dispatched_at),
            "delivered_at": moment(t.delivered_at),
            "delay_minutes": t.delay_minutes,
            "on_time": t.on_time,
            "legs": [_leg_to_json(leg) for leg in t.legs],
            "as_of": moment(t.as_of),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TimelineState:
        timeline = DeliveryTimeline(
            shipment_id=str(data["shipment_id"]),
            account=str(data["account"]),
            warehouse=str(data["warehouse"]),
            destination=data.get("destination"),
            status=str(data["status"]),
            planned_delivery=to_opt_moment(data.get("planned_delivery")),
            eta=to_opt_moment(data.get("eta")),
            dispatched_at=to_opt_moment(data.get("dispatched_at")),
            delivered_at=to_opt_moment(data.get("delivered_at")),
            delay_minutes=int(data["delay_minutes"]),
            on_time=data.get("on_time"),
            legs=tuple(_leg_from_json(leg) for leg in data.get("legs", ())),
            as_of=to_moment(data["as_of"]),
        )
        return cls(timeline, int(data["version"]), AlertState.from_json(data.get("alert")))


@dataclass(frozen=True, slots=True)
class TimelineUpdate:
    state: TimelineState
    alert: AlertChange | None = None


class TimelineAnalytics:
    """Pure computations of the ``delivery-timelines`` product and delay alerts."""

    def apply(
        self, state: TimelineState | None, event: ShipmentEvent, at: datetime
    ) -> TimelineUpdate | None:
        """Apply one shipment event; None for a redelivery."""
        if event.aggregate_version < 1:
            raise UnusableFact(f"{event.event_type} of {event.aggregate_id} carries no version")
        if state is not None and event.aggregate_version <= state.version:
            return None
        current = state.timeline if state is not None else _empty(event, at)
        timeline = replace(
            _applied(current, event),
            account=event.account,
            warehouse=event.warehouse,
            as_of=at if state is None else max(current.as_of, at),
        )
        alert, change = track(
            AlertType.DELIVERY_DELAY,
            timeline.shipment_id,
            None if state is None else state.alert,
            delay_severity(timeline),
            delay_details(timeline),
            timeline.as_of,
        )
        return TimelineUpdate(TimelineState(timeline, event.aggregate_version, alert), change)


def delay_severity(timeline: DeliveryTimeline) -> Severity | None:
    if timeline.status != ShipmentStatus.DELAYED:
        return None
    if timeline.delay_minutes >= CRITICAL_DELAY_MINUTES:
        return Severity.CRITICAL
    return Severity.WARNING


def delay_details(timeline: DeliveryTimeline) -> dict[str, DetailValue]:
    return {
        "shipment_id": timeline.shipment_id,
        "account": timeline.account,
        "warehouse": timeline.warehouse,
        "destination": timeline.destination,
        "status": timeline.status,
        "planned_delivery": moment(timeline.planned_delivery),
        "eta": moment(timeline.eta),
        "delay_minutes": timeline.delay_minutes,
        "delivered_at": moment(timeline.delivered_at),
        "on_time": timeline.on_time,
    }


def _empty(event: ShipmentEvent, at: datetime) -> DeliveryTimeline:
    return DeliveryTimeline(
        shipment_id=event.shipment_id,
        account=event.account,
        warehouse=event.warehouse,
        destination=None,
        status=ShipmentStatus.PLANNED.value,
        planned_delivery=None,
        eta=None,
        dispatched_at=None,
        delivered_at=None,
        delay_minutes=0,
        on_time=None,
        legs=(),
        as_of=at,
    )


def _applied(t: DeliveryTimeline, event: ShipmentEvent) -> DeliveryTimeline:
    status = ShipmentStatus(t.status)
    if isinstance(event, ShipmentPlanned):
        legs = tuple(
            TimelineLeg(
                sequence=leg.sequence,
                origin=leg.origin,
                destination=leg.destination,
                carrier=leg.carrier,
                planned_departure=leg.planned_departure,
                planned_arrival=leg.planned_arrival,
                departed_at=None,
                arrived_at=None,
                departure_delay_minutes=None,
                arrival_delay_minutes=None,
            )
            for leg in sorted(event.legs, key=lambda leg: leg.sequence)
        )
        return replace(
            t,
            destination=event.destination,
            planned_delivery=event.planned_delivery,
            eta=event.planned_delivery,
            legs=legs,
            status=ShipmentStatus.PLANNED.value,
        )
    if isinstance(event, ShipmentDispatched):
        return replace(
            t,
            dispatched_at=event.dispatched_at,
            planned_delivery=event.planned_delivery,
            eta=t.eta or event.planned_delivery,
            status=(
                ShipmentStatus.DISPATCHED.value if status is ShipmentStatus.PLANNED else t.status
            ),
        )
    if isinstance(event, LegDeparted):
        leg = replace(
            _leg(t, event),
            planned_departure=event.planned_departure,
            departed_at=event.departed_at,
            departure_delay_minutes=event.delay_minutes,
        )
        moved = status in (ShipmentStatus.PLANNED, ShipmentStatus.DISPATCHED)
        return replace(
            _with_leg(t, leg),
            status=ShipmentStatus.IN_TRANSIT.value if moved else t.status,
        )
    if isinstance(event, LegArrived):
        leg = replace(
            _leg(t, event),
            planned_arrival=event.planned_arrival,
            arrived_at=event.arrived_at,
            arrival_delay_minutes=event.delay_minutes,
        )
        return _with_leg(t, leg)
    if isinstance(event, ShipmentEtaUpdated):
        if event.delayed:
            next_status = ShipmentStatus.DELAYED
        elif status is ShipmentStatus.DELAYED:
            next_status = ShipmentStatus.IN_TRANSIT
        else:
            next_status = status
        return replace(
            t,
            eta=event.eta,
            planned_delivery=event.planned_delivery,
            delay_minutes=event.delay_minutes,
            status=next_status.value,
        )
    if isinstance(event, ShipmentDelayed):
        return replace(
            t,
            eta=event.eta,
            planned_delivery=event.planned_delivery,
            delay_minutes=event.delay_minutes,
            status=ShipmentStatus.DELAYED.value,
        )
    if isinstance(event, ShipmentDelivered):
        return replace(
            t,
            delivered_at=event.delivered_at,
            eta=event.delivered_at,
            planned_delivery=event.planned_delivery,
            delay_minutes=event.delay_minutes,
            on_time=event.on_time,
            destination=event.destination,
            status=ShipmentStatus.DELIVERED.value,
        )
    return t  # an event type this product does not use


def _leg(t: DeliveryTimeline, event: LegDeparted | LegArrived) -> TimelineLeg:
    """The planned leg, or one made from the event if the plan was never seen."""
    for leg in t.legs:
        if leg.sequence == event.sequence:
            return leg
    return TimelineLeg(
        sequence=event.sequence,
        origin=event.origin,
        destination=event.destination,
        carrier=event.carrier,
        planned_departure=None,
        planned_arrival=None,
        departed_at=None,
        arrived_at=None,
        departure_delay_minutes=None,
        arrival_delay_minutes=None,
    )


def _with_leg(t: DeliveryTimeline, leg: TimelineLeg) -> DeliveryTimeline:
    others = [other for other in t.legs if other.sequence != leg.sequence]
    if leg.sequence < 1:
        raise UnusableFact(f"leg sequence {leg.sequence} of {t.shipment_id} is below 1")
    return replace(t, legs=tuple(sorted((*others, leg), key=lambda other: other.sequence)))


def _leg_to_json(leg: TimelineLeg) -> dict[str, Any]:
    return {
        "sequence": leg.sequence,
        "origin": leg.origin,
        "destination": leg.destination,
        "carrier": leg.carrier,
        "planned_departure": moment(leg.planned_departure),
        "planned_arrival": moment(leg.planned_arrival),
        "departed_at": moment(leg.departed_at),
        "arrived_at": moment(leg.arrived_at),
        "departure_delay_minutes": leg.departure_delay_minutes,
        "arrival_delay_minutes": leg.arrival_delay_minutes,
    }


def _leg_from_json(data: Mapping[str, Any]) -> TimelineLeg:
    return TimelineLeg(
        sequence=int(data["sequence"]),
        origin=str(data["origin"]),
        destination=str(data["destination"]),
        carrier=str(data["carrier"]),
        planned_departure=to_opt_moment(data.get("planned_departure")),
        planned_arrival=to_opt_moment(data.get("planned_arrival")),
        departed_at=to_opt_moment(data.get("departed_at")),
        arrived_at=to_opt_moment(data.get("arrived_at")),
        departure_delay_minutes=data.get("departure_delay_minutes"),
        arrival_delay_minutes=data.get("arrival_delay_minutes"),
    )
