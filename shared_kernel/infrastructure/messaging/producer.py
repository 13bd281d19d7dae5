"""Kafka producer settings and the CloudEvents attributes dpmesh derives from an event.

Shared by the outbox relay and the dead-letter publisher so every message leaves
with the same guarantees: ``acks=all`` (the write survives the loss of a replica
leader) and the idempotent producer wherever the broker offers it.
"""

from __future__ import annotations

import functools
import hashlib
import re
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from shared_kernel.infrastructure.settings import KafkaSettings

URN_PREFIX = "urn:dpmesh:"
#: Large enough that one relay batch for one partition is usually one record batch;
#: below the 1 MiB default of ``max.request.size`` and ``message.max.bytes``.
MAX_BATCH_BYTES = 512 * 1024

_HEX32 = re.compile(r"^[0-9a-f]{32}$")


def build_producer(
    kafka: KafkaSettings,
    *,
    client_id: str | None = None,
    linger_ms: int = 0,
    request_timeout_ms: int | None = None,
) -> Any:
    """An unstarted ``AIOKafkaProducer`` (typed ``Any``: aiokafka ships no stubs).

    ``enable_idempotence`` follows the settings: Apache Kafka grants producer ids,
    the embedded broker refuses ``InitProducerId``, so it is off there.
    """
    return AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers,
        client_id=client_id or kafka.client_id,
        acks="all",
        enable_idempotence=kafka.idempotent_producer,
        linger_ms=linger_ms,
        max_batch_size=MAX_BATCH_BYTES,
        request_timeout_ms=request_timeout_ms or kafka.request_timeout_ms,
        retry_backoff_ms=100,
    )


def context_source(context: str) -> str:
    """CloudEvents ``source`` of every event a context publishes: ``urn:dpmesh:<context>``."""
    return f"{URN_PREFIX}{context}"


@functools.lru_cache(maxsize=1024)
def event_dataschema(event_type: str, schema_version: int) -> str:
    """``urn:dpmesh:<context>:event:<EventName>.v<major>``, the ``$id`` of its JSON Schema.

    ``event_type`` is ``<context>.<EventName>`` (``DomainEvent.type_name``).
    """
    context, _, name = event_type.partition(".")
    if not name:
        context, name = "shared", event_type
    return f"{URN_PREFIX}{context}:event:{name}.v{schema_version}"


def traceparent_for(event_id: str, correlation_id: str | None) -> str:
    """A W3C ``traceparent`` for an event written without one.

    The trace id is the correlation id when it already is 32 lowercase hex digits
    (what ``bind_correlation_id`` generates), otherwise a hash of it, so every event
    of one request shares a trace. The span id is derived from the event id: a
    message published twice carries the same header.
    """
    trace_id = _trace_id(correlation_id) if correlation_id else _trace_id(event_id)
    if trace_id == "0" * 32:
        trace_id = hashlib.sha256(event_id.encode()).hexdigest()[:32]
    span_id = hashlib.sha256(b"span:" + event_id.encode()).hexdigest()[:16]
    if span_id == "0" * 16:
        span_id = "1" * 16
    return f"00-{trace_id}-{span_id}-01"


@functools.lru_cache(maxsize=4096)
def _trace_id(seed: str) -> str:
    return seed if _HEX32.fullmatch(seed) else hashlib.sha256(seed.encode()).hexdigest()[:32]


class KeyPartitioner:
    """Kafka's default partitioner for keyed records (murmur2), memoised.

    The relay assigns partitions itself because it builds one record batch per
    partition; it must agree with every other producer of the topic, hence the
    same hash as the Java client and aiokafka.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        self._cache: dict[tuple[bytes, int], int] = {}
        self._max_entries = max_entries

    def __call__(self, key: bytes, partitions: int) -> int:
        cached = self._cache.get((key, partitions))
        if cached is not None:
            return cached
        if len(self._cache) >= self._max_entries:
            self._cache.clear()
        partition = (int(murmur2(key)) & 0x7FFFFFFF) % partitions
        self._cache[(key, partitions)] = partition
        return partition
