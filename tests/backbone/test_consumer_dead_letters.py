"""What cannot be applied goes to ``<topic>.dlq`` with the reason; the consumer goes on."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from shared_kernel.infrastructure.messaging.cloudevents import EventEnvelope, encode
from tests.backbone.conftest import Ledger, eventually, headers_of, project_deposits, read_topic

pytestmark = pytest.mark.integration

ALWAYS_FAILS = 13  # an amount whose handling always hits a "database" error
FAILS_ONCE = 7  # an amount whose handling fails once, then works


def deposit_event(account: str, version: int, amount: Any) -> tuple[bytes, bytes, list[Any]]:
    payload = {"aggregate_id": account, "aggregate_version": version, "amount": amount}
    return encode(
        event_id=str(uuid.uuid4()),
        source="urn:dpmesh:ledger",
        event_type="ledger.Deposited",
        time=datetime.now(UTC),
        subject=account,
        payload=json.dumps(payload).encode(),
    )


async def test_bad_events_are_dead_lettered_with_reasons_and_later_ones_applied(
    ledger: Ledger, kafka_bootstrap: str
) -> None:
    flaky = {"failures_left": 1}

    async def handler(envelopes: Sequence[EventEnvelope], session: AsyncSession) -> None:
        for envelope in envelopes:
            if envelope.data.get("amount") == ALWAYS_FAILS:
                raise ConnectionError("server closed the connection unexpectedly")
            if envelope.data.get("amount") == FAILS_ONCE and flaky["failures_left"]:
                flaky["failures_left"] -= 1
                raise TimeoutError("lock wait timeout")
        await project_deposits(envelopes, session)

    good_key = b"acc-d"
    key, _, ce_headers = deposit_event("acc-d", 2, 1)
    not_json = (key, b"{not json", ce_headers)
    no_source = deposit_event("acc-d", 2, 1)
    no_source = (no_source[0], no_source[1], [h for h in no_source[2] if h[0] != "ce_source"])
    messages: list[tuple[str, tuple[bytes, bytes, list[Any]]]] = [
        ("ok", deposit_event("acc-d", 1, 10)),
        ("malformed", (good_key, b"\x00\xff\x13 definitely not an event", [])),
        ("permanent", deposit_event("acc-d", 2, "ten")),  # schema-invalid data
        ("ok", deposit_event("acc-d", 2, 20)),
        ("malformed", not_json),
        ("malformed", no_source),
        ("transient", deposit_event("acc-x", 1, ALWAYS_FAILS)),
        ("ok", deposit_event("acc-d", 3, FAILS_ONCE)),
        ("ok", deposit_event("acc-d", 4, 30)),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    sent: list[tuple[str, Any, tuple[bytes, bytes, list[Any]]]] = []
    try:
        for kind, (k, v, h) in messages:
            sent.append(
                (kind, await producer.send_and_wait(ledger.topic, v, key=k, headers=h), (k, v, h))
            )
    finally:
        await producer.stop()

    consumer = ledger.consumer("balances", batch_handler=handler, max_attempts=3)
    await consumer.start()
    try:

        async def caught_up() -> bool:
            return (await ledger.projected()).get("acc-d", (0, 0, 0))[2] == 4

        await eventually(caught_up, within_s=30, what="events after the bad ones applied")
        dead = [item for item in sent if item[0] != "ok"]
        letters = await read_topic(kafka_bootstrap, f"{ledger.topic}.dlq", expected=len(dead))
    finally:
        await consumer.stop()

    assert await ledger.projected() == {"acc-d": (10 + 20 + FAILS_ONCE + 30, 4, 4)}
    assert (await ledger.totals("balances")).out_of_order == 0

    assert len(letters) == len(dead)
    by_origin = {
        (headers_of(r)["dlq_origin_partition"], headers_of(r)["dlq_origin_offset"]): r
        for r in letters
    }
    for kind, metadata, (k, v, h) in dead:
        letter = by_origin[(str(metadata.partition).encode(), str(metadata.offset).encode())]
        headers = headers_of(letter)
        assert (letter.key, letter.value) == (k, v), "the original bytes, untouched"
        assert all(headers[name] == value for name, value in h), "original headers kept"
        assert headers["dlq_origin_topic"] == ledger.topic.encode()
        assert headers["dlq_consumer"] == b"balances"
        assert datetime.fromisoformat(headers["dlq_failed_at"].decode()).tzinfo is not None
        reason = headers["dlq_reason"].decode()
        if kind == "malformed":
            assert "CloudEvent" in reason or "JSON" in reason, reason
        elif kind == "permanent":
            assert "ValidationError" in reason, reason
            assert "amount" in reason, reason
        else:
            assert "gave up after 3 attempts" in reason, reason
            assert "ConnectionError" in reason, reason

    def dead_lettered(kind: str) -> float:
        return ledger.metric("dpmesh_consumer_dead_lettered_total", consumer="balances", kind=kind)

    assert (dead_lettered("malformed"), dead_lettered("permanent"), dead_lettered("transient")) == (
        3,
        1,
        1,
    )
    # max_attempts=3: the always-failing event was retried twice before giving up.
    assert ledger.metric("dpmesh_consumer_retries_total", consumer="balances") >= 2
    assert ledger.metric("dpmesh_consumer_events_processed_total", consumer="balances") == 4


class FlakySessions:
    """Hands out sessions on an unreachable database for the first ``failures`` calls."""

    def __init__(self, working: async_sessionmaker[AsyncSession], failures: int) -> None:
        self._working = working
        self._broken = async_sessionmaker(
            create_async_engine("sqlite+aiosqlite:////nonexistent-dir/unreachable.db")
        )
        self.failures = failures

    def __call__(self) -> AsyncSession:
        if self.failures:
            self.failures -= 1
            return self._broken()
        return self._working()


async def test_a_database_outage_delays_events_without_dead_lettering_them(
    ledger: Ledger, kafka_bootstrap: str
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for version, amount in enumerate([3, 4, 5], start=1):
            key, value, headers = deposit_event("acc-o", version, amount)
            await producer.send_and_wait(ledger.topic, value, key=key, headers=headers)
    finally:
        await producer.stop()
    sessions = FlakySessions(ledger.sessions, failures=6)
    consumer = ledger.consumer("balances", session_factory=sessions, max_attempts=2)
    await consumer.start()
    try:

        async def applied() -> bool:
            return (await ledger.totals("balances")).deposits == 3

        await eventually(applied, within_s=30, what="events applied once the database is back")
    finally:
        await consumer.stop()
    assert sessions.failures == 0
    assert await ledger.projected() == {"acc-o": (12, 3, 3)}
    for kind in ("malformed", "permanent", "transient"):
        assert (
            ledger.metric("dpmesh_consumer_dead_lettered_total", consumer="balances", kind=kind)
            == 0
        )
