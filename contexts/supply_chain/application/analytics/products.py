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

from shared_kernel.application.products import ProductSpec, described

#: Product names: the REST path segment, the snapshot folder, the catalog name.
INVENTORY_LEVELS = "inventory-levels"
SUPPLIER_PERFORMANCE = "supplier-performance"
ALERTS = "alerts"
DELIVERY_TIMELINES = "delivery-timelines"
PRODUCTS = (INVENTORY_LEVELS, SUPPLIER_PERFORMANCE, ALERTS, DELIVERY_TIMELINES)


QUANTITY = (18, 6)
DAYS = (18, 2)


@dataclass(frozen=True, slots=True)
class InventoryLevel:
    """Stock of one SKU in one warehouse, and how long it lasts at the recent pace.

    ``on_hand``, ``reserved`` and ``available`` are the figures of the newest stock
    movement. ``daily_demand`` is the quantity shipped over the last
    ``demand_window_days`` days (ending on the day of ``as_of``) divided by that
    number of days. The forecast fields follow ``forecast_stock_out`` and are None
    while the SKU's replenishment policy is unknown (no ``SkuRegistered`` seen yet).

    The product's one definition: its table, snapshot schema and REST model are
    derived from these fields (``INVENTORY_LEVELS_SPEC``).
    """

    warehouse: str = described("The warehouse code.", key=True)
    sku: str = described("The SKU code.", key=True)
    unit: str = described("Unit of every quantity of the row, e.g. each or kg.")
    on_hand: Decimal = described("Physically in the warehouse.", digits=QUANTITY)
    reserved: Decimal = described("Promised to customer orders.", digits=QUANTITY)
    available: Decimal = described("on_hand - reserved.", digits=QUANTITY)
    daily_demand: Decimal = described("Shipped per day over the demand window.", digits=QUANTITY)
    demand_window_days: int = described("Days the daily demand is averaged over.", bits=32)
    lead_time_days: int | None = described(
        "The SKU's replenishment lead time; null without a policy.", bits=32
    )
    safety_stock: Decimal | None = described(
        "The SKU's safety stock; null without a policy.", digits=QUANTITY
    )
    reorder_point: Decimal | None = described(
        "The SKU's reorder point; null without a policy.", digits=QUANTITY
    )
    risk_threshold: Decimal | None = described(
        "daily_demand * lead_time_days + safety_stock; null without a policy.", digits=QUANTITY
    )
    days_of_cover: Decimal | None = described(
        "available / daily_demand; null without demand.", digits=DAYS
    )
    stock_out_on: date | None = described(
        "as_of day + floor(days_of_cover): when available runs out; null without demand."
    )
    at_risk: bool | None = described(
        "available < risk_threshold; null without a policy.", index=True
    )
    shortfall: Decimal | None = described(
        "risk_threshold - available; null without a policy.",
        digits=QUANTITY,
    )
    as_of: datetime = described("Event time of the newest fact applied to the row.")


INVENTORY_LEVELS_SPEC: ProductSpec[InventoryLevel] = ProductSpec(
    INVENTORY_LEVELS, InventoryLevel, "Stock per warehouse and SKU, with the stock-out forecast."
)


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
