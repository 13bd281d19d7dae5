"""The derived read store on a real database: newer-wins upserts, reads by key and
page, and a snapshot whose schema is the derived one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from shared_kernel.application.products import ProductSpec, described
from shared_kernel.infrastructure.products import ProductReadStore, arrow_schema

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Tally:
    name: str = described("Key.", key=True)
    count: int = described("Count.")
    as_of: datetime = described("Newest fact.")


SPEC = ProductSpec("tallies", Tally, "Counts.")


async def test_an_older_row_never_replaces_a_newer_one(database_url: str, tmp_path: Path) -> None:
    store = ProductReadStore(database_url, [SPEC], clock=lambda: T0)
    await store.create_all()
    try:
        async with store.engine.begin() as conn:
            await store.write_in(conn, [Tally("a", 2, T0), Tally("b", 1, T0)])
        async with store.engine.begin() as conn:
            await store.write_in(conn, [Tally("a", 1, T0 - timedelta(seconds=1))])
            await store.write_in(conn, [Tally("b", 5, T0 + timedelta(seconds=1))])
        found = await store.get("tallies", ["a"])
        assert found is not None
        assert found.row == Tally("a", 2, T0)
        assert found.materialized_at == T0
        assert [m.row.count for m in await store.page("tallies", limit=10)] == [2, 5]
        assert await store.get("tallies", ["zz"]) is None
        assert await store.count("tallies") == 2

        written = await store.write_snapshots(tmp_path, date(2026, 3, 1))
        table = pq.read_table(written["tallies"])
        assert table.schema.equals(arrow_schema(SPEC), check_metadata=False)
        assert table.column("count").to_pylist() == [2, 5]
    finally:
        await store.drop_all()
        await store.dispose()
