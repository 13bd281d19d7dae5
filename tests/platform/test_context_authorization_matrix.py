"""Access control over every route of every registered context's API, as the real
process builds it (its composition root's ``create_app``, configured from the
environment), with EdDSA tokens as the catalog issues them.

The expectations come from the rule every context follows (``shared_kernel.interfaces
.access``) and the product descriptors, written here independently of the code that
applies them. Every guarded route is called with: no token, an expired token, a token
signed by another key, an unsigned token (``alg=none``), an HS256 token signed with a
guessable secret, a token without the route's scope, and the right one.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from dpmesh.runtime.contexts import manifests
from shared_kernel.infrastructure import bitol
from shared_kernel.interfaces.keys import SigningKey
from shared_kernel.interfaces.manifest import ContextManifest

PROBLEM_JSON = "application/problem+json"
ISSUER = SigningKey.generate()
STRANGER = SigningKey.generate()
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
AUDIENCE, ISSUED_BY, LEEWAY_S = "urn:dpmesh:api", "urn:dpmesh:auth", 30

MANIFESTS = {manifest.name: manifest for manifest in manifests()}


class Rules:
    """The scopes each route of one context needs (docs/access-control.md)."""

    def __init__(self, manifest: ContextManifest) -> None:
        self.context = manifest.name
        names = [p.name.split(".")[0] for p in manifest.dataproduct_dir.glob("*.odps.yaml")]
        descriptors = bitol.load_product_descriptors(manifest.dataproduct_dir, self.context, names)
        self.products = {name: d.read_scope for name, d in descriptors.items()}
        self.read, self.write = manifest.operations_scopes
        self.every = {self.read, self.write, *self.products.values()}

    def required(self, method: str, path: str) -> tuple[set[str], bool]:
        """The scopes a call needs, and whether any one of them is enough."""
        if path == "/slo":
            return set(self.products.values()), True
        found = re.match(r"^/api/v1/products/([^/]+)", path)
        if found:
            return {self.products[found[1]]}, False
        if path.startswith("/api/v1/"):
            return {self.read if method in READS else self.write}, False
        raise AssertionError(f"{method} {path}: no expectation; extend the rules and this test")


def claims(*scopes: str, lifetime_s: int = 600, age_s: int = 0) -> dict[str, Any]:
    issued = int(time.time()) - age_s
    return {
        "iss": ISSUED_BY,
        "aud": AUDIENCE,
        "sub": "matrix",
        "client_id": "matrix",
        "scope": " ".join(scopes),
        "iat": issued,
        "exp": issued + lifetime_s,
    }


def eddsa(body: dict[str, Any], key: SigningKey = ISSUER) -> str:
    return jwt.encode(
        body, key.private, algorithm="EdDSA", headers={"kid": key.kid, "typ": "at+jwt"}
    )


def unsigned(body: dict[str, Any]) -> str:
    return jwt.encode(body, None, algorithm="none", headers={"kid": ISSUER.kid})


def guessed_hs256(body: dict[str, Any]) -> str:
    return jwt.encode(body, "secret-secret-secret-secret-secret!", algorithm="HS256")


def bearer(value: str) -> dict[str, str]:
    return {"authorization": f"Bearer {value}"}


def routes(app: FastAPI) -> Iterator[tuple[str, str]]:
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


@pytest.fixture(params=sorted(MANIFESTS))
async def secured(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Rules, FastAPI, httpx.AsyncClient]]:
    """One context's app as ``dpmesh run NAME api`` builds it, access control on."""
    manifest = MANIFESTS[request.param]
    monkeypatch.setenv(manifest.setting("database_url"), f"sqlite+aiosqlite:///{tmp_path}/o.db")
    monkeypatch.setenv(
        manifest.setting("analytics_database_url"), f"sqlite+aiosqlite:///{tmp_path}/p.db"
    )
    monkeypatch.setenv("DPMESH_ENVIRONMENT", "ci")
    monkeypatch.setenv("DPMESH_AUTH_SIGNING_KEY", ISSUER.private_pem())
    monkeypatch.delenv("DPMESH_AUTH_JWT_SECRET", raising=False)
    monkeypatch.setenv("DPMESH_AUTH_PUBLISHED_PUBLIC_KEYS", json.dumps([]))
    root = manifest.composition()
    await root.upgrade_database()
    logging_state = (logging.getLogger().handlers[:], logging.getLogger().level)
    try:
        app = root.create_app()
    finally:  # the process's logging belongs to pytest here, not to the app
        logging.getLogger().handlers[:], _ = logging_state
        logging.getLogger().setLevel(logging_state[1])
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Rules(manifest), app, client


async def call(
    client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {} if method not in READS else None
    return await client.request(method, url(path), json=body, headers=headers)


def guarded(app: FastAPI) -> list[tuple[str, str]]:
    found = [(method, path) for method, path in routes(app) if path not in OPEN]
    assert len(found) >= 4, "the app lost routes, or the enumeration misses included routers"
    return found


async def test_every_route_but_the_open_ones_needs_a_token(
    secured: tuple[Rules, FastAPI, httpx.AsyncClient],
) -> None:
    _, app, client = secured
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


async def test_bad_tokens_are_refused_everywhere(
    secured: tuple[Rules, FastAPI, httpx.AsyncClient],
) -> None:
    rules, app, client = secured
    everything = sorted(rules.every)
    bad = {
        "expired": eddsa(claims(*everything, age_s=600 + LEEWAY_S + 5)),
        "another key": eddsa(claims(*everything), STRANGER),
        "alg=none": unsigned(claims(*everything)),
        "guessed HS256 secret": guessed_hs256(claims(*everything)),
        "not a token": "not.a.token",
    }
    wrong = []
    for method, path in guarded(app):
        for name, token in bad.items():
            response = await call(client, method, path, bearer(token))
            challenge = response.headers.get("www-authenticate", "")
            if response.status_code != 401 or 'error="invalid_token"' not in challenge:
                wrong.append(f"{method} {path} ({name}): {response.status_code}")
    assert wrong == []


async def test_a_token_without_the_scope_is_forbidden_and_told_which(
    secured: tuple[Rules, FastAPI, httpx.AsyncClient],
) -> None:
    rules, app, client = secured
    wrong = []
    for method, path in guarded(app):
        needed, _ = rules.required(method, path)
        others = sorted(rules.every - needed)
        response = await call(client, method, path, bearer(eddsa(claims(*others))))
        problem = response.json() if response.status_code == 403 else {}
        named = all(scope in str(problem.get("detail")) for scope in needed)
        if (
            response.status_code != 403
            or response.headers.get("content-type") != PROBLEM_JSON
            or not named
            or 'error="insufficient_scope"' not in response.headers.get("www-authenticate", "")
        ):
            wrong.append(f"{method} {path}: {response.status_code} {response.text[:120]}")
    assert wrong == []


async def test_the_right_scope_opens_each_route(
    secured: tuple[Rules, FastAPI, httpx.AsyncClient],
) -> None:
    rules, app, client = secured
    wrong = []
    for method, path in guarded(app):
        needed, any_one = rules.required(method, path)
        scopes = [sorted(needed)[0]] if any_one else sorted(needed)
        response = await call(client, method, path, bearer(eddsa(claims(*scopes))))
        if response.status_code in (401, 403) or response.status_code >= 500:
            wrong.append(f"{method} {path} with {scopes}: {response.status_code}")
    assert wrong == []


async def test_a_malformed_body_without_a_token_is_401_not_422(
    secured: tuple[Rules, FastAPI, httpx.AsyncClient],
) -> None:
    """Who may call comes before what the body says."""
    _, app, client = secured
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


async def test_the_open_routes_answer_and_the_document_declares_each_scope(
    secured: tuple[Rules, FastAPI, httpx.AsyncClient],
) -> None:
    rules, app, client = secured
    served = {path for _, path in routes(app)}
    for path in served & OPEN - {"/docs/oauth2-redirect"}:
        response = await client.get(path)
        assert response.status_code == 200, (path, response.text[:200])
    document = (await client.get("/openapi.json")).json()
    flow = document["components"]["securitySchemes"]["OAuth2"]["flows"]["clientCredentials"]
    assert set(flow["scopes"]) >= rules.every
    for method, path in guarded(app):
        operation = document["paths"][path][method.lower()]
        needed, _ = rules.required(method, path)
        declared = [set(requirement["OAuth2"]) for requirement in operation["security"]]
        assert declared == [needed], (method, path, declared)
        assert {"401", "403"} <= set(operation["responses"]), (method, path)
