"""The supply chain end to end, on the real broker: REST commands in, data products out.

The context runs as it is deployed: the API of ``create_app`` (operational and
analytical routes, the outbox relay inside, woken after each commit) and the stream
worker, each with its own container, on a real database (SQLite, and PostgreSQL when
``TEST_DATABASE_URL`` is set) with the read store in a second database, and the test
broker. The scenario is driven only through the operational REST API: a catalog,
stock received, reserved and shipped, purchase orders placed weeks ago and received
on time, late and in parts with rejections, and two shipments tracked leg by leg,
one delivered late, one still delayed. One item's demand makes it run short: the
worker raises a stock-out alert and drafts a replenishment order through the
context's own message bus.

The acceptance: after the last command, every analytical figure served over HTTP
equals the figure worked out by hand below, within a second, and every answer says
how fresh it is. The day's Parquet snapshot holds the same rows.

Time. Everything the products are computed from happens at wall time, so freshness
is real; only the purchase orders' drafting, placing and confirming are recorded in
the past (``ScriptClock.at``), which is how lead times of weeks come about. Days in
the expectations count from the UTC day the scenario started (``D``), or, for figures
taken "as of" an event, from that event's day; shipment times from the hour the
scenario started in (``H``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from dependency_injector import providers

from contexts.supply_chain.application.analytics import AlertType, alert_id
from contexts.supply_chain.bootstrap import (
    SupplyChainContainer,
    create_app,
    run_worker,
    upgrade_database,
)
from contexts.supply_chain.infrastructure.analytics import AnalyticsReadStore, write_snapshots
from contexts.supply_chain.infrastructure.settings import SupplyChainSettings
from contexts.supply_chain.tests.integration.analytics.snapshots import (
    assert_snapshots_match_rest,
    duckdb_rows,
)
from contexts.supply_chain.tests.integration.e2e_support import (
    PARTITIONS,
    PRODUCTS,
    Leg,
    Operations,
    ScriptClock,
    analytics_database,
    assert_fresh,
    assert_fresh_page,
    domain_topics,
    freshness_objective_s,
    instant,
    normalized,
    subject,
    unique_topics,
    until_visible,
    without,
)
from shared_kernel.infrastructure.messaging.topics import ensure_topics
from shared_kernel.infrastructure.settings import KafkaSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: The issue's bound: every product matches "within a second of the last command".
#: Counted from the last command's response to the end of the first round of reads
#: in which every answer matched, so it includes that round (tens of ms). No
#: allowance is added: the worker is through the scenario's burst of events well
#: within it (see the printed figures). Each row's own pipeline lag,
#: ``materialized_at - as_of``, is held to its product's freshness objective instead.
VISIBLE_WITHIN_S = 1.0
#: Liveness bound for the worker to start (declare its topics, join its group,
#: restore its tables) and apply the first facts. Generous: not a timing check.
START_WITHIN_S = 60.0


def days(n: int) -> timedelta:
    return timedelta(days=n)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


@dataclass
class Deployment:
    ops: Operations
    worker: asyncio.Task[None]
    read_store: AnalyticsReadStore
    snapshot_dir: Path
    started: datetime


@pytest.fixture
async def deployment(
    database_url: str,
    kafka_endpoint: Any,  # the dpmesh plugin's KafkaEndpoint (contexts never import dpmesh)
    unique_topic: Callable[[str], str],
    tmp_path: Path,
) -> AsyncIterator[Deployment]:
    """The API and the worker of the supply chain, running on fresh databases and
    topics of their own; stopped cleanly afterwards, leaving no task behind."""
    tasks_before = asyncio.all_tasks()
    short = kafka_endpoint.embedded is not None  # the embedded broker allows short sessions
    kafka = KafkaSettings(
        bootstrap_servers=kafka_endpoint.bootstrap_servers,
        idempotent_producer=kafka_endpoint.supports_idempotence,
        exactly_once=kafka_endpoint.supports_idempotence,
        session_timeout_ms=2_000 if short else 6_000,
        rebalance_timeout_ms=2_000 if short else 3_000,
        heartbeat_interval_ms=500,
        topic_partitions=PARTITIONS,
    )
    topics = unique_topics(unique_topic)
    # The domain topics exist, with the partition count the worker's joins rely on,
    # before anything publishes (the warehouse topic is read by no product yet).
    await ensure_topics(kafka.bootstrap_servers, dict.fromkeys(domain_topics(topics), PARTITIONS))

    async with analytics_database(database_url, tmp_path) as analytics_url:
        settings = SupplyChainSettings(
            database_url=database_url,
            analytics_database_url=analytics_url,
            relay_in_api=True,
            snapshot_dir=str(tmp_path / "snapshots"),
            stream_datadir=str(tmp_path / "faust"),
        )

        def process_container(**overrides: Any) -> SupplyChainContainer:
            """One process's container: these settings, events routed to our topics."""
            return SupplyChainContainer(
                settings=providers.Object(settings),
                kafka=providers.Object(kafka),
                analytics_topics=providers.Object(topics),
                stream_app_id=providers.Object(unique_topic("supply_chain-analytics")),
                **overrides,
            )

        clock = ScriptClock()
        api_container = process_container(clock=providers.Object(clock))
        worker_container = process_container()  # the system clock, as in production
        await upgrade_database(api_container)

        stop = asyncio.Event()
        worker = asyncio.create_task(
            run_worker(stop, worker_container),
            name="supply-chain-worker",
        )
        try:
            app = create_app(api_container)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://testserver"
                ) as client:
                    yield Deployment(
                        ops=Operations(client, clock),
                        worker=worker,
                        read_store=api_container.analytics_store(),
                        snapshot_dir=Path(settings.snapshot_dir),
                        started=datetime.now(UTC),
                    )
                stop.set()
                await worker  # a worker that crashed fails the test here
        finally:
            stop.set()
            await asyncio.wait({worker})

    leftover = {t for t in asyncio.all_tasks() - tasks_before if not t.done()}
    leftover.discard(asyncio.current_task())
    assert not leftover, f"tasks left running: {sorted(t.get_name() for t in leftover)}"


async def worker_ready(d: Deployment, items: int) -> float:
    """Seconds until ``items`` inventory items are materialized with their SKU's
    policy: the worker has joined its group, restored its tables and applies facts
    (read from the beginning of its topics, so none is missed while it starts)."""
    started = time.monotonic()
    while True:
        if d.worker.done():
            d.worker.result()
            pytest.fail("the worker stopped while starting")
        page = await d.ops.read("/products/inventory-levels")
        if sum(row["lead_time_days"] is not None for row in page["items"]) == items:
            return time.monotonic() - started
        if time.monotonic() - started > START_WITHIN_S:
            pytest.fail(f"the worker applied no facts within {START_WITHIN_S} s: {page}")
        await asyncio.sleep(0.05)


async def test_every_figure_is_served_within_a_second_of_the_last_command(
    deployment: Deployment, record_property: Callable[[str, object], None]
) -> None:
    d, ops = deployment, deployment.ops
    D = d.started.date()  # noqa: N806 - the scenario's day, as the comments call it
    H = d.started.replace(minute=0, second=0, microsecond=0)  # noqa: N806 - its hour
    hub, cam = "KD-HUB-200", "KD-CAM-10"

    # -- the catalog, and first stock: the probe that the worker is up --------------------
    lyon = {"code": "LYS-1", "name": "Lyon", "latitude": "45.764", "longitude": "4.8357"}
    hamburg = {"code": "HAM-2", "name": "Hamburg", "latitude": "53.5511", "longitude": "9.9937"}
    await ops.command("warehouse LYS-1", "/warehouses", lyon | {"capacity": "1000"}, status=201)
    await ops.command("warehouse HAM-2", "/warehouses", hamburg | {"capacity": "500"}, status=201)
    acme = {"id": "ACME", "name": "Acme Components", "country": "DE"}
    bolt = {"id": "BOLT", "name": "Bolt Logistics", "country": "FR"}
    await ops.command("supplier ACME", "/suppliers", acme, status=201)
    await ops.command("supplier BOLT", "/suppliers", bolt, status=201)
    hubs = {
        "code": hub, "name": "Kestrel Hub 200", "reorder_point": "80", "safety_stock": "50",
        "lead_time_days": 7, "preferred_supplier": "ACME",
        "standard_cost": {"amount": "18.00", "currency": "EUR"},
    }  # fmt: skip
    cams = {
        "code": cam, "name": "Kestrel Cam 10", "reorder_point": "10", "safety_stock": "5",
        "lead_time_days": 14, "preferred_supplier": "BOLT",
        "standard_cost": {"amount": "29.50", "currency": "EUR"},
    }  # fmt: skip
    await ops.command(f"sku {hub}", "/skus", hubs, status=201)
    await ops.command(f"sku {cam}", "/skus", cams, status=201)
    # Nothing is at risk yet: without demand, the threshold is the safety stock.
    await ops.stock("receive LYS-1 hubs", f"LYS-1/{hub}", quantity=140)
    await ops.stock("receive HAM-2 hubs", f"HAM-2/{hub}", quantity=60)
    await ops.stock("receive LYS-1 cams", f"LYS-1/{cam}", quantity=12)
    ready_s = await worker_ready(d, items=3)  # later movements meet known policies
    ready_at, before = time.monotonic(), len(ops.moments)

    # -- purchase orders, placed and confirmed weeks ago; their goods received now ---------
    # receipt   placed  promised  received  lead  on time  accepted  rejected
    # PO-A1     D-61    D-50      D-40       21   no           55         5  (5 due)
    # PO-A2     D-27    D-20      D-21        6   yes         100         0
    # PO-A3 #1  D-16    D-9       D-9         7   yes          40        10
    # PO-A3 #2  D-16    D-9       D-2        14   no           60         0  (20 due)
    # PO-B1     D-12    D-5       D-3         9   no           30         2
    await ops.purchase("PO-A1", "ACME", "HAM-2", (hub, 60, "17.50"),
                       placed_on=D - days(61), promised_on=D - days(50))  # fmt: skip
    await ops.purchase("PO-A2", "ACME", "HAM-2", (hub, 100, "17.50"),
                       placed_on=D - days(27), promised_on=D - days(20))  # fmt: skip
    await ops.purchase("PO-A3", "ACME", "LYS-1", (hub, 120, "17.80"),
                       placed_on=D - days(16), promised_on=D - days(9))  # fmt: skip
    await ops.purchase("PO-B1", "BOLT", "LYS-1", (cam, 30, "29.00"),
                       placed_on=D - days(12), promised_on=D - days(5))  # fmt: skip
    receipts = [
        await ops.receive_goods("receive PO-A1", "PO-A1", D - days(40), hub, 55, 5),
        await ops.receive_goods("receive PO-A2", "PO-A2", D - days(21), hub, 100, 0),
        await ops.receive_goods("receive PO-A3 #1", "PO-A3", D - days(9), hub, 40, 10),
        await ops.receive_goods("receive PO-A3 #2", "PO-A3", D - days(2), hub, 60, 0),
        await ops.receive_goods("receive PO-B1", "PO-B1", D - days(3), cam, 30, 2),
    ]
    assert receipts == [  # the orders agree: (lead time, on time, status)
        (21, False, "partially_received"),
        (6, True, "received"),
        (7, True, "partially_received"),
        (14, False, "partially_received"),
        (9, False, "received"),
    ]

    # -- demand ------------------------------------------------------------------------------
    await ops.stock("reserve SO-3", f"HAM-2/{hub}", reference="SO-3", quantity=35)
    await ops.stock("ship SO-3", f"HAM-2/{hub}", reference="SO-3")
    await ops.stock("reserve SO-4", f"LYS-1/{cam}", reference="SO-4", quantity=7)
    await ops.stock("reserve SO-1", f"LYS-1/{hub}", reference="SO-1", quantity=112)
    await ops.stock("reserve SO-2", f"LYS-1/{hub}", reference="SO-2", quantity=40)
    # Until now Lyon's hubs had no demand (threshold 50 <= 88 available). Shipping SO-1
    # makes it 16 a day: at risk. It is the item's last movement, so the replenishment
    # the worker drafts reads the same stock and open orders whenever it runs.
    await ops.stock("ship SO-1", f"LYS-1/{hub}", reference="SO-1")

    # -- shipments, tracked leg by leg -------------------------------------------------------
    orbital, nova = "Orbital SA, Nanterre", "Nova GmbH, Potsdam"
    # SH-1, due at H-16h: every leg late, the ETA slips 3 h past the plan (delayed), the
    # goods arrive 3 h 15 late (delivered, which clears the delay alert).
    await ops.plan_shipment("SH-1", "ACC-ORBITAL", "LYS-1", [
        Leg("LYS-1", "Paris hub", "RoadCo", H - hours(30), H - hours(24)),
        Leg("Paris hub", orbital, "CityVan", H - hours(20), H - hours(16)),
    ])  # fmt: skip
    await ops.track("SH-1", "dispatched", H - hours(30))
    await ops.track("SH-1", "leg 1 departed", H - hours(29.5))
    await ops.track("SH-1", "leg 1 arrived", H - hours(22))
    await ops.track("SH-1", "leg 2 departed", H - hours(19))
    await ops.track("SH-1", "eta slips", H - hours(13))
    await ops.track("SH-1", "leg 2 arrived", H - hours(12.75))
    await ops.track("SH-1", "delivered", H - hours(12.75))
    # SH-2, due at H+4h: the ETA slips to H+30h (26 h late: critical), then the carrier
    # refines it to H+29h, still more than a day late.
    await ops.plan_shipment("SH-2", "ACC-NOVA", "HAM-2", [
        Leg("HAM-2", "Berlin hub", "RoadCo", H - hours(8), H - hours(5)),
        Leg("Berlin hub", nova, "CityVan", H - hours(3), H + hours(4)),
    ])  # fmt: skip
    await ops.track("SH-2", "dispatched", H - hours(8))
    await ops.track("SH-2", "leg 1 departed", H - hours(7.75))
    await ops.track("SH-2", "leg 1 arrived", H - hours(4))
    await ops.track("SH-2", "leg 2 departed", H - hours(2))
    await ops.track("SH-2", "eta slips", H + hours(30))
    await ops.track("SH-2", "eta refined", H + hours(29))  # the last command
    commands, commands_s = len(ops.moments) - before, ops.last_command_done - ready_at

    # -- the figures, by hand ----------------------------------------------------------------
    short_day = ops.moments["ship SO-1"].started.date()  # Lyon's hubs, as of SO-1's shipment
    ham_day = ops.moments["ship SO-3"].started.date()
    lyon_hubs_details = {
        "warehouse": "LYS-1", "sku": hub, "unit": "each", "available": 88,
        "daily_demand": 16, "days_of_cover": Decimal("5.50"),
        "stock_out_on": short_day + days(5), "risk_threshold": 162, "shortfall": 74,
        "lead_time_days": 7,
    }  # fmt: skip
    # fmt: off
    expected: dict[str, Any] = {
        "inventory-levels": {
            ("HAM-2", hub): {
                "warehouse": "HAM-2", "sku": hub, "unit": "each",
                "on_hand": 180,           # 60 + 55 (PO-A1) + 100 (PO-A2) - 35 shipped
                "reserved": 0, "available": 180,
                "daily_demand": 5,        # 35 shipped in the window / 7 days
                "demand_window_days": 7,
                "lead_time_days": 7, "safety_stock": 50, "reorder_point": 80,
                "risk_threshold": 85,     # 5 * 7 + 50
                "days_of_cover": Decimal("36.00"),  # 180 / 5
                "stock_out_on": ham_day + days(36),
                "at_risk": False,         # 180 >= 85
                "shortfall": 0,
            },
            ("LYS-1", cam): {
                "warehouse": "LYS-1", "sku": cam, "unit": "each",
                "on_hand": 42,            # 12 + 30 (PO-B1)
                "reserved": 7,            # SO-4
                "available": 35,          # 42 - 7
                "daily_demand": 0, "demand_window_days": 7,
                "lead_time_days": 14, "safety_stock": 5, "reorder_point": 10,
                "risk_threshold": 5,      # 0 * 14 + 5
                "days_of_cover": None, "stock_out_on": None,  # no demand, no stock-out
                "at_risk": False,         # 35 >= 5
                "shortfall": 0,
            },
            ("LYS-1", hub): {
                "warehouse": "LYS-1", "sku": hub, "unit": "each",
                "on_hand": 128,           # 140 + 40 + 60 (PO-A3) - 112 shipped (SO-1)
                "reserved": 40,           # SO-2
                "available": 88,          # 128 - 40
                "daily_demand": 16,       # 112 / 7
                "demand_window_days": 7,
                "lead_time_days": 7, "safety_stock": 50, "reorder_point": 80,
                "risk_threshold": 162,    # 16 * 7 + 50
                "days_of_cover": Decimal("5.50"),     # 88 / 16
                "stock_out_on": short_day + days(5),  # floor(5.5)
                "at_risk": True,          # 88 < 162
                "shortfall": 74,          # 162 - 88
            },
        },
        "supplier-performance": {
            "ACME": {
                "supplier": "ACME", "name": "Acme Components", "country": "DE",
                "window_days": 30,
                "window_end": D - days(2),     # the newest receipt day
                "window_start": D - days(31),  # window_end - 29: PO-A1 (D-40) is out
                "window": {
                    "receipts": 3, "on_time": 2,
                    "on_time_rate": Decimal("0.6667"),       # 2 / 3
                    "accepted": 200, "rejected": 10,         # 100 + 40 + 60; 10
                    "quality_score": Decimal("0.9524"),      # 200 / 210 = 0.95238
                    "lead_time_mean_days": Decimal("9.00"),  # (6 + 7 + 14) / 3
                    "lead_time_p90_days": 14,                # [6, 7, 14][ceil(0.9 * 3) - 1]
                },
                "all_time": {
                    "receipts": 4, "on_time": 2,
                    "on_time_rate": Decimal("0.5000"),        # 2 / 4
                    "accepted": 255, "rejected": 15,          # 55 + 200; 5 + 10
                    "quality_score": Decimal("0.9444"),       # 255 / 270 = 0.94444
                    "lead_time_mean_days": Decimal("12.00"),  # (21 + 6 + 7 + 14) / 4
                    "lead_time_p90_days": 21,                 # [6, 7, 14, 21][ceil(3.6) - 1]
                },
            },
            "BOLT": {
                "supplier": "BOLT", "name": "Bolt Logistics", "country": "FR",
                "window_days": 30,
                "window_end": D - days(3), "window_start": D - days(32),
                "window": {
                    "receipts": 1, "on_time": 0,
                    "on_time_rate": Decimal("0.0000"),       # 0 / 1
                    "accepted": 30, "rejected": 2,
                    "quality_score": Decimal("0.9375"),      # 30 / 32
                    "lead_time_mean_days": Decimal("9.00"),
                    "lead_time_p90_days": 9,
                },
                "all_time": {
                    "receipts": 1, "on_time": 0, "on_time_rate": Decimal("0.0000"),
                    "accepted": 30, "rejected": 2, "quality_score": Decimal("0.9375"),
                    "lead_time_mean_days": Decimal("9.00"), "lead_time_p90_days": 9,
                },
            },
        },
        "alerts": {
            ("stock_out_risk", f"LYS-1:{hub}"): {
                "type": "stock_out_risk", "subject": f"LYS-1:{hub}", "active": True,
                # out of stock on day + 5, before an order placed that day arrives (+ 7)
                "severity": "critical",
                "details": lyon_hubs_details,
            },
            ("delivery_delay", "SH-1"): {
                "type": "delivery_delay", "subject": "SH-1",
                "severity": "warning",    # 180 min late when raised: under a day
                "active": False,          # cleared by the delivery
                "details": {
                    "shipment_id": "SH-1", "account": "ACC-ORBITAL", "warehouse": "LYS-1",
                    "destination": orbital, "status": "delivered",
                    "planned_delivery": H - hours(16), "eta": H - hours(12.75),
                    "delivered_at": H - hours(12.75), "on_time": False,
                    "delay_minutes": 195,  # 3 h 15
                },
            },
            ("delivery_delay", "SH-2"): {
                "type": "delivery_delay", "subject": "SH-2",
                "severity": "critical",   # a day late or more
                "active": True,
                "details": {
                    "shipment_id": "SH-2", "account": "ACC-NOVA", "warehouse": "HAM-2",
                    "destination": nova, "status": "delayed",
                    "planned_delivery": H + hours(4), "eta": H + hours(29),
                    "delivered_at": None, "on_time": None,
                    "delay_minutes": 1500,  # 25 h
                },
            },
        },
        "delivery-timelines": {
            "SH-1": {
                "shipment_id": "SH-1", "account": "ACC-ORBITAL", "warehouse": "LYS-1",
                "destination": orbital, "status": "delivered",
                "planned_delivery": H - hours(16), "eta": H - hours(12.75),
                "dispatched_at": H - hours(30), "delivered_at": H - hours(12.75),
                "delay_minutes": 195, "on_time": False,
                "legs": [
                    {"sequence": 1, "origin": "LYS-1", "destination": "Paris hub",
                     "carrier": "RoadCo",
                     "planned_departure": H - hours(30), "planned_arrival": H - hours(24),
                     "departed_at": H - hours(29.5), "arrived_at": H - hours(22),
                     "departure_delay_minutes": 30, "arrival_delay_minutes": 120},
                    {"sequence": 2, "origin": "Paris hub", "destination": orbital,
                     "carrier": "CityVan",
                     "planned_departure": H - hours(20), "planned_arrival": H - hours(16),
                     "departed_at": H - hours(19), "arrived_at": H - hours(12.75),
                     "departure_delay_minutes": 60, "arrival_delay_minutes": 195},
                ],
            },
            "SH-2": {
                "shipment_id": "SH-2", "account": "ACC-NOVA", "warehouse": "HAM-2",
                "destination": nova, "status": "delayed",
                "planned_delivery": H + hours(4), "eta": H + hours(29),
                "dispatched_at": H - hours(8), "delivered_at": None,
                "delay_minutes": 1500, "on_time": None,
                "legs": [
                    {"sequence": 1, "origin": "HAM-2", "destination": "Berlin hub",
                     "carrier": "RoadCo",
                     "planned_departure": H - hours(8), "planned_arrival": H - hours(5),
                     "departed_at": H - hours(7.75), "arrived_at": H - hours(4),
                     "departure_delay_minutes": 15, "arrival_delay_minutes": 60},
                    {"sequence": 2, "origin": "Berlin hub", "destination": nova,
                     "carrier": "CityVan",
                     "planned_departure": H - hours(3), "planned_arrival": H + hours(4),
                     "departed_at": H - hours(2), "arrived_at": None,
                     "departure_delay_minutes": 60, "arrival_delay_minutes": None},
                ],
            },
        },
        # The stock-out alert drafted one order, from the SKU's preferred supplier at
        # its standard cost. Target 80 + 16 * 7 = 192; position 88 available + 20 still
        # due on PO-A3 (120 - 100) = 108: 84 hubs at 18.00 = 1512.00.
        "drafts": [
            {"supplier": "ACME", "warehouse": "LYS-1", "status": "draft", "version": 1,
             "total": {"amount": Decimal("1512.00"), "currency": "EUR"},
             "placed_on": None, "promised_on": None},
        ],
    }
    # fmt: on

    visible_s, per_product = await until_visible(ops, d.worker, expected, VISIBLE_WITHIN_S)

    # -- every answer says how fresh it is, and says it right --------------------------------
    # The command whose event is the newest fact behind each row.
    last_change = {
        f"LYS-1:{hub}": "ship SO-1",
        f"HAM-2:{hub}": "ship SO-3",
        f"LYS-1:{cam}": "reserve SO-4",
        "ACME": "receive PO-A3 #2",
        "BOLT": "receive PO-B1",
        "SH-1": "SH-1 delivered",
        "SH-2": "SH-2 eta refined",
    }
    rows: dict[str, list[dict[str, Any]]] = {}
    lags: list[float] = []
    for product, resource in PRODUCTS.items():
        objective_s = freshness_objective_s(product)
        page, read = await ops.read_timed(f"/products/{product}")
        assert_fresh_page(page, read)
        rows[product] = page["items"]
        for row in page["items"]:
            made = ops.moments[last_change[subject(product, row)]]
            lags.append(assert_fresh(row, made, read, objective_s))
            single, read_single = await ops.read_timed(f"/products/{product}/{resource(row)}")
            assert without(single, "freshness_ms") == without(row, "freshness_ms")
            assert_fresh(single, made, read_single, objective_s)

    # Alerts are raised (and cleared) by the very events that crossed the line.
    raised_by = {f"LYS-1:{hub}": "ship SO-1", "SH-1": "SH-1 eta slips", "SH-2": "SH-2 eta slips"}
    for alert in rows["alerts"]:
        raised_at = instant(alert["raised_at"])
        assert raised_at in ops.moments[raised_by[alert["subject"]]], alert
        assert alert["alert_id"] == alert_id(AlertType(alert["type"]), alert["subject"], raised_at)
        if alert["subject"] == "SH-1":
            assert instant(alert["cleared_at"]) in ops.moments["SH-1 delivered"]
        else:
            assert alert["cleared_at"] is None
    active = await ops.read("/products/alerts", active="true")
    assert [a["subject"] for a in active["items"]] == ["SH-2", f"LYS-1:{hub}"]  # newest first
    at_risk = await ops.read("/products/inventory-levels", at_risk="true")
    assert [(r["warehouse"], r["sku"]) for r in at_risk["items"]] == [("LYS-1", hub)]

    # -- the replenishment the alert drafted, through the operational API ---------------------
    (draft,) = (await ops.read("/purchase-orders", status="draft"))["items"]
    order = await ops.read(f"/purchase-orders/{draft['id']}")
    assert order["idempotency_key"] == f"replenishment:LYS-1:{hub}:{short_day.isoformat()}"
    assert normalized(order["lines"]) == [
        {"sku": hub, "unit": "each", "quantity": 84, "accepted": 0, "rejected": 0,
         "outstanding": 84, "unit_price": {"amount": Decimal("18.00"), "currency": "EUR"}},
    ]  # fmt: skip
    stock_out = next(a for a in rows["alerts"] if a["type"] == "stock_out_risk")
    assert instant(stock_out["raised_at"]) <= instant(order["drafted_at"])
    assert instant(order["drafted_at"]) <= datetime.now(UTC)

    # -- the day's Parquet snapshot holds what REST serves ------------------------------------
    await write_snapshots(d.read_store, d.snapshot_dir, short_day)
    assert await assert_snapshots_match_rest(ops.client, d.snapshot_dir, short_day) == 10
    (lyon_hubs,) = [
        row
        for row in duckdb_rows(d.snapshot_dir, "inventory-levels")
        if (row["warehouse"], row["sku"]) == ("LYS-1", hub)
    ]
    assert (lyon_hubs["date"], lyon_hubs["available"], lyon_hubs["at_risk"]) == (
        short_day,
        Decimal(88),
        True,
    )

    newest_write = max(instant(row["materialized_at"]) for group in rows.values() for row in group)
    last = ops.moments["SH-2 eta refined"]
    print(
        f"\n{commands} commands in {commands_s:.2f} s once the worker was up ({ready_s:.2f} s); "
        f"all figures read back {visible_s * 1000:.0f} ms after the last command's response "
        f"({', '.join(f'{k} {v * 1000:.0f} ms' for k, v in sorted(per_product.items()))}); "
        f"newest row written {(newest_write - last.started).total_seconds() * 1000:.0f} ms "
        f"after the last command was sent; largest materialized_at - as_of "
        f"{max(lags) * 1000:.0f} ms"
    )
    record_property("visible_after_last_command_ms", round(visible_s * 1000))
    record_property("largest_pipeline_lag_ms", round(max(lags) * 1000))
