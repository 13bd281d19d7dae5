"""Daily Parquet snapshots of the data products, for trends and ad hoc SQL.

``write_snapshots(read_store, root, day)`` writes each product's current rows to
``<root>/<product>/date=<YYYY-MM-DD>/part-00000.parquet`` (Hive-style partitions:
DuckDB and pyarrow datasets read ``date`` as a column). Running it again for the same
day replaces that day's file, atomically: readers see the old file or the new one.

The schemas below are the contract of the snapshot port (documented in
docs/supply-chain-data-products.md); a change that drops or retypes a column is a new
major version of the product.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

from contexts.supply_chain.application.analytics import (
    ALERTS,
    DELIVERY_TIMELINES,
    INVENTORY_LEVELS,
    INVENTORY_LEVELS_SPEC,
    SUPPLIER_PERFORMANCE,
    Alert,
    DeliveryTimeline,
    InventoryLevel,
    Materialized,
    PerformanceFigures,
    ProductReader,
    SupplierPerformance,
    fields_of,
)
from shared_kernel.infrastructure.products import (
    SNAPSHOT_FILE,
    arrow_schema,
    snapshot_path,
    write_parquet,
)

__all__ = ["SCHEMAS", "SNAPSHOT_FILE", "snapshot_path", "write_snapshots"]

_PAGE = 5000

_TS = pa.timestamp("us", tz="UTC")
_QTY = pa.decimal128(18, 6)
_RATIO = pa.decimal128(7, 4)
_DAYS = pa.decimal128(18, 2)
_FRESHNESS = [pa.field("as_of", _TS, nullable=False), pa.field("materialized_at", _TS, False)]


def _figure_fields(prefix: str) -> list[pa.Field]:
    return [
        pa.field(f"{prefix}_receipts", pa.int32(), nullable=False),
        pa.field(f"{prefix}_on_time", pa.int32(), nullable=False),
        pa.field(f"{prefix}_on_time_rate", _RATIO),
        pa.field(f"{prefix}_accepted", _QTY, nullable=False),
        pa.field(f"{prefix}_rejected", _QTY, nullable=False),
        pa.field(f"{prefix}_quality_score", _RATIO),
        pa.field(f"{prefix}_lead_time_mean_days", _DAYS),
        pa.field(f"{prefix}_lead_time_p90_days", pa.int32()),
    ]


LEG = pa.struct(
    [
        pa.field("sequence", pa.int32(), nullable=False),
        pa.field("origin", pa.string(), nullable=False),
        pa.field("destination", pa.string(), nullable=False),
        pa.field("carrier", pa.string(), nullable=False),
        pa.field("planned_departure", _TS),
        pa.field("planned_arrival", _TS),
        pa.field("departed_at", _TS),
        pa.field("arrived_at", _TS),
        pa.field("departure_delay_minutes", pa.int32()),
        pa.field("arrival_delay_minutes", pa.int32()),
    ]
)

SCHEMAS: dict[str, pa.Schema] = {
    INVENTORY_LEVELS: arrow_schema(INVENTORY_LEVELS_SPEC),
    SUPPLIER_PERFORMANCE: pa.schema(
        [
            pa.field("supplier", pa.string(), nullable=False),
            pa.field("name", pa.string()),
            pa.field("country", pa.string()),
            pa.field("window_days", pa.int32(), nullable=False),
            pa.field("window_start", pa.date32()),
            pa.field("window_end", pa.date32()),
            *_figure_fields("window"),
            *_figure_fields("all_time"),
            *_FRESHNESS,
        ]
    ),
    ALERTS: pa.schema(
        [
            pa.field("alert_id", pa.string(), nullable=False),
            pa.field("type", pa.string(), nullable=False),
            pa.field("subject", pa.string(), nullable=False),
            pa.field("severity", pa.string(), nullable=False),
            pa.field("raised_at", _TS, nullable=False),
            pa.field("cleared_at", _TS),
            pa.field("active", pa.bool_(), nullable=False),
            # A JSON object: its keys depend on the alert type.
            pa.field("details", pa.string(), nullable=False),
            *_FRESHNESS,
        ]
    ),
    DELIVERY_TIMELINES: pa.schema(
        [
            pa.field("shipment_id", pa.string(), nullable=False),
            pa.field("account", pa.string(), nullable=False),
            pa.field("warehouse", pa.string(), nullable=False),
            pa.field("destination", pa.string()),
            pa.field("status", pa.string(), nullable=False),
            pa.field("planned_delivery", _TS),
            pa.field("eta", _TS),
            pa.field("dispatched_at", _TS),
            pa.field("delivered_at", _TS),
            pa.field("delay_minutes", pa.int32(), nullable=False),
            pa.field("on_time", pa.bool_()),
            pa.field("legs", pa.list_(pa.field("leg", LEG, nullable=False)), nullable=False),
            *_FRESHNESS,
        ]
    ),
}


async def write_snapshots(
    read_store: ProductReader, root: str | Path, day: date
) -> dict[str, Path]:
    """Write every product's current rows as the snapshot of ``day``; the file paths."""
    written: dict[str, Path] = {}
    records = {
        INVENTORY_LEVELS: [_inventory(m) for m in await _all(read_store.inventory_levels)],
        SUPPLIER_PERFORMANCE: [_supplier(m) for m in await _all(read_store.supplier_performances)],
        ALERTS: [_alert(m) for m in await _all(read_store.alerts)],
        DELIVERY_TIMELINES: [_timeline(m) for m in await _all(read_store.delivery_timelines)],
    }
    for product, rows in records.items():
        path = snapshot_path(root, product, day)
        await asyncio.to_thread(
            write_parquet, path, pa.Table.from_pylist(rows, schema=SCHEMAS[product])
        )
        written[product] = path
    return written


T = TypeVar("T")


async def _all(page: Callable[..., Awaitable[Sequence[T]]]) -> list[T]:
    rows: list[T] = []
    while True:
        batch = await page(limit=_PAGE, offset=len(rows))
        rows.extend(batch)
        if len(batch) < _PAGE:
            return rows


def _freshness(m: Materialized[Any]) -> dict[str, Any]:
    return {"as_of": m.row.as_of, "materialized_at": m.materialized_at}


def _inventory(m: Materialized[InventoryLevel]) -> dict[str, Any]:
    return {**fields_of(m.row), **_freshness(m)}


def _figures(prefix: str, figures: PerformanceFigures) -> dict[str, Any]:
    """Flattened: Parquet columns ``<prefix>_<figure>`` instead of a nested object."""
    return {f"{prefix}_{name}": value for name, value in fields_of(figures).items()}


def _supplier(m: Materialized[SupplierPerformance]) -> dict[str, Any]:
    r = m.row
    return {
        **fields_of(r, without=("as_of", "window", "all_time")),
        **_figures("window", r.window),
        **_figures("all_time", r.all_time),
        **_freshness(m),
    }


def _alert(m: Materialized[Alert]) -> dict[str, Any]:
    r = m.row
    return {
        **fields_of(r),
        "type": r.type.value,
        "severity": r.severity.value,
        "active": r.active,
        "details": json.dumps(dict(r.details), sort_keys=True),
        **_freshness(m),
    }


def _timeline(m: Materialized[DeliveryTimeline]) -> dict[str, Any]:
    r = m.row
    return {**fields_of(r), "legs": [fields_of(leg) for leg in r.legs], **_freshness(m)}
