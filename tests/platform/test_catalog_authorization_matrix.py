"""Every route of the catalog, with access control on (EdDSA): reads are open, every
write refuses no token, an expired one, one from another key, ``alg=none``, an HS256
token made with a guessed secret and one without the context's scope, and opens to
the right one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from dpmesh.auth import issue_token
from dpmesh.catalog.app import create_catalog_app
from dpmesh.testing.environments import sqlite_database_url
from shared_kernel.interfaces.auth import AuthSettings
from shared_kernel.interfaces.keys import SigningKey
from tests.platform.test_catalog_access import registrations

pytestmark = pytest.mark.integration

URN = "urn:dpmesh:supply_chain:inventory-levels"
AUTH = AuthSettings(environment="ci", signing_key=SecretStr(SigningKey.generate().private_pem()))
STRANGER = AuthSettings(
    environment="ci", signing_key=SecretStr(SigningKey.generate().private_pem())
)
#: The catalog's writes: each needs catalog:<context>:write. A new write route must be
#: added here, so that this test checks its access control.
WRITES = {
    ("PUT", "/api/v1/products/{urn}"),
    ("DELETE", "/api/v1/products/{urn}"),
    ("POST", "/api/v1/products/{urn}/heartbeat"),
}
#: Open on purpose: the token endpoint itself.
OPEN_WRITES = {("POST", "/oauth/token")}


def routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before lazily included routers
        found = [(getattr(r, "methods", None), getattr(r, "path", None)) for r in app.routes]
    else:
        found = [(r.methods, r.path) for r in iter_route_contexts(app.routes)]
    for methods, path in found:
        for method in sorted(methods or ()):
            if method != "HEAD" and path is not None:
                yield method, path


def body(method: str, path: str) -> object:
    if method == "PUT":
        return next(r for r in registrations() if r["urn"] == URN)
    if path.endswith("/heartbeat"):
        return {"status": "healthy", "slis": {"freshness_ms": 5.0}}
    return None


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
async def catalog(tmp_path: Path) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_catalog_app(sqlite_database_url(tmp_path, "catalog.db"), auth_settings=AUTH)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://catalog") as client:
            yield app, client


async def call(
    client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.request(
        method, path.replace("{urn}", URN), json=body(method, path), headers=headers
    )


async def test_every_write_is_one_the_matrix_checks(
    catalog: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, _ = catalog
    writes = {(m, p) for m, p in routes(app) if m in ("POST", "PUT", "PATCH", "DELETE")}
    assert writes == WRITES | OPEN_WRITES


async def test_every_write_refuses_every_wrong_token(
    catalog: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = catalog
    now = datetime.now(UTC)
    scope = "catalog:supply_chain:write"
    claims = {"sub": "x", "iss": AUTH.issuer, "aud": AUTH.audience, "scope": scope}
    wrong_tokens = {
        "none": None,
        "expired": issue_token(AUTH, "x", [scope], now=now - timedelta(hours=2)),
        "another key": issue_token(STRANGER, "x", [scope], now=now),
        "alg none": jwt.encode(claims, None, algorithm="none"),
        "guessed HS256": jwt.encode(claims, "a-guessed-secret-of-well-over-32-bytes", "HS256"),
        "no scope": issue_token(AUTH, "x", ["catalog:product_usage:write"], now=now),
    }
    wrong = []
    for method, path in sorted(WRITES):
        for name, token in wrong_tokens.items():
            expected = 403 if name == "no scope" else 401
            response = await call(client, method, path, bearer(token) if token else None)
            if response.status_code != expected:
                wrong.append(f"{method} {path} with {name}: {response.status_code}")
    assert wrong == []


async def test_the_right_token_opens_every_write_and_reads_stay_open(
    catalog: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = catalog
    token = issue_token(AUTH, "x", ["catalog:supply_chain:write"], now=datetime.now(UTC))
    # In this order: register, heartbeat, deregister.
    for method, path in [
        ("PUT", "/api/v1/products/{urn}"),
        ("POST", "/api/v1/products/{urn}/heartbeat"),
        ("DELETE", "/api/v1/products/{urn}"),
    ]:
        response = await call(client, method, path, bearer(token))
        assert response.status_code in (200, 201, 204), (method, path, response.text)
    reads = [(m, p) for m, p in routes(app) if m == "GET" and "{" not in p]
    for method, path in reads:
        response = await call(client, method, path)
        assert response.status_code not in (401, 403), (method, path)
