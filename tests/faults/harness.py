"""Faults injected into the supply chain's real processes, and the totals they must keep.

Each test gets its own embedded broker (so it can pause or restart it), its own
SQLite databases, migrated with ``dpmesh migrate``, and runs the context's processes as
the CLI does (``dpmesh run supply_chain worker|relay``), so that SIGKILL hits a real
process at a random instruction.

The workload is seeded: inventory items that receive stock, then reserve-and-ship
pairs spread over one week, and suppliers whose purchase orders receive goods. The
expected figures are summed by hand from what was sent (on hand = received - shipped;
daily demand = shipped in the week / 7; receipts, accepted and rejected per supplier),
so a single lost event shows in a sum, not only in a last value.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy import MetaData, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contexts.supply_chain.infrastructure.analytics import tables
from contexts.supply_chain.interfaces.streams import AnalyticsTopics
from contexts.supply_chain.tests.unit.analytics.builders import (
    Stock,
    at,
    day,
    purchase,
    sku_registered,
    supplier_registered,
)
from shared_kernel.domain import DomainEvent
from shared_kernel.infrastructure.database import create_engine, create_session_factory
from shared_kernel.infrastructure.messaging.relay import OutboxRelay
from shared_kernel.infrastructure.messaging.topics import ensure_topics
from shared_kernel.infrastructure.persistence.outbox import OutboxWriter, outbox_table
from shared_kernel.infrastructure.settings import KafkaSettings

PARTITIONS = 4
DEMAND_WINDOW_DAYS = 7

outbox = outbox_table(MetaData())


@dataclass(frozen=True, slots=True)
class ItemTotals:
    on_hand: Decimal
    reserved: Decimal
    daily_demand: Decimal


@dataclass(frozen=True, slots=True)
class SupplierTotals:
    receipts: int
    accepted: Decimal
    rejected: Decimal


@dataclass
class Workload:
    """The events to send, in an order that keeps each aggregate's order, and the
    totals they add up to."""

    events: list[DomainEvent]
    items: dict[tuple[str, str], ItemTotals]
    suppliers: dict[str, SupplierTotals]


def workload(seed: int, *, items: int = 8, pairs: int = 150, suppliers: int = 3) -> Workload:
    rng = random.Random(seed)
    skus = [f"KD-SKU-{n}" for n in range(max(1, items // 2))]
    warehouses = ["LYS-1", "HAM-2"]
    streams: list[list[DomainEvent]] = []
    expected_items: dict[tuple[str, str], ItemTotals] = {}
    registrations: list[DomainEvent] = [
        sku_registered(sku, reorder_point=5, safety_stock=2) for sku in skus
    ]
    for n in range(items):
        sku, warehouse = skus[n % len(skus)], warehouses[(n // len(skus)) % len(warehouses)]
        stock = Stock(warehouse, sku)
        received = 100_000
        events: list[DomainEvent] = list(stock.receive(received, at(0)))
        shipped = 0
        for i in range(pairs):
            quantity = rng.randint(1, 9)
            shipped += quantity
            events.extend(stock.ship(quantity, at(days=6 * (i + 1) / pairs)))
        streams.append(events)
        demand = (Decimal(shipped) / DEMAND_WINDOW_DAYS).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_EVEN
        )
        expected_items[(warehouse, sku)] = ItemTotals(
            Decimal(received - shipped), Decimal(0), demand
        )
    expected_suppliers: dict[str, SupplierTotals] = {}
    for s in range(suppliers):
        code = f"SUP-{s}"
        registrations.append(supplier_registered(code, f"Supplier {s}"))
        receipts, accepted, rejected = 0, 0, 0
        for o in range(4):
            deliveries = []
            for d in range(rng.randint(1, 3)):
                ok, bad = rng.randint(5, 50), rng.randint(0, 3)
                deliveries.append((day(2 + d), ok, bad))
                receipts, accepted, rejected = receipts + 1, accepted + ok, rejected + bad
            streams.append(
                purchase(
                    f"PO-{s}-{o}",
                    placed=at(0),
                    promised_on=day(3),
                    deliveries=deliveries,
                    supplier=code,
                    sku=skus[0],
                )
            )
        expected_suppliers[code] = SupplierTotals(receipts, Decimal(accepted), Decimal(rejected))
    # Interleave the aggregates' streams at random, each one kept in order.
    interleaved: list[DomainEvent] = list(registrations)
    cursors = [0] * len(streams)
    live = [i for i, events in enumerate(streams) if events]
    while live:
        i = rng.choice(live)
        interleaved.append(streams[i][cursors[i]])
        cursors[i] += 1
        if cursors[i] == len(streams[i]):
            live.remove(i)
    return Workload(interleaved, expected_items, expected_suppliers)


@dataclass
class ContextProcess:
    """One ``dpmesh run supply_chain <role>`` process; killed and restarted at will."""

    role: str
    env: dict[str, str]
    log_dir: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    exits: list[int] = field(default_factory=list)

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        self.starts += 1
        log = (self.log_dir / f"{self.role}-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dpmesh", "run", "supply_chain", self.role, "--no-migrate"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def kill(self) -> None:
        """SIGKILL: no clean-up, no last commit, whatever instruction it is at."""
        assert self.process is not None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.exits.append(self.process.wait(timeout=30))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def count_in_logs(self, text: str) -> int:
        """How many lines of all this process's runs contain ``text``."""
        return sum(
            text in line
            for run in range(1, self.starts + 1)
            if (path := self.log_dir / f"{self.role}-{run}.log").exists()
            for line in path.read_text(errors="replace").splitlines()
        )

    def log_tail(self, lines: int = 30) -> str:
        path = self.log_dir / f"{self.role}-{self.starts}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Deployment:
    """The supply chain's databases and processes on one broker."""

    bootstrap_servers: str
    database_url: str
    analytics_url: str
    tmp: Path
    env: dict[str, str]
    engine: AsyncEngine
    analytics: AsyncEngine

    @classmethod
    def create(cls, bootstrap_servers: str, tmp: Path) -> Deployment:
        database_url = f"sqlite+aiosqlite:///{tmp / 'supply_chain.db'}"
        analytics_url = f"sqlite+aiosqlite:///{tmp / 'analytics.db'}"
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
            "KAFKA_SESSION_TIMEOUT_MS": "2000",
            "KAFKA_REBALANCE_TIMEOUT_MS": "2000",
            "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
            "KAFKA_TOPIC_PARTITIONS": str(PARTITIONS),
            "SUPPLY_CHAIN_DATABASE_URL": database_url,
            "SUPPLY_CHAIN_ANALYTICS_DATABASE_URL": analytics_url,
            "SUPPLY_CHAIN_SNAPSHOT_DIR": str(tmp / "snapshots"),
            "SUPPLY_CHAIN_SNAPSHOT_INTERVAL_S": "3600",
            "SUPPLY_CHAIN_STREAM_DATADIR": str(tmp / "faust"),
            "SUPPLY_CHAIN_RELAY_POLL_INTERVAL_S": "0.05",
            "SUPPLY_CHAIN_LOG_JSON": "false",
        }
        for name in ("SUPPLY_CHAIN_CATALOG_URL", "SUPPLY_CHAIN_CARRIER_BASE_URL"):
            env.pop(name, None)
        subprocess.run(
            [sys.executable, "-m", "dpmesh", "migrate", "supply_chain"],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        return cls(
            bootstrap_servers,
            database_url,
            analytics_url,
            tmp,
            env,
            create_engine(database_url),
            create_engine(analytics_url),
        )

    async def declare_topics(self) -> None:
        """The domain topics, as the context declares them before anything publishes."""
        names = list(dataclasses.asdict(AnalyticsTopics()).values())
        await ensure_topics(self.bootstrap_servers, dict.fromkeys(names, PARTITIONS))

    def kafka(self) -> KafkaSettings:
        return KafkaSettings(bootstrap_servers=self.bootstrap_servers, topic_partitions=PARTITIONS)

    def process(self, role: str) -> ContextProcess:
        return ContextProcess(role, self.env, self.tmp)

    def relay(self, **options: Any) -> OutboxRelay:
        return OutboxRelay(
            engine=self.engine,
            table=outbox,
            kafka=self.kafka(),
            context="supply_chain",
            registry=CollectorRegistry(),
            poll_interval_s=0.05,
            backoff_initial_s=0.05,
            backoff_max_s=0.5,
            **options,
        )

    async def record(self, events: Sequence[DomainEvent]) -> None:
        """Commit ``events`` to the outbox, as the context's unit of work does."""
        writer = OutboxWriter(outbox, topic_for=AnalyticsTopics().topic_for)
        async with create_session_factory(self.engine)() as session, session.begin():
            await writer.write(session, list(events))

    async def stream_in(self, events: Sequence[DomainEvent], *, chunk: int = 40) -> None:
        """Record ``events`` a chunk at a time, as a steady flow of commands would."""
        for start in range(0, len(events), chunk):
            await self.record(events[start : start + chunk])
            await asyncio.sleep(0.02)

    async def unpublished(self) -> int:
        async with self.engine.connect() as conn:
            count = await conn.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            )
        return int(count or 0)

    async def products(self) -> tuple[dict[tuple[str, str], ItemTotals], dict[str, SupplierTotals]]:
        """The inventory and supplier figures as the read store holds them."""
        levels, performance = tables.inventory_levels, tables.supplier_performance
        async with self.analytics.connect() as conn:
            item_rows = (
                await conn.execute(
                    select(
                        levels.c.warehouse,
                        levels.c.sku,
                        levels.c.on_hand,
                        levels.c.reserved,
                        levels.c.daily_demand,
                    )
                )
            ).all()
            supplier_rows = (
                await conn.execute(
                    select(
                        performance.c.supplier,
                        performance.c.all_time_receipts,
                        performance.c.all_time_accepted,
                        performance.c.all_time_rejected,
                    )
                )
            ).all()
        items = {
            (str(w), str(s)): ItemTotals(Decimal(on_hand), Decimal(reserved), Decimal(demand))
            for w, s, on_hand, reserved, demand in item_rows
        }
        suppliers = {
            str(code): SupplierTotals(int(receipts), Decimal(accepted), Decimal(rejected))
            for code, receipts, accepted, rejected in supplier_rows
            if receipts
        }
        return items, suppliers

    async def held(self) -> int:
        held = tables.stream_state.held
        async with self.analytics.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(held)) or 0)

    async def dispose(self) -> None:
        await self.engine.dispose()
        await self.analytics.dispose()


async def until_exact(
    deployment: Deployment, expected: Workload, *, deadline_s: float, what: str
) -> None:
    """Wait until every product equals the expected totals; fail with the difference."""
    deadline = time.monotonic() + deadline_s
    while True:
        items, suppliers = await deployment.products()
        if items == expected.items and suppliers == expected.suppliers:
            return
        if time.monotonic() > deadline:
            difference = _diff(items, suppliers, expected)
            raise AssertionError(
                f"{what}: products not exact after {deadline_s:.0f} s\n{difference}"
            )
        await asyncio.sleep(0.25)


def _diff(
    items: dict[tuple[str, str], ItemTotals],
    suppliers: dict[str, SupplierTotals],
    expected: Workload,
) -> str:
    lines: list[str] = []
    for key, want in sorted(expected.items.items()):
        got: Any = items.get(key)
        if got != want:
            lines.append(f"item {key}: got {got}, expected {want}")
    for code, want_s in sorted(expected.suppliers.items()):
        got = suppliers.get(code)
        if got != want_s:
            lines.append(f"supplier {code}: got {got}, expected {want_s}")
    return "\n".join(lines) or "(equal)"
