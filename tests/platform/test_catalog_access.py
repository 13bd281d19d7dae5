"""The catalog with access control on: a context writes only about its own products.

Registrations, heartbeats and deregistrations need ``catalog:<context>:write``; reads
stay open (the catalog is where products are found). A context registers over HTTP with
its own client credentials, fetched from the real token endpoint.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from dpmesh.auth import issue_token
from dpmesh.catalog.app import create_catalog_app
from dpmesh.testing.environments import sqlite_database_url
from shared_kernel.infrastructure.catalog_registration import (
    build_registrations,
    register_products,
    send_heartbeat,
)
from shared_kernel.infrastructure.oauth import ClientCredentials
from shared_kernel.interfaces.auth import AuthSettings, OAuthClient
from tests.platform.serving import served

pytestmark = pytest.mark.integration

DATAPRODUCT = Path(__file__).resolve().parents[2] / "contexts" / "supply_chain" / "dataproduct"
INVENTORY = "urn:dpmesh:supply_chain:inventory-levels"
AUTH = AuthSettings(
    jwt_secret=SecretStr("a-signing-key-of-well-over-32-bytes!"),
    environment="ci",
    clients={
        "supply-chain": OAuthClient(
            secret=SecretStr("sc-secret"), scopes=["catalog:supply_chain:write"]
        ),
    },
)


def registrations() -> list[dict[str, object]]:
    return [
        dict(r)
        for r in build_registrations(
            DATAPRODUCT,
            context="supply_chain",
            api_base_url="http://127.0.0.1:8101",
            kafka_bootstrap_servers="127.0.0.1:9092",
            snapshot_root="/tmp/snapshots",
        )
    ]


def bearer(*scopes: str) -> dict[str, str]:
    token = issue_token(AUTH, "tester", list(scopes), now=datetime.now(UTC))
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
async def catalog(tmp_path: Path) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_catalog_app(sqlite_database_url(tmp_path, "catalog.db"), auth_settings=AUTH)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://catalog") as client:
            yield app, client


async def test_writes_need_the_scope_of_the_product_s_context(
    catalog: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = catalog
    document = next(r for r in registrations() if r["urn"] == INVENTORY)
    path = f"/api/v1/products/{INVENTORY}"

    anonymous = await client.put(path, json=document)
    other_context = await client.put(
        path, json=document, headers=bearer("catalog:product_usage:write")
    )
    owner = await client.put(path, json=document, headers=bearer("catalog:supply_chain:write"))

    assert anonymous.status_code == 401
    assert other_context.status_code == 403
    assert owner.status_code == 201
    beat = {"status": "healthy", "slis": {"freshness_ms": 10.0}}
    assert (await client.post(f"{path}/heartbeat", json=beat)).status_code == 401
    assert (
        await client.post(f"{path}/heartbeat", json=beat, headers=bearer("catalog:x:write"))
    ).status_code == 403
    # Reads stay open: the catalog is where products are found.
    assert (await client.get(path)).status_code == 200

    assert (await client.delete(path)).status_code == 401
    removed = await client.delete(path, headers=bearer("catalog:supply_chain:write"))
    assert removed.status_code == 204
    assert (await client.get(path)).status_code == 404


async def test_a_registration_past_the_caps_is_refused(
    catalog: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = catalog
    document = next(r for r in registrations() if r["urn"] == INVENTORY)
    many_ports = {**document, "ports": list(document["ports"]) * 30}  # type: ignore[call-overload]
    huge = {**document, "descriptor": {**document["descriptor"], "x": "y" * 300_000}}  # type: ignore[dict-item]
    headers = bearer("catalog:supply_chain:write")
    path = f"/api/v1/products/{INVENTORY}"

    assert (await client.put(path, json=many_ports, headers=headers)).status_code == 422
    assert (await client.put(path, json=huge, headers=headers)).status_code == 413


@pytest.fixture
async def served_catalog(tmp_path: Path) -> AsyncIterator[str]:
    app = create_catalog_app(sqlite_database_url(tmp_path, "served.db"), auth_settings=AUTH)
    async with served(app) as url:
        yield url


async def test_a_context_registers_and_reports_with_its_own_client(served_catalog: str) -> None:
    auth = ClientCredentials(f"{served_catalog}/oauth/token", "supply-chain", "sc-secret")

    urns = await register_products(served_catalog, registrations(), auth=auth)
    delivered = await send_heartbeat(
        served_catalog, INVENTORY, slis={"freshness_ms": 12.0}, auth=auth
    )

    assert INVENTORY in urns
    assert delivered
    assert auth.tokens_fetched == 1
    async with httpx.AsyncClient() as client:
        product = (await client.get(f"{served_catalog}/api/v1/products/{INVENTORY}")).json()
    assert product["heartbeat"]["slis"]["freshness_ms"] == 12.0
