"""The faust application of a context's stream processors, configured from ``KafkaSettings``.

There is no module-level app: a context builds its own in its composition root, so two
contexts (or two tests) never share agents, tables or a consumer group by accident.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import faust
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP, AgentT, ConsumerT, ProducerT, TopicT
from faust.types.agents import AgentFun

from shared_kernel.infrastructure.settings import KafkaSettings
from shared_kernel.infrastructure.streams.offsets import confirmed_end_offsets
from shared_kernel.infrastructure.streams.progress import OffsetProgress

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_DATADIR",
    "OffsetCommitsFailing",
    "StreamApp",
    "create_stream_app",
    "event_topic",
    "stream_agent",
]

#: Where faust puts ``<app id>-data`` (RocksDB tables; empty with the memory store).
DEFAULT_DATADIR = Path("var") / "faust"

#: Windowed tables drop expired windows this often; plain tables are unaffected.
TABLE_CLEANUP_INTERVAL_S = 30.0


class StreamApp(faust.App):
    """A ``faust.App`` with corrections to its producer and consumer.

    See :class:`_Producer` and :class:`_Consumer`. Build it with
    :func:`create_stream_app`, which derives the faust settings from ``kafka``.
    """

    def __init__(self, id: str, *, kafka: KafkaSettings, **options: Any) -> None:
        self.kafka = kafka
        #: What the agents have durably done; the only offsets the consumer commits.
        self.progress = OffsetProgress()
        super().__init__(id, **options)

    def _new_producer(self) -> ProducerT:
        producer = _Producer(self.transport, loop=self.loop, beacon=self.beacon)
        producer.idempotent = self.kafka.idempotent_producer
        return producer

    def _new_consumer(self) -> ConsumerT:
        consumer = _Consumer(
            self.transport,
            callback=self.topics.on_message,
            on_partitions_revoked=self._on_partitions_revoked,
            on_partitions_assigned=self._on_partitions_assigned,
            beacon=self.beacon,
        )
        consumer.kafka = self.kafka
        consumer.progress = self.progress
        return consumer


class OffsetCommitsFailing(RuntimeError):
    """The worker's offset commits have failed for too long; it stops."""


#: How long offset commits may keep failing before the worker stops.
COMMIT_FAILURE_DEADLINE_S = 60.0


class _Consumer(aiokafka_driver.Consumer):
    """faust's aiokafka consumer with three corrections.

    Offsets committed are only those :class:`OffsetProgress` counts as durably done
    (see :mod:`shared_kernel.infrastructure.streams.progress`): faust's own choice can
    lie past records it never delivered. Done offsets that faust does not commit by
    itself (it only commits after new acknowledgements) are committed at its next
    commit round.

    End offsets are confirmed before a table restore: faust asks for them only to
    know where the restore of a table from its changelog ends; see
    :mod:`shared_kernel.infrastructure.streams.offsets` for why the broker's first
    answer is not always right.

    Fetches wait at most ``KafkaSettings.fetch_max_wait_ms``: faust hard-codes 1.5 s,
    and the embedded broker holds a fetch that found nothing for the whole wait,
    even when records arrive meanwhile, which made an idle worker take about half
    a second on average to see a new event.
    """

    #: Set right after construction, read when the consumer starts.
    kafka: KafkaSettings | None = None
    progress: OffsetProgress | None = None

    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed = await super().seek_to_committed()
        if self.progress is not None:
            self.progress.resume_from(committed)
        return committed

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        if self.progress is not None:
            self.progress.forget(revoked)
        await super().on_partitions_revoked(revoked)

    #: Since when offset commits have been failing without a success (monotonic).
    _failing_since: float | None = None

    async def _commit(self, offsets: Mapping[TP, int]) -> bool:
        clamped = dict(offsets) if self.progress is None else self.progress.clamp(offsets)
        if not clamped:
            return False
        committed = bool(await super()._commit(clamped))
        if committed:
            self._failing_since = None
            if self.progress is not None:
                self.progress.committed(clamped)
        else:
            await self._commit_failed(clamped)
        return committed

    async def _commit_failed(self, offsets: Mapping[TP, int]) -> None:
        """A worker whose commits keep failing (a broker that lost the group's topics)
        would redo ever more work at its next start: it stops, non-zero, instead."""
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
            return
        if now - self._failing_since < COMMIT_FAILURE_DEADLINE_S:
            return
        error = OffsetCommitsFailing(
            f"offset commits have failed for {now - self._failing_since:.0f} s "
            f"(last: {sorted((str(tp.topic), tp.partition) for tp in offsets)}); if the "
            "broker was restarted or wiped, replay the outbox ('dpmesh replay <context>') "
            "and start the worker again"
        )
        logger.error("%s", error)
        await self.app.crash(error)

    async def commit(self, topics: Any = None, start_new_transaction: bool = True) -> bool:
        committed = bool(await super().commit(topics, start_new_transaction))
        if self.progress is not None and not self.in_transaction:
            behind = self.progress.uncommitted(self.assignment())
            if behind:
                committed = await self._commit(behind) or committed
        return committed

    def _new_consumer_thread(self) -> aiokafka_driver.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def highwaters(self, *partitions: TP) -> Mapping[TP, int]:
        reported = await super().highwaters(*partitions)
        if self.kafka is None or self.in_transaction:
            # In transactions faust reads the last stable offset, which must not be
            # raised to the high watermark past open transactions; and the embedded
            # broker, the one that needs the correction, has no transactions.
            return reported
        return await confirmed_end_offsets(
            self.kafka.bootstrap_servers,
            reported,
            client_id=f"{self.kafka.client_id}-end-offsets",
            request_timeout_ms=self.kafka.request_timeout_ms,
            fetch_max_wait_ms=self.kafka.fetch_max_wait_ms,
        )


class _ConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        kafka = cast(_Consumer, self.consumer).kafka
        if kafka is not None:
            # Read by AIOKafkaConsumer.start() when it builds its fetcher.
            consumer._fetch_max_wait_ms = kafka.fetch_max_wait_ms
        return consumer


class _Producer(aiokafka_driver.Producer):
    """faust's aiokafka producer with two corrections.

    ``flush`` drains the buffer. Table changes wait in faust's producer buffer before
    they reach aiokafka, and faust's buffer flush returns as soon as no message was
    sent for 0.1 s, whatever is left in it. faust flushes before each offset commit
    and when the app stops; a partial flush lets it commit offsets past changelog
    records that only exist in memory, lost if the process dies then. Draining
    waits as long as sending takes (a stop during a broker outage waits too).

    Idempotence: faust enables it only inside exactly-once transactions; with
    ``KAFKA_IDEMPOTENT_PRODUCER=true`` and at-least-once processing, producer retries
    should not duplicate changelog and dead-letter records either. The embedded
    broker refuses producer ids, so there both settings stay off.
    """

    idempotent: bool = False

    def _settings_extra(self) -> dict[str, Any]:
        extra = dict(super()._settings_extra())
        if self.idempotent:
            extra.update(acks="all", enable_idempotence=True)
        return extra

    async def flush(self) -> None:
        buffer = self.buffer
        while buffer.size and not buffer.should_stop:
            await buffer.flush()
        await super().flush()


def create_stream_app(
    name: str,
    settings: KafkaSettings,
    *,
    store: str = "memory://",
    web_port: int | None = None,
    datadir: str | Path | None = None,
    **overrides: Any,
) -> StreamApp:
    """A faust app named ``name``: its id, consumer group and changelog prefix.

    - brokers: every ``host:port`` of ``settings.bootstrap_servers``;
    - ``processing_guarantee="exactly_once"`` only with ``settings.exactly_once``
      (Apache Kafka); the embedded broker has no transactions, so at-least-once, and
      agents dedupe with :class:`~shared_kernel.infrastructure.streams.IdempotencyGuard`;
    - session, rebalance and heartbeat timings from the settings: the first
      partition assignment takes about half the session timeout;
    - no HTTP server unless ``web_port`` is given; no leader topic (tables use the
      source partitions, nothing needs a leader); no autodiscovery (the composition
      root imports what it registers); new consumer groups read from the earliest offset.

    ``store`` is ``memory://`` (state rebuilt from the changelog at every start) or
    ``rocksdb://``. ``overrides`` are passed to faust as they are, after ours.
    """
    servers = [s.strip() for s in settings.bootstrap_servers.split(",") if s.strip()]
    if not servers:
        raise ValueError("KafkaSettings.bootstrap_servers lists no broker")
    options: dict[str, Any] = {
        "broker": [f"kafka://{server}" for server in servers],
        "broker_client_id": settings.client_id,
        "broker_request_timeout": settings.request_timeout_ms / 1000,
        "broker_session_timeout": settings.session_timeout_ms / 1000,
        "broker_heartbeat_interval": settings.heartbeat_interval_ms / 1000,
        "broker_rebalance_timeout": settings.rebalance_timeout_ms / 1000,
        "processing_guarantee": "exactly_once" if settings.exactly_once else "at_least_once",
        "producer_acks": -1 if settings.idempotent_producer or settings.exactly_once else 1,
        "producer_request_timeout": settings.request_timeout_ms / 1000,
        "topic_partitions": settings.topic_partitions,
        "topic_replication_factor": settings.topic_replication,
        "topic_disable_leader": True,
        "consumer_auto_offset_reset": "earliest",
        "store": store,
        "datadir": str(Path(datadir) if datadir is not None else DEFAULT_DATADIR / name),
        "table_cleanup_interval": TABLE_CLEANUP_INTERVAL_S,
        "autodiscover": False,
        "web_enabled": web_port is not None,
    }
    if web_port is not None:
        options["web_port"] = web_port
    options.update(overrides)
    return StreamApp(name, kafka=settings, **options)


def event_topic(app: faust.App, name: str, *, partitions: int | None = None) -> TopicT:
    """A topic of CloudEvents in binary mode: keys and values stay raw bytes.

    ``partitions`` is the count the topic is created with and that every table fed from
    it must use; by default the app's ``topic_partitions``.
    """
    return app.topic(
        name,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions if partitions is not None else app.conf.topic_partitions,
    )


def stream_agent(
    app: faust.App,
    topic: TopicT,
    *,
    name: str | None = None,
    concurrency: int = 1,
    **options: Any,
) -> Callable[[AgentFun[Any]], AgentT[Any]]:
    """``@app.agent(topic)`` that refuses any concurrency but 1.

    With ``concurrency > 1`` faust-streaming runs several actors over one partition
    and commits the highest acknowledged offset, even while an earlier message is
    still being processed by another actor (faust-streaming issue #606); a crash then
    loses that message. One actor per agent keeps per-key order, which the
    idempotency guard and every table update rely on. Scale out with partitions
    and workers instead.
    """
    if concurrency != 1:
        raise ValueError(
            f"agents run with concurrency=1 (got {concurrency}): faust-streaming may "
            "commit offsets past messages still in flight at higher concurrency "
            "(issue #606); add partitions and workers to scale"
        )
    return app.agent(topic, name=name, concurrency=1, **options)
