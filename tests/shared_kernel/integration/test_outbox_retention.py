"""The outbox keeps published rows for replay, within a retention; never unpublished ones."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import MetaData, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared_kernel.infrastructure.database import create_engine
from shared_kernel.infrastructure.persistence.outbox import (
    mark_for_replay,
    outbox_table,
    purge_published,
)

pytestmark = pytest.mark.integration

metadata = MetaData()
outbox = outbox_table(metadata)
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def row(n: int, *, recorded: datetime, published: datetime | None) -> dict[str, object]:
    return {
        "event_id": f"00000000-0000-0000-0000-{n:012d}",
        "event_type": "test.Happened",
        "schema_version": 1,
        "topic": "test.thing.v1",
        "message_key": "T-1",
        "aggregate_version": n,
        "occurred_at": recorded,
        "payload": "{}",
        "headers": "{}",
        "recorded_at": recorded,
        "published_at": published,
        "attempts": 0,
    }


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(
            insert(outbox),
            [
                row(1, recorded=NOW - timedelta(days=40), published=NOW - timedelta(days=40)),
                row(2, recorded=NOW - timedelta(days=40), published=None),  # never sent
                row(3, recorded=NOW - timedelta(days=2), published=NOW - timedelta(days=2)),
                row(4, recorded=NOW, published=NOW),
            ],
        )
    yield engine
    await engine.dispose()


async def versions(engine: AsyncEngine, *, published: bool | None = None) -> list[int]:
    query = select(outbox.c.aggregate_version).order_by(outbox.c.seq)
    if published is not None:
        column = outbox.c.published_at
        query = query.where(column.is_not(None) if published else column.is_(None))
    async with engine.connect() as conn:
        return list((await conn.scalars(query)).all())


async def test_rows_published_before_the_retention_are_deleted_unpublished_never(
    engine: AsyncEngine,
) -> None:
    assert await purge_published(engine, outbox, before=NOW - timedelta(days=30)) == 1
    assert await versions(engine) == [2, 3, 4]


async def test_replay_marks_kept_rows_unpublished_from_a_moment(engine: AsyncEngine) -> None:
    assert await mark_for_replay(engine, outbox, since=NOW - timedelta(days=3)) == 2
    assert await versions(engine, published=False) == [2, 3, 4]
    assert await mark_for_replay(engine, outbox) == 1
    assert await versions(engine, published=True) == []
