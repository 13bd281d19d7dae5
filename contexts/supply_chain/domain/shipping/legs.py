"""Route legs: the hops a shipment takes, planned and as they happen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from contexts.supply_chain.domain.values import aware, required_text
from shared_kernel.domain import InvalidValue, ValueObject


def minutes_late(actual: datetime, planned: datetime) -> int:
    """Whole minutes ``actual`` is after ``planned``; 0 when early or on time."""
    return max(0, int((actual - planned).total_seconds() // 60))


@dataclass(frozen=True, slots=True)
class LegPlan(ValueObject):
    """A planned hop between two named places, with one carrier."""

    origin: str
    destination: str
    carrier: str
    planned_departure: datetime
    planned_arrival: datetime

    def __post_init__(self) -> None:
        for field in ("origin", "destination", "carrier"):
            object.__setattr__(self, field, required_text(field, getattr(self, field)))
        aware("planned_departure", self.planned_departure)
        aware("planned_arrival", self.planned_arrival)
        if self.planned_arrival <= self.planned_departure:
            raise InvalidValue("planned_arrival", "must be after the planned departure")
        if self.origin == self.destination:
            raise InvalidValue("destination", "a leg goes somewhere else than its origin")


def check_route(plans: Sequence[LegPlan]) -> None:
    """A route is a chain: each leg starts where, and after, the previous one ends."""
    if not plans:
        raise InvalidValue("legs", "a shipment needs at least one route leg")
    for number, (before, after) in enumerate(pairwise(plans), start=2):
        if after.origin != before.destination:
            raise InvalidValue(
                "legs",
                f"leg {number} starts at {after.origin}, not at "
                f"{before.destination} where leg {number - 1} ends",
            )
        if after.planned_departure < before.planned_arrival:
            raise InvalidValue("legs", f"leg {number} departs before leg {number - 1} arrives")


class RouteLeg:
    """Leg ``sequence`` (from 1) of a shipment's route, with its actual times once known."""

    sequence: int
    origin: str
    destination: str
    carrier: str
    planned_departure: datetime
    planned_arrival: datetime
    departed_at: datetime | None
    arrived_at: datetime | None

    def __init__(self, sequence: int, plan: LegPlan) -> None:
        self.sequence = sequence
        self.origin = plan.origin
        self.destination = plan.destination
        self.carrier = plan.carrier
        self.planned_departure = plan.planned_departure
        self.planned_arrival = plan.planned_arrival
        self.departed_at = None
        self.arrived_at = None

    def __repr__(self) -> str:
        return f"RouteLeg({self.sequence}: {self.origin} -> {self.destination})"
