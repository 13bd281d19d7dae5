"""The read store's tables: one per data product, in their own ``MetaData``.

The read store is the analytics database (``SUPPLY_CHAIN_ANALYTICS_DATABASE_URL``),
written only by the stream worker (ADR 0001). Its schema is created with
:meth:`AnalyticsReadStore.create_all`: every table is a projection that the worker
can rebuild from the event log, so there is nothing to migrate in place; a changed
table is dropped and re-materialized by replaying the events with a new app id.

Every table carries ``as_of`` (event time of the newest fact applied) and
``materialized_at`` (when the worker wrote the row).
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Date, Index, Integer, MetaData, String, Table

from contexts.supply_chain.application.analytics.products import INVENTORY_LEVELS_SPEC
from shared_kernel.infrastructure.persistence.types import ExactDecimal, UtcDateTime
from shared_kernel.infrastructure.products import product_table
from shared_kernel.infrastructure.streams.state import stream_state_tables

metadata = MetaData()

#: The stream worker's own state, versions applied and held events, in the same
#: database so that they commit with the product rows (shared_kernel streams.state).
stream_state = stream_state_tables(metadata)

#: Stock quantities and demand rates: 12 integer digits, 6 decimals.
QUANTITY = ExactDecimal(18, 6)
#: Ratios from 0 to 1 at 4 decimals.
RATIO = ExactDecimal(7, 4)
#: Day counts at 2 decimals.
DAYS = ExactDecimal(18, 2)

CODE = 128
TEXT = 300


def _freshness() -> list[Column[object]]:
    return [
        Column("as_of", UtcDateTime(), nullable=False),
        Column("materialized_at", UtcDateTime(), nullable=False),
    ]


#: Derived from the row's one definition (``application.analytics.INVENTORY_LEVELS_SPEC``).
inventory_levels = product_table(INVENTORY_LEVELS_SPEC, metadata)


def _figures(prefix: str) -> list[Column[object]]:
    return [
        Column(f"{prefix}_receipts", Integer, nullable=False),
        Column(f"{prefix}_on_time", Integer, nullable=False),
        Column(f"{prefix}_on_time_rate", RATIO),
        Column(f"{prefix}_accepted", QUANTITY, nullable=False),
        Column(f"{prefix}_rejected", QUANTITY, nullable=False),
        Column(f"{prefix}_quality_score", RATIO),
        Column(f"{prefix}_lead_time_mean_days", DAYS),
        Column(f"{prefix}_lead_time_p90_days", Integer),
    ]


supplier_performance = Table(
    "product_supplier_performance",
    metadata,
    Column("supplier", String(CODE), primary_key=True),
    Column("name", String(TEXT)),
    Column("country", String(16)),
    Column("window_days", Integer, nullable=False),
    Column("window_start", Date),
    Column("window_end", Date),
    *_figures("window"),
    *_figures("all_time"),
    *_freshness(),
)

alerts = Table(
    "product_alerts",
    metadata,
    Column("alert_id", String(64), primary_key=True),
    Column("type", String(32), nullable=False),
    Column("subject", String(TEXT), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("raised_at", UtcDateTime(), nullable=False),
    Column("cleared_at", UtcDateTime()),
    # Derived from cleared_at, kept as a column so "active alerts" is an indexed filter.
    Column("active", Boolean, nullable=False),
    Column("details", JSON, nullable=False),
    *_freshness(),
    Index("ix_product_alerts_active", "active"),
    Index("ix_product_alerts_subject", "type", "subject"),
)

delivery_timelines = Table(
    "product_delivery_timelines",
    metadata,
    Column("shipment_id", String(CODE), primary_key=True),
    Column("account", String(CODE), nullable=False),
    Column("warehouse", String(CODE), nullable=False),
    Column("destination", String(TEXT)),
    Column("status", String(16), nullable=False),
    Column("planned_delivery", UtcDateTime()),
    Column("eta", UtcDateTime()),
    Column("dispatched_at", UtcDateTime()),
    Column("delivered_at", UtcDateTime()),
    Column("delay_minutes", Integer, nullable=False),
    Column("on_time", Boolean),
    Column("legs", JSON, nullable=False),
    *_freshness(),
    Index("ix_product_delivery_timelines_status", "status"),
)
