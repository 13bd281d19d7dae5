"""The faust helpers: app settings, agent rules, topic declaration, an in-process worker."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faust.types.enums import ProcessingGuarantee

from dpmesh.testing.environments import KafkaEndpoint
from shared_kernel.infrastructure.messaging.cloudevents import EventEnvelope, encode
from shared_kernel.infrastructure.messaging.topics import ensure_topics
from shared_kernel.infrastructure.settings import KafkaSettings
from shared_kernel.infrastructure.streams import (
    IdempotencyGuard,
    TopologyError,
    aggregate_version_of,
    cloud_events,
    create_stream_app,
    dead_letter_topics,
    event_topic,
    required_topics,
    stream_agent,
    stream_worker,
)
from shared_kernel.infrastructure.streams.offsets import confirmed_end_offsets

# -- configuration (no broker) -----------------------------------------------------


def guarantee(conf: Any) -> ProcessingGuarantee:
    value: ProcessingGuarantee = conf.processing_guarantee  # faust types it loosely
    return value


def test_app_settings_follow_kafka_settings(tmp_path: Path) -> None:
    settings = KafkaSettings(
        bootstrap_servers="k1:9092, k2:9093",
        session_timeout_ms=2_000,
        rebalance_timeout_ms=2_500,
        heartbeat_interval_ms=400,
        topic_partitions=3,
    )
    conf = create_stream_app("ctx-streams", settings, datadir=tmp_path).conf

    assert [str(url) for url in conf.broker] == ["kafka://k1:9092", "kafka://k2:9093"]
    assert guarantee(conf) is ProcessingGuarantee.AT_LEAST_ONCE
    assert (conf.broker_session_timeout, conf.broker_rebalance_timeout) == (2.0, 2.5)
    assert conf.broker_heartbeat_interval == pytest.approx(0.4)
    assert conf.topic_partitions == 3
    assert conf.web_enabled is False
    assert conf.topic_disable_leader is True
    assert conf.consumer_auto_offset_reset == "earliest"
    assert not conf.autodiscover
    assert conf.datadir == tmp_path


def test_exactly_once_and_idempotence_only_when_configured() -> None:
    plain = create_stream_app("plain", KafkaSettings())
    assert guarantee(plain.conf) is ProcessingGuarantee.AT_LEAST_ONCE
    producer: Any = plain.producer
    assert producer._settings_extra() == {}

    kafka = KafkaSettings(idempotent_producer=True, exactly_once=True)
    strict = create_stream_app("strict", kafka)
    assert guarantee(strict.conf) is ProcessingGuarantee.EXACTLY_ONCE
    producer = strict.producer
    assert producer._settings_extra() == {"acks": "all", "enable_idempotence": True}


def test_web_server_only_on_request() -> None:
    conf = create_stream_app("web", KafkaSettings(), web_port=6067).conf
    assert conf.web_enabled is True
    assert conf.web_port == 6067


def test_agents_refuse_concurrency_above_one() -> None:
    app = create_stream_app("concurrency", KafkaSettings())
    topic = event_topic(app, "ctx.thing.v1", partitions=2)
    with pytest.raises(ValueError, match="#606"):
        stream_agent(app, topic, concurrency=4)


def test_required_topics_pair_sources_with_changelogs() -> None:
    app = create_stream_app("inventory-streams", KafkaSettings(topic_partitions=4))
    topic = event_topic(app, "supply_chain.stock.v1", partitions=3)
    app.Table("levels", default=int, partitions=3)
    IdempotencyGuard(app, "levels-applied", partitions=3)

    @stream_agent(app, topic)
    async def levels(stream: faust.StreamT[Any]) -> None:
        async for _ in stream:
            pass

    assert required_topics(app) == {
        "supply_chain.stock.v1": 3,
        "inventory-streams-levels-changelog": 3,
        "inventory-streams-levels-applied-changelog": 3,
    }
    assert dead_letter_topics(app) == {"supply_chain.stock.v1.dlq": 1}


def test_a_table_must_match_a_source_topic() -> None:
    app = create_stream_app("mismatch", KafkaSettings(topic_partitions=4))
    topic = event_topic(app, "ctx.thing.v1", partitions=2)
    app.Table("counts", default=int)  # the app default, 4

    @stream_agent(app, topic)
    async def counts(stream: faust.StreamT[Any]) -> None:
        async for _ in stream:
            pass

    with pytest.raises(TopologyError, match="counts"):
        required_topics(app)


def envelope(key: str | None, data: dict[str, Any], **extensions: str) -> EventEnvelope:
    return EventEnvelope(
        id=str(uuid.uuid4()),
        source="urn:test",
        type="test.Happened",
        time=datetime.now(UTC),
        subject=key,
        data=data,
        key=key,
        extensions=dict(extensions),
    )


def test_version_from_extension_then_data() -> None:
    assert aggregate_version_of(envelope("k", {"aggregate_version": 4})) == 4
    assert aggregate_version_of(envelope("k", {"aggregate_version": 4}, aggregateversion="5")) == 5
    assert aggregate_version_of(envelope("k", {"aggregate_version": True})) is None
    assert aggregate_version_of(envelope("k", {})) is None


# -- in the test's event loop, against the session broker ----------------------------


def settings_for(endpoint: KafkaEndpoint) -> KafkaSettings:
    short = endpoint.embedded is not None
    return KafkaSettings(
        bootstrap_servers=endpoint.bootstrap_servers,
        idempotent_producer=endpoint.supports_idempotence,
        exactly_once=endpoint.supports_idempotence,
        session_timeout_ms=2_000 if short else 6_000,
        rebalance_timeout_ms=2_000 if short else 3_000,
        heartbeat_interval_ms=500,
    )


@pytest.mark.integration
async def test_in_process_worker_decodes_dedupes_and_dead_letters(
    kafka_endpoint: KafkaEndpoint, unique_topic: Any, tmp_path: Path
) -> None:
    settings = settings_for(kafka_endpoint)
    topic_name = unique_topic("ctx.item.v1")
    app = create_stream_app(unique_topic("ctx-items"), settings, datadir=tmp_path)
    topic = event_topic(app, topic_name, partitions=2)
    seen = app.Table("seen", default=int, partitions=2, key_type=str, value_type=int)
    guard = IdempotencyGuard(app, "seen-applied", partitions=2)
    applied: asyncio.Queue[EventEnvelope] = asyncio.Queue()

    @stream_agent(app, topic)
    async def items(stream: faust.StreamT[Any]) -> None:
        async for event in cloud_events(stream, guard=guard):
            assert event.key is not None
            seen[event.key] += event.data["aggregate_version"]
            applied.put_nowait(event)

    def message(key: str, version: int, event_id: str | None = None) -> tuple[Any, ...]:
        return encode(
            event_id=event_id or str(uuid.uuid4()),
            source="urn:test",
            event_type="ctx.ItemChanged",
            time=datetime.now(UTC),
            subject=key,
            payload=json.dumps({"aggregate_version": version}).encode(),
        )

    first = message("item-1", 1)
    async with stream_worker(app, settings):
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers)
        await producer.start()
        try:
            for key, value, headers in [
                first,
                first,  # redelivered
                (b"item-1", b"{}", []),  # not a CloudEvent
                message("item-1", 2),
            ]:
                await producer.send_and_wait(topic_name, key=key, value=value, headers=headers)
        finally:
            await producer.stop()
        versions = [(await applied.get()).data["aggregate_version"] for _ in range(2)]
        assert versions == [1, 2]
        assert applied.empty()
        assert seen["item-1"] == 3
        assert guard.applied_version("item-1") == 2

    # A consumer of the same group, not subscribing, only reads the committed offsets.
    reader = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=app.conf.id,
        enable_auto_commit=False,
    )
    await reader.start()
    try:
        committed = [await reader.committed(TopicPartition(topic_name, p)) or 0 for p in range(2)]
    finally:
        await reader.stop()
    assert sum(committed) == 4  # every message, the dead letter included, is done with


@pytest.mark.integration
async def test_end_offsets_are_confirmed_by_a_fetch(
    kafka_bootstrap: str, unique_topic: Any
) -> None:
    """The embedded broker reports the end of a partition whose last batch holds several
    records as that batch's first offset plus one; table restores must not stop there."""
    topic = unique_topic("ctx.offsets.v1")
    await ensure_topics(kafka_bootstrap, {topic: 2})
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=50)
    await producer.start()
    try:
        pending = [await producer.send(topic, value=b"x", partition=0) for _ in range(5)]
        written = await asyncio.gather(*pending)
    finally:
        await producer.stop()
    partitions = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap)
    await consumer.start()
    try:
        reported = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()

    confirmed = await confirmed_end_offsets(kafka_bootstrap, reported)

    assert confirmed == {partitions[0]: max(m.offset for m in written) + 1, partitions[1]: 0}
