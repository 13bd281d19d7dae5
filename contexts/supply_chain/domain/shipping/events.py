"""Shipment facts, as published on ``supply_chain.shipment.v1``.

Delivery timelines and route maps are drawn from them (planned against actual times
per leg); delay alerts come from ``ShipmentDelayed``; deliveries to enterprise accounts
become installation requests in consultant staffing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from contexts.supply_chain.domain.events import SupplyChainEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class ShippedLine:
    sku: str
    unit: str
    quantity: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedLeg:
    sequence: int
    origin: str
    destination: str
    carrier: str
    planned_departure: datetime
    planned_arrival: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ShipmentEvent(SupplyChainEvent):
    aggregate_type: ClassVar[str] = "shipment"

    shipment_id: str
    account: str
    warehouse: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ShipmentPlanned(ShipmentEvent):
    """``destination`` is where the last leg ends: the customer's site."""

    lines: tuple[ShippedLine, ...]
    legs: tuple[PlannedLeg, ...]
    destination: str
    planned_delivery: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ShipmentDispatched(ShipmentEvent):
    dispatched_at: datetime
    planned_delivery: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class LegDeparted(ShipmentEvent):
    sequence: int
    origin: str
    destination: str
    carrier: str
    planned_departure: datetime
    departed_at: datetime
    delay_minutes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LegArrived(ShipmentEvent):
    sequence: int
    origin: str
    destination: str
    carrier: str
    planned_arrival: datetime
    arrived_at: datetime
    delay_minutes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ShipmentEtaUpdated(ShipmentEvent):
    """The carrier's estimate changed; ``delayed`` tells whether it is past plan."""

    eta: datetime
    previous_eta: datetime
    planned_delivery: datetime
    delay_minutes: int
    delayed: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ShipmentDelayed(ShipmentEvent):
    """The ETA slipped past the planned delivery (recorded once per slip)."""

    eta: datetime
    planned_delivery: datetime
    delay_minutes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ShipmentDelivered(ShipmentEvent):
    delivered_at: datetime
    planned_delivery: datetime
    on_time: bool
    delay_minutes: int
    destination: str
    lines: tuple[ShippedLine, ...]
