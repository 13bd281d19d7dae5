"""The supply chain's own access rules, beyond the matrix every context gets
(tests/platform/test_context_authorization_matrix.py): an idempotent replay is no way
around a scope, ``/slo`` lists only what the caller may read, and the local default is
access control off, loudly. Tokens here use the shared-secret (HS256) mode.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import yaml
from dependency_injector import providers
from fastapi import FastAPI
from pydantic import SecretStr

from contexts.supply_chain.bootstrap import SupplyChainContainer, create_app
from shared_kernel.interfaces.auth import AuthSettings

SECRET = "the-matrix-test-signing-key-is-40-bytes!"
AUTH = AuthSettings(jwt_secret=SecretStr(SECRET), environment="ci")
DATAPRODUCT = Path(__file__).resolve().parents[2] / "dataproduct"

OPERATIONS_READ = "supply_chain:operations:read"
OPERATIONS_WRITE = "supply_chain:operations:write"


def descriptor_scopes() -> dict[str, str]:
    """Each product's read scope: the accessScope of its REST port in its ODPS file."""
    scopes = {}
    for path in sorted(DATAPRODUCT.glob("*.odps.yaml")):
        product = yaml.safe_load(path.read_text(encoding="utf-8"))
        for port in product["outputPorts"]:
            if port["type"] == "rest":
                (scope,) = [
                    p["value"] for p in port["customProperties"] if p["property"] == "accessScope"
                ]
                scopes[product["name"]] = scope
    return scopes


PRODUCT_SCOPES = descriptor_scopes()


def token(
    *scopes: str, secret: str = SECRET, lifetime_s: int = 600, age_s: int = 0, **claims: Any
) -> str:
    issued = int(time.time()) - age_s
    body = {
        "iss": AUTH.issuer,
        "aud": AUTH.audience,
        "sub": "matrix-client",
        "client_id": "matrix-client",
        "scope": " ".join(scopes),
        "iat": issued,
        "exp": issued + lifetime_s,
    } | claims
    return jwt.encode(body, secret, algorithm="HS256", headers={"typ": "at+jwt"})


def bearer(value: str) -> dict[str, str]:
    return {"authorization": f"Bearer {value}"}


@pytest.fixture
async def secured(
    container: SupplyChainContainer,
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The real app with access control on: the container's auth settings overridden."""
    container.auth_settings.override(providers.Object(AUTH))
    app = create_app(container)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, client


WAREHOUSE = {"code": "LYS-1", "name": "Lyon", "latitude": 45.76, "longitude": 4.83, "capacity": 9}


async def test_an_idempotent_replay_is_no_way_around_the_scope(
    secured: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = secured
    key = {"idempotency-key": "5f1c2a9e-6c1d-4a53-9a2e-1f3b8a7d0c42"}
    operator = bearer(token(OPERATIONS_READ, OPERATIONS_WRITE))
    created = await client.post("/api/v1/warehouses", json=WAREHOUSE, headers=operator | key)
    assert created.status_code == 201, created.text

    anonymous = await client.post("/api/v1/warehouses", json=WAREHOUSE, headers=key)
    reader = await client.post(
        "/api/v1/warehouses", json=WAREHOUSE, headers=key | bearer(token(OPERATIONS_READ))
    )
    replayed = await client.post("/api/v1/warehouses", json=WAREHOUSE, headers=operator | key)

    assert anonymous.status_code == 401
    assert reader.status_code == 403
    assert replayed.status_code == 201
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json() == created.json()


async def test_slo_lists_only_the_products_the_caller_may_read(
    secured: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = secured
    inventory_only = bearer(token(PRODUCT_SCOPES["inventory-levels"]))
    everything = bearer(token(*PRODUCT_SCOPES.values()))

    narrow = (await client.get("/slo", headers=inventory_only)).json()
    wide = (await client.get("/slo", headers=everything)).json()

    assert [p["product"] for p in narrow["products"]] == ["inventory-levels"]
    assert {p["product"] for p in wide["products"]} == set(PRODUCT_SCOPES)


async def test_without_a_key_in_the_local_environment_access_control_is_off(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The default the other API tests run with: no DPMESH_AUTH_JWT_SECRET, local."""
    response = await client.get("/api/v1/warehouses")
    assert response.status_code == 200
    warnings = [r.getMessage() for r in caplog.get_records("setup") if r.levelname == "WARNING"]
    assert any("ACCESS CONTROL IS OFF" in message for message in warnings)
    document = (await client.get("/openapi.json")).json()
    assert "securitySchemes" not in document.get("components", {})
