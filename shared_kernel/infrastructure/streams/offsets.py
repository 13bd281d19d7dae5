"""End offsets that can be trusted, for the restore of tables from their changelogs.

faust restores a table by reading its changelog up to the end offset the broker
reports (a ``ListOffsets`` request for the latest offset), then declares the
restore complete. The embedded broker (Tansu 0.6) answers that request with the
base offset of the partition's last record batch plus one: when the last batch
held several records, the end is under-reported, faust stops short, and the last
changes of the table are silently missing after a restart. The high watermark in a
``Fetch`` response is right on every broker we use, so the end is confirmed by
fetching from just before the reported end. On Apache Kafka both answers agree and
the check costs one fetch per changelog partition at each rebalance.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition

__all__ = ["confirmed_end_offsets"]

logger = logging.getLogger(__name__)

TPT = TypeVar("TPT", bound=tuple[str, int])

#: A probe that gets no answer within this time keeps the reported offsets.
PROBE_TIMEOUT_S = 10.0


async def confirmed_end_offsets(
    bootstrap_servers: str,
    reported: Mapping[TPT, int],
    *,
    client_id: str = "dpmesh-end-offsets",
    request_timeout_ms: int = 10_000,
    fetch_max_wait_ms: int = 20,
) -> dict[TPT, int]:
    """``reported`` raised to the high watermark that fetch responses announce.

    Never lowers an offset. Partitions reported empty are not probed: a batch
    always moves the reported end past zero, so an empty answer is true.
    """
    result = dict(reported)
    probe = {TopicPartition(tp[0], tp[1]): tp for tp, end in reported.items() if end > 0}
    if not probe:
        return result
    consumer = _probe(
        bootstrap_servers, client_id, request_timeout_ms, fetch_max_wait_ms, reset="latest"
    )
    await consumer.start()
    try:
        consumer.assign(list(probe))
        for tp, original in probe.items():
            consumer.seek(tp, reported[original] - 1)
        pending = set(probe)
        deadline = time.monotonic() + PROBE_TIMEOUT_S
        while pending and time.monotonic() < deadline:
            await consumer.getmany(*pending, timeout_ms=100)
            for tp in list(pending):
                highwater = consumer.highwater(tp)
                if highwater is not None:
                    original = probe[tp]
                    result[original] = max(result[original], int(highwater))
                    pending.discard(tp)
        if pending:
            logger.warning("no fetch answer for %s; keeping the reported end offsets", pending)
    finally:
        await consumer.stop()
    raised = {tp: (reported[tp], end) for tp, end in result.items() if end != reported[tp]}
    if raised:
        logger.info("end offsets under-reported by the broker, corrected: %s", raised)
    return result


async def first_offset_from(
    bootstrap_servers: str,
    tp: tuple[str, int],
    offset: int,
    *,
    client_id: str = "dpmesh-offset-probe",
    request_timeout_ms: int = 10_000,
    fetch_max_wait_ms: int = 20,
) -> int | None:
    """The offset of the first record of ``tp`` at or after ``offset``, as a fetch from
    there answers; None when the partition has nothing there (yet) or gives no answer.

    A log may have holes (records removed by compaction, transaction markers, a batch
    the broker numbered but never stored), and a consumer that jumps over one has
    skipped nothing. Asking the broker tells a hole from records a consumer dropped.
    """
    consumer = _probe(
        bootstrap_servers, client_id, request_timeout_ms, fetch_max_wait_ms, reset="none"
    )
    await consumer.start()
    try:
        partition = TopicPartition(tp[0], tp[1])
        consumer.assign([partition])
        consumer.seek(partition, offset)
        deadline = time.monotonic() + PROBE_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                batches = await consumer.getmany(partition, timeout_ms=200, max_records=1)
            except Exception as exc:  # offset out of range: the log starts later
                logger.info("probe of %s@%s: %s", tp, offset, exc)
                return None
            records = batches.get(partition, [])
            if records:
                return int(records[0].offset)
            highwater = consumer.highwater(partition)
            if highwater is not None and highwater <= offset:
                return None
        return None
    finally:
        await consumer.stop()


def _probe(
    bootstrap_servers: str,
    client_id: str,
    request_timeout_ms: int,
    fetch_max_wait_ms: int,
    *,
    reset: str,
) -> Any:
    """A short-lived consumer without a group, for one question to the broker."""
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset=reset,
        request_timeout_ms=request_timeout_ms,
        # Not 0: the embedded broker then answers without the partitions' data.
        fetch_max_wait_ms=max(fetch_max_wait_ms, 1),
    )
