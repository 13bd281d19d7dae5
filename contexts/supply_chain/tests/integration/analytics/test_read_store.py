"""The read store on SQLite and PostgreSQL: upserts, readers, REST and snapshots."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from contexts.supply_chain.application.analytics import (
    PRODUCTS,
    Alert,
    AlertType,
    DeliveryTimeline,
    InventoryLevel,
    PerformanceFigures,
    Severity,
    SupplierPerformance,
    TimelineLeg,
)
from contexts.supply_chain.infrastructure.analytics import (
    AnalyticsReadStore,
    snapshot_path,
    write_snapshots,
)
from contexts.supply_chain.tests.integration.analytics.snapshots import (
    assert_snapshots_match_rest,
)

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def level(sku: str = "KD-HUB-200", *, available: str = "116", at_risk: bool | None = True):
    return InventoryLevel(
        warehouse="LYS-1",
        sku=sku,
        unit="each",
        on_hand=Decimal("116.5"),
        reserved=Decimal("0.5"),
        available=Decimal(available),
        daily_demand=Decimal("12.0000"),
        demand_window_days=7,
        lead_time_days=7 if at_risk is not None else None,
        safety_stock=Decimal(50) if at_risk is not None else None,
        reorder_point=Decimal(80) if at_risk is not None else None,
        risk_threshold=Decimal("134.0000") if at_risk is not None else None,
        days_of_cover=Decimal("9.66") if at_risk is not None else None,
        stock_out_on=date(2025, 3, 18) if at_risk is not None else None,
        at_risk=at_risk,
        shortfall=Decimal("18.0000") if at_risk else None,
        as_of=T0,
    )


FIGURES = PerformanceFigures(
    receipts=4,
    on_time=2,
    on_time_rate=Decimal("0.5000"),
    accepted=Decimal(165),
    rejected=Decimal("15.25"),
    quality_score=Decimal("0.9154"),
    lead_time_mean_days=Decimal("11.25"),
    lead_time_p90_days=20,
)
SUPPLIER = SupplierPerformance(
    supplier="ACME",
    name="Acme Components",
    country="DE",
    window_days=30,
    window_start=date(2025, 2, 9),
    window_end=date(2025, 3, 10),
    window=FIGURES,
    all_time=replace(FIGURES, receipts=5, on_time_rate=None, lead_time_p90_days=None),
    as_of=T0,
)
ALERT = Alert(
    alert_id="4c4b6328-8442-510a-aa8a-37766d0a9b36",
    type=AlertType.STOCK_OUT_RISK,
    subject="LYS-1:KD-HUB-200",
    severity=Severity.WARNING,
    raised_at=T0,
    cleared_at=None,
    details={"available": "116", "lead_time_days": 7, "stock_out_on": None, "x": True},
    as_of=T0,
)
TIMELINE = DeliveryTimeline(
    shipment_id="SH-1",
    account="ACC-ORBITAL",
    warehouse="LYS-1",
    destination="Orbital SA, Nanterre",
    status="delayed",
    planned_delivery=T0 + timedelta(hours=30),
    eta=T0 + timedelta(hours=34),
    dispatched_at=T0 + timedelta(hours=1),
    delivered_at=None,
    delay_minutes=240,
    on_time=None,
    legs=(
        TimelineLeg(
            1,
            "LYS-1",
            "Paris hub",
            "Geodis",
            T0 + timedelta(hours=2),
            T0 + timedelta(hours=8),
            T0 + timedelta(hours=2, minutes=30),
            None,
            30,
            None,
        ),
    ),
    as_of=T0,
)


class Clock:
    def __init__(self) -> None:
        self.now = T0 + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now


async def test_rows_round_trip_exactly(read_store: AnalyticsReadStore) -> None:
    await read_store.write([level(), SUPPLIER, ALERT, TIMELINE])

    stored_level = await read_store.inventory_level("LYS-1", "KD-HUB-200")
    assert stored_level is not None
    assert stored_level.row == level()
    assert (await read_store.supplier_performance("ACME")).row == SUPPLIER  # type: ignore[union-attr]
    assert (await read_store.alert(ALERT.alert_id)).row == ALERT  # type: ignore[union-attr]
    assert (await read_store.delivery_timeline("SH-1")).row == TIMELINE  # type: ignore[union-attr]
    assert await read_store.inventory_level("LYS-1", "nope") is None


async def test_upserts_are_idempotent_and_never_go_back_in_time(database_url: str) -> None:
    clock = Clock()
    store = AnalyticsReadStore(database_url, clock=clock)
    await store.create_all()
    try:
        await store.write([level()])
        clock.now += timedelta(seconds=5)
        newer = replace(level(available="100"), as_of=T0 + timedelta(minutes=1))
        await store.write([newer, newer])  # the same row twice in one batch
        older = replace(level(available="999"), as_of=T0 - timedelta(minutes=1))
        await store.write([older])

        (stored,) = await store.inventory_levels()
        assert stored.row == newer
        assert stored.materialized_at == T0 + timedelta(seconds=6)

        clock.now += timedelta(seconds=5)
        await store.write([newer])  # replayed: same figures, written again
        (again,) = await store.inventory_levels()
        assert again.row == newer
        assert again.materialized_at == T0 + timedelta(seconds=11)
    finally:
        await store.dispose()


async def test_filters(read_store: AnalyticsReadStore) -> None:
    cleared = replace(
        ALERT, alert_id="other", cleared_at=T0 + timedelta(hours=1), raised_at=T0 - timedelta(1)
    )
    delivered = replace(TIMELINE, shipment_id="SH-2", status="delivered")
    await read_store.write(
        [level(), level("KD-CAM-10", at_risk=False), level("KD-X", at_risk=None), ALERT, cleared]
    )
    await read_store.write([TIMELINE, delivered])

    at_risk = await read_store.inventory_levels(at_risk=True)
    assert [m.row.sku for m in at_risk] == ["KD-HUB-200"]
    assert [m.row.sku for m in await read_store.inventory_levels(at_risk=False)] == ["KD-CAM-10"]
    assert len(await read_store.inventory_levels(warehouse="LYS-1")) == 3
    assert [m.row.sku for m in await read_store.inventory_levels(limit=1, offset=1)] == [
        "KD-HUB-200"
    ]
    assert [m.row.alert_id for m in await read_store.alerts(active=True)] == [ALERT.alert_id]
    assert [m.row.alert_id for m in await read_store.alerts()] == [ALERT.alert_id, "other"]
    assert await read_store.alerts(type=AlertType.DELIVERY_DELAY) == []
    assert [m.row.shipment_id for m in await read_store.delivery_timelines(status="delayed")] == [
        "SH-1"
    ]


async def test_rest_serves_rows_with_their_freshness(
    read_store: AnalyticsReadStore, products_api: httpx.AsyncClient
) -> None:
    await read_store.write([level(), SUPPLIER, ALERT, TIMELINE])

    page = (await products_api.get("/api/v1/products/inventory-levels")).json()
    assert page["product"] == "inventory-levels"
    assert page["count"] == 1
    (item,) = page["items"]
    assert item["available"] == "116"
    assert item["on_hand"] == "116.5"
    assert item["days_of_cover"] == "9.66"
    assert item["stock_out_on"] == "2025-03-18"
    assert item["at_risk"] is True
    assert datetime.fromisoformat(item["as_of"]) == T0
    assert item["freshness_ms"] >= (datetime.now(UTC) - T0).total_seconds() * 1000 - 60_000
    assert page["as_of"] == item["as_of"]

    one = await products_api.get("/api/v1/products/inventory-levels/LYS-1/KD-HUB-200")
    assert one.status_code == 200
    assert one.json()["sku"] == "KD-HUB-200"
    missing = await products_api.get("/api/v1/products/inventory-levels/LYS-1/NOPE")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")

    supplier = (await products_api.get("/api/v1/products/supplier-performance/ACME")).json()
    assert supplier["window"]["on_time_rate"] == "0.5"
    assert supplier["window"]["lead_time_p90_days"] == 20
    assert supplier["all_time"]["on_time_rate"] is None

    alerts = (await products_api.get("/api/v1/products/alerts", params={"active": True})).json()
    assert [a["alert_id"] for a in alerts["items"]] == [ALERT.alert_id]
    assert alerts["items"][0]["details"] == dict(ALERT.details)
    none_cleared = await products_api.get("/api/v1/products/alerts", params={"active": False})
    assert none_cleared.json()["items"] == []
    assert none_cleared.json()["as_of"] is None

    timeline = (await products_api.get("/api/v1/products/delivery-timelines/SH-1")).json()
    assert timeline["delay_minutes"] == 240
    assert timeline["legs"][0]["departure_delay_minutes"] == 30
    assert timeline["legs"][0]["arrived_at"] is None

    bad = await products_api.get("/api/v1/products/alerts", params={"type": "nonsense"})
    assert bad.status_code == 422


async def test_snapshots_read_back_with_duckdb_equal_the_rest_answer(
    read_store: AnalyticsReadStore, products_api: httpx.AsyncClient, tmp_path: Path
) -> None:
    cleared = replace(ALERT, alert_id="other", cleared_at=T0 + timedelta(hours=1))
    await read_store.write([level(), level("KD-X", at_risk=None), SUPPLIER, ALERT, cleared])
    await read_store.write([TIMELINE])
    day = date(2025, 3, 3)

    paths = await write_snapshots(read_store, tmp_path, day)
    assert set(paths) == set(PRODUCTS)
    assert paths["alerts"] == tmp_path / "alerts" / "date=2025-03-03" / "part-00000.parquet"
    await write_snapshots(read_store, tmp_path, day)  # the same day again replaces it

    assert await assert_snapshots_match_rest(products_api, tmp_path, day) == 6
    assert snapshot_path(tmp_path, "alerts", day).exists()
