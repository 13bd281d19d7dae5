"""Event backbone benchmark: raw aiokafka next to dpmesh's outbox -> relay -> consumer path.

Run from the repository root::

    python -m bench.backbone            # embedded broker, SQLite files in a temp folder
    KAFKA_BOOTSTRAP_SERVERS=host:9092 python -m bench.backbone --database-url postgresql+asyncpg://...

Deployment shape measured: an "API" process commits commands through the unit of
work and runs the outbox relay in-process (woken after each commit); a "worker"
process runs the ``EventConsumer`` that maintains a projection in its own database
(a second SQLite file, or the same PostgreSQL database). The broker is a third
process. The raw baseline uses the same split: producer here, consumer there.

Reported:

(a) raw aiokafka: produce -> consume latency (p50/p99) at the same event rate,
    and the consumer's throughput reading a backlog;
(b) dpmesh: freshness (event time -> projection committed) p50/p99 at
    ``--rate`` events/s, then a ramp: the highest rate the whole path sustains
    (load generator keeps up, p99 freshness under ``--max-p99-ms``);
(c) the ratios.

Not a test: numbers depend on the machine; nothing here asserts anything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import struct
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import CollectorRegistry
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    select,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import registry as mapper_registry
from sqlalchemy.types import TypeDecorator

from shared_kernel.domain import AggregateRoot, DomainEvent, EntityId
from shared_kernel.infrastructure.database import create_engine, create_session_factory
from shared_kernel.infrastructure.logging import configure_logging
from shared_kernel.infrastructure.messaging.cloudevents import EventEnvelope
from shared_kernel.infrastructure.messaging.consumer import EventConsumer
from shared_kernel.infrastructure.messaging.relay import OutboxRelay
from shared_kernel.infrastructure.messaging.topics import ensure_topics
from shared_kernel.infrastructure.persistence.outbox import (
    OutboxWriter,
    inbox_table,
    outbox_table,
)
from shared_kernel.infrastructure.persistence.unit_of_work import SqlAlchemyUnitOfWork
from shared_kernel.infrastructure.settings import KafkaSettings

PARTITIONS = 4
ACCOUNTS = 64

# -- a minimal write model -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeterId(EntityId):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading(DomainEvent):
    context = "bench"
    aggregate_type = "meter"

    value: int


class Meter(AggregateRoot[MeterId]):
    total: int

    def __init__(self, id: MeterId, version: int = 0) -> None:
        super().__init__(id, version)
        self.total = 0

    def read(self, value: int) -> None:
        self.total += value
        self._record(Reading(value=value))


class MeterIdType(TypeDecorator[MeterId]):
    impl = String(64)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> MeterId | None:
        return None if value is None else MeterId(value)


write_metadata = MetaData()
# Own table names: the bench drops and recreates them, whatever database it is given.
outbox = outbox_table(write_metadata, name="bench_outbox")
meters = Table(
    "bench_meters",
    write_metadata,
    Column("id", MeterIdType(), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("total", BigInteger, nullable=False),
)
mapper_registry().map_imperatively(
    Meter, meters, version_id_col=meters.c.version, version_id_generator=False
)

read_metadata = MetaData()
inbox = inbox_table(read_metadata, name="bench_inbox")
totals = Table(
    "bench_meter_totals",
    read_metadata,
    Column("meter_id", String(64), primary_key=True),
    Column("total", BigInteger, nullable=False),
    Column("readings", Integer, nullable=False),
)


class MeterUnitOfWork(SqlAlchemyUnitOfWork):
    async def meter(self, meter_id: MeterId) -> Meter:
        meter = await self.session.get(Meter, meter_id)
        if meter is None:
            meter = Meter(meter_id)
            self.session.add(meter)
        self.track(meter)
        return meter


async def project(envelopes: Sequence[EventEnvelope], session: AsyncSession) -> None:
    """Batch projection: one read and one write per meter per poll."""
    sums: dict[str, list[int]] = {}
    for envelope in envelopes:
        entry = sums.setdefault(str(envelope.data["aggregate_id"]), [0, 0])
        entry[0] += int(envelope.data["value"])
        entry[1] += 1
    conn = await session.connection()
    rows = await conn.execute(select(totals.c.meter_id).where(totals.c.meter_id.in_(sums)))
    known = {row[0] for row in rows}
    params = [{"m": m, "t": t, "n": n} for m, (t, n) in sums.items()]
    new = [p for p in params if p["m"] not in known]
    old = [p for p in params if p["m"] in known]
    if new:
        await conn.execute(
            totals.insert().values(
                meter_id=bindparam("m"), total=bindparam("t"), readings=bindparam("n")
            ),
            new,
        )
    if old:
        await conn.execute(
            update(totals)
            .where(totals.c.meter_id == bindparam("m"))
            .values(
                total=totals.c.total + bindparam("t"), readings=totals.c.readings + bindparam("n")
            ),
            old,
        )


# -- statistics ------------------------------------------------------------------------


def quantile(samples: Sequence[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Latency:
    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency:
        return cls(
            len(seconds),
            quantile(seconds, 0.5) * 1000,
            quantile(seconds, 0.99) * 1000,
            (max(seconds) if seconds else float("nan")) * 1000,
        )


def _tune(switch_interval: float) -> None:
    """A shorter GIL switch interval than the default 5 ms.

    aiosqlite runs every statement in a thread that needs the GIL to hand the
    result back; while the event loop thread is busy, it waits up to the switch
    interval for it, several times per transaction.
    """
    if switch_interval > 0:
        sys.setswitchinterval(switch_interval)


# -- worker processes -------------------------------------------------------------------


def raw_consumer_process(
    bootstrap: str,
    topic: str,
    expected: int,
    ready: Any,
    results: Any,
    from_start: bool,
    switch_interval: float,
) -> None:
    _tune(switch_interval)
    asyncio.run(_raw_consume(bootstrap, topic, expected, ready, results, from_start))


async def _raw_consume(
    bootstrap: str, topic: str, expected: int, ready: Any, results: Any, from_start: bool
) -> None:
    kafka = KafkaSettings(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=kafka.fetch_max_wait_ms,
        max_poll_records=500,
    )
    await consumer.start()
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    if from_start:
        await consumer.seek_to_beginning(*tps)
    else:
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)
    ready.set()
    latencies: list[float] = []
    received = 0
    first = last = 0.0
    while received < expected:
        batch = await consumer.getmany(timeout_ms=500, max_records=500)
        now = time.time()
        for records in batch.values():
            for record in records:
                if received == 0:
                    first = time.monotonic()
                received += 1
                if not from_start:
                    (sent,) = struct.unpack(">d", record.value[:8])
                    latencies.append(now - sent)
        last = time.monotonic()
    await consumer.stop()
    results.put({"latencies": latencies, "count": received, "seconds": last - first})


def dpmesh_worker_process(
    bootstrap: str,
    database_url: str,
    topic: str,
    applied: Any,
    stop: Any,
    results: Any,
    switch_interval: float,
) -> None:
    _tune(switch_interval)
    asyncio.run(_dpmesh_worker(bootstrap, database_url, topic, applied, stop, results))


async def _dpmesh_worker(
    bootstrap: str, database_url: str, topic: str, applied: Any, stop: Any, results: Any
) -> None:
    configure_logging("WARNING", json=False)
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(read_metadata.drop_all)
        await conn.run_sync(read_metadata.create_all)
    samples: list[tuple[str, float]] = []  # (event id, projection committed at)

    def on_applied(envelopes: Sequence[EventEnvelope]) -> None:
        now = time.time()
        samples.extend((envelope.id, now) for envelope in envelopes)
        with applied.get_lock():
            applied.value += len(envelopes)

    consumer = EventConsumer(
        name="bench-totals",
        topics=[topic],
        batch_handler=project,
        session_factory=create_session_factory(engine),
        inbox=inbox,
        kafka=KafkaSettings(bootstrap_servers=bootstrap),
        registry=CollectorRegistry(),
        group_id=f"{topic}.bench",
        max_batch=1000,
        on_applied=on_applied,
    )
    await consumer.start()
    await asyncio.to_thread(stop.wait)
    await consumer.stop()
    await engine.dispose()
    results.put(samples)


# -- the API side ---------------------------------------------------------------------


class ApiSide:
    """Commands through the unit of work, relay woken after each commit."""

    def __init__(self, bootstrap: str, database_url: str, topic: str) -> None:
        self.engine = create_engine(database_url)
        self.sessions = create_session_factory(self.engine)
        self.writer = OutboxWriter(outbox, topic_for=lambda _event: topic)
        self.relay = OutboxRelay(
            engine=self.engine,
            table=outbox,
            kafka=KafkaSettings(bootstrap_servers=bootstrap),
            context="bench",
            registry=CollectorRegistry(),
        )
        self.committed = 0
        self.committed_at: dict[str, float] = {}
        self._next_meter = 0

    async def start(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(write_metadata.drop_all)
            await conn.run_sync(write_metadata.create_all)
        await self.relay.start()

    async def stop(self) -> None:
        await self.relay.stop()
        await self.engine.dispose()

    async def commit(self, events: int) -> None:
        meter_id = MeterId(f"m-{self._next_meter % ACCOUNTS}")
        self._next_meter += 1
        async with MeterUnitOfWork(self.sessions, self.writer, [self.relay.wake]) as uow:
            meter = await uow.meter(meter_id)
            for i in range(events):
                meter.read(i % 10 + 1)
            await uow.commit()
            now = time.time()
            for event in uow.collect_committed_events():
                self.committed_at[str(event.event_id)] = now
        self.committed += events

    async def drive(self, rate: float, seconds: float, tick_s: float) -> float:
        """Commit ``rate`` events/s for ``seconds``, a commit per tick; the rate achieved."""
        per_tick = max(1, round(rate * tick_s))
        interval = per_tick / rate
        start = time.monotonic()
        sent = 0
        ticks = 0
        while time.monotonic() - start < seconds:
            await self.commit(per_tick)
            sent += per_tick
            ticks += 1
            delay = start + ticks * interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        return sent / (time.monotonic() - start)


# -- the benchmark ----------------------------------------------------------------------


async def raw_baseline(
    ctx: Any, bootstrap: str, rate: float, seconds: float, backlog: int, switch_interval: float
) -> dict[str, Any]:
    topic_rt = f"bench.raw.rt.{uuid.uuid4().hex[:8]}"
    topic_tp = f"bench.raw.tp.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, {topic_rt: PARTITIONS, topic_tp: PARTITIONS})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    try:
        count = int(rate * seconds)
        ready, results = ctx.Event(), ctx.Queue()
        worker = ctx.Process(
            target=raw_consumer_process,
            args=(bootstrap, topic_rt, count, ready, results, False, switch_interval),
        )
        worker.start()
        await asyncio.to_thread(ready.wait)
        start = time.monotonic()
        padding = b"x" * 300  # about the size of a dpmesh event body
        for i in range(count):
            value = struct.pack(">d", time.time()) + padding
            await producer.send(topic_rt, value, key=f"m-{i % ACCOUNTS}".encode())
            delay = start + (i + 1) / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        round_trip = await asyncio.to_thread(results.get)
        worker.join()

        futures = [
            await producer.send(topic_tp, b"y" * 300, key=f"m-{i % ACCOUNTS}".encode())
            for i in range(backlog)
        ]
        await asyncio.gather(*futures)
        ready, results = ctx.Event(), ctx.Queue()
        worker = ctx.Process(
            target=raw_consumer_process,
            args=(bootstrap, topic_tp, backlog, ready, results, True, switch_interval),
        )
        worker.start()
        throughput = await asyncio.to_thread(results.get)
        worker.join()
    finally:
        await producer.stop()
    return {
        "latency": Latency.of(round_trip["latencies"]),
        "consume_per_s": throughput["count"] / max(throughput["seconds"], 1e-9),
    }


@dataclass
class Step:
    target: float
    achieved: float
    latency: Latency
    ok: bool


async def dpmesh_path(
    ctx: Any, bootstrap: str, api_url: str, worker_url: str, args: Any
) -> dict[str, Any]:
    topic = f"bench.meter.v1.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, {topic: PARTITIONS})
    applied, stop, results = ctx.Value("q", 0), ctx.Event(), ctx.Queue()
    worker = ctx.Process(
        target=dpmesh_worker_process,
        args=(bootstrap, worker_url, topic, applied, stop, results, args.switch_interval),
    )
    worker.start()
    api = ApiSide(bootstrap, api_url, topic)
    await api.start()
    windows: list[tuple[str, float, float, float, float]] = []  # kind, target, achieved, t0, t1

    async def drained(within_s: float) -> bool:
        deadline = time.monotonic() + within_s
        while applied.value < api.committed:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    drain_rate = float("nan")
    try:
        # Warm-up: the consumer joins its group (a few seconds on the embedded broker).
        await api.commit(10)
        if not await drained(60):
            raise RuntimeError("the consumer never caught up with the warm-up events")
        await api.drive(args.rate, 2, args.tick)
        await drained(30)

        t0 = time.time()
        achieved = await api.drive(args.rate, args.seconds, args.tick)
        windows.append(("steady", args.rate, achieved, t0, time.time()))
        await drained(30)
        for step in args.ramp:
            t0 = time.time()
            achieved = await api.drive(step, args.step_seconds, args.ramp_tick)
            windows.append(("ramp", step, achieved, t0, time.time()))
            if not await drained(20):
                break

        # Backlog drain: commit with the relay stopped, then time relay + consumer.
        await drained(30)
        await api.relay.stop()
        for _ in range(args.backlog // 100):
            await api.commit(100)
        started = time.monotonic()
        await api.relay.start()
        if await drained(120):
            drain_rate = (args.backlog // 100 * 100) / (time.monotonic() - started)
    finally:
        await api.stop()
        stop.set()
        samples: list[tuple[str, float]] = await asyncio.to_thread(results.get)
        worker.join()

    applied_at = dict(samples)

    def freshness(t0: float, t1: float) -> Latency:
        # Commit -> projection committed, for the events committed in [t0, t1).
        return Latency.of(
            [
                applied_at[event_id] - committed
                for event_id, committed in api.committed_at.items()
                if t0 <= committed < t1 and event_id in applied_at
            ]
        )

    steady = next(w for w in windows if w[0] == "steady")
    steps: list[Step] = []
    for _kind, target, achieved, t0, t1 in (w for w in windows if w[0] == "ramp"):
        latency = freshness(t0, t1)
        ok = achieved >= 0.95 * target and latency.p99_ms <= args.max_p99_ms
        steps.append(Step(target, achieved, latency, ok))
    sustained = 0.0
    for step in steps:
        if not step.ok:
            break
        sustained = step.achieved
    return {
        "steady": freshness(steady[3], steady[4]),
        "steady_rate": steady[2],
        "steps": steps,
        "sustained": sustained,
        "drain_per_s": drain_rate,
    }


def _print_report(
    args: argparse.Namespace, raw: dict[str, Any], ours: dict[str, Any], where: str
) -> None:
    r: Latency = raw["latency"]
    s: Latency = ours["steady"]
    rows = [
        (f"latency p50 @ {args.rate:.0f} ev/s (ms)", r.p50_ms, s.p50_ms),
        (f"latency p99 @ {args.rate:.0f} ev/s (ms)", r.p99_ms, s.p99_ms),
        ("backlog drain (ev/s)", raw["consume_per_s"], ours["drain_per_s"]),
        ("sustained, live load (ev/s)", float("nan"), ours["sustained"]),
    ]
    switch = f"{args.switch_interval * 1000:g} ms" if args.switch_interval > 0 else "default"
    print()
    print(f"Event backbone benchmark ({where}; {os.cpu_count()} CPUs; GIL switch {switch})")
    print()
    print(f"{'':34} {'raw aiokafka':>13} {'dpmesh':>10} {'ratio':>8}")
    for label, baseline, measured in rows:
        ratio = measured / baseline if baseline == baseline and baseline else float("nan")
        print(f"{label:34} {baseline:13.1f} {measured:10.1f} {ratio:8.2f}")
    print()
    print("raw aiokafka: produce -> consume (acks=all); drain = consumer reading a backlog")
    print("dpmesh: unit-of-work commit -> projection committed in the worker's database")
    print("        (relay woken after commit, Kafka, EventConsumer with inbox, batch projection);")
    print(f"        drain = relay + consumer working off {args.backlog} committed events;")
    print(
        f"        sustained = highest ramp step with the load kept up and p99 <= "
        f"{args.max_p99_ms:.0f} ms"
    )
    print()
    print(
        f"steady run: {s.count} events at {ours['steady_rate']:.0f} ev/s "
        f"(a commit every {args.tick * 1000:.0f} ms), max {s.max_ms:.1f} ms"
    )
    print(f"ramp (a commit every {args.ramp_tick * 1000:.0f} ms):")
    print(f"{'target':>10} {'achieved':>10} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}  ok")
    for step in ours["steps"]:
        print(
            f"{step.target:10.0f} {step.achieved:10.0f} {step.latency.p50_ms:9.1f} "
            f"{step.latency.p99_ms:9.1f} {step.latency.max_ms:9.1f}  {'yes' if step.ok else 'no'}"
        )


async def main(args: argparse.Namespace) -> None:
    configure_logging("WARNING", json=False)
    _tune(args.switch_interval)
    ctx = mp.get_context("spawn")
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    with contextlib.ExitStack() as stack:
        if configured:
            bootstrap, where = configured, f"broker {configured}"
        else:
            from dpmesh.runtime.broker import EmbeddedBroker

            broker = stack.enter_context(EmbeddedBroker())
            bootstrap, where = broker.bootstrap_servers, "embedded broker"
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dpmesh-bench-")))
        if args.database_url:
            api_url = worker_url = args.database_url
            where += ", " + args.database_url.split(":", 1)[0]
        else:
            api_url = f"sqlite+aiosqlite:///{folder / 'context.db'}"
            worker_url = f"sqlite+aiosqlite:///{folder / 'analytics.db'}"
            where += ", SQLite"
        raw = await raw_baseline(
            ctx, bootstrap, args.rate, args.seconds, args.backlog, args.switch_interval
        )
        ours = await dpmesh_path(ctx, bootstrap, api_url, worker_url, args)
        _print_report(args, raw, ours, where)


def _parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=500, help="events/s of the steady run")
    parser.add_argument("--seconds", type=float, default=10, help="length of the steady run")
    parser.add_argument("--tick", type=float, default=0.02, help="s between steady commits")
    parser.add_argument(
        "--ramp",
        type=lambda text: [float(x) for x in text.split(",")],
        default=[1000, 1500, 2000, 2500, 3000, 4000],
        help="comma-separated events/s steps of the ramp",
    )
    parser.add_argument("--ramp-tick", type=float, default=0.05, help="s between ramp commits")
    parser.add_argument("--step-seconds", type=float, default=5)
    parser.add_argument("--max-p99-ms", type=float, default=1000, help="bounded-lag criterion")
    parser.add_argument("--backlog", type=int, default=20_000, help="events in the drain tests")
    parser.add_argument("--database-url", default="", help="default: two SQLite files")
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=0.001,
        help="sys.setswitchinterval for every process (0: Python's default, 5 ms)",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(_parse()))
