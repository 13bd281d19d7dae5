"""StreamState on SQLite and PostgreSQL: one transaction per event, versions in order,
gaps held and reported, nothing half-written when an event fails."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine

from shared_kernel.infrastructure.database import create_engine
from shared_kernel.infrastructure.messaging.cloudevents import EventEnvelope
from shared_kernel.infrastructure.streams.state import (
    Outcome,
    StateTransaction,
    StreamState,
    stream_state_tables,
)

pytestmark = pytest.mark.integration

metadata = MetaData()
tables = stream_state_tables(metadata)
ACCOUNT = "account/A-1"


def deposit(version: int, amount: int) -> EventEnvelope:
    return EventEnvelope(
        id=f"evt-{version}",
        source="urn:test",
        type="test.Deposited",
        time=datetime(2026, 1, 1, tzinfo=UTC),
        subject="A-1",
        data={"amount": amount, "aggregate_version": version},
        key="A-1",
    )


async def add(tx: StateTransaction, envelope: EventEnvelope) -> None:
    """The balance, and the versions in the order they were applied."""
    state = await tx.get("balances", "A-1") or {"balance": 0, "applied": []}
    tx.put(
        "balances",
        "A-1",
        {
            "balance": state["balance"] + envelope.data["amount"],
            "applied": [*state["applied"], envelope.data["aggregate_version"]],
        },
    )


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


async def apply(state: StreamState, version: int, amount: int) -> tuple[Outcome, int]:
    return await state.apply_in_sequence(deposit(version, amount), ACCOUNT, version, add)


async def test_versions_apply_in_order_and_redeliveries_change_nothing(engine: AsyncEngine) -> None:
    state = StreamState(engine, tables, "ledger")
    assert await apply(state, 1, 10) == (Outcome.APPLIED, 1)
    assert await apply(state, 2, 5) == (Outcome.APPLIED, 1)
    assert await apply(state, 1, 10) == (Outcome.DUPLICATE, 0)
    assert await state.load("balances", "A-1") == {"balance": 15, "applied": [1, 2]}
    assert await state.applied_version(ACCOUNT) == 2


async def test_a_version_that_skips_ahead_is_held_until_the_gap_closes(engine: AsyncEngine) -> None:
    state = StreamState(engine, tables, "ledger")
    await apply(state, 1, 10)
    assert await apply(state, 4, 1) == (Outcome.HELD, 0)
    assert await apply(state, 3, 2) == (Outcome.HELD, 0)
    (gap,) = await state.gaps()
    assert (gap.aggregate, gap.first, gap.last, gap.held, gap.missing) == (ACCOUNT, 2, 2, 2, 1)
    # Nothing of the held events shows until the missing version arrives.
    assert await state.load("balances", "A-1") == {"balance": 10, "applied": [1]}

    assert await apply(state, 2, 100) == (Outcome.APPLIED, 3)
    assert await state.load("balances", "A-1") == {"balance": 113, "applied": [1, 2, 3, 4]}
    assert await state.gaps() == []


async def test_a_failing_event_leaves_no_trace_and_comes_again(engine: AsyncEngine) -> None:
    state = StreamState(engine, tables, "ledger")
    committed: list[str] = []

    async def failing(tx: StateTransaction, envelope: EventEnvelope) -> None:
        await add(tx, envelope)
        tx.after_commit.append(lambda: committed.append(envelope.id))
        raise ConnectionError("read store went away mid-event")

    with pytest.raises(ConnectionError):
        await state.apply_in_sequence(deposit(1, 10), ACCOUNT, 1, failing)
    assert committed == []
    assert await state.applied_version(ACCOUNT) == 0
    assert await state.load("balances", "A-1") is None
    assert await apply(state, 1, 10) == (Outcome.APPLIED, 1)


async def test_consumers_sharing_a_database_keep_their_own_state(engine: AsyncEngine) -> None:
    first, second = StreamState(engine, tables, "one"), StreamState(engine, tables, "two")
    await apply(first, 1, 10)
    assert await apply(second, 1, 7) == (Outcome.APPLIED, 1)
    assert await second.load("balances", "A-1") == {"balance": 7, "applied": [1]}
