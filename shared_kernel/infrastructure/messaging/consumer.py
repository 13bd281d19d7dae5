"""Idempotent event consumers: the building block of projections and ACLs.

Delivery is at least once (the relay may publish twice, a rebalance may hand a
partition over before its offsets were committed), so a consumer records each
event id it applied in its inbox, in the same database transaction as the effect.
An id already in the inbox is skipped: a redelivery changes nothing.

Flow per poll: decode every record (CloudEvents binary mode); apply all new events
in one transaction (handler calls plus inbox rows); commit; publish dead letters;
then commit the Kafka offsets. Offsets therefore only ever cover events that are
applied or dead-lettered.

Failures:

- malformed bytes or a message that is not a CloudEvent, and handlers raising
  :class:`PermanentEventError` or ``pydantic.ValidationError`` (schema-invalid data):
  the event goes to ``<topic>.dlq`` at once (see ``dead_letter``);
- anything else a handler raises is taken as transient (database busy, connection
  lost...): retried with capped exponential backoff, ``max_attempts`` times in all,
  then dead-lettered with the last error;
- if the consumer's *own* inbox statements fail, the database itself is unavailable
  and no event is at fault: the consumer waits with backoff, without dead-lettering,
  until it is back (or it is stopped, leaving the offsets uncommitted).

When a batch fails, it is rolled back and its events are applied one per
transaction, so one bad event costs its own retries only.

Handlers come in two shapes. ``handler(envelope, session)`` is called once per new
event. ``batch_handler(envelopes, session)`` receives all new events of a poll at
once (per partition in offset order; after a failure, one at a time), which lets a
projection turn hundreds of events into a few statements: with per-event
statements the database round trips, not Kafka, bound the throughput.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import OffsetAndMetadata
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pydantic import ValidationError
from sqlalchemy import Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared_kernel.infrastructure.logging import bind_correlation_id
from shared_kernel.infrastructure.messaging.cloudevents import (
    EventEnvelope,
    MalformedEvent,
    decode,
)
from shared_kernel.infrastructure.messaging.dead_letter import (
    DeadLetter,
    DeadLetterPublisher,
    dead_letter_topic,
)
from shared_kernel.infrastructure.messaging.topics import TopicConfigurationError, ensure_topics
from shared_kernel.infrastructure.metrics import MetricSet
from shared_kernel.infrastructure.settings import KafkaSettings

__all__ = [
    "BatchEventHandler",
    "ConsumerMetrics",
    "EventConsumer",
    "EventHandler",
    "PermanentEventError",
]

log = structlog.get_logger(__name__)

EventHandler = Callable[[EventEnvelope, AsyncSession], Awaitable[None]]
BatchEventHandler = Callable[[Sequence[EventEnvelope], AsyncSession], Awaitable[None]]

_FRESHNESS_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
)  # fmt: skip
_INBOX_CHUNK = 500


class PermanentEventError(Exception):
    """The event can never be applied as it is; retrying would not help.

    Raise it from a handler (e.g. a reference the event names does not exist and
    cannot appear later); the event goes to the dead-letter topic with ``str(exc)``
    as the reason.
    """


#: Errors that dead-letter an event at once.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    PermanentEventError,
    ValidationError,
    MalformedEvent,
)


class _DatabaseUnavailable(Exception):
    """The consumer's own inbox statements failed: not the event's fault."""


class _Stopped(Exception):
    """Stop was requested while waiting for the database; leave offsets uncommitted."""


class ConsumerMetrics(MetricSet):
    """The consumers' Prometheus series, one set per registry, labelled by consumer."""

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__(registry)
        self.processed = Counter(
            "dpmesh_consumer_events_processed",
            "Events applied (handler run and inbox row committed).",
            ["consumer"],
            registry=registry,
        )
        self.duplicates = Counter(
            "dpmesh_consumer_duplicates_skipped",
            "Redelivered events skipped because their id was already in the inbox.",
            ["consumer"],
            registry=registry,
        )
        self.dead_lettered = Counter(
            "dpmesh_consumer_dead_lettered",
            "Events sent to the dead-letter topic, by kind: malformed, permanent, transient.",
            ["consumer", "kind"],
            registry=registry,
        )
        self.retries = Counter(
            "dpmesh_consumer_retries",
            "Handler attempts retried after a transient error.",
            ["consumer"],
            registry=registry,
        )
        self.freshness = Histogram(
            "dpmesh_consumer_freshness_seconds",
            "From the event's time (ce_time) to its effect being committed.",
            ["consumer"],
            buckets=_FRESHNESS_BUCKETS,
            registry=registry,
        )
        self.lag = Gauge(
            "dpmesh_consumer_lag_records",
            "Records on the assigned partitions not yet processed (at the last poll).",
            ["consumer"],
            registry=registry,
        )


class EventConsumer:
    """Applies events from ``topics`` through a handler exactly once per event id.

    ``name`` identifies the consumer in the inbox (and is the default group id):
    keep it stable, or every event is applied again. Give either ``handler`` or
    ``batch_handler``. It receives the decoded envelope(s) and the session of the
    transaction that records them in the inbox; it must do its writes through that
    session and must not commit. ``on_applied`` is called with the events whose
    effects were just committed (e.g. to push a change to subscribers).
    """

    def __init__(
        self,
        *,
        name: str,
        topics: Sequence[str],
        session_factory: async_sessionmaker[AsyncSession],
        inbox: Table,
        kafka: KafkaSettings,
        registry: CollectorRegistry,
        handler: EventHandler | None = None,
        batch_handler: BatchEventHandler | None = None,
        group_id: str | None = None,
        max_batch: int = 500,
        max_attempts: int = 5,
        retry_backoff_s: float = 0.1,
        retry_backoff_max_s: float = 2.0,
        poll_timeout_ms: int = 200,
        auto_offset_reset: str = "earliest",
        dead_letter_partitions: int = 1,
        on_applied: Callable[[Sequence[EventEnvelope]], None] | None = None,
    ) -> None:
        if not topics:
            raise ValueError("an EventConsumer needs at least one topic")
        if (handler is None) == (batch_handler is None):
            raise ValueError("give exactly one of handler and batch_handler")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.name = name
        self._topics = list(topics)
        self._apply_events: BatchEventHandler = batch_handler or _one_by_one(handler)
        self._session_factory = session_factory
        self._inbox = inbox
        self._kafka = kafka
        self._group_id = group_id or name
        self._max_batch = max_batch
        self._max_attempts = max_attempts
        self._retry_backoff_s = retry_backoff_s
        self._retry_backoff_max_s = retry_backoff_max_s
        self._poll_timeout_ms = poll_timeout_ms
        self._auto_offset_reset = auto_offset_reset
        self._dead_letter_partitions = dead_letter_partitions
        self._on_applied = on_applied
        metrics = ConsumerMetrics.for_registry(registry)
        self._m_processed = metrics.processed.labels(name)
        self._m_duplicates = metrics.duplicates.labels(name)
        self._m_retries = metrics.retries.labels(name)
        self._m_freshness = metrics.freshness.labels(name)
        self._m_lag = metrics.lag.labels(name)
        self._m_dead = {
            kind: metrics.dead_lettered.labels(name, kind)
            for kind in ("malformed", "permanent", "transient")
        }
        self._consumer: Any = None
        self._dead_letters = DeadLetterPublisher(kafka, client_id=f"{kafka.client_id}-{name}-dlq")
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._next_offsets: dict[Any, int] = {}
        self._log = log.bind(consumer=name)

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Run in a background task of the current event loop."""
        if self._task is not None and not self._task.done():
            raise RuntimeError("the consumer is already running")
        self._stopping.clear()
        self._task = asyncio.create_task(self.run(), name=f"event-consumer-{self.name}")

    async def stop(self, grace_s: float = 30.0) -> None:
        """Finish the batch in hand, commit its offsets, leave the group."""
        self._stopping.set()
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
        """Consume until ``stop()`` (or cancellation); returns at once if already stopped."""
        self._log.info("event_consumer.starting", topics=self._topics, group_id=self._group_id)
        committing: asyncio.Task[None] | None = None
        try:
            if not await self._start_clients():
                return
            while not self._stopping.is_set():
                try:
                    batches = await self._consumer.getmany(
                        timeout_ms=self._poll_timeout_ms, max_records=self._max_batch
                    )
                except Exception as exc:
                    self._log.warning("event_consumer.poll_failed", error=_describe(exc))
                    await self._sleep(self._retry_backoff_s)
                    continue
                if not batches:
                    continue
                records = [record for tp in sorted(batches) for record in batches[tp]]
                try:
                    await self.process(records)
                except _Stopped:
                    break
                except Exception as exc:
                    # Not an event's fault (those are retried or dead-lettered inside):
                    # fetch the same records again after a pause, commit nothing.
                    self._log.error("event_consumer.batch_aborted", error=_describe(exc))
                    for tp, recs in batches.items():
                        if recs:
                            self._consumer.seek(tp, recs[0].offset)
                    await self._sleep(self._retry_backoff_max_s)
                    continue
                offsets = {
                    tp: OffsetAndMetadata(recs[-1].offset + 1, "")
                    for tp, recs in batches.items()
                    if recs
                }
                # The offset commit runs while the next batch is fetched and applied;
                # commits stay in order because each waits for the previous one.
                if committing is not None:
                    await committing
                committing = asyncio.create_task(self._commit(offsets))
                self._update_lag(offsets)
        finally:
            if committing is not None:
                with contextlib.suppress(Exception):
                    await committing
            await self._close_clients()
            self._log.info("event_consumer.stopped")

    # -- processing ------------------------------------------------------------

    async def process(self, records: Sequence[Any]) -> None:
        """Apply (or dead-letter) ``records``, in order within each partition.

        Public so a replay tool or a test can feed records without a group; only
        dead letters need the Kafka clients, i.e. a running consumer.
        """
        decoded: list[tuple[Any, EventEnvelope]] = []
        dead: list[tuple[Any, str, str]] = []  # record, reason, kind
        for record in records:
            try:
                envelope = decode(record.headers, record.key, record.value)
            except MalformedEvent as exc:
                dead.append((record, exc.reason, "malformed"))
                continue
            decoded.append((record, envelope))
        if decoded:
            dead.extend(await self._apply(decoded))
        if dead:
            dead.sort(key=lambda item: (item[0].topic, item[0].partition, item[0].offset))
            for record, reason, kind in dead:
                await self._dead_letter(record, reason, kind)

    async def _apply(self, decoded: list[tuple[Any, EventEnvelope]]) -> list[tuple[Any, str, str]]:
        """Apply new events in one transaction; fall back to one by one on any error."""
        unique: list[tuple[Any, EventEnvelope]] = []
        seen: set[str] = set()
        duplicates = 0
        for record, envelope in decoded:
            if envelope.id in seen:
                duplicates += 1
                continue
            seen.add(envelope.id)
            unique.append((record, envelope))
        try:
            applied, already = await self._apply_batch(unique)
        except Exception as exc:
            self._log.info(
                "event_consumer.batch_failed_applying_one_by_one",
                events=len(unique),
                error=_describe(exc),
            )
            self._m_duplicates.inc(duplicates)
            return await self._apply_one_by_one(unique)
        self._m_duplicates.inc(duplicates + already)
        self._applied(applied)
        return []

    async def _apply_batch(
        self, items: list[tuple[Any, EventEnvelope]]
    ) -> tuple[list[EventEnvelope], int]:
        async with self._session_factory() as session:
            fresh = await self._record_in_inbox(session, [envelope for _, envelope in items])
            if fresh:
                await self._apply_events(fresh, session)
            await session.commit()
        return fresh, len(items) - len(fresh)

    async def _apply_one_by_one(
        self, items: list[tuple[Any, EventEnvelope]]
    ) -> list[tuple[Any, str, str]]:
        dead: list[tuple[Any, str, str]] = []
        for record, envelope in items:
            failure = await self._apply_with_retries(envelope)
            if failure is not None:
                dead.append((record, *failure))
        return dead

    async def _apply_with_retries(self, envelope: EventEnvelope) -> tuple[str, str] | None:
        """None when applied or a duplicate, else ``(reason, kind)`` for the dead letter."""
        attempt = 0
        outage_delay = self._retry_backoff_s
        while True:
            try:
                applied = await self._apply_single(envelope)
            except _DatabaseUnavailable as exc:
                self._log.warning(
                    "event_consumer.database_unavailable",
                    error=_describe(exc.__cause__),
                    retry_in_s=outage_delay,
                )
                await self._sleep(outage_delay)
                if self._stopping.is_set():
                    raise _Stopped from exc
                outage_delay = min(outage_delay * 2, self._retry_backoff_max_s)
                continue
            except PERMANENT_ERRORS as exc:
                return _describe(exc), "permanent"
            except Exception as exc:
                attempt += 1
                if attempt >= self._max_attempts:
                    return f"gave up after {attempt} attempts: {_describe(exc)}", "transient"
                delay = min(self._retry_backoff_s * 2 ** (attempt - 1), self._retry_backoff_max_s)
                self._m_retries.inc()
                self._log.warning(
                    "event_consumer.retrying",
                    event_id=envelope.id,
                    event_type=envelope.type,
                    attempt=attempt,
                    error=_describe(exc),
                    retry_in_s=delay,
                )
                await self._sleep(delay)
                if self._stopping.is_set():
                    raise _Stopped from exc
                continue
            if applied:
                self._applied([envelope])
            else:
                self._m_duplicates.inc()
            return None

    async def _apply_single(self, envelope: EventEnvelope) -> bool:
        async with self._session_factory() as session:
            try:
                if not await self._record_in_inbox(session, [envelope]):
                    return False
            except IntegrityError:
                return False  # another member of the group applied it meanwhile
            except Exception as exc:
                raise _DatabaseUnavailable() from exc
            await self._apply_events([envelope], session)
            await session.commit()
        return True

    async def _record_in_inbox(
        self, session: AsyncSession, envelopes: Sequence[EventEnvelope]
    ) -> list[EventEnvelope]:
        """Insert the inbox rows of ``envelopes``; those that were not there yet.

        One ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` both deduplicates and
        records (PostgreSQL, SQLite >= 3.35): the unique key decides, so two
        members racing for one event cannot both apply it. It also avoids a
        ``SELECT ... IN (...)`` whose cached generic plan PostgreSQL may turn into
        a scan of the consumer's whole inbox.
        """
        conn = await session.connection()  # Core execution: no ORM overhead per statement
        now = datetime.now(UTC)
        rows: list[dict[str, Any]] = [
            {"consumer": self.name, "event_id": envelope.id, "processed_at": now}
            for envelope in envelopes
        ]
        inserted: set[str] = set()
        upsert = _insert_ignoring_duplicates(conn.dialect.name)
        for start in range(0, len(rows), _INBOX_CHUNK):
            chunk = rows[start : start + _INBOX_CHUNK]
            if upsert is not None:
                statement = upsert(self._inbox).on_conflict_do_nothing()
                # executemany: SQLAlchemy batches it into multi-row INSERTs ("insertmanyvalues")
                result = await conn.execute(statement.returning(self._inbox.c.event_id), chunk)
                inserted.update(result.scalars())
                continue
            inbox = self._inbox
            ids = [row["event_id"] for row in chunk]
            known = await conn.execute(
                select(inbox.c.event_id).where(
                    inbox.c.consumer == self.name, inbox.c.event_id.in_(ids)
                )
            )
            already = set(known.scalars())
            new_rows = [row for row in chunk if row["event_id"] not in already]
            if new_rows:
                await conn.execute(insert(inbox), new_rows)
            inserted.update(row["event_id"] for row in new_rows)
        return [envelope for envelope in envelopes if envelope.id in inserted]

    def _applied(self, envelopes: Sequence[EventEnvelope]) -> None:
        if not envelopes:
            return
        self._m_processed.inc(len(envelopes))
        now = time.time()
        for envelope in envelopes:
            self._m_freshness.observe(max(0.0, now - envelope.time.timestamp()))
        if self._on_applied is not None:
            try:
                self._on_applied(envelopes)
            except Exception as exc:  # an observer must not undo what is committed
                self._log.warning("event_consumer.on_applied_failed", error=_describe(exc))

    async def _dead_letter(self, record: Any, reason: str, kind: str) -> None:
        letter = DeadLetter.of(record, reason=reason, consumer=self.name)
        self._log.warning(
            "event_consumer.dead_letter",
            kind=kind,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=reason[:500],
        )
        if not await self._dead_letters.publish(letter, abort=self._stopping):
            raise _Stopped
        self._m_dead[kind].inc()

    # -- Kafka plumbing --------------------------------------------------------

    async def _start_clients(self) -> bool:
        delay = self._retry_backoff_s
        while not self._stopping.is_set():
            try:
                await self._declare_dead_letter_topics()
                await self._dead_letters.start()
                consumer = AIOKafkaConsumer(
                    *self._topics,
                    bootstrap_servers=self._kafka.bootstrap_servers,
                    client_id=f"{self._kafka.client_id}-{self.name}",
                    group_id=self._group_id,
                    enable_auto_commit=False,
                    auto_offset_reset=self._auto_offset_reset,
                    session_timeout_ms=self._kafka.session_timeout_ms,
                    heartbeat_interval_ms=self._kafka.heartbeat_interval_ms,
                    rebalance_timeout_ms=self._kafka.rebalance_timeout_ms,
                    request_timeout_ms=max(
                        self._kafka.request_timeout_ms, self._kafka.session_timeout_ms + 1_000
                    ),
                    fetch_max_wait_ms=self._kafka.fetch_max_wait_ms,
                    max_poll_records=self._max_batch,
                )
                try:
                    await consumer.start()
                except BaseException:
                    with contextlib.suppress(Exception):
                        await consumer.stop()
                    raise
                self._consumer = consumer
                return True
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await self._dead_letters.stop()
                self._log.warning(
                    "event_consumer.broker_unavailable", error=_describe(exc), retry_in_s=delay
                )
                await self._sleep(delay)
                delay = min(delay * 2, self._retry_backoff_max_s)
        return False

    async def _declare_dead_letter_topics(self) -> None:
        try:
            await ensure_topics(
                self._kafka.bootstrap_servers,
                {dead_letter_topic(t): self._dead_letter_partitions for t in self._topics},
                self._kafka.topic_replication,
                request_timeout_ms=self._kafka.request_timeout_ms,
            )
        except TopicConfigurationError as exc:
            # Dead letters need no particular partitioning; an existing topic will do.
            self._log.warning("event_consumer.dead_letter_topic_mismatch", error=str(exc))

    async def _close_clients(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.stop()
        with contextlib.suppress(Exception):
            await self._dead_letters.stop()

    async def _commit(self, offsets: dict[Any, OffsetAndMetadata]) -> None:
        try:
            await self._consumer.commit(offsets)
        except Exception as exc:
            # A rebalance took the partitions away; the next owner redelivers from
            # the last committed offset and the inbox absorbs the repeats.
            self._log.warning("event_consumer.commit_failed", error=_describe(exc))

    def _update_lag(self, offsets: dict[Any, OffsetAndMetadata]) -> None:
        for tp, offset in offsets.items():
            self._next_offsets[tp] = offset.offset
        lag = 0
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            position = self._next_offsets.get(tp)
            if highwater is not None and position is not None:
                lag += max(0, highwater - position)
        self._m_lag.set(lag)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)


def _insert_ignoring_duplicates(dialect: str) -> Any:
    """The dialect's ``insert`` with ``on_conflict_do_nothing``, or None if unavailable."""
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite" and sqlite3.sqlite_version_info >= (3, 35):
        return sqlite.insert
    return None


def _one_by_one(handler: EventHandler | None) -> BatchEventHandler:
    assert handler is not None

    async def apply(envelopes: Sequence[EventEnvelope], session: AsyncSession) -> None:
        for envelope in envelopes:
            # Whatever the handler logs or commands carries the event's correlation id.
            bind_correlation_id(envelope.extensions.get("correlationid") or envelope.id)
            await handler(envelope, session)

    return apply


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "unknown error"
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
