"""``dpmesh sql``: ad hoc SQL over the data products' Parquet snapshots, read-only.

Each product's snapshot folder becomes a view ``<context>.<product>`` (dashes become
underscores) over every day's file, with the Hive partition ``date`` as a column. Only
queries run: the statement types are checked before anything executes, so ``COPY``,
``INSTALL``, ``ATTACH`` or ``CREATE`` never reach DuckDB.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import duckdb
import typer
from rich.console import Console
from rich.table import Table

_console = Console()
_errors = Console(stderr=True)
_READ_ONLY = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


def default_root() -> Path:
    """Where ``dpmesh demo`` (or a worker's settings) writes the supply chain's snapshots."""
    return Path(os.environ.get("SUPPLY_CHAIN_SNAPSHOT_DIR", "var/demo/snapshots"))


def snapshot_views(connection: duckdb.DuckDBPyConnection, context: str, root: Path) -> list[str]:
    """Create one view per product folder under ``root``; the view names."""
    connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{context}"')
    views = []
    for folder in sorted(
        p for p in root.iterdir() if p.is_dir() and any(p.glob("date=*/*.parquet"))
    ):
        view = f"{context}.{folder.name.replace('-', '_')}"
        pattern = str(folder / "date=*" / "*.parquet").replace("'", "''")
        connection.execute(
            f'CREATE VIEW "{context}"."{folder.name.replace("-", "_")}" AS '
            f"SELECT * FROM read_parquet('{pattern}', hive_partitioning = true)"
        )
        views.append(view)
    return views


def run_query(query: str, root: Path, context: str = "supply_chain") -> tuple[list[str], list[Any]]:
    """Column names and rows of a read-only ``query`` over the snapshots under ``root``."""
    statements = duckdb.extract_statements(query)
    if not statements:
        raise ValueError("no SQL statement given")
    refused = [s.type.name for s in statements if s.type not in _READ_ONLY]
    if refused:
        raise ValueError(f"only queries are allowed here, not {', '.join(refused)}")
    if len(statements) > 1:
        raise ValueError("give one query at a time")
    connection = duckdb.connect(":memory:")
    try:
        snapshot_views(connection, context, root)
        result = connection.execute(query)
        columns = [d[0] for d in result.description or []]
        return columns, result.fetchall()
    finally:
        connection.close()


def sql(
    query: Annotated[str, typer.Argument(help="One SELECT over the snapshot views.")],
    root: Annotated[
        Path | None,
        typer.Option(
            help="Snapshot root (default: $SUPPLY_CHAIN_SNAPSHOT_DIR or var/demo/snapshots)."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="Rows to print at most.", min=1)] = 50,
) -> None:
    """Query the data products' Parquet snapshots with DuckDB (read-only).

    Views are named <context>.<product>, e.g. supply_chain.inventory_levels; every
    view has a `date` column (the snapshot day).

    Examples:

      dpmesh sql "select warehouse, sku, available from supply_chain.inventory_levels"

      dpmesh sql "select date, count(*) from supply_chain.alerts group by date"
    """
    folder = root or default_root()
    if not folder.is_dir():
        _errors.print(
            f"[bold red]No snapshots at {folder}.[/] Run the demo (or a worker) first, "
            "or write them now with [cyan]dpmesh snapshot supply_chain[/]."
        )
        raise typer.Exit(code=1)
    try:
        columns, rows = run_query(query, folder)
    except (ValueError, duckdb.Error) as exc:
        _errors.print(f"[bold red]Query refused:[/] {exc}")
        raise typer.Exit(code=2) from None
    table = Table(*columns, title=f"{len(rows)} row(s)")
    for row in rows[:limit]:
        table.add_row(*("" if value is None else str(value) for value in row))
    _console.print(table)
    if len(rows) > limit:
        _console.print(f"(first {limit} of {len(rows)} rows; use --limit)")
