"""Dead-letter topics: where a consumer parks what it cannot process, and why.

The message goes to ``<topic>.dlq`` byte for byte (key, value and original headers),
so it can be inspected and re-driven once the cause is fixed. The reason and the
origin travel in ``dlq_*`` headers:

- ``dlq_reason``: human-readable cause (decoding error, validation error, the last
  error of the given-up retries);
- ``dlq_origin_topic``, ``dlq_origin_partition``, ``dlq_origin_offset``: where it was read;
- ``dlq_consumer``: the consumer (inbox name) that gave up;
- ``dlq_failed_at``: when, ISO 8601 UTC.

A redriven message that fails again gets fresh ``dlq_*`` headers, never two sets.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from shared_kernel.infrastructure.messaging.cloudevents import Headers
from shared_kernel.infrastructure.messaging.producer import build_producer
from shared_kernel.infrastructure.settings import KafkaSettings

__all__ = [
    "DLQ_HEADER_PREFIX",
    "DLQ_SUFFIX",
    "DeadLetter",
    "DeadLetterPublisher",
    "dead_letter_headers",
    "dead_letter_topic",
]

log = structlog.get_logger(__name__)

DLQ_SUFFIX = ".dlq"
DLQ_HEADER_PREFIX = "dlq_"
MAX_REASON_CHARS = 2000


def dead_letter_topic(topic: str) -> str:
    return f"{topic}{DLQ_SUFFIX}"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message a consumer gives up on, with where it came from and why."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers
    reason: str
    consumer: str

    @classmethod
    def of(cls, record: Any, *, reason: str, consumer: str) -> DeadLetter:
        """From an aiokafka ``ConsumerRecord``."""
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=[(str(name), bytes(value)) for name, value in (record.headers or ())],
            reason=reason,
            consumer=consumer,
        )


def dead_letter_headers(letter: DeadLetter, failed_at: datetime) -> Headers:
    """The original headers (minus stale ``dlq_*`` ones) followed by the ``dlq_*`` set."""
    kept = [(n, v) for n, v in letter.headers if not n.startswith(DLQ_HEADER_PREFIX)]
    return [
        *kept,
        ("dlq_reason", letter.reason[:MAX_REASON_CHARS].encode("utf-8", "replace")),
        ("dlq_origin_topic", letter.topic.encode()),
        ("dlq_origin_partition", str(letter.partition).encode()),
        ("dlq_origin_offset", str(letter.offset).encode()),
        ("dlq_consumer", letter.consumer.encode()),
        ("dlq_failed_at", failed_at.astimezone(UTC).isoformat().encode()),
    ]


class DeadLetterPublisher:
    """Publishes dead letters and waits for the broker's acknowledgement.

    ``publish`` retries with capped exponential backoff until the broker takes the
    message (or ``abort`` is set): the consumer commits the original offset only
    afterwards, so nothing is dropped between the two topics.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        client_id: str | None = None,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 5.0,
    ) -> None:
        self._kafka = kafka
        self._client_id = client_id or f"{kafka.client_id}-dlq"
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._producer: Any = None

    async def start(self) -> None:
        producer = build_producer(self._kafka, client_id=self._client_id)
        try:
            await producer.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await producer.stop()
            raise
        self._producer = producer

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def publish(self, letter: DeadLetter, *, abort: asyncio.Event | None = None) -> bool:
        """Send and await the ack; False only if ``abort`` was set before it succeeded."""
        if self._producer is None:
            raise RuntimeError("DeadLetterPublisher.start() was not called")
        delay = self._backoff_initial_s
        topic = dead_letter_topic(letter.topic)
        # Kafka needs a key or a value; an empty record is kept as an empty value.
        value = letter.value if letter.value is not None or letter.key is not None else b""
        while True:
            try:
                headers = dead_letter_headers(letter, datetime.now(UTC))
                await self._producer.send_and_wait(
                    topic, value=value, key=letter.key, headers=headers
                )
            except Exception as exc:
                log.warning(
                    "dead_letter.publish_failed",
                    topic=topic,
                    origin_offset=letter.offset,
                    error=f"{type(exc).__name__}: {exc}",
                    retry_in_s=delay,
                )
                if abort is not None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(abort.wait(), delay)
                    if abort.is_set():
                        return False
                else:
                    await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff_max_s)
                continue
            log.info(
                "dead_letter.published",
                topic=topic,
                origin_partition=letter.partition,
                origin_offset=letter.offset,
                consumer=letter.consumer,
                reason=letter.reason[:200],
            )
            return True
