"""10,000 events: unit of work -> outbox -> relay -> Kafka -> consumer -> projection."""

from __future__ import annotations

import pytest

from tests.backbone.conftest import Ledger, Totals, eventually

pytestmark = pytest.mark.integration

ACCOUNTS = 40
COMMITS = 100
EVENTS_PER_COMMIT = 100


def amounts(commit: int) -> list[int]:
    return [(commit * 31 + i * 7) % 97 + 1 for i in range(EVENTS_PER_COMMIT)]


async def test_ten_thousand_events_are_each_applied_once(ledger: Ledger) -> None:
    consumer = ledger.consumer("balances")
    relay = ledger.relay()
    await consumer.start()
    await relay.start()
    try:
        for commit in range(COMMITS):
            await ledger.deposit(f"acc-{commit % ACCOUNTS:02d}", amounts(commit))
        total = COMMITS * EVENTS_PER_COMMIT
        checksum = sum(sum(amounts(c)) for c in range(COMMITS))

        async def all_applied() -> bool:
            return (await ledger.totals("balances")).deposits >= total

        await eventually(all_applied, within_s=60, what=f"{total} deposits projected")
    finally:
        await relay.stop()
        await consumer.stop()

    assert await ledger.totals("balances") == Totals(
        accounts=ACCOUNTS, deposits=total, balance=checksum, out_of_order=0, inbox=total
    )
    assert await ledger.projected() == ledger.expected_projection()
    assert await ledger.unpublished() == 0
    assert ledger.metric("dpmesh_outbox_published_total", context="ledger") == total
    assert ledger.metric("dpmesh_consumer_events_processed_total", consumer="balances") == total
    assert ledger.metric("dpmesh_consumer_freshness_seconds_count", consumer="balances") == total
