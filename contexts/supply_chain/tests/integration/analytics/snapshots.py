"""Read the Parquet snapshots back with DuckDB and compare them with the REST answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import httpx

from contexts.supply_chain.application.analytics import PRODUCTS


async def assert_snapshots_match_rest(api: httpx.AsyncClient, root: Path, day: date) -> int:
    """Every product's snapshot of ``day`` holds exactly the rows REST serves; the
    number of rows compared."""
    compared = 0
    for product in PRODUCTS:
        rest = (await api.get(f"/api/v1/products/{product}")).json()["items"]
        parquet = duckdb_rows(root, product)
        assert [row["date"] for row in parquet] == [day] * len(rest), product
        for from_rest, from_file in zip(
            sorted(rest, key=natural_key(product)),
            sorted(parquet, key=natural_key(product)),
            strict=True,
        ):
            assert_same_as_rest(product, from_rest, from_file)
        compared += len(rest)
    return compared


def duckdb_rows(root: Path, product: str) -> list[dict[str, Any]]:
    pattern = str(root / product / "*" / "*.parquet")
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        result = con.execute(f"SELECT * FROM read_parquet('{pattern}', hive_partitioning = true)")
        names = [d[0] for d in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def natural_key(product: str) -> Callable[[dict[str, Any]], str]:
    field = {
        "inventory-levels": "sku",
        "supplier-performance": "supplier",
        "alerts": "alert_id",
        "delivery-timelines": "shipment_id",
    }[product]
    return lambda row: row[field]


def assert_same_as_rest(product: str, rest: dict[str, Any], row: dict[str, Any]) -> None:
    """Every field of the REST item equals the snapshot's column of the same name."""
    for name, expected in rest.items():
        if name == "freshness_ms":
            continue
        if product == "supplier-performance" and name in ("window", "all_time"):
            for figure, value in expected.items():
                _same(value, row[f"{name}_{figure}"], f"{name}_{figure}")
            continue
        if product == "alerts" and name == "details":
            assert json.loads(row["details"]) == expected
            continue
        if product == "delivery-timelines" and name == "legs":
            assert len(row["legs"]) == len(expected)
            for leg_rest, leg_file in zip(expected, row["legs"], strict=True):
                for leg_field, value in leg_rest.items():
                    _same(value, leg_file[leg_field], f"legs.{leg_field}")
            continue
        _same(expected, row[name], name)


def _same(from_rest: Any, from_file: Any, name: str) -> None:
    if from_rest is None or from_file is None:
        assert (from_rest, from_file) == (None, None), name
    elif isinstance(from_file, Decimal):
        assert Decimal(from_rest) == from_file, name
    elif isinstance(from_file, datetime):
        assert datetime.fromisoformat(from_rest) == from_file, name
    elif isinstance(from_file, date):
        assert date.fromisoformat(from_rest) == from_file, name
    else:
        assert from_rest == from_file, name
