"""The analytics read store: the worker upserts product rows, the API reads them.

One class plays both ports of ``application.analytics``: :class:`ProductSink` for the
stream worker and :class:`ProductReader` for the REST API and the snapshots. A write
is one transaction and an idempotent upsert: the same rows written twice leave the
same figures, and a row is never replaced by one with an older ``as_of``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, Table, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contexts.supply_chain.application.analytics import (
    DEFAULT_LIMIT,
    Alert,
    AlertType,
    DeliveryTimeline,
    InventoryLevel,
    Materialized,
    PerformanceFigures,
    ProductRow,
    Severity,
    SupplierPerformance,
    TimelineLeg,
    fields_of,
)
from contexts.supply_chain.infrastructure.analytics import tables
from shared_kernel.infrastructure import sli_store
from shared_kernel.infrastructure.database import create_engine
from shared_kernel.infrastructure.products import upsert_newer
from shared_kernel.infrastructure.streams.state import StreamState

__all__ = ["AnalyticsReadStore"]

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AnalyticsReadStore:
    """The read store over ``url`` (SQLite or PostgreSQL), or over an engine given.

    An engine built here is disposed by :meth:`dispose`; one passed in belongs to the
    caller.
    """

    def __init__(self, url_or_engine: str | AsyncEngine, *, clock: Clock = _utc_now) -> None:
        if isinstance(url_or_engine, str):
            self.engine = create_engine(url_or_engine)
            self._owns_engine = True
        else:
            self.engine = url_or_engine
            self._owns_engine = False
        self._clock = clock

    async def create_all(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(tables.metadata.create_all)
            await conn.run_sync(sli_store.metadata.create_all)

    async def drop_all(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(tables.metadata.drop_all)
            await conn.run_sync(sli_store.metadata.drop_all)

    def stream_state(self, consumer: str) -> StreamState:
        """The stream worker ``consumer``'s own state, in this database, so that it
        commits with the product rows (``shared_kernel.infrastructure.streams.state``)."""
        return StreamState(self.engine, tables.stream_state, consumer)

    async def dispose(self) -> None:
        if self._owns_engine:
            await self.engine.dispose()

    # -- ProductSink -----------------------------------------------------------------

    async def write(self, rows: Sequence[ProductRow]) -> None:
        if not rows:
            return
        async with self.engine.begin() as conn:
            await self.write_in(conn, rows)

    async def write_in(self, conn: AsyncConnection, rows: Sequence[ProductRow]) -> None:
        """:meth:`write` inside the caller's transaction (the stream worker's: the rows,
        the state they were computed from and the versions applied commit together)."""
        if not rows:
            return
        materialized_at = self._clock()
        by_table: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
        for row in rows:
            table, values = _values(row)
            values["materialized_at"] = materialized_at
            key = tuple(values[column.name] for column in table.primary_key)
            # The last version of a row in one batch wins (one statement per table).
            by_table.setdefault(table.name, {})[key] = values
        for name, keyed in by_table.items():
            await upsert_newer(conn, tables.metadata.tables[name], list(keyed.values()))

    # -- ProductReader ---------------------------------------------------------------

    async def inventory_levels(
        self,
        *,
        warehouse: str | None = None,
        sku: str | None = None,
        at_risk: bool | None = None,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
    ) -> list[Materialized[InventoryLevel]]:
        t = tables.inventory_levels
        query = select(t).order_by(t.c.warehouse, t.c.sku)
        if warehouse is not None:
            query = query.where(t.c.warehouse == warehouse)
        if sku is not None:
            query = query.where(t.c.sku == sku)
        if at_risk is not None:
            query = query.where(t.c.at_risk.is_(at_risk))
        return [_inventory(r) for r in await self._fetch(query, limit, offset)]

    async def inventory_level(
        self, warehouse: str, sku: str
    ) -> Materialized[InventoryLevel] | None:
        t = tables.inventory_levels
        found = await self._fetch(select(t).where(t.c.warehouse == warehouse, t.c.sku == sku))
        return _inventory(found[0]) if found else None

    async def supplier_performances(
        self, *, limit: int = DEFAULT_LIMIT, offset: int = 0
    ) -> list[Materialized[SupplierPerformance]]:
        t = tables.supplier_performance
        return [
            _supplier(r) for r in await self._fetch(select(t).order_by(t.c.supplier), limit, offset)
        ]

    async def supplier_performance(self, supplier: str) -> Materialized[SupplierPerformance] | None:
        t = tables.supplier_performance
        found = await self._fetch(select(t).where(t.c.supplier == supplier))
        return _supplier(found[0]) if found else None

    async def alerts(
        self,
        *,
        active: bool | None = None,
        type: AlertType | None = None,
        subject: str | None = None,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
    ) -> list[Materialized[Alert]]:
        t = tables.alerts
        query = select(t).order_by(t.c.raised_at.desc(), t.c.alert_id)
        if active is not None:
            query = query.where(t.c.active.is_(active))
        if type is not None:
            query = query.where(t.c.type == type.value)
        if subject is not None:
            query = query.where(t.c.subject == subject)
        return [_alert(r) for r in await self._fetch(query, limit, offset)]

    async def alert(self, alert_id: str) -> Materialized[Alert] | None:
        t = tables.alerts
        found = await self._fetch(select(t).where(t.c.alert_id == alert_id))
        return _alert(found[0]) if found else None

    async def delivery_timelines(
        self,
        *,
        status: str | None = None,
        warehouse: str | None = None,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
    ) -> list[Materialized[DeliveryTimeline]]:
        t = tables.delivery_timelines
        query = select(t).order_by(t.c.shipment_id)
        if status is not None:
            query = query.where(t.c.status == status)
        if warehouse is not None:
            query = query.where(t.c.warehouse == warehouse)
        return [_timeline(r) for r in await self._fetch(query, limit, offset)]

    async def delivery_timeline(self, shipment_id: str) -> Materialized[DeliveryTimeline] | None:
        t = tables.delivery_timelines
        found = await self._fetch(select(t).where(t.c.shipment_id == shipment_id))
        return _timeline(found[0]) if found else None

    async def _fetch(
        self, query: Select[Any], limit: int | None = None, offset: int = 0
    ) -> list[RowMapping]:
        if limit is not None:
            if limit < 0 or offset < 0:
                raise ValueError("limit and offset must not be negative")
            query = query.limit(limit).offset(offset)
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).mappings())


# -- rows <-> records --------------------------------------------------------------------


def _values(row: ProductRow) -> tuple[Table, dict[str, Any]]:
    if isinstance(row, InventoryLevel):
        return tables.inventory_levels, fields_of(row, without=())
    if isinstance(row, SupplierPerformance):
        return tables.supplier_performance, {
            "supplier": row.supplier,
            "name": row.name,
            "country": row.country,
            "window_days": row.window_days,
            "window_start": row.window_start,
            "window_end": row.window_end,
            **_figure_values("window", row.window),
            **_figure_values("all_time", row.all_time),
            "as_of": row.as_of,
        }
    if isinstance(row, Alert):
        return tables.alerts, {
            "alert_id": row.alert_id,
            "type": row.type.value,
            "subject": row.subject,
            "severity": row.severity.value,
            "raised_at": row.raised_at,
            "cleared_at": row.cleared_at,
            "active": row.active,
            "details": dict(row.details),
            "as_of": row.as_of,
        }
    return tables.delivery_timelines, {
        "shipment_id": row.shipment_id,
        "account": row.account,
        "warehouse": row.warehouse,
        "destination": row.destination,
        "status": row.status,
        "planned_delivery": row.planned_delivery,
        "eta": row.eta,
        "dispatched_at": row.dispatched_at,
        "delivered_at": row.delivered_at,
        "delay_minutes": row.delay_minutes,
        "on_time": row.on_time,
        "legs": [_leg_values(leg) for leg in row.legs],
        "as_of": row.as_of,
    }


def _figure_values(prefix: str, figures: PerformanceFigures) -> dict[str, Any]:
    return {
        f"{prefix}_receipts": figures.receipts,
        f"{prefix}_on_time": figures.on_time,
        f"{prefix}_on_time_rate": figures.on_time_rate,
        f"{prefix}_accepted": figures.accepted,
        f"{prefix}_rejected": figures.rejected,
        f"{prefix}_quality_score": figures.quality_score,
        f"{prefix}_lead_time_mean_days": figures.lead_time_mean_days,
        f"{prefix}_lead_time_p90_days": figures.lead_time_p90_days,
    }


def _figures(prefix: str, r: RowMapping) -> PerformanceFigures:
    return PerformanceFigures(
        receipts=r[f"{prefix}_receipts"],
        on_time=r[f"{prefix}_on_time"],
        on_time_rate=r[f"{prefix}_on_time_rate"],
        accepted=r[f"{prefix}_accepted"],
        rejected=r[f"{prefix}_rejected"],
        quality_score=r[f"{prefix}_quality_score"],
        lead_time_mean_days=r[f"{prefix}_lead_time_mean_days"],
        lead_time_p90_days=r[f"{prefix}_lead_time_p90_days"],
    )


def _inventory(r: RowMapping) -> Materialized[InventoryLevel]:
    names = [field.name for field in dataclasses.fields(InventoryLevel)]
    return Materialized(InventoryLevel(**{name: r[name] for name in names}), r["materialized_at"])


def _supplier(r: RowMapping) -> Materialized[SupplierPerformance]:
    row = SupplierPerformance(
        supplier=r["supplier"],
        name=r["name"],
        country=r["country"],
        window_days=r["window_days"],
        window_start=r["window_start"],
        window_end=r["window_end"],
        window=_figures("window", r),
        all_time=_figures("all_time", r),
        as_of=r["as_of"],
    )
    return Materialized(row, r["materialized_at"])


def _alert(r: RowMapping) -> Materialized[Alert]:
    row = Alert(
        alert_id=r["alert_id"],
        type=AlertType(r["type"]),
        subject=r["subject"],
        severity=Severity(r["severity"]),
        raised_at=r["raised_at"],
        cleared_at=r["cleared_at"],
        details=dict(r["details"]),
        as_of=r["as_of"],
    )
    return Materialized(row, r["materialized_at"])


def _timeline(r: RowMapping) -> Materialized[DeliveryTimeline]:
    row = DeliveryTimeline(
        shipment_id=r["shipment_id"],
        account=r["account"],
        warehouse=r["warehouse"],
        destination=r["destination"],
        status=r["status"],
        planned_delivery=r["planned_delivery"],
        eta=r["eta"],
        dispatched_at=r["dispatched_at"],
        delivered_at=r["delivered_at"],
        delay_minutes=r["delay_minutes"],
        on_time=r["on_time"],
        legs=tuple(_leg(leg) for leg in _list(r["legs"])),
        as_of=r["as_of"],
    )
    return Materialized(row, r["materialized_at"])


_LEG_MOMENTS = ("planned_departure", "planned_arrival", "departed_at", "arrived_at")


def _leg_values(leg: TimelineLeg) -> dict[str, Any]:
    values: dict[str, Any] = {
        "sequence": leg.sequence,
        "origin": leg.origin,
        "destination": leg.destination,
        "carrier": leg.carrier,
        "departure_delay_minutes": leg.departure_delay_minutes,
        "arrival_delay_minutes": leg.arrival_delay_minutes,
    }
    for name in _LEG_MOMENTS:
        moment: datetime | None = getattr(leg, name)
        values[name] = None if moment is None else moment.astimezone(UTC).isoformat()
    return values


def _leg(data: Mapping[str, Any]) -> TimelineLeg:
    moments = {
        name: None if data.get(name) is None else datetime.fromisoformat(data[name])
        for name in _LEG_MOMENTS
    }
    return TimelineLeg(
        sequence=int(data["sequence"]),
        origin=str(data["origin"]),
        destination=str(data["destination"]),
        carrier=str(data["carrier"]),
        departure_delay_minutes=data.get("departure_delay_minutes"),
        arrival_delay_minutes=data.get("arrival_delay_minutes"),
        **moments,
    )


def _list(value: Any) -> Iterable[Mapping[str, Any]]:
    return value if isinstance(value, list) else []
