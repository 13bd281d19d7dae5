"""The relay turns outbox rows into CloudEvents on Kafka, in order, and marks them."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime

import pytest
from sqlalchemy import select

from shared_kernel.infrastructure.messaging.cloudevents import decode
from tests.backbone.conftest import Ledger, eventually, headers_of, outbox, read_topic

pytestmark = pytest.mark.integration

TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$")


async def test_rows_become_cloudevents_keyed_by_aggregate_in_version_order(
    ledger: Ledger, kafka_bootstrap: str
) -> None:
    for round_ in range(3):
        for account in ("acc-1", "acc-2", "acc-3", "acc-4"):
            await ledger.deposit(account, [round_ * 10 + i + 1 for i in range(5)])
    total = 60
    relay = ledger.relay()
    await relay.start()
    try:
        await eventually(ledger.all_published, within_s=20, what="all rows published")
    finally:
        await relay.stop()

    records = await read_topic(kafka_bootstrap, ledger.topic, expected=total)
    assert len(records) == total
    async with ledger.engine.connect() as conn:
        stored = {
            row.event_id: row
            for row in await conn.execute(
                select(outbox.c.event_id, outbox.c.occurred_at, outbox.c.published_at)
            )
        }
    assert all(row.published_at is not None for row in stored.values())

    versions: dict[str, list[int]] = {}
    partitions: dict[str, set[int]] = {}
    for record in records:
        headers = headers_of(record)
        envelope = decode(record.headers, record.key, record.value)
        account = record.key.decode()
        assert envelope.id in stored
        assert envelope.source == "urn:dpmesh:ledger"
        assert envelope.type == "ledger.Deposited"
        assert envelope.subject == account
        assert envelope.dataschema == "urn:dpmesh:ledger:event:Deposited.v1"
        assert envelope.data["aggregate_id"] == account
        assert envelope.time == _aware(stored[envelope.id].occurred_at)
        assert TRACEPARENT.match(headers["traceparent"].decode())
        assert headers["content-type"] == b"application/json"
        versions.setdefault(account, []).append(envelope.data["aggregate_version"])
        partitions.setdefault(account, set()).add(record.partition)
    assert versions == {
        account: list(range(1, 16)) for account in ("acc-1", "acc-2", "acc-3", "acc-4")
    }
    assert all(len(p) == 1 for p in partitions.values()), "a key spread over partitions"
    assert ledger.metric("dpmesh_outbox_published_total", context="ledger") == total
    assert ledger.metric("dpmesh_outbox_publish_latency_seconds_count", context="ledger") == total
    assert ledger.metric("dpmesh_outbox_backlog_events", context="ledger") == 0


async def test_a_commit_wakes_the_relay_without_waiting_for_the_poll(
    ledger: Ledger, kafka_bootstrap: str
) -> None:
    # Polling once an hour. Once the first deposit is out the relay is idle, so only
    # a wake-up (after-commit callback, or NOTIFY on PostgreSQL) publishes the second.
    relay = ledger.relay(poll_interval_s=3600)
    await relay.start()
    try:
        await ledger.deposit("acc-9", [5])
        await eventually(ledger.all_published, within_s=20, what="first deposit published")
        await ledger.deposit("acc-9", [6])
        await eventually(ledger.all_published, within_s=20, what="woken and published")
    finally:
        await relay.stop()
    records = await read_topic(kafka_bootstrap, ledger.topic, expected=2)
    assert [json.loads(r.value)["amount"] for r in records] == [5, 6]


async def test_correlation_id_becomes_the_trace_id_and_an_extension(
    ledger: Ledger, kafka_bootstrap: str
) -> None:
    from shared_kernel.infrastructure.logging import bind_correlation_id

    correlation = uuid.uuid4().hex
    bind_correlation_id(correlation)
    await ledger.deposit("acc-c", [1])
    relay = ledger.relay()
    await relay.start()
    try:
        await eventually(ledger.all_published, within_s=20, what="published")
    finally:
        await relay.stop()
    (record,) = await read_topic(kafka_bootstrap, ledger.topic, expected=1)
    headers = headers_of(record)
    assert headers["traceparent"].decode().split("-")[1] == correlation
    assert decode(record.headers, record.key, record.value).extensions == {
        "correlationid": correlation
    }


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
