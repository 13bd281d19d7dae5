"""The conventions every route shares: idempotent POSTs, preconditions, problem
details, the OpenAPI description, readiness."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from dependency_injector import providers

from contexts.supply_chain.bootstrap import SupplyChainContainer, create_app
from contexts.supply_chain.infrastructure.settings import SupplyChainSettings
from contexts.supply_chain.tests.api.support import PROBLEM_JSON, fields, problem

pytestmark = pytest.mark.integration

HUB = "/api/v1/inventory/LYS-1/KD-HUB-200"
KEY = {"Idempotency-Key": "3f0c6a1e-retry-me"}


async def test_a_retried_request_with_its_key_takes_effect_once(
    catalog: httpx.AsyncClient,
) -> None:
    client = catalog
    supplier = {"id": "ZED", "name": "Zed Parts", "country": "PL"}
    created = await client.post("/api/v1/suppliers", json=supplier, headers=KEY)
    created_again = await client.post("/api/v1/suppliers", json=supplier, headers=KEY)
    assert (created.status_code, created_again.status_code) == (201, 201)
    for header in ("location", "etag", "content-type"):
        assert created_again.headers[header] == created.headers[header]
    assert created_again.json() == created.json()
    assert created_again.headers["idempotent-replayed"] == "true"

    await client.post(f"{HUB}/receive", json={"quantity": 100})
    key = {"Idempotency-Key": "reserve-so-1"}
    first = await client.post(
        f"{HUB}/reserve", json={"reference": "SO-1", "quantity": "5"}, headers=key
    )
    retried = await client.post(
        f"{HUB}/reserve",
        content=b'{ "quantity": "5",  "reference": "SO-1" }',
        headers={**key, "content-type": "application/json"},
    )
    assert first.status_code == retried.status_code == 200
    assert first.headers["etag"] == retried.headers["etag"] == '"2"'
    assert retried.content == first.content
    assert "idempotent-replayed" not in first.headers
    item = (await client.get(HUB)).json()
    assert (item["reserved"], item["version"]) == ("5", 2)

    without_key = problem(
        await client.post(f"{HUB}/reserve", json={"reference": "SO-1", "quantity": "5"}), 409
    )
    assert without_key["rule"] == "duplicate_reservation"


async def test_a_key_belongs_to_the_first_request_that_succeeded_with_it(
    catalog: httpx.AsyncClient,
) -> None:
    client = catalog
    refused = await client.post(
        f"{HUB}/reserve", json={"reference": "SO-1", "quantity": 1}, headers=KEY
    )
    assert refused.status_code == 404  # no item yet: nothing happened, the key stays free

    received = await client.post(f"{HUB}/receive", json={"quantity": 10}, headers=KEY)
    assert received.status_code == 200
    other_body = problem(
        await client.post(f"{HUB}/receive", json={"quantity": 11}, headers=KEY), 422
    )
    other_path = problem(
        await client.post(
            "/api/v1/inventory/LYS-1/KD-CAM-10/receive", json={"quantity": 10}, headers=KEY
        ),
        422,
    )
    assert fields(other_body) == fields(other_path) == ["Idempotency-Key"]
    malformed = problem(
        await client.post(
            f"{HUB}/receive", json={"quantity": 1}, headers={"Idempotency-Key": "a b"}
        ),
        422,
    )
    assert fields(malformed) == ["Idempotency-Key"]
    assert (await client.get(HUB)).json()["on_hand"] == "10"


async def test_every_error_is_a_problem_document(catalog: httpx.AsyncClient) -> None:
    client = catalog
    await client.post(f"{HUB}/receive", json={"quantity": 10})
    adjust = {"counted": 9, "reason": "lost"}
    responses = {
        404: await client.get("/api/v1/no-such-thing"),
        405: await client.delete("/api/v1/warehouses"),
        409: await client.post(f"{HUB}/reserve", json={"reference": "SO-1", "quantity": 11}),
        412: await client.post(f"{HUB}/adjust", json=adjust, headers={"If-Match": '"0"'}),
        422: await client.post(f"{HUB}/adjust", json=adjust, headers={"If-Match": "3"}),
    }
    for status, response in responses.items():
        assert problem(response, status)["title"]
    assert fields(responses[422].json()) == ["header.If-Match"]
    assert responses[405].headers["allow"] == "GET, POST"  # the list and the register
    assert responses[412].json()["type"] == "https://dpmesh.dev/problems/concurrency-conflict"
    assert (await client.get(HUB)).json()["on_hand"] == "10"

    ready = await client.get("/readyz")
    assert (ready.status_code, ready.json()) == (
        200,
        {"status": "ready", "checks": {"database": "ok"}},
    )


async def test_the_openapi_description_documents_the_conventions(tmp_path: Path) -> None:
    """The description does not depend on the database: built once, never started."""
    settings = SupplyChainSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    app = create_app(SupplyChainContainer(settings=providers.Object(settings)))
    spec: dict[str, Any] = app.openapi()

    tags = {tag["name"] for tag in spec["tags"]}
    assert {
        "warehouses",
        "skus",
        "suppliers",
        "inventory",
        "purchase-orders",
        "shipments",
        "replenishment",
    } <= tags
    operations = [
        (path, method, operation)
        for path, item in spec["paths"].items()
        if path.startswith("/api/v1/") and not path.startswith("/api/v1/products")
        for method, operation in item.items()
    ]
    assert len(operations) == 35
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        assert set(operation["tags"]) <= tags, where
        assert PROBLEM_JSON in operation["responses"]["422"]["content"], where
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert ("Idempotency-Key" in headers) == (method == "post"), where
        on_existing = method != "get" and path.count("{") >= 1 and not path.endswith("proposals")
        assert ("If-Match" in headers) == on_existing, where
        if on_existing:
            assert PROBLEM_JSON in operation["responses"]["412"]["content"], where
            assert "404" in operation["responses"], where
        if method == "get" and "{" in path:
            assert "404" in operation["responses"], where

    schemas = spec["components"]["schemas"]
    for name in ("RegisterWarehouseIn", "DraftPurchaseOrderIn", "PlanShipmentIn", "ReserveStockIn"):
        assert schemas[name]["examples"], name
    assert {"Problem", "FieldProblem"} <= set(schemas)


@pytest.mark.parametrize(
    "path", ["/api/v1/warehouses", "/api/v1/skus", "/api/v1/products/inventory-levels"]
)
async def test_an_offset_past_any_database_integer_is_refused_not_a_server_error(
    catalog: httpx.AsyncClient, path: str
) -> None:
    response = await catalog.get(path, params={"offset": 2**63})
    assert fields(problem(response, 422)) == ["query.offset"]


async def test_requests_racing_to_create_one_item_get_a_conflict_never_a_server_error(
    catalog: httpx.AsyncClient,
) -> None:
    """The first receipt of an item creates it; several at once all try to."""
    racing = "/api/v1/inventory/HAM-2/KD-CAM-10/receive"
    answers = await asyncio.gather(*(catalog.post(racing, json={"quantity": 1}) for _ in range(6)))
    statuses = sorted(answer.status_code for answer in answers)
    assert all(status in (200, 201, 409) for status in statuses), statuses
    for answer in answers:
        if answer.status_code == 409:
            assert problem(answer, 409)["title"]
    accepted = sum(answer.status_code in (200, 201) for answer in answers)
    assert (await catalog.get("/api/v1/inventory/HAM-2/KD-CAM-10")).json()["on_hand"] == str(
        accepted
    )
