"""``GET /slo`` over a read store holding SLI rows, as the worker writes them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import Depends

from contexts.supply_chain.application.analytics import (
    ALERTS,
    DELIVERY_TIMELINES,
    INVENTORY_LEVELS,
    PRODUCTS,
    SUPPLIER_PERFORMANCE,
)
from contexts.supply_chain.infrastructure.analytics import AnalyticsReadStore
from contexts.supply_chain.infrastructure.analytics.descriptors import (
    DEFAULT_OBJECTIVES,
    load_product_descriptors,
    product_objectives,
)
from contexts.supply_chain.interfaces.api.analytics import analytics_router
from contexts.supply_chain.interfaces.api.security import SCOPES
from shared_kernel.infrastructure.sli_store import SliStore
from shared_kernel.infrastructure.slo import ReadMeter, SliMonitor, SliSnapshot
from shared_kernel.interfaces.access import secured_routers
from shared_kernel.interfaces.app import create_api
from shared_kernel.interfaces.auth import Authenticator, AuthSettings
from shared_kernel.interfaces.slo import read_meter_dependency, slo_router

NOW = datetime(2025, 3, 9, 11, 0, tzinfo=UTC)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def row(product: str, measured_s_ago: float, **figures: Any) -> SliSnapshot:
    return replace(SliSnapshot(product, ago(measured_s_ago), 300.0), **figures)


@pytest.fixture
async def sli_store(read_store: AnalyticsReadStore) -> SliStore:
    store = SliStore(read_store.engine)
    await store.create_all()
    return store


def api(
    sli_store: SliStore, meter: ReadMeter | None = None, read_store: Any = None
) -> httpx.AsyncClient:
    descriptors = load_product_descriptors()
    auth = Authenticator(AuthSettings(environment="local"))
    app = create_api(
        title="slo",
        description="test",
        routers=secured_routers(
            auth,
            SCOPES,
            operational=[],
            products=analytics_router(lambda: read_store),
            slo=slo_router(
                SCOPES,
                lambda: sli_store,
                product_objectives(descriptors),
                objectives_source={p: d.objectives_source for p, d in descriptors.items()},
                read_meter=meter,
                clock=lambda: NOW,
            ),
            per_product=(
                (lambda product: [Depends(read_meter_dependency(meter, product))])
                if meter is not None
                else (lambda product: ())
            ),
        ),
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def slo_client(sli_store: SliStore) -> AsyncIterator[httpx.AsyncClient]:
    meter = ReadMeter(lambda: NOW)
    for _ in range(1000):
        meter.record(INVENTORY_LEVELS, server_error=False)
    for server_error in (True, True, False):
        meter.record(SUPPLIER_PERFORMANCE, server_error=server_error)
    async with api(sli_store, meter) as client:
        yield client


def by_product(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {product["product"]: product for product in body["products"]}


def statuses(product: dict[str, Any]) -> dict[str, str]:
    return {objective["sli"]: objective["status"] for objective in product["objectives"]}


async def test_each_product_with_its_slis_objectives_and_status(
    sli_store: SliStore, slo_client: httpx.AsyncClient
) -> None:
    await sli_store.write(
        "worker-1",
        [
            row(
                INVENTORY_LEVELS,
                2,
                freshness_p50_ms=120.0,
                freshness_p99_ms=900.0,
                freshness_last_ms=80.0,
                events_received=999,
                events_missing=1,
                window_applied=100,
            ),
            row(
                SUPPLIER_PERFORMANCE,
                2,
                freshness_p99_ms=6000.0,
                events_received=10,
                window_applied=10,
                window_errors=1,
            ),
        ],
    )
    await sli_store.write(
        "worker-2",
        [
            row(
                INVENTORY_LEVELS,
                3,
                freshness_p50_ms=300.0,
                freshness_p99_ms=4800.0,
                freshness_last_ms=4700.0,
                last_materialized_at=ago(3),
                events_received=1000,
                window_applied=50,
                window_dead_letters=1,
            )
        ],
    )
    # A worker gone for five minutes: its row no longer counts while fresh ones exist.
    await sli_store.write("worker-gone", [row(INVENTORY_LEVELS, 300, freshness_p99_ms=99999.0)])
    # The only measurement of alerts is ten minutes old.
    await sli_store.write(
        "worker-3", [row(ALERTS, 600, freshness_p99_ms=100.0, events_received=5, window_applied=5)]
    )

    response = await slo_client.get("/slo")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["context"] == "supply_chain"
    products = by_product(body)
    assert set(products) == set(PRODUCTS)

    inventory = products[INVENTORY_LEVELS]
    assert inventory["workers"] == 2
    assert inventory["stale"] is False
    assert inventory["snapshot_age_ms"] == 2000
    # p99: the highest of the two workers; completeness (999 + 1000) / (999 + 1000 + 1).
    assert inventory["slis"]["freshness_ms"] == 4800.0
    assert inventory["slis"]["freshness_last_ms"] == 4700.0
    assert inventory["slis"]["completeness"] == pytest.approx(0.9995)
    assert inventory["slis"]["dead_letter_rate"] == pytest.approx(1 / 151)
    assert inventory["slis"]["error_rate"] == 0.0  # 1000 reads, none failed
    assert statuses(inventory) == {
        "freshness_ms": "at_risk",  # above 4500, the last tenth before 5000
        "completeness": "met",
        "error_rate": "met",
    }
    assert inventory["status"] == "at_risk"
    assert inventory["objectives_source"] == "descriptor"
    assert inventory["counts"]["reads"] == 1000
    assert {o["objective"] for o in inventory["objectives"]} == {"<= 5000", ">= 0.999", "<= 0.001"}

    supplier = products[SUPPLIER_PERFORMANCE]
    assert statuses(supplier)["freshness_ms"] == "breached"
    assert supplier["slis"]["processing_error_rate"] == pytest.approx(1 / 11)
    assert supplier["slis"]["error_rate"] == pytest.approx(2 / 3)
    assert supplier["status"] == "breached"

    alerts = products[ALERTS]
    assert alerts["stale"] is True
    assert alerts["slis"]["freshness_ms"] == 100.0  # shown, but says nothing about now
    assert statuses(alerts) == {
        "freshness_ms": "unknown",
        "completeness": "unknown",
        "error_rate": "unknown",
    }

    timelines = products[DELIVERY_TIMELINES]
    assert timelines["measured_at"] is None
    assert timelines["slis"] == {}
    assert timelines["status"] == "unknown"


async def test_what_a_monitor_measured_is_what_the_api_serves(
    sli_store: SliStore, slo_client: httpx.AsyncClient
) -> None:
    clock = [ago(10)]
    monitor = SliMonitor(lambda: clock[0], products=PRODUCTS)
    # Three timelines events, visible 0.5 s, 1.5 s and 0.25 s after they happened;
    # version 3 of SH-1 is skipped.
    for key, version, event_s_ago, lag_s in (
        ("SH-1", 1, 9, 0.5),
        ("SH-1", 2, 8, 1.5),
        ("SH-1", 4, 7, 0.25),
    ):
        clock[0] = ago(event_s_ago - lag_s)
        monitor.observe(DELIVERY_TIMELINES, ago(event_s_ago), key, version)
        monitor.observe_freshness(DELIVERY_TIMELINES, ago(event_s_ago), clock[0])
    clock[0] = ago(1)
    await sli_store.write("worker-1", monitor.snapshots())

    timelines = by_product((await slo_client.get("/slo")).json())[DELIVERY_TIMELINES]

    # Lags 0.25, 0.5, 1.5: p50 rank 2 -> 500 ms, p99 rank 3 -> 1500 ms, last 250 ms.
    assert timelines["slis"]["freshness_p50_ms"] == pytest.approx(500)
    assert timelines["slis"]["freshness_ms"] == pytest.approx(1500)
    assert timelines["slis"]["freshness_last_ms"] == pytest.approx(250)
    assert timelines["slis"]["completeness"] == pytest.approx(3 / 4)
    assert timelines["counts"]["events_missing"] == 1
    assert statuses(timelines)["completeness"] == "breached"
    assert datetime.fromisoformat(timelines["last_event_time"]) == ago(7)


async def test_rows_are_replaced_per_worker_and_old_ones_pruned(sli_store: SliStore) -> None:
    await sli_store.write("worker-1", [row(INVENTORY_LEVELS, 7200, events_received=1)])
    await sli_store.write("worker-2", [row(INVENTORY_LEVELS, 5, events_received=2)])
    await sli_store.write(
        "worker-2",
        [row(INVENTORY_LEVELS, 1, events_received=3)],
        prune_before=ago(3600),
    )

    stored = await sli_store.snapshots()

    assert [(worker, s.events_received) for worker, s in stored] == [("worker-2", 3)]
    assert stored[0][1].measured_at == ago(1)


class FailingReader:
    """A read store whose supplier performance query breaks, and that knows no alert."""

    async def supplier_performances(self, **_: Any) -> Sequence[Any]:
        raise RuntimeError("the read store is down")

    async def alert(self, alert_id: str) -> None:
        return None


async def test_the_read_meter_counts_server_errors_not_client_errors(sli_store: SliStore) -> None:
    meter = ReadMeter(lambda: NOW)
    async with api(sli_store, meter, FailingReader()) as client:
        broken = await client.get("/api/v1/products/supplier-performance")
        missing = await client.get("/api/v1/products/alerts/nope")
        invalid = await client.get("/api/v1/products/alerts", params={"limit": 0})

    assert (broken.status_code, missing.status_code, invalid.status_code) == (500, 404, 422)
    assert meter.counts(SUPPLIER_PERFORMANCE) == (1, 1)
    assert meter.counts(ALERTS) == (2, 0)


def test_products_without_a_descriptor_get_the_default_objectives(tmp_path: Any) -> None:
    descriptors = load_product_descriptors(tmp_path, products=["new-product"])

    only = descriptors["new-product"]
    assert only.read_scope is None
    assert only.objectives == DEFAULT_OBJECTIVES
    assert only.objectives_source == "default"
    assert only.urn == "urn:dpmesh:supply_chain:new-product"


def test_scopes_and_objectives_come_from_the_descriptors() -> None:
    descriptors = load_product_descriptors()

    assert {d.read_scope for d in descriptors.values()} == {
        f"supply_chain:{product}:read" for product in PRODUCTS
    }
    assert all(d.objectives_source == "descriptor" for d in descriptors.values())
    assert descriptors[ALERTS].scope_description == (
        "Read the alerts product through any of its ports."
    )
