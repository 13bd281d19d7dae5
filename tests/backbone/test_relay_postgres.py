"""PostgreSQL only: several relays on one outbox, and wake-up by NOTIFY from another process."""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from shared_kernel.infrastructure.messaging.relay import OutboxRelay, OutboxRow
from tests.backbone.conftest import Ledger, eventually, read_topic

pytestmark = pytest.mark.integration


class JitteryRelay(OutboxRelay):
    """Takes a random while before publishing, as a relay on a busy host would."""

    async def _publish(
        self, rows: list[OutboxRow]
    ) -> tuple[list[OutboxRow], list[OutboxRow], BaseException | None]:
        await asyncio.sleep(random.uniform(0, 0.02))
        return await super()._publish(rows)


@pytest.fixture
def pg_ledger(ledger: Ledger) -> Ledger:
    if ledger.engine.dialect.name != "postgresql":
        pytest.skip("several relays per database and LISTEN/NOTIFY need PostgreSQL")
    return ledger


async def test_three_relays_publish_every_row_once_in_key_order(
    pg_ledger: Ledger, kafka_bootstrap: str
) -> None:
    ledger = pg_ledger
    # Small batches, hot keys and uneven publishing times, so that relays keep
    # claiming neighbouring rows of one key and would overtake one another.
    relays = [ledger.relay(JitteryRelay, batch_size=7, poll_interval_s=0.01) for _ in range(3)]
    for relay in relays:
        await relay.start()
    accounts = [f"acc-{i}" for i in range(8)]

    async def writer(mine: list[str]) -> None:
        for round_ in range(25):
            for account in mine:
                await ledger.deposit(account, [round_ + 1, round_ + 2])

    try:
        await asyncio.gather(*(writer(accounts[i::4]) for i in range(4)))
        await eventually(ledger.all_published, within_s=60, what="all rows published")
    finally:
        for relay in relays:
            await relay.stop()

    events = len(accounts) * 25 * 2
    records = await read_topic(kafka_bootstrap, ledger.topic, expected=events)
    versions: dict[str, list[int]] = {}
    for record in records:
        data = json.loads(record.value)
        versions.setdefault(data["aggregate_id"], []).append(data["aggregate_version"])
    assert versions == {account: list(range(1, 51)) for account in accounts}
    assert ledger.metric("dpmesh_outbox_published_total", context="ledger") == events


async def test_a_commit_in_another_process_wakes_the_relay_through_notify(
    pg_ledger: Ledger, kafka_bootstrap: str
) -> None:
    ledger = pg_ledger
    # Not registered as an after-commit callback and polling once an hour: only
    # the NOTIFY issued by the outbox writer can wake it.
    relay = ledger.relay(poll_interval_s=3600, wake_on_commit=False)
    await relay.start()
    try:

        async def listening() -> bool:
            return relay.listening

        await eventually(listening, within_s=10, what="relay listening")
        await ledger.deposit("acc-n", [42])
        await eventually(ledger.all_published, within_s=20, what="woken by NOTIFY")
    finally:
        await relay.stop()
    (record,) = await read_topic(kafka_bootstrap, ledger.topic, expected=1)
    assert json.loads(record.value)["amount"] == 42
