"""``process_events(on_dead_letter=...)``: told of every dead letter, never in the way.

Against the test broker, in the test's event loop: the hook is what the data
products' dead-letter rate and completeness are measured from.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
import pytest
from aiokafka import AIOKafkaProducer

from dpmesh.testing.environments import KafkaEndpoint
from shared_kernel.infrastructure.messaging.cloudevents import EventEnvelope, encode
from shared_kernel.infrastructure.settings import KafkaSettings
from shared_kernel.infrastructure.streams import (
    PermanentEventError,
    create_stream_app,
    event_topic,
    process_events,
    stream_agent,
    stream_worker,
)


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


def message(key: str, version: int) -> tuple[Any, ...]:
    return encode(
        event_id=str(uuid.uuid4()),
        source="urn:test",
        event_type="ctx.ItemChanged",
        time=datetime.now(UTC),
        subject=key,
        payload=json.dumps({"aggregate_version": version}).encode(),
    )


@pytest.mark.integration
async def test_the_hook_hears_of_each_dead_letter_and_cannot_stop_the_stream(
    kafka_endpoint: KafkaEndpoint, unique_topic: Any, tmp_path: Path
) -> None:
    settings = settings_for(kafka_endpoint)
    topic_name = unique_topic("ctx.item.v1")
    app = create_stream_app(unique_topic("ctx-hook"), settings, datadir=tmp_path)
    topic = event_topic(app, topic_name, partitions=1)
    applied: asyncio.Queue[int] = asyncio.Queue()
    told: list[tuple[int | None, str]] = []

    def apply(envelope: EventEnvelope) -> None:
        version = int(envelope.data["aggregate_version"])
        if version == 2:
            raise PermanentEventError("version 2 cannot be used")
        applied.put_nowait(version)

    async def hook(envelope: EventEnvelope | None, reason: str) -> None:
        told.append((None if envelope is None else envelope.data["aggregate_version"], reason))
        raise RuntimeError("a broken measurement")  # must not stop the stream

    @stream_agent(app, topic)
    async def items(stream: faust.StreamT[Any]) -> None:
        await process_events(stream, apply, max_attempts=1, on_dead_letter=hook)

    async with stream_worker(app, settings):
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers)
        await producer.start()
        try:
            for key, value, headers in [
                message("item-1", 1),
                (b"item-1", b"{}", []),  # not a CloudEvent
                message("item-1", 2),
                message("item-1", 3),
            ]:
                await producer.send_and_wait(topic_name, key=key, value=value, headers=headers)
        finally:
            await producer.stop()
        versions = [await asyncio.wait_for(applied.get(), 30) for _ in range(2)]

    assert versions == [1, 3]
    assert [version for version, _ in told] == [None, 2]
    assert told[0][1].startswith("malformed:")
    assert told[1][1] == "permanent: PermanentEventError: version 2 cannot be used"
