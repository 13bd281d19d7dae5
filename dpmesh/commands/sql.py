"""``dpmesh sql``: ad hoc SQL over the data products' Parquet snapshots, read-only.

Each product's snapshot folder becomes a view ``<context>.<product>`` (dashes become
underscores) over every day's file, with the Hive partition ``date`` as a column. Only
queries run: the statement types are checked before anything executes, so ``COPY``,
``INSTALL``, ``ATTACH`` or ``CREATE`` never reach DuckDB.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import duckdb
import typer
from rich.console import Console
from rich.table import Table

from dpmesh.runtime.contexts import manifests

_console = Console()
_errors = Console(stderr=True)
_READ_ONLY = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


DEMO_ROOT = Path("var/demo/snapshots")


def context_roots(root: Path | None = None) -> dict[str, Path]:
    """Each registered context's snapshot folder: ``<root>/<context>`` when a root is
    given, else its ``<PREFIX>_SNAPSHOT_DIR`` setting, else where ``dpmesh demo`` writes."""
    roots = {}
    for manifest in manifests():
        if root is not None:
            roots[manifest.name] = root / manifest.name
        else:
            configured = os.environ.get(manifest.setting("snapshot_dir"))
            roots[manifest.name] = Path(configured) if configured else DEMO_ROOT / manifest.name
    return roots


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


def run_query(query: str, roots: Mapping[str, Path]) -> tuple[list[str], list[Any]]:
    """Column names and rows of a read-only ``query`` over the snapshots of each context
    (``{context: folder}``); a context without a folder has no views."""
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
        for context, root in roots.items():
            if root.is_dir():
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
            help="A folder with one snapshot folder per context, <root>/<context> "
            "(default: each context's <PREFIX>_SNAPSHOT_DIR, else var/demo/snapshots/<context>)."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="Rows to print at most.", min=1)] = 50,
) -> None:
    """Query the data products' Parquet snapshots with DuckDB (read-only).

    Views are named <context>.<product> (dashes become underscores); every view has a
    `date` column (the snapshot day).

    Examples:

      dpmesh sql "select warehouse, sku, available from supply_chain.inventory_levels"

      dpmesh sql "select date, count(*) from supply_chain.alerts group by date"
    """
    roots = context_roots(root)
    if not any(folder.is_dir() for folder in roots.values()):
        places = ", ".join(str(folder) for folder in roots.values())
        _errors.print(
            f"[bold red]No snapshots at {places}.[/] Run the demo (or a worker) first, "
            "or write them now with [cyan]dpmesh snapshot <context>[/]."
        )
        raise typer.Exit(code=1)
    try:
        columns, rows = run_query(query, roots)
    except (ValueError, duckdb.Error) as exc:
        _errors.print(f"[bold red]Query refused:[/] {exc}")
        raise typer.Exit(code=2) from None
    table = Table(*columns, title=f"{len(rows)} row(s)")
    for row in rows[:limit]:
        table.add_row(*("" if value is None else str(value) for value in row))
    _console.print(table)
    if len(rows) > limit:
        _console.print(f"(first {limit} of {len(rows)} rows; use --limit)")
