"""The scenario simulator against the real supply chain app, in process.

The app is the context's own (``create_app``, settings from ``SUPPLY_CHAIN_*``
environment variables, a SQLite file migrated first with the context's
``upgrade_database``, as ``dpmesh run`` does); the simulator reaches it through
``httpx.ASGITransport``. Runs are bounded by a number of steps,
not by time, so that what they achieve does not depend on how fast they run.
Everything asserted is read back through the API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console
from sqlalchemy import inspect

from contexts.supply_chain.application.tracking import track_shipments
from contexts.supply_chain.bootstrap import SupplyChainContainer, create_app, upgrade_database
from contexts.supply_chain.demo import fake_carrier
from contexts.supply_chain.demo.simulator import HOT_ITEM, SKUS, Simulator, Summary
from contexts.supply_chain.domain import Warehouse
from contexts.supply_chain.infrastructure.acl.carrier import CarrierTrackingGateway
from contexts.supply_chain.infrastructure.external_services import CarrierClient, CarrierSettings
from contexts.supply_chain.infrastructure.persistence.orm import clear_mappers

pytestmark = [pytest.mark.integration, pytest.mark.slow]

API = "/api/v1"
#: Enough ticks for every part of the story at the default pace (a late delivery of
#: the second purchase order comes last, about 90 ticks in).
STORY_STEPS = 130


@pytest.fixture
def mapped_domain() -> Iterator[None]:
    """``create_app`` maps the domain classes; give them back plain afterwards, unless
    they were mapped before this test."""
    mapped_before = inspect(Warehouse, raiseerr=False) is not None
    yield
    if not mapped_before:
        clear_mappers()


@pytest.fixture
def database_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "supply_chain.db"
    monkeypatch.setenv("SUPPLY_CHAIN_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    return path


async def started_app(container: SupplyChainContainer) -> AsyncIterator[Any]:
    await upgrade_database(container)
    app = create_app(container)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def supply_chain(
    mapped_domain: None, database_file: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, SupplyChainContainer]]:
    """A client of the real app, on the database the environment names."""
    # The container reads its settings from the environment, as the app's own
    # entry point does; passing it keeps the process's logging set-up untouched.
    container = SupplyChainContainer()
    assert container.settings().database_url.endswith(str(database_file))
    async for app in started_app(container):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://supply-chain") as api:
            yield api, container


def simulator(api: httpx.AsyncClient, **options: Any) -> Simulator:
    return Simulator(api, quiet=True, console=Console(quiet=True), **options)


async def everything(api: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    response = await api.get(f"{API}{path}", params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] <= 500
    return list(page["items"])


async def detail(api: httpx.AsyncClient, path: str) -> dict[str, Any]:
    response = await api.get(f"{API}{path}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def total(items: list[dict[str, Any]], field: str) -> Decimal:
    return sum((Decimal(str(item[field])) for item in items), Decimal(0))


async def test_the_story_is_told_through_the_api(
    supply_chain: tuple[httpx.AsyncClient, SupplyChainContainer],
) -> None:
    api, _ = supply_chain

    summary = await simulator(api, seed=7).run(rate=1000, steps=STORY_STEPS)

    assert summary.steps == STORY_STEPS
    assert summary.errors == 0, summary.error_kinds
    # Reference data.
    assert len(await everything(api, "/warehouses")) == 3
    assert len(await everything(api, "/suppliers")) == 3
    skus = await everything(api, "/skus")
    assert {sku["code"] for sku in skus} == {sku.code for sku in SKUS}
    assert all(sku["preferred_supplier"] and sku["standard_cost"] for sku in skus)
    # Inventory moved, and the books add up to what the simulator did.
    levels = await everything(api, "/inventory")
    assert len(levels) == 3 * len(SKUS)
    assert summary.units["shipped"] > 0
    assert total(levels, "on_hand") == summary.units["received"] - summary.units["shipped"]
    assert total(levels, "reserved") == summary.units["reserved"] - summary.units["shipped"]
    hot = f"{HOT_ITEM[1]} @ {HOT_ITEM[0]}"
    reorder_point = next(sku["reorder_point"] for sku in skus if sku["code"] == HOT_ITEM[1])
    assert summary.lowest_available[hot] < Decimal(str(reorder_point))
    # Purchase orders received on time and late, some in two deliveries with rejects.
    receipts = []
    for order in await everything(api, "/purchase-orders"):
        receipts.extend((await detail(api, f"/purchase-orders/{order['id']}"))["receipts"])
    assert {receipt["on_time"] for receipt in receipts} == {True, False}
    assert any(receipt["number"] == 2 for receipt in receipts)
    assert any(Decimal(line["rejected"]) > 0 for r in receipts for line in r["lines"])
    # Shipments dispatched, tracked leg by leg, and at least one past its plan.
    shipments = await everything(api, "/shipments")
    assert any(s["status"] in ("in_transit", "delayed", "delivered") for s in shipments)
    assert any(s["eta"] > s["planned_delivery"] for s in shipments)
    assert any(s["status"] == "delivered" for s in shipments)


async def test_a_second_run_on_the_same_database_takes_existing_reference_data_as_there(
    supply_chain: tuple[httpx.AsyncClient, SupplyChainContainer],
) -> None:
    api, _ = supply_chain
    await simulator(api, seed=7).run(rate=1000, steps=40)
    second = simulator(api, seed=7)

    setup = await second.run(rate=1000, steps=1)

    assert setup.errors == 0, setup.error_kinds
    assert setup.reference == {
        "suppliers already there": 3,
        "warehouses already there": 3,
        "skus already there": 8,
    }
    assert len(await everything(api, "/warehouses")) == 3
    # Opening stock again: topped up where it ran low, the promotion's item counted
    # back to its opening stock; and the work left open by the first run adopted.
    for level in await everything(api, "/inventory"):
        sku = next(sku for sku in SKUS if sku.code == level["sku"])
        if (level["warehouse"], level["sku"]) == HOT_ITEM:
            assert Decimal(level["on_hand"]) == max(Decimal(60), Decimal(level["reserved"]))
        else:
            assert Decimal(level["on_hand"]) >= sku.opening_stock
    assert second.purchases or second.shipments

    more = await second.run(rate=1000, steps=30)

    assert more.errors == 0, more.error_kinds


def story(summary: Summary) -> tuple[Any, ...]:
    return (
        summary.actions,
        summary.units,
        summary.lost_orders,
        summary.purchases,
        summary.shipments,
        summary.lowest_available,
    )


async def test_a_seed_tells_the_same_story_every_time(
    mapped_domain: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stories = []
    for run, seed in enumerate((11, 11, 12)):
        path = tmp_path / f"run-{run}.db"
        monkeypatch.setenv("SUPPLY_CHAIN_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
        async for app in started_app(SupplyChainContainer()):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://sc") as api:
                stories.append(story(await simulator(api, seed=seed).run(rate=1000, steps=30)))

    assert stories[0] == stories[1]
    assert stories[0] != stories[2]


async def test_an_unreachable_api_is_counted_not_fatal() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(refuse), base_url="http://nowhere"
    ) as api:
        summary = await simulator(api).run(rate=1000, steps=4)

    assert summary.steps == 4
    assert summary.errors == 4
    assert summary.error_kinds == {"ConnectError": 4}


async def test_a_run_ends_at_its_duration(
    supply_chain: tuple[httpx.AsyncClient, SupplyChainContainer],
) -> None:
    api, _ = supply_chain

    summary = await simulator(api).run(rate=20, duration=0.5)

    assert summary.steps >= 1
    assert summary.errors == 0, summary.error_kinds


async def test_with_the_fake_carrier_the_tracking_poller_brings_the_delay_in(
    supply_chain: tuple[httpx.AsyncClient, SupplyChainContainer],
) -> None:
    api, container = supply_chain
    carrier_app = fake_carrier.create_app(api_key="demo-key")
    carrier_transport = httpx.ASGITransport(app=carrier_app)
    async with httpx.AsyncClient(
        transport=carrier_transport,
        base_url="http://carrier",
        headers={fake_carrier.API_KEY_HEADER: "demo-key"},
    ) as carrier:
        summary = await simulator(api, seed=7, carrier=carrier).run(rate=1000, steps=60)
    assert summary.errors == 0, summary.error_kinds
    assert summary.shipments["carrier updates"] > 0
    before = await everything(api, "/shipments")
    assert not any(s["eta"] > s["planned_delivery"] for s in before)

    async def send(command: Any) -> Any:
        return await container.message_bus().handle(command)

    settings = CarrierSettings(api_url="http://carrier", api_key="demo-key")
    async with CarrierClient.from_settings(settings, transport=carrier_transport) as client:
        gateway = CarrierTrackingGateway(client)
        report = await track_shipments(container.shipping_reader(), gateway, send)
        again = await track_shipments(container.shipping_reader(), gateway, send)

    assert report.failed == ()
    assert report.changed
    assert again.changed == ()
    after = await everything(api, "/shipments")
    delayed = [s for s in after if s["status"] == "delayed"]
    assert delayed
    assert all(s["eta"] > s["planned_delivery"] for s in delayed)
    first = await detail(api, f"/shipments/{delayed[0]['id']}")
    assert first["legs"][0]["departed_at"] is not None
