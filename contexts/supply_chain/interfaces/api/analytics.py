"""REST output port of the supply chain's data products: ``/api/v1/products/...``.

Served from the read store the stream worker materializes (ADR 0001): the API is
stateless and never touches the operational tables. Every row says how fresh it is:
``as_of`` (event time of the newest fact behind it), ``materialized_at`` (when the
worker wrote it) and ``freshness_ms`` (``now - as_of`` when the request is served).
A list also carries the newest ``as_of`` and ``materialized_at`` of its items.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from contexts.supply_chain.application.analytics import (
    ALERTS,
    DELIVERY_TIMELINES,
    INVENTORY_LEVELS,
    INVENTORY_LEVELS_SPEC,
    SUPPLIER_PERFORMANCE,
    Alert,
    AlertType,
    DeliveryTimeline,
    InventoryLevel,
    Materialized,
    ProductReader,
    Severity,
    SupplierPerformance,
    fields_of,
)
from shared_kernel.domain import NotFound
from shared_kernel.interfaces.problems import PROBLEM_RESPONSES
from shared_kernel.interfaces.products import (
    DEFAULT_PAGE,
    Freshness,
    Limit,
    Offset,
    page_model,
    row_model,
)

__all__ = ["analytics_router"]

ReaderDependency = Callable[..., ProductReader | Awaitable[ProductReader]]
Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


#: Derived from the row's one definition (``application.analytics.INVENTORY_LEVELS_SPEC``).
InventoryLevelOut = row_model(INVENTORY_LEVELS_SPEC)


class FiguresOut(BaseModel):
    receipts: int
    on_time: int
    on_time_rate: Decimal | None
    accepted: Decimal
    rejected: Decimal
    quality_score: Decimal | None
    lead_time_mean_days: Decimal | None
    lead_time_p90_days: int | None


class SupplierPerformanceOut(Freshness):
    supplier: str
    name: str | None
    country: str | None
    window_days: int
    window_start: date | None
    window_end: date | None
    window: FiguresOut = Field(description="Receipts of the rolling window ending window_end.")
    all_time: FiguresOut


class AlertOut(Freshness):
    alert_id: str
    type: AlertType
    subject: str
    severity: Severity
    raised_at: datetime
    cleared_at: datetime | None
    active: bool
    details: dict[str, str | int | bool | None]


class LegOut(BaseModel):
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


class DeliveryTimelineOut(Freshness):
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
    legs: list[LegOut]


ItemT = TypeVar("ItemT", bound=Freshness)


class Page(BaseModel, Generic[ItemT]):
    product: str
    count: int
    items: list[ItemT]
    as_of: datetime | None = Field(description="The newest as_of of the items.")
    materialized_at: datetime | None = Field(description="The newest materialized_at.")
    freshness_ms: int | None = Field(description="Milliseconds from the newest as_of.")


InventoryLevelsPage = page_model(INVENTORY_LEVELS_SPEC, InventoryLevelOut)


class SupplierPerformancePage(Page[SupplierPerformanceOut]):
    pass


class AlertsPage(Page[AlertOut]):
    pass


class DeliveryTimelinesPage(Page[DeliveryTimelineOut]):
    pass


def analytics_router(reader_dependency: ReaderDependency, *, clock: Clock = _utc_now) -> APIRouter:
    """The data products' routes, reading through ``reader_dependency`` (a FastAPI
    dependency returning the :class:`ProductReader`, e.g. ``lambda: read_store``)."""
    read = Depends(reader_dependency)
    router = APIRouter(prefix="/api/v1/products", tags=["data products"])

    @router.get("/inventory-levels", response_model=InventoryLevelsPage)
    async def inventory_levels(
        reader: ProductReader = read,
        warehouse: str | None = None,
        sku: str | None = None,
        at_risk: bool | None = None,
        limit: Limit = DEFAULT_PAGE,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        """Stock per warehouse and SKU, with the stock-out forecast."""
        rows = await reader.inventory_levels(
            warehouse=warehouse, sku=sku, at_risk=at_risk, limit=limit, offset=offset
        )
        return _page(INVENTORY_LEVELS, rows, _inventory, clock())

    @router.get(
        "/inventory-levels/{warehouse}/{sku}",
        response_model=InventoryLevelOut,
        responses=PROBLEM_RESPONSES,
    )
    async def inventory_level(
        warehouse: str, sku: str, reader: ProductReader = read
    ) -> dict[str, Any]:
        found = await reader.inventory_level(warehouse, sku)
        if found is None:
            raise NotFound("inventory level", f"{warehouse}:{sku}")
        return _inventory(found, clock())

    @router.get("/supplier-performance", response_model=SupplierPerformancePage)
    async def supplier_performances(
        reader: ProductReader = read, limit: Limit = DEFAULT_PAGE, offset: Offset = 0
    ) -> dict[str, Any]:
        """On-time rate, quality score and lead times per supplier."""
        rows = await reader.supplier_performances(limit=limit, offset=offset)
        return _page(SUPPLIER_PERFORMANCE, rows, _supplier, clock())

    @router.get(
        "/supplier-performance/{supplier}",
        response_model=SupplierPerformanceOut,
        responses=PROBLEM_RESPONSES,
    )
    async def supplier_performance(supplier: str, reader: ProductReader = read) -> dict[str, Any]:
        found = await reader.supplier_performance(supplier)
        if found is None:
            raise NotFound("supplier performance", supplier)
        return _supplier(found, clock())

    @router.get("/alerts", response_model=AlertsPage)
    async def alerts(
        reader: ProductReader = read,
        active: bool | None = None,
        type: AlertType | None = None,
        subject: str | None = None,
        limit: Limit = DEFAULT_PAGE,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        """Stock-out risks and delivery delays, newest raised first."""
        rows = await reader.alerts(
            active=active, type=type, subject=subject, limit=limit, offset=offset
        )
        return _page(ALERTS, rows, _alert, clock())

    @router.get("/alerts/{alert_id}", response_model=AlertOut, responses=PROBLEM_RESPONSES)
    async def alert(alert_id: str, reader: ProductReader = read) -> dict[str, Any]:
        found = await reader.alert(alert_id)
        if found is None:
            raise NotFound("alert", alert_id)
        return _alert(found, clock())

    @router.get("/delivery-timelines", response_model=DeliveryTimelinesPage)
    async def delivery_timelines(
        reader: ProductReader = read,
        status: str | None = None,
        warehouse: str | None = None,
        limit: Limit = DEFAULT_PAGE,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        """Shipments with their legs, planned against actual."""
        rows = await reader.delivery_timelines(
            status=status, warehouse=warehouse, limit=limit, offset=offset
        )
        return _page(DELIVERY_TIMELINES, rows, _timeline, clock())

    @router.get(
        "/delivery-timelines/{shipment_id}",
        response_model=DeliveryTimelineOut,
        responses=PROBLEM_RESPONSES,
    )
    async def delivery_timeline(shipment_id: str, reader: ProductReader = read) -> dict[str, Any]:
        found = await reader.delivery_timeline(shipment_id)
        if found is None:
            raise NotFound("delivery timeline", shipment_id)
        return _timeline(found, clock())

    return router


RowT = TypeVar("RowT", InventoryLevel, SupplierPerformance, Alert, DeliveryTimeline)


def _page(
    product: str,
    rows: Sequence[Materialized[RowT]],
    render: Callable[[Materialized[RowT], datetime], dict[str, Any]],
    now: datetime,
) -> dict[str, Any]:
    newest = max((m.row.as_of for m in rows), default=None)
    return {
        "product": product,
        "count": len(rows),
        "items": [render(m, now) for m in rows],
        "as_of": newest,
        "materialized_at": max((m.materialized_at for m in rows), default=None),
        "freshness_ms": None if newest is None else _ms(now, newest),
    }


def _ms(now: datetime, then: datetime) -> int:
    return max(0, int((now - then).total_seconds() * 1000))


def _freshness(m: Materialized[Any], now: datetime) -> dict[str, Any]:
    return {
        "as_of": m.row.as_of,
        "materialized_at": m.materialized_at,
        "freshness_ms": m.freshness_ms(now),
    }


def _inventory(m: Materialized[InventoryLevel], now: datetime) -> dict[str, Any]:
    return {**fields_of(m.row), **_freshness(m, now)}


def _supplier(m: Materialized[SupplierPerformance], now: datetime) -> dict[str, Any]:
    r = m.row
    return {
        **fields_of(r),
        "window": fields_of(r.window),
        "all_time": fields_of(r.all_time),
        **_freshness(m, now),
    }


def _alert(m: Materialized[Alert], now: datetime) -> dict[str, Any]:
    r = m.row
    return {**fields_of(r), "active": r.active, "details": dict(r.details), **_freshness(m, now)}


def _timeline(m: Materialized[DeliveryTimeline], now: datetime) -> dict[str, Any]:
    r = m.row
    return {**fields_of(r), "legs": [fields_of(leg) for leg in r.legs], **_freshness(m, now)}
