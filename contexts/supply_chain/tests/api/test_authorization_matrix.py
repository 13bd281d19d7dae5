"""Access control over every route of the real app, built through the container.

The expectations are written here from the rules (docs/access-control.md) and the
product descriptors, independently of the code that applies them: each route is
called without a token, with a token lacking its scope, with exactly its scope, with
an expired token and with a token signed by someone else. Tokens are minted here with
PyJWT, as any authorization server following RFC 9068 would.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterator
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

from .support import PROBLEM_JSON

SECRET = "the-matrix-test-signing-key-is-40-bytes!"
AUTH = AuthSettings(jwt_secret=SecretStr(SECRET), environment="ci")
DATAPRODUCT = Path(__file__).resolve().parents[2] / "dataproduct"

OPERATIONS_READ = "supply_chain:operations:read"
OPERATIONS_WRITE = "supply_chain:operations:write"
OPEN = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
}
READS = {"GET", "HEAD", "OPTIONS"}


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
ALL_SCOPES = {OPERATIONS_READ, OPERATIONS_WRITE, *PRODUCT_SCOPES.values()}


def required(method: str, path: str) -> tuple[set[str], bool]:
    """The scopes a call needs, and whether any one of them is enough."""
    if path == "/slo":
        return set(PRODUCT_SCOPES.values()), True
    match = re.match(r"^/api/v1/products/([^/]+)", path)
    if match:
        return {PRODUCT_SCOPES[match[1]]}, False
    if path.startswith("/api/v1/"):
        return {OPERATIONS_READ if method in READS else OPERATIONS_WRITE}, False
    raise AssertionError(f"{method} {path}: no expectation; extend the rules and this test")


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


def routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """``(method, path)`` of every route the app serves, included routers too."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before lazily included routers: routes are copied in
        found = [(getattr(r, "methods", None), getattr(r, "path", None)) for r in app.routes]
    else:
        found = [(r.methods, r.path) for r in iter_route_contexts(app.routes)]
    for methods, path in found:
        for method in sorted(methods or ()):
            if method != "HEAD" and path is not None:
                yield method, path


def url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


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


async def call(
    client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {} if method not in READS else None
    return await client.request(method, url(path), json=body, headers=headers)


def guarded(app: FastAPI) -> list[tuple[str, str]]:
    found = [(method, path) for method, path in routes(app) if path not in OPEN]
    assert len(found) > 40, "the app lost routes, or the enumeration misses included routers"
    return found


async def test_every_route_but_the_open_ones_needs_a_token(
    secured: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = secured
    wrong = []
    for method, path in guarded(app):
        response = await call(client, method, path)
        if (
            response.status_code != 401
            or response.headers.get("content-type") != PROBLEM_JSON
            or response.headers.get("www-authenticate") != 'Bearer realm="dpmesh"'
        ):
            wrong.append(f"{method} {path}: {response.status_code} {response.text[:80]}")
    assert wrong == []


async def test_a_malformed_body_without_a_token_is_401_not_422(
    secured: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    """Who may call comes before what the body says: an anonymous caller learns nothing
    about the body's shape."""
    app, client = secured
    wrong = []
    for method, path in guarded(app):
        if method in READS:
            continue
        response = await client.request(
            method, url(path), content=b"{not json", headers={"content-type": "application/json"}
        )
        if response.status_code != 401:
            wrong.append(f"{method} {path}: {response.status_code}")
    assert wrong == []


async def test_the_open_routes_answer_without_a_token(
    secured: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = secured
    served = {path for _, path in routes(app)}
    assert {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"} <= served
    for path in served & OPEN - {"/docs/oauth2-redirect"}:
        response = await client.get(path)
        assert response.status_code == 200, (path, response.text[:200])


async def test_a_token_without_the_scope_is_forbidden_and_told_which(
    secured: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = secured
    wrong = []
    for method, path in guarded(app):
        needed, _ = required(method, path)
        others = sorted(ALL_SCOPES - needed)
        response = await call(client, method, path, bearer(token(*others)))
        problem = response.json() if response.status_code == 403 else {}
        named = all(scope in str(problem.get("detail")) for scope in needed)
        challenge = response.headers.get("www-authenticate", "")
        if (
            response.status_code != 403
            or response.headers.get("content-type") != PROBLEM_JSON
            or not named
            or 'error="insufficient_scope"' not in challenge
        ):
            wrong.append(f"{method} {path}: {response.status_code} {response.text[:120]}")
    assert wrong == []


async def test_the_right_scope_opens_each_route(
    secured: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = secured
    wrong = []
    for method, path in guarded(app):
        needed, any_one = required(method, path)
        scopes = [sorted(needed)[0]] if any_one else sorted(needed)
        response = await call(client, method, path, bearer(token(*scopes)))
        if response.status_code in (401, 403) or response.status_code >= 500:
            wrong.append(f"{method} {path} with {scopes}: {response.status_code}")
    assert wrong == []


async def test_expired_and_foreign_tokens_are_refused_everywhere(
    secured: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = secured
    expired = token(*ALL_SCOPES, lifetime_s=600, age_s=600 + AUTH.leeway_s + 5)
    foreign = token(*ALL_SCOPES, secret="some-other-issuers-key-also-40-bytes-ok")
    wrong = []
    for method, path in guarded(app):
        for name, bad, reason in (
            ("expired", expired, "expired"),
            ("foreign", foreign, "signature"),
        ):
            response = await call(client, method, path, bearer(bad))
            challenge = response.headers.get("www-authenticate", "")
            if (
                response.status_code != 401
                or 'error="invalid_token"' not in challenge
                or reason not in response.json().get("detail", "")
            ):
                wrong.append(f"{method} {path} ({name}): {response.status_code}")
    assert wrong == []


async def test_openapi_documents_the_flow_and_each_operations_scopes(
    secured: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = secured
    document = (await client.get("/openapi.json")).json()

    scheme = document["components"]["securitySchemes"]["OAuth2"]
    flow = scheme["flows"]["clientCredentials"]
    assert scheme["type"] == "oauth2"
    assert flow["tokenUrl"] == AUTH.token_url
    assert set(flow["scopes"]) >= ALL_SCOPES
    for method, path in guarded(app):
        operation = document["paths"][path][method.lower()]
        needed, _ = required(method, path)
        declared = [set(requirement["OAuth2"]) for requirement in operation["security"]]
        assert declared == [needed], (method, path, declared)
        assert {"401", "403"} <= set(operation["responses"]), (method, path)
    for path in ("/healthz", "/readyz"):
        assert "security" not in document["paths"][path]["get"]


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
