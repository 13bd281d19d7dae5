"""Shipment commands. Times are timezone-aware; ``expected_version`` is If-Match."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from shared_kernel.application import Command


@dataclass(frozen=True, slots=True, kw_only=True)
class ShipmentLineInput:
    sku: str
    quantity: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class LegInput:
    origin: str
    destination: str
    carrier: str
    planned_departure: datetime
    planned_arrival: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanShipment(Command):
    account: str
    warehouse: str
    lines: tuple[ShipmentLineInput, ...]
    legs: tuple[LegInput, ...]
    shipment_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DispatchShipment(Command):
    """``dispatched_at`` defaults to now."""

    shipment_id: str
    dispatched_at: datetime | None = None
    expected_version: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordLegDeparture(Command):
    shipment_id: str
    sequence: int
    departed_at: datetime
    expected_version: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordLegArrival(Command):
    shipment_id: str
    sequence: int
    arrived_at: datetime
    expected_version: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateShipmentEta(Command):
    shipment_id: str
    eta: datetime
    expected_version: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverShipment(Command):
    """``delivered_at`` defaults to now."""

    shipment_id: str
    delivered_at: datetime | None = None
    expected_version: int | None = None
