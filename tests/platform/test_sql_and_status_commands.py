"""``dpmesh sql`` reads snapshots and nothing else; ``dpmesh status`` judges SLOs."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from dpmesh.cli import app
from dpmesh.commands.sql import run_query
from dpmesh.commands.status import slo_status


def _snapshot(root: Path, product: str, day: str, rows: list[dict[str, object]]) -> None:
    folder = root / product / f"date={day}"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), folder / "part-00000.parquet")


@pytest.fixture
def snapshots(tmp_path: Path) -> Path:
    _snapshot(tmp_path, "inventory-levels", "2026-11-26", [{"sku": "A", "available": 10}])
    _snapshot(
        tmp_path,
        "inventory-levels",
        "2026-11-27",
        [{"sku": "A", "available": 7}, {"sku": "B", "available": 3}],
    )
    _snapshot(tmp_path, "alerts", "2026-11-27", [{"alert_id": "x", "active": True}])
    return tmp_path


def roots(snapshots: Path) -> dict[str, Path]:
    return {"supply_chain": snapshots}


def test_every_day_of_a_product_is_one_view_with_its_date(snapshots: Path) -> None:
    columns, rows = run_query(
        "select cast(date as varchar) as day, sum(available) from supply_chain.inventory_levels "
        "group by day order by day",
        roots(snapshots),
    )
    assert columns[0] == "day"
    assert rows == [("2026-11-26", 10), ("2026-11-27", 10)]
    _, alerts = run_query("select count(*) from supply_chain.alerts", roots(snapshots))
    assert alerts == [(1,)]


@pytest.mark.parametrize(
    "statement",
    [
        "copy (select 1) to 'out.csv'",
        "create table t as select 1",
        "attach 'other.db'",
        "select 1; select 2",
    ],
)
def test_anything_but_one_query_is_refused_before_it_runs(snapshots: Path, statement: str) -> None:
    with pytest.raises(ValueError, match=r"only queries|one query"):
        run_query(statement, roots(snapshots))
    assert not (snapshots / "out.csv").exists()


def test_the_command_prints_rows_and_fails_clearly(tmp_path: Path) -> None:
    # The CLI's root holds one folder per context.
    snapshots = tmp_path / "supply_chain"
    _snapshot(snapshots, "inventory-levels", "2026-11-26", [{"sku": "A", "available": 10}])
    _snapshot(snapshots, "inventory-levels", "2026-11-27", [{"sku": "A"}, {"sku": "B"}])
    runner = CliRunner()
    ok = runner.invoke(
        app, ["sql", "select sku from supply_chain.inventory_levels", "--root", str(tmp_path)]
    )
    assert ok.exit_code == 0, ok.output
    assert ok.output.count("│ A ") == 2
    assert ok.output.count("│ B ") == 1
    refused = runner.invoke(app, ["sql", "drop view x", "--root", str(tmp_path)])
    assert refused.exit_code == 2
    missing = runner.invoke(app, ["sql", "select 1", "--root", str(tmp_path / "none")])
    assert missing.exit_code == 1


def test_slo_status_is_breached_when_any_slo_is_missed() -> None:
    assert slo_status({"slos": []}) == "unknown"
    assert slo_status({"slos": [{"met": None}]}) == "unknown"
    assert slo_status({"slos": [{"met": True}, {"met": None}]}) == "met"
    assert slo_status({"slos": [{"met": True}, {"met": False}]}) == "breached"


def test_status_fails_clearly_when_the_catalog_is_down() -> None:
    result = CliRunner().invoke(app, ["status", "--catalog", "http://127.0.0.1:9"])
    assert result.exit_code == 1
