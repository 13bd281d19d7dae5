"""Live SLIs cross from the stream worker to the API through the read store.

The worker measures (``shared_kernel.infrastructure.slo.SliMonitor``); the API is
another process (ADR 0001). Every ``<PREFIX>SLI_INTERVAL_S`` (5 s) the worker
upserts one row per product it measures into ``product_sli``, keyed by product and
worker id, and the API's ``GET /slo`` reads them. With several workers (each owning
some partitions) there is a row per worker, merged at read time
(``merge_snapshots``). A worker that stopped leaves a row that ages: rows older than
``stale_after_s`` are ignored while fresher ones exist, and rows older than
``retention_s`` are deleted by the next write of any worker.

The table has its own ``MetaData`` (:data:`metadata`), in the read store's database: a
context's read store creates it with its product tables (:meth:`SliStore.create_all`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import BigInteger, Column, Float, Integer, MetaData, String, Table, delete, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared_kernel.infrastructure.database import create_engine, upsert_insert
from shared_kernel.infrastructure.persistence.types import UtcDateTime
from shared_kernel.infrastructure.slo import SliMonitor, SliSnapshot

__all__ = ["SliSettings", "SliStore", "metadata", "product_sli", "write_slis_every"]

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class SliSettings(BaseSettings):
    """``<PREFIX>SLI_*``: how the worker measures and publishes the SLIs. Build it with
    the context's prefix: ``SliSettings.of("SUPPLY_CHAIN_")``."""

    model_config = SettingsConfigDict(env_prefix="DPMESH_SLI_", extra="ignore")

    interval_s: float = Field(default=5.0, gt=0, description="How often the worker writes.")
    window_s: float = Field(default=300.0, gt=0, description="Window of p50/p99 and rates.")
    stale_after_s: float = Field(
        default=60.0, gt=0, description="A worker's row older than this no longer counts."
    )
    retention_s: float = Field(default=3600.0, gt=0, description="Rows older are deleted.")
    gap_alert_after_s: float = Field(
        default=60.0,
        gt=0,
        description="A gap in an aggregate's versions open longer than this raises an alert.",
    )
    worker_id: str = Field(default_factory=_default_worker_id, min_length=1, max_length=200)

    @classmethod
    def of(cls, settings_prefix: str) -> SliSettings:
        """The settings of the context whose variables start with ``settings_prefix``."""
        return cls(_env_prefix=f"{settings_prefix}SLI_")

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.window_s)

    @property
    def stale_after(self) -> timedelta:
        return timedelta(seconds=self.stale_after_s)


metadata = MetaData()

product_sli = Table(
    "product_sli",
    metadata,
    Column("product", String(128), primary_key=True),
    Column("worker", String(200), primary_key=True),
    Column("measured_at", UtcDateTime(), nullable=False),
    Column("window_s", Float, nullable=False),
    Column("freshness_p50_ms", Float),
    Column("freshness_p99_ms", Float),
    Column("freshness_last_ms", Float),
    Column("freshness_samples", Integer, nullable=False),
    Column("last_event_time", UtcDateTime()),
    Column("last_materialized_at", UtcDateTime()),
    Column("events_received", BigInteger, nullable=False),
    Column("events_missing", BigInteger, nullable=False),
    Column("events_duplicate", BigInteger, nullable=False),
    Column("events_lost", BigInteger, nullable=False),
    Column("window_applied", BigInteger, nullable=False),
    Column("window_errors", BigInteger, nullable=False),
    Column("window_dead_letters", BigInteger, nullable=False),
    Column("applied_total", BigInteger, nullable=False),
    Column("errors_total", BigInteger, nullable=False),
    Column("dead_letters_total", BigInteger, nullable=False),
)

_FIELDS = tuple(column.name for column in product_sli.columns if column.name != "worker")


class SliStore:
    """``product_sli`` over ``url_or_engine``; an engine built here is disposed by
    :meth:`dispose`, one passed in belongs to the caller."""

    def __init__(self, url_or_engine: str | AsyncEngine) -> None:
        if isinstance(url_or_engine, str):
            self.engine = create_engine(url_or_engine)
            self._owns_engine = True
        else:
            self.engine = url_or_engine
            self._owns_engine = False

    async def create_all(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)

    async def dispose(self) -> None:
        if self._owns_engine:
            await self.engine.dispose()

    async def write(
        self,
        worker: str,
        snapshots: Sequence[SliSnapshot],
        *,
        prune_before: datetime | None = None,
    ) -> None:
        """Replace ``worker``'s rows of these products; delete rows (of any worker)
        measured before ``prune_before``. One transaction."""
        async with self.engine.begin() as conn:
            if snapshots:
                await _upsert(conn, [_values(worker, snapshot) for snapshot in snapshots])
            if prune_before is not None:
                await conn.execute(
                    delete(product_sli).where(product_sli.c.measured_at < prune_before)
                )

    async def snapshots(self) -> list[tuple[str, SliSnapshot]]:
        """Every row as ``(worker, snapshot)``, by product then worker."""
        query = select(product_sli).order_by(product_sli.c.product, product_sli.c.worker)
        async with self.engine.connect() as conn:
            rows = list((await conn.execute(query)).mappings())
        return [(row["worker"], _snapshot(row)) for row in rows]


async def _upsert(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    insert = upsert_insert(conn.dialect.name, product_sli)
    statement = insert.on_conflict_do_update(
        index_elements=["product", "worker"],
        set_={name: insert.excluded[name] for name in _FIELDS if name != "product"},
    )
    await conn.execute(statement, rows)


def _values(worker: str, snapshot: SliSnapshot) -> dict[str, Any]:
    values = {name: getattr(snapshot, name) for name in _FIELDS}
    values["worker"] = worker
    return values


def _snapshot(row: RowMapping) -> SliSnapshot:
    return SliSnapshot(**{name: row[name] for name in _FIELDS})


async def write_slis_every(
    monitor: SliMonitor,
    store: SliStore,
    settings: SliSettings,
    *,
    clock: Clock = _utc_now,
) -> None:
    """Write the monitor's snapshots every ``interval_s`` until cancelled; a failed
    write is logged and the next round tries again."""
    retention = timedelta(seconds=settings.retention_s)
    while True:
        await asyncio.sleep(settings.interval_s)
        try:
            await store.write(
                settings.worker_id, monitor.snapshots(), prune_before=clock() - retention
            )
        except Exception:
            logger.exception("writing the SLI snapshots failed; retrying next round")
