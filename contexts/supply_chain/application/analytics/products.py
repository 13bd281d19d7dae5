"""The rows of the supply chain's analytical data products.

One frozen dataclass per product row, as the stream worker computes it and the read
store serves it. Every row carries ``as_of``: the event time (CloudEvents ``time``)
of the newest fact applied to it. ``materialized_at`` is not part of the row: the
read store stamps it when it writes the row and returns it beside the row
(:class:`Materialized`).

Schemas, units and rounding are documented in docs/supply-chain-data-products.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, TypeAlias, TypeVar

#: Product names: the REST path segment, the snapshot folder, the catalog name.
INVENTORY_LEVELS = "inventory-levels"
SUPPLIER_PERFORMANCE = "supplier-performance"
ALERTS = "alerts"
DELIVERY_TIMELINES = "delivery-timelines"
PRODUCTS = (INVENTORY_LEVELS, SUPPLIER_PERFORMANCE, ALERTS, DELIVERY_TIMELINES)


@dataclass(frozen=True, slots=True)
class InventoryLevel:
    """Stock of one SKU in one warehouse, and how long it lasts at the recent pace.

    ``on_hand``, ``reserved`` and ``available`` are the figures of the newest stock
    movement. ``daily_demand`` is the quantity shipped over the last
    ``demand_window_days`` days (ending on the day of ``as_of``) divided by that
    number of days. The forecast fields follow ``forecast_stock_out`` and are None
    while the SKU's replenishment policy is unknown (no ``SkuRegistered`` seen yet).
    """

    warehouse: str
    sku: str
    unit: str
    on_hand: Decimal
    reserved: Decimal
    available: Decimal
    daily_demand: Decimal
    demand_window_days: int
    lead_time_days: int | None
    safety_stock: Decimal | None
    reorder_point: Decimal | None
    risk_threshold: Decimal | None
    days_of_cover: Decimal | None
    stock_out_on: date | None
    at_risk: bool | None
    shortfall: Decimal | None
    as_of: datetime


@dataclass(frozen=True, slots=True)
class PerformanceFigures:
    """Delivery performance over a set of goods receipts.

    - ``on_time_rate = on_time / receipts`` (4 decimals; None without receipts);
    - ``quality_score = accepted / (accepted + rejected)`` summed over the inspected
      lines (4 decimals; None when nothing was inspected);
    - ``lead_time_mean_days``: mean days from placing the order to the receipt
      (2 decimals); ``lead_time_p90_days``: nearest-rank 90th percentile.
    """

    receipts: int
    on_time: int
    on_time_rate: Decimal | None
    accepted: Decimal
    rejected: Decimal
    quality_score: Decimal | None
    lead_time_mean_days: Decimal | None
    lead_time_p90_days: int | None


@dataclass(frozen=True, slots=True)
class SupplierPerformance:
    """A supplier's delivery performance: rolling window and all time.

    The window holds the receipts whose ``received_on`` falls within the
    ``window_days`` days ending on ``window_end``, the newest receipt day of this
    supplier (event time: the figures do not decay while no receipt arrives).
    """

    supplier: str
    name: str | None
    country: str | None
    window_days: int
    window_start: date | None
    window_end: date | None
    window: PerformanceFigures
    all_time: PerformanceFigures
    as_of: datetime


class AlertType(StrEnum):
    STOCK_OUT_RISK = "stock_out_risk"
    DELIVERY_DELAY = "delivery_delay"


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


#: Alert details are flat JSON: decimals as strings, moments in ISO 8601.
DetailValue: TypeAlias = str | int | bool | None


@dataclass(frozen=True, slots=True)
class Alert:
    """One occurrence of a condition on a subject, from raised to cleared.

    ``alert_id`` is derived from the type, the subject and ``raised_at``, so a replay
    of the same facts yields the same id (consumers dedupe on it); the condition
    raised again after it cleared is a new occurrence with a new id.
    """

    alert_id: str
    type: AlertType
    subject: str
    severity: Severity
    raised_at: datetime
    cleared_at: datetime | None
    details: Mapping[str, DetailValue]
    as_of: datetime

    @property
    def active(self) -> bool:
        return self.cleared_at is None


@dataclass(frozen=True, slots=True)
class TimelineLeg:
    """A route leg, planned against actual; delays in whole minutes late (0 if early)."""

    sequence: int
    origin: str
    destination: str
    carrier: str
    planned_departure: datetime | None
    planned_arrival: datetime | None
    departed_at: datetime | None
    arrived_at: datetime | None
    departure_delay_minutes: int | None
    arrival_delay_minutes: int | None


@dataclass(frozen=True, slots=True)
class DeliveryTimeline:
    """A shipment from plan to delivery: status, ETA against plan, and its legs.

    ``delay_minutes`` is how late the shipment is expected (ETA after the planned
    delivery) or was (delivered after it); ``on_time`` is known once delivered.
    """

    shipment_id: str
    account: str
    warehouse: str
    destination: str | None
    status: str
    planned_delivery: datetime | None
    eta: datetime | None
    dispatched_at: datetime | None
    delivered_at: datetime | None
    delay_minutes: int
    on_time: bool | None
    legs: tuple[TimelineLeg, ...]
    as_of: datetime


ProductRow: TypeAlias = InventoryLevel | SupplierPerformance | Alert | DeliveryTimeline

RowT = TypeVar("RowT", InventoryLevel, SupplierPerformance, Alert, DeliveryTimeline)


@dataclass(frozen=True, slots=True)
class Materialized(Generic[RowT]):
    """A row as the read store holds it: with the moment the worker wrote it."""

    row: RowT
    materialized_at: datetime

    def freshness_ms(self, now: datetime) -> int:
        """How old the newest fact behind the row is at ``now``, in milliseconds."""
        return max(0, int((now - self.row.as_of).total_seconds() * 1000))


def fields_of(row: Any, *, without: tuple[str, ...] = ("as_of",)) -> dict[str, Any]:
    """A product row's own fields by name, shallow, minus ``without``.

    Every port renders the same rows (REST, Parquet); listing the fields once keeps
    them from drifting apart. ``as_of`` is left out because each port adds its
    freshness fields its own way.
    """
    return {f.name: getattr(row, f.name) for f in fields(row) if f.name not in without}
