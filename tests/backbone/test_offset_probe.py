"""first_offset_from asks the broker where the next record really is (holes vs skips)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaProducer

from shared_kernel.infrastructure.messaging.topics import ensure_topics
from shared_kernel.infrastructure.streams.offsets import first_offset_from

pytestmark = pytest.mark.integration


async def test_the_first_record_at_or_after_an_offset(
    kafka_bootstrap: str, unique_topic: Callable[[str], str]
) -> None:
    topic = unique_topic("probe.records")
    await ensure_topics(kafka_bootstrap, {topic: 1})
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for value in (b"a", b"b", b"c"):
            await producer.send_and_wait(topic, value, partition=0)
    finally:
        await producer.stop()

    assert await first_offset_from(kafka_bootstrap, (topic, 0), 0) == 0
    assert await first_offset_from(kafka_bootstrap, (topic, 0), 2) == 2
    # Nothing at or after the end: no record to go on with.
    assert await first_offset_from(kafka_bootstrap, (topic, 0), 3) is None
