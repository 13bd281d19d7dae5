"""Shipments: outbound deliveries to a customer account, leg by leg."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from contexts.supply_chain.domain.ids import AccountId, ShipmentId, WarehouseCode
from contexts.supply_chain.domain.shipping import events
from contexts.supply_chain.domain.shipping.legs import LegPlan, RouteLeg, check_route, minutes_late
from contexts.supply_chain.domain.shipping.lines import ShipmentItem, ShipmentLine
from contexts.supply_chain.domain.shipping.status import ShipmentStatus as Status
from contexts.supply_chain.domain.shipping.status import check_on_the_way, check_transition
from contexts.supply_chain.domain.values import aware
from shared_kernel.domain import AggregateRoot, BusinessRuleViolation, InvalidValue


class Shipment(AggregateRoot[ShipmentId]):
    """Goods leaving a warehouse for a customer, over a chain of route legs.

    ``planned_delivery`` is the last leg's planned arrival and never moves; ``eta`` is
    the latest estimate (the plan until a carrier says otherwise). Legs depart and
    arrive in order. Delivery is the customer's proof of delivery: it does not wait
    for every leg scan, since carrier tracking is sometimes incomplete.
    """

    account: AccountId
    warehouse: WarehouseCode
    status: Status
    lines: list[ShipmentLine]
    legs: list[RouteLeg]
    planned_delivery: datetime
    eta: datetime
    dispatched_at: datetime | None
    delivered_at: datetime | None

    def __init__(
        self,
        id: ShipmentId,
        account: AccountId,
        warehouse: WarehouseCode,
        items: Sequence[ShipmentItem],
        route: Sequence[LegPlan],
        version: int = 0,
    ) -> None:
        super().__init__(id, version)
        if not items:
            raise InvalidValue("lines", "a shipment carries at least one SKU")
        if len({item.sku for item in items}) != len(items):
            raise InvalidValue("lines", "a SKU appears on more than one line")
        check_route(route)
        self.account = account
        self.warehouse = warehouse
        self.status = Status.PLANNED
        self.lines = [ShipmentLine(item.sku, item.quantity) for item in items]
        self.legs = [RouteLeg(number, plan) for number, plan in enumerate(route, start=1)]
        self.planned_delivery = route[-1].planned_arrival
        self.eta = self.planned_delivery
        self.dispatched_at = None
        self.delivered_at = None

    @classmethod
    def plan(
        cls,
        id: ShipmentId,
        account: AccountId,
        warehouse: WarehouseCode,
        items: Sequence[ShipmentItem],
        route: Sequence[LegPlan],
        *,
        at: datetime,
    ) -> Shipment:
        shipment = cls(id, account, warehouse, items, route)
        shipment._record(
            events.ShipmentPlanned(
                **shipment._about(at),
                lines=shipment._shipped_lines(),
                legs=tuple(
                    events.PlannedLeg(
                        sequence=leg.sequence,
                        origin=leg.origin,
                        destination=leg.destination,
                        carrier=leg.carrier,
                        planned_departure=leg.planned_departure,
                        planned_arrival=leg.planned_arrival,
                    )
                    for leg in shipment.legs
                ),
                destination=shipment.destination,
                planned_delivery=shipment.planned_delivery,
            )
        )
        return shipment

    @property
    def destination(self) -> str:
        return self.legs[-1].destination

    @property
    def delay_minutes(self) -> int:
        return minutes_late(self.eta, self.planned_delivery)

    def leg(self, sequence: int) -> RouteLeg:
        if not 1 <= sequence <= len(self.legs):
            raise InvalidValue("sequence", f"shipment {self.id} has legs 1 to {len(self.legs)}")
        return self.legs[sequence - 1]

    def dispatch(self, dispatched_at: datetime, *, at: datetime) -> None:
        """The goods left the warehouse in the carrier's hands."""
        check_transition(str(self.id), self.status, Status.DISPATCHED, "dispatch it")
        aware("at", at)
        self.dispatched_at = aware("dispatched_at", dispatched_at)
        self.status = Status.DISPATCHED
        self._record(
            events.ShipmentDispatched(
                **self._about(at),
                dispatched_at=dispatched_at,
                planned_delivery=self.planned_delivery,
            )
        )

    def record_departure(self, sequence: int, departed_at: datetime, *, at: datetime) -> None:
        """Leg ``sequence`` left its origin; the first departure puts goods in transit."""
        check_on_the_way(str(self.id), self.status, "record a departure")
        leg = self.leg(sequence)
        aware("at", at)
        aware("departed_at", departed_at)
        if leg.departed_at is not None:
            raise BusinessRuleViolation("leg_already_departed", f"leg {sequence} has departed")
        previous = self.legs[sequence - 2].arrived_at if sequence > 1 else self.dispatched_at
        if previous is None:
            raise BusinessRuleViolation(
                "leg_out_of_order", f"leg {sequence - 1} has not arrived yet"
            )
        if departed_at < previous:
            raise InvalidValue(
                "departed_at", f"leg {sequence} cannot depart before it reached its origin"
            )
        leg.departed_at = departed_at
        if self.status is Status.DISPATCHED:
            self.status = Status.IN_TRANSIT
        self._record(
            events.LegDeparted(
                **self._about(at),
                **self._leg_facts(leg),
                planned_departure=leg.planned_departure,
                departed_at=departed_at,
                delay_minutes=minutes_late(departed_at, leg.planned_departure),
            )
        )

    def record_arrival(self, sequence: int, arrived_at: datetime, *, at: datetime) -> None:
        check_on_the_way(str(self.id), self.status, "record an arrival")
        leg = self.leg(sequence)
        aware("at", at)
        aware("arrived_at", arrived_at)
        if leg.departed_at is None:
            raise BusinessRuleViolation("leg_not_departed", f"leg {sequence} has not departed")
        if leg.arrived_at is not None:
            raise BusinessRuleViolation("leg_already_arrived", f"leg {sequence} has arrived")
        if arrived_at < leg.departed_at:
            raise InvalidValue("arrived_at", f"leg {sequence} cannot arrive before it departed")
        leg.arrived_at = arrived_at
        self._record(
            events.LegArrived(
                **self._about(at),
                **self._leg_facts(leg),
                planned_arrival=leg.planned_arrival,
                arrived_at=arrived_at,
                delay_minutes=minutes_late(arrived_at, leg.planned_arrival),
            )
        )

    def update_eta(self, eta: datetime, *, at: datetime) -> None:
        """Take the carrier's new estimate; enter or leave Delayed as it crosses the plan."""
        check_on_the_way(str(self.id), self.status, "update its ETA")
        aware("at", at)
        previous, self.eta = self.eta, aware("eta", eta)
        late = eta > self.planned_delivery
        entering_delay = late and self.status is not Status.DELAYED
        if entering_delay:
            self.status = Status.DELAYED
        elif not late and self.status is Status.DELAYED:
            self.status = Status.IN_TRANSIT
        self._record(
            events.ShipmentEtaUpdated(
                **self._about(at),
                eta=eta,
                previous_eta=previous,
                planned_delivery=self.planned_delivery,
                delay_minutes=self.delay_minutes,
                delayed=late,
            )
        )
        if entering_delay:
            self._record(
                events.ShipmentDelayed(
                    **self._about(at),
                    eta=eta,
                    planned_delivery=self.planned_delivery,
                    delay_minutes=self.delay_minutes,
                )
            )

    def deliver(self, delivered_at: datetime, *, at: datetime) -> None:
        """The customer received the goods; on time when by the planned delivery."""
        check_transition(str(self.id), self.status, Status.DELIVERED, "deliver it")
        aware("at", at)
        aware("delivered_at", delivered_at)
        if self.dispatched_at is not None and delivered_at < self.dispatched_at:
            raise InvalidValue("delivered_at", "a shipment cannot arrive before it left")
        self.status = Status.DELIVERED
        self.delivered_at = self.eta = delivered_at
        self._record(
            events.ShipmentDelivered(
                **self._about(at),
                delivered_at=delivered_at,
                planned_delivery=self.planned_delivery,
                on_time=delivered_at <= self.planned_delivery,
                delay_minutes=minutes_late(delivered_at, self.planned_delivery),
                destination=self.destination,
                lines=self._shipped_lines(),
            )
        )

    def _shipped_lines(self) -> tuple[events.ShippedLine, ...]:
        return tuple(
            events.ShippedLine(
                sku=str(line.sku), unit=line.quantity.unit, quantity=line.quantity.amount
            )
            for line in self.lines
        )

    @staticmethod
    def _leg_facts(leg: RouteLeg) -> dict[str, Any]:
        return {
            "sequence": leg.sequence,
            "origin": leg.origin,
            "destination": leg.destination,
            "carrier": leg.carrier,
        }

    def _about(self, at: datetime) -> dict[str, Any]:
        """The facts every shipment event starts with."""
        return {
            "occurred_at": aware("at", at),
            "shipment_id": str(self.id),
            "account": str(self.account),
            "warehouse": str(self.warehouse),
        }
