"""Redelivered events change nothing: the inbox absorbs them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from shared_kernel.infrastructure.messaging.consumer import EventConsumer
from shared_kernel.infrastructure.messaging.relay import OutboxRelay, OutboxRow
from tests.backbone.conftest import (
    Ledger,
    Totals,
    eventually,
    inbox,
    project_deposit,
    project_deposits,
    read_topic,
)

pytestmark = pytest.mark.integration


class RelayCrash(RuntimeError):
    pass


class CrashingRelay(OutboxRelay):
    """Dies once between the broker's acks and marking the rows, like a killed process."""

    crashes_left = 1
    crashed_after_publishing = 0

    async def _mark_published(self, conn: AsyncConnection, rows: Sequence[OutboxRow]) -> None:
        if self.crashes_left:
            self.crashes_left -= 1
            self.crashed_after_publishing += len(rows)
            raise RelayCrash("killed after the acks, before the update")
        await super()._mark_published(conn, rows)


async def test_rows_published_twice_after_a_relay_crash_are_applied_once(
    ledger: Ledger, kafka_bootstrap: str
) -> None:
    for account in ("acc-1", "acc-2", "acc-3"):
        await ledger.deposit(account, [1, 2, 3, 4])
    events = 12
    relay = ledger.relay(cls=CrashingRelay)
    assert isinstance(relay, CrashingRelay)
    await relay.start()
    try:
        await eventually(ledger.all_published, within_s=20, what="rows published after the crash")
    finally:
        await relay.stop()
    assert relay.crashed_after_publishing == events
    # Both copies are on the topic.
    assert len(await read_topic(kafka_bootstrap, ledger.topic, expected=2 * events)) == 2 * events

    consumer = ledger.consumer("balances", handler=project_deposit)  # one event at a time
    await consumer.start()
    try:

        async def all_seen() -> bool:
            return (
                ledger.metric("dpmesh_consumer_events_processed_total", consumer="balances")
                + ledger.metric("dpmesh_consumer_duplicates_skipped_total", consumer="balances")
                >= 2 * events
            )

        await eventually(all_seen, within_s=30, what="both copies consumed")
    finally:
        await consumer.stop()

    assert await ledger.totals("balances") == Totals(
        accounts=3, deposits=events, balance=3 * 10, out_of_order=0, inbox=events
    )
    assert await ledger.projected() == ledger.expected_projection()
    assert ledger.metric("dpmesh_consumer_events_processed_total", consumer="balances") == events
    assert ledger.metric("dpmesh_consumer_duplicates_skipped_total", consumer="balances") >= events
    assert ledger.metric("dpmesh_outbox_publish_failures_total", context="ledger") >= 1


async def test_replaying_the_topic_from_the_start_changes_nothing(ledger: Ledger) -> None:
    for account in ("acc-1", "acc-2"):
        await ledger.deposit(account, [5, 6, 7])
    events = 6
    relay = ledger.relay()
    await relay.start()
    first = ledger.consumer("balances", group_id=f"{ledger.topic}.first")
    await first.start()
    try:

        async def applied() -> bool:
            return (await ledger.totals("balances")).deposits == events

        await eventually(applied, within_s=30, what="first pass applied")
    finally:
        await first.stop()
    before = await ledger.projected()

    # Same consumer (same inbox name), new group: every event is delivered again.
    replay = ledger.consumer("balances", group_id=f"{ledger.topic}.replay")
    await replay.start()
    try:

        async def replayed() -> bool:
            skipped = ledger.metric("dpmesh_consumer_duplicates_skipped_total", consumer="balances")
            return skipped >= events

        await eventually(replayed, within_s=30, what="replay consumed")
    finally:
        await replay.stop()
        await relay.stop()

    assert await ledger.projected() == before == ledger.expected_projection()
    assert (await ledger.totals("balances")).inbox == events
    assert ledger.metric("dpmesh_consumer_events_processed_total", consumer="balances") == events


class StumblingConsumer(EventConsumer):
    """Fails once outside any handler, as a bug or a lost connection mid-batch would."""

    stumbles_left = 1

    async def process(self, records: Sequence[Any]) -> None:
        if self.stumbles_left:
            self.stumbles_left -= 1
            raise RuntimeError("lost the database connection between two statements")
        await super().process(records)


async def test_a_batch_aborted_outside_the_handlers_is_fetched_again(ledger: Ledger) -> None:
    await ledger.deposit("acc-1", [1, 2, 3])
    await ledger.deposit("acc-2", [4])
    relay = ledger.relay()
    await relay.start()
    consumer = StumblingConsumer(
        name="balances",
        topics=[ledger.topic],
        batch_handler=project_deposits,
        session_factory=ledger.sessions,
        inbox=inbox,
        kafka=ledger.kafka,
        registry=ledger.registry,
        group_id=f"{ledger.topic}.stumbling",
        retry_backoff_max_s=0.1,
    )
    await consumer.start()
    try:

        async def applied() -> bool:
            return (await ledger.totals("balances")).deposits == 4

        await eventually(applied, within_s=30, what="the aborted batch applied after all")
    finally:
        await consumer.stop()
        await relay.stop()
    assert consumer.stumbles_left == 0
    assert await ledger.projected() == ledger.expected_projection()
