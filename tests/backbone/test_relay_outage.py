"""A broker outage delays events; it loses none, duplicates no effect, keeps key order."""

from __future__ import annotations

import pytest

from dpmesh.runtime.broker import EmbeddedBroker
from tests.backbone.conftest import Ledger, Totals, eventually

pytestmark = pytest.mark.integration

ACCOUNTS = [f"acc-{i}" for i in range(6)]


async def test_events_committed_during_an_outage_arrive_once_and_in_order(
    ledger: Ledger, embedded_broker: EmbeddedBroker
) -> None:
    # Requests to the frozen broker time out after 1.5 s: the relay's rounds fail.
    relay = ledger.relay(request_timeout_ms=1_500, backoff_initial_s=0.1, backoff_max_s=0.4)
    consumer = ledger.consumer("balances")
    await consumer.start()
    await relay.start()
    commits = 0

    async def commit_round() -> None:
        nonlocal commits
        for account in ACCOUNTS:
            await ledger.deposit(account, [commits % 9 + 1, commits % 5 + 1])
        commits += 1

    async def everything_applied() -> bool:
        return (await ledger.totals("balances")).deposits == 2 * len(ACCOUNTS) * commits

    async def relay_failed_twice() -> bool:
        # Keep committing while the relay fails: writes must not depend on the broker.
        await commit_round()
        return ledger.metric("dpmesh_outbox_publish_failures_total", context="ledger") >= 2

    try:
        await commit_round()
        await eventually(everything_applied, within_s=30, what="events before the outage")
        with embedded_broker.outage():
            await eventually(relay_failed_twice, within_s=30, what="relay rounds failing")
            assert await ledger.unpublished() > 0
        for _ in range(3):
            await commit_round()
        await eventually(everything_applied, within_s=60, what="every event after resume")
    finally:
        await relay.stop()
        await consumer.stop()

    events = 2 * len(ACCOUNTS) * commits
    totals = await ledger.totals("balances")
    assert totals == Totals(
        accounts=len(ACCOUNTS),
        deposits=events,
        balance=sum(sum(amounts) for amounts in ledger.expected.values()),
        out_of_order=0,
        inbox=events,
    )
    assert await ledger.projected() == ledger.expected_projection()
    assert await ledger.unpublished() == 0
