"""The outbox relay: publishes committed outbox rows to Kafka, in order, at least once.

One round claims up to ``batch_size`` unpublished rows in ``seq`` order, publishes
them, waits for the broker's acknowledgements and marks the acknowledged rows
published, all inside one database transaction. A crash between the acks and the
commit publishes those rows again on the next round: consumers deduplicate by event
id (the inbox), so at-least-once delivery is enough.

Per-key order. Records of one key land on one partition. The relay builds the
record batches itself, one chain per partition: a partition's next batch is sent
only after the previous one was acknowledged, and a failed batch ends that
partition's chain for the round. So a later event of a key can never reach the
broker before an earlier one that failed, whatever the producer's retries do (a
plain ``send()`` could let a second queued batch through after the first expired).
Rows are marked only when acknowledged; failed ones keep ``published_at`` NULL and
get ``attempts``/``last_error``, and the next round starts from them again.

Several relays (PostgreSQL only). Each round takes its rows with ``FOR UPDATE SKIP
LOCKED`` and keeps, for each key, only rows that form the *prefix* of that key's
unpublished rows: if an earlier row of the key is unpublished and not ours (locked
by another relay that is publishing it right now), our rows of that key wait for a
later round. The row lock on the earliest unpublished row of a key is exclusive, so
only one relay at a time can publish a key; and a relay commits ``published_at``
only after the broker acknowledged, so the next owner starts after it. A
per-key advisory lock alone would not do: two relays scanning concurrently can end
up holding interleaved rows of one key (1 and 3 here, 2 there). Per-key order also
rests on the writer side: two transactions that change one aggregate are
serialised by its version check before they insert outbox rows, so ``seq`` follows
commit order within a key.

SQLite: one relay per database file. Nothing there locks rows, so two relays could
publish the same rows twice, or interleave a key.

Wake-up. ``wake()`` is the unit of work's ``after_commit`` callback in the same
process; on PostgreSQL the relay also LISTENs to the ``pg_notify`` the outbox
writer issues in the inserting transaction, which wakes relays in other processes.
A poll every ``poll_interval_s`` is the fallback (the only cross-process path on
SQLite).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared_kernel.infrastructure.messaging.cloudevents import Headers, encode
from shared_kernel.infrastructure.messaging.producer import (
    KeyPartitioner,
    build_producer,
    context_source,
    event_dataschema,
    traceparent_for,
)
from shared_kernel.infrastructure.messaging.topics import ensure_topics
from shared_kernel.infrastructure.metrics import MetricSet
from shared_kernel.infrastructure.persistence.outbox import (
    mark_for_replay,
    outbox_channel,
    purge_published,
)
from shared_kernel.infrastructure.settings import ContextSettings, KafkaSettings

__all__ = ["OutboxRelay", "OutboxRow", "PublishFailed", "RelayMetrics"]

log = structlog.get_logger(__name__)

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_BACKLOG_REFRESH_S = 1.0
_LISTEN_RETRY_S = 5.0


class PublishFailed(RuntimeError):
    """Some rows of a round were not acknowledged; they stay unpublished."""


class OutboxRow(NamedTuple):
    """The columns of an outbox row the relay needs, in ``_claim``'s select order."""

    seq: int
    event_id: str
    event_type: str
    schema_version: int
    topic: str
    message_key: str
    occurred_at: datetime
    payload: str
    headers: str
    recorded_at: datetime


class RelayMetrics(MetricSet):
    """The relay's Prometheus series, one set per registry, labelled by context."""

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__(registry)
        self.backlog = Gauge(
            "dpmesh_outbox_backlog_events",
            "Outbox rows committed but not yet acknowledged by the broker.",
            ["context"],
            registry=registry,
        )
        self.latency = Histogram(
            "dpmesh_outbox_publish_latency_seconds",
            "From the outbox insert to the broker's acknowledgement.",
            ["context"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.published = Counter(
            "dpmesh_outbox_published",
            "Outbox rows published and marked.",
            ["context"],
            registry=registry,
        )
        self.broker_lost_topics = Gauge(
            "dpmesh_outbox_broker_lost_topics",
            "Topics the relay published to that the broker no longer has (a wiped broker: "
            "replay the outbox).",
            ["context"],
            registry=registry,
        )
        self.failures = Counter(
            "dpmesh_outbox_publish_failures",
            "Relay rounds that left rows unpublished (broker or database errors).",
            ["context"],
            registry=registry,
        )


class _Backoff:
    def __init__(self, initial: float, maximum: float) -> None:
        self._initial = initial
        self._maximum = maximum
        self._next = initial

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self._maximum)
        return delay

    def reset(self) -> None:
        self._next = self._initial


class OutboxRelay:
    """Publishes one context's outbox to Kafka; see the module docstring for guarantees.

    In a worker process ``await relay.run()``; inside an API process ``await
    relay.start()`` and ``await relay.stop()`` around the app's lifetime, and pass
    ``relay.wake`` to the unit of work as its ``after_commit`` callback.
    """

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        table: Table,
        kafka: KafkaSettings,
        context: str,
        registry: CollectorRegistry,
        batch_size: int = 500,
        poll_interval_s: float = 0.5,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 5.0,
        request_timeout_ms: int | None = None,
        listen: bool = True,
        replay_on_broker_loss: bool = False,
        topic_check_interval_s: float = 10.0,
        retention: timedelta | None = None,
        purge_interval_s: float = 3600.0,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._engine = engine
        self._table = table
        self._kafka = kafka
        self._context = context
        self._source = context_source(context)
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._backoff = _Backoff(backoff_initial_s, backoff_max_s)
        self._request_timeout_ms = request_timeout_ms or kafka.request_timeout_ms
        self._postgres = engine.dialect.name == "postgresql"
        self._listen_enabled = listen and self._postgres
        metrics = RelayMetrics.for_registry(registry)
        self._m_backlog = metrics.backlog.labels(context)
        self._m_latency = metrics.latency.labels(context)
        self._m_published = metrics.published.labels(context)
        self._m_failures = metrics.failures.labels(context)
        self._m_lost_topics = metrics.broker_lost_topics.labels(context)
        self._replay_on_broker_loss = replay_on_broker_loss
        self._retention = retention
        self._purge_interval_s = purge_interval_s
        self._purged_at = float("-inf")
        self._topic_check_interval_s = topic_check_interval_s
        self._topics_checked_at = float("-inf")
        #: Topics this outbox has published to; None until read from the database.
        self._published_topics: set[str] | None = None
        #: Topics the last check found missing (empty when the broker has them all).
        self.lost_topics: frozenset[str] = frozenset()
        self._partitioner = KeyPartitioner()
        self._producer: Any = None
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._listener: Any = None
        self._conn: AsyncConnection | None = None
        self._listen_attempted_at = float("-inf")
        self._backlog_refreshed_at = float("-inf")
        self._log = log.bind(context=context, relay_table=table.name)

    @classmethod
    def from_settings(
        cls,
        *,
        engine: AsyncEngine,
        table: Table,
        kafka: KafkaSettings,
        settings: ContextSettings,
        context: str,
        registry: CollectorRegistry,
    ) -> OutboxRelay:
        return cls(
            engine=engine,
            table=table,
            kafka=kafka,
            context=context,
            registry=registry,
            batch_size=settings.relay_batch_size,
            poll_interval_s=settings.relay_poll_interval_s,
            replay_on_broker_loss=settings.relay_replay_on_broker_loss,
            retention=timedelta(days=settings.outbox_retention_days),
        )

    @property
    def listening(self) -> bool:
        """Whether a PostgreSQL LISTEN connection is up (commits elsewhere wake us)."""
        return self._listener is not None and not self._listener.is_closed()

    # -- lifecycle -------------------------------------------------------------

    def wake(self) -> None:
        """Publish now rather than at the next poll. Cheap; safe from any thread."""
        loop = self._loop
        if loop is None or _running_loop() is loop:
            self._wakeup.set()
        else:
            loop.call_soon_threadsafe(self._wakeup.set)

    async def start(self) -> None:
        """Run in a background task of the current event loop (e.g. an API process)."""
        if self._task is not None and not self._task.done():
            raise RuntimeError("the relay is already running")
        self._stopping.clear()
        self._task = asyncio.create_task(self.run(), name=f"outbox-relay-{self._context}")

    async def stop(self, grace_s: float = 30.0) -> None:
        """Finish the round in flight, then stop; cancel after ``grace_s``."""
        self._stopping.set()
        self._wakeup.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), grace_s)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(self) -> None:
        """Publish until ``stop()`` (or cancellation); returns at once if already stopped."""
        self._loop = asyncio.get_running_loop()
        self._log.info("outbox_relay.starting", batch_size=self._batch_size)
        try:
            if not await self._start_producer():
                return
            while not self._stopping.is_set():
                self._wakeup.clear()
                try:
                    published = await self.publish_batch()
                except Exception as exc:
                    self._m_failures.inc()
                    delay = self._backoff.next()
                    self._log.warning(
                        "outbox_relay.round_failed",
                        error=_describe(exc),
                        retry_in_s=delay,
                    )
                    await self._refresh_backlog()
                    await self._check_topics(force=True)
                    await self._sleep(delay)
                    continue
                self._backoff.reset()
                await self._check_topics()
                await self._purge_expired()
                if published >= self._batch_size:
                    await self._refresh_backlog()
                    continue  # a backlog: go on at once
                await self._refresh_backlog()
                await self._idle()
        finally:
            await self._close_listener()
            await self._release_connection()
            if self._producer is not None:
                producer, self._producer = self._producer, None
                with contextlib.suppress(Exception):
                    await producer.stop()
            self._log.info("outbox_relay.stopped")

    # -- one round -------------------------------------------------------------

    async def publish_batch(self) -> int:
        """Claim, publish and mark one batch; the number of rows marked published.

        Raises :class:`PublishFailed` when some claimed rows were not acknowledged
        (the acknowledged ones are marked all the same).
        """
        if self._producer is None:
            raise RuntimeError("the relay's producer is not started; use run() or start()")
        failure: BaseException | None = None
        conn = await self._connection()
        try:
            async with conn.begin():
                rows = await self._claim(conn)
                if not rows:
                    return 0
                acked, failed, failure = await self._publish(rows)
                if self._published_topics is not None:
                    self._published_topics.update(row.topic for row in acked)
                acked_at = datetime.now(UTC)
                if acked:
                    await self._mark_published(conn, acked)
                if failed:
                    await self._record_failure(conn, failed, failure)
        except BaseException:
            await self._release_connection()  # a fresh one next round
            raise
        self._m_published.inc(len(acked))
        for row in acked:
            self._m_latency.observe(max(0.0, (acked_at - _utc(row.recorded_at)).total_seconds()))
        if failure is not None:
            raise PublishFailed(
                f"{len(failed)} of {len(rows)} outbox rows not published: {_describe(failure)}"
            ) from failure
        self._log.debug("outbox_relay.published", count=len(acked))
        return len(acked)

    async def _claim(self, conn: AsyncConnection) -> list[OutboxRow]:
        t = self._table
        query = (
            select(
                t.c.seq,
                t.c.event_id,
                t.c.event_type,
                t.c.schema_version,
                t.c.topic,
                t.c.message_key,
                t.c.occurred_at,
                t.c.payload,
                t.c.headers,
                t.c.recorded_at,
            )
            .where(t.c.published_at.is_(None))
            .order_by(t.c.seq)
            .limit(self._batch_size)
        )
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        rows = [OutboxRow._make(row) for row in (await conn.execute(query)).all()]
        if self._postgres and rows:
            rows = await self._key_prefixes(conn, rows)
        return rows

    async def _key_prefixes(self, conn: AsyncConnection, rows: list[OutboxRow]) -> list[OutboxRow]:
        """Keep, per key, the claimed rows that precede every unpublished row not ours."""
        t = self._table
        mine = {row.seq for row in rows}
        keys = {row.message_key for row in rows}
        pending = await conn.execute(
            select(t.c.seq, t.c.message_key)
            .where(
                t.c.published_at.is_(None),
                t.c.message_key.in_(keys),
                t.c.seq <= max(mine),
            )
            .order_by(t.c.seq)
        )
        # Walk the key's unpublished rows in order: ours until the first foreign one.
        first_foreign: dict[str, int] = {}
        for seq, key in pending:
            if seq not in mine and key not in first_foreign:
                first_foreign[key] = seq
        if not first_foreign:
            return rows
        return [
            row
            for row in rows
            if row.message_key not in first_foreign or row.seq < first_foreign[row.message_key]
        ]

    async def _publish(
        self, rows: list[OutboxRow]
    ) -> tuple[list[OutboxRow], list[OutboxRow], BaseException | None]:
        """Send ``rows`` as one batch chain per partition; (acked, failed, first error)."""
        acked: list[OutboxRow] = []
        failed: list[OutboxRow] = []
        failure: BaseException | None = None
        # A topic without metadata (unknown, broker unreachable) fails its own rows only.
        partition_counts: dict[str, int] = {}
        for topic in {row.topic for row in rows}:
            try:
                partition_counts[topic] = len(await self._producer.partitions_for(topic))
            except Exception as exc:
                failure = failure or exc
                failed.extend(row for row in rows if row.topic == topic)
        chains: dict[tuple[str, int], list[OutboxRow]] = defaultdict(list)
        for row in rows:
            if row.topic in partition_counts:
                partition = self._partitioner(row.message_key.encode(), partition_counts[row.topic])
                chains[(row.topic, partition)].append(row)

        outcomes = await asyncio.gather(
            *(
                self._send_chain(topic, partition, chain)
                for (topic, partition), chain in chains.items()
            )
        )
        for chain_acked, chain_failed, chain_error in outcomes:
            acked.extend(chain_acked)
            failed.extend(chain_failed)
            if failure is None and chain_error is not None:
                failure = chain_error
        acked.sort(key=lambda row: row.seq)
        return acked, failed, failure

    async def _send_chain(
        self, topic: str, partition: int, rows: list[OutboxRow]
    ) -> tuple[list[OutboxRow], list[OutboxRow], BaseException | None]:
        """Send ``rows`` (one partition, ``seq`` order) batch after batch; stop at a failure."""
        acked: list[OutboxRow] = []
        position = 0
        timeout_s = self._request_timeout_ms / 1000 * 3 + 1
        while position < len(rows):
            batch = self._producer.create_batch()
            start = position
            try:
                while position < len(rows):
                    key, value, headers = self._message(rows[position])
                    if batch.append(key=key, value=value, headers=headers, timestamp=None) is None:
                        break
                    position += 1
                if position == start:
                    raise PublishFailed(
                        f"outbox row {rows[start].seq} ({rows[start].event_type}) is too large "
                        "for one Kafka record batch"
                    )
                batch.close()
                future = await self._producer.send_batch(batch, topic, partition=partition)
                async with asyncio.timeout(timeout_s):
                    await future
            except Exception as exc:
                return acked, rows[start:], exc
            acked.extend(rows[start:position])
        return acked, [], None

    def _message(self, row: OutboxRow) -> tuple[bytes, bytes, Headers]:
        correlation_id, traceparent = _stored_headers(row.headers)
        extensions = {"correlationid": correlation_id} if correlation_id else None
        return encode(
            event_id=row.event_id,
            source=self._source,
            event_type=row.event_type,
            time=_utc(row.occurred_at),
            subject=row.message_key,
            payload=row.payload.encode(),
            dataschema=event_dataschema(row.event_type, row.schema_version),
            traceparent=traceparent or traceparent_for(row.event_id, correlation_id),
            extensions=extensions,
        )

    async def _mark_published(self, conn: AsyncConnection, rows: Sequence[OutboxRow]) -> None:
        """Set ``published_at`` on acknowledged rows (inside the round's transaction)."""
        t = self._table
        await conn.execute(
            update(t)
            .where(t.c.seq.in_([row.seq for row in rows]))
            .values(published_at=datetime.now(UTC))
        )

    async def _record_failure(
        self, conn: AsyncConnection, rows: Sequence[OutboxRow], error: BaseException | None
    ) -> None:
        t = self._table
        await conn.execute(
            update(t)
            .where(t.c.seq.in_([row.seq for row in rows]))
            .values(attempts=t.c.attempts + 1, last_error=_describe(error)[:2000])
        )

    # -- helpers ---------------------------------------------------------------

    async def _start_producer(self) -> bool:
        while not self._stopping.is_set():
            producer = build_producer(
                self._kafka,
                client_id=f"{self._kafka.client_id}-relay-{self._context}",
                request_timeout_ms=self._request_timeout_ms,
            )
            try:
                await producer.start()
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await producer.stop()
                delay = self._backoff.next()
                self._m_failures.inc()
                self._log.warning(
                    "outbox_relay.broker_unavailable", error=_describe(exc), retry_in_s=delay
                )
                await self._sleep(delay)
                continue
            self._producer = producer
            self._backoff.reset()
            return True
        return False

    async def _purge_expired(self) -> None:
        """Delete published rows past the retention, at most once per purge interval."""
        now = time.monotonic()
        if self._retention is None or now - self._purged_at < self._purge_interval_s:
            return
        self._purged_at = now
        try:
            purged = await purge_published(
                self._engine, self._table, before=datetime.now(UTC) - self._retention
            )
        except Exception as exc:
            self._log.warning("outbox_relay.purge_failed", error=_describe(exc))
            return
        if purged:
            self._log.info("outbox_relay.purged", rows=purged, retention=str(self._retention))

    async def _check_topics(self, *, force: bool = False) -> None:
        """Compare the topics this outbox published to with the broker's; a topic gone
        means the broker lost its data (the embedded broker keeps it in memory).

        Then, with ``replay_on_broker_loss``, the lost topics are created again and the
        whole outbox is marked for replay; otherwise the relay says what to do, at each
        check, until the topics are back.
        """
        now = time.monotonic()
        if not force and now - self._topics_checked_at < self._topic_check_interval_s:
            return
        self._topics_checked_at = now
        try:
            if self._published_topics is None:
                t = self._table
                async with self._engine.connect() as conn:
                    rows = await conn.execute(
                        select(t.c.topic).where(t.c.published_at.is_not(None)).distinct()
                    )
                    self._published_topics = {str(topic) for (topic,) in rows}
            if not self._published_topics or self._producer is None:
                return
            metadata = await self._producer.client.fetch_all_metadata()
            missing = frozenset(self._published_topics - set(metadata.topics()))
        except Exception as exc:
            self._log.debug("outbox_relay.topic_check_failed", error=_describe(exc))
            return
        self.lost_topics = missing
        self._m_lost_topics.set(len(missing))
        if not missing:
            return
        if not self._replay_on_broker_loss:
            self._log.error(
                "outbox_relay.broker_lost_topics",
                topics=sorted(missing),
                remedy=f"the broker lost published events: run 'dpmesh replay {self._context}' "
                f"(or set {self._context.upper()}_RELAY_REPLAY_ON_BROKER_LOSS=true)",
            )
            return
        await ensure_topics(
            self._kafka.bootstrap_servers,
            dict.fromkeys(missing, self._kafka.topic_partitions),
            self._kafka.topic_replication,
            client_id=f"{self._kafka.client_id}-relay-topics",
            request_timeout_ms=self._request_timeout_ms,
        )
        replayed = await mark_for_replay(self._engine, self._table)
        self._log.warning(
            "outbox_relay.replaying_after_broker_loss", topics=sorted(missing), rows=replayed
        )
        self.lost_topics = frozenset()
        self._m_lost_topics.set(0)
        self.wake()

    async def _idle(self) -> None:
        await self._ensure_listener()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), self._poll_interval_s)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _connection(self) -> AsyncConnection:
        """The relay's own connection, kept between rounds (a round trip less each)."""
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = await self._engine.connect()
        return self._conn

    async def _release_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def _refresh_backlog(self) -> None:
        """Count unpublished rows for the gauge, at most once a second."""
        now = time.monotonic()
        if now - self._backlog_refreshed_at < _BACKLOG_REFRESH_S:
            return
        self._backlog_refreshed_at = now
        t = self._table
        try:
            conn = await self._connection()
            count = await conn.scalar(
                select(func.count()).select_from(t).where(t.c.published_at.is_(None))
            )
            await conn.rollback()  # end the read transaction the count began
        except Exception as exc:
            await self._release_connection()
            self._log.warning("outbox_relay.backlog_unknown", error=_describe(exc))
            return
        self._m_backlog.set(count or 0)

    async def _ensure_listener(self) -> None:
        """LISTEN on PostgreSQL for commits made by other processes (best effort)."""
        if not self._listen_enabled:
            return
        if self.listening:
            return
        now = time.monotonic()
        if now - self._listen_attempted_at < _LISTEN_RETRY_S:
            return
        self._listen_attempted_at = now
        import asyncpg  # PostgreSQL only

        dsn = self._engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            listener = await asyncpg.connect(dsn)
            await listener.add_listener(outbox_channel(self._table), self._on_notify)
        except Exception as exc:
            self._log.warning("outbox_relay.listen_failed", error=_describe(exc))
            return
        self._listener = listener

    def _on_notify(self, *_args: object) -> None:
        self._wakeup.set()

    async def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(Exception):
                await listener.close()


@functools.lru_cache(maxsize=1024)
def _stored_headers(text: str | None) -> tuple[str | None, str | None]:
    """``(correlation id, traceparent)`` from a row's ``headers`` JSON.

    Memoised: all rows of one transaction, often of one request, share the text.
    """
    try:
        stored = json.loads(text or "{}")
    except ValueError:
        return None, None
    if not isinstance(stored, dict):
        return None, None
    correlation_id = stored.get("correlation_id")
    traceparent = stored.get("traceparent")
    return (
        correlation_id if isinstance(correlation_id, str) and correlation_id else None,
        traceparent if isinstance(traceparent, str) and traceparent else None,
    )


def _utc(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; everything the outbox stores is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "unknown error"
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
