"""The catalog's HTTP API and its one plain HTML page.

``PUT /api/v1/products/{urn}``            register or re-register (idempotent)
``POST /api/v1/products/{urn}/heartbeat`` report live SLIs
``GET /api/v1/products?q=&domain=&owner=&tag=``   search
``GET /api/v1/products/{urn}``            resolve an address to ports, schemas, contracts
``GET /api/v1/lineage`` and ``/api/v1/lineage.mmd``   the lineage graph, JSON or mermaid
``GET /``                                 products and lineage for people
``GET /dashboard``                        the live dashboard (``dashboard.py``)

Errors are RFC 9457 problem documents: 404 for an unknown product, 422 for a malformed
URN or document.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, FastAPI, Query, Response, Security
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic_settings import BaseSettings, SettingsConfigDict

from dpmesh.auth.tokens import token_router
from dpmesh.catalog.dashboard import DashboardSettings, install_dashboard
from dpmesh.catalog.lineage import lineage, to_mermaid
from dpmesh.catalog.models import (
    Heartbeat,
    Lineage,
    PortType,
    ProductDetail,
    ProductPage,
    Registration,
    parse_urn,
)
from dpmesh.catalog.store import CatalogStore, StoredProduct, Upsert
from dpmesh.catalog.views import detail, summary
from shared_kernel.domain import InvalidValue, NotFound
from shared_kernel.infrastructure.database import create_engine
from shared_kernel.interfaces.app import create_api
from shared_kernel.interfaces.auth import AUTH_RESPONSES, Authenticator, AuthSettings
from shared_kernel.interfaces.health import database_check
from shared_kernel.interfaces.problems import PROBLEM_RESPONSES

__all__ = ["CatalogSettings", "catalog_router", "create_catalog_app"]

Clock = Callable[[], datetime]

DESCRIPTION = """\
Where data products register themselves and consumers find them: search by text,
domain, owner or tag; resolve `urn:dpmesh:<context>:<product>` to the product's ports
(URLs, topics, snapshot folders), schemas, contracts, owners and SLOs with live SLIs;
follow the lineage between products and the topics they read.
"""


class CatalogSettings(BaseSettings):
    """``DPMESH_CATALOG_DATABASE_URL``: the catalog's own database."""

    model_config = SettingsConfigDict(env_prefix="DPMESH_CATALOG_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./var/catalog.db"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def catalog_write_scope(context: str) -> str:
    """The scope that lets a client register, heartbeat and deregister ``context``'s
    products (and no other context's)."""
    return f"catalog:{context}:write"


def catalog_router(
    store_dependency: Callable[[], CatalogStore],
    *,
    clock: Clock = _utc_now,
    auth: Authenticator | None = None,
    allows: Callable[[str, str], bool] | None = None,
) -> APIRouter:
    """``allows(context, url)`` says whether a REST port of ``context`` may be served at
    ``url`` (the allowed base URLs, ``DPMESH_DASHBOARD_ALLOWED_BASE_URLS``): a
    registration whose REST port is elsewhere is refused, so the catalog never points
    consumers, or the dashboard and its token, at an address nobody allowed."""
    store = Depends(store_dependency)
    router = APIRouter(prefix="/api/v1", tags=["catalog"])
    authenticator = auth or Authenticator(AuthSettings())

    async def context_writer(urn: str, token: str | None = Security(authenticator.scheme)) -> None:
        """Writes about a product need the scope of its context: a context's client can
        neither overwrite another context's products nor report their health."""
        context, _ = parse_urn(urn)
        authenticator.authorize(token, [catalog_write_scope(context)])

    writer = [Depends(context_writer)]

    async def _found(catalog: CatalogStore, urn: str) -> StoredProduct:
        parse_urn(urn)
        stored = await catalog.get(urn)
        if stored is None:
            raise NotFound("data product", urn)
        return stored

    @router.put(
        "/products/{urn}",
        response_model=ProductDetail,
        responses={
            201: {"description": "Registered for the first time"},
            **PROBLEM_RESPONSES,
            **AUTH_RESPONSES,
        },
        dependencies=writer,
    )
    async def register(
        urn: str, registration: Registration, response: Response, catalog: CatalogStore = store
    ) -> ProductDetail:
        """Register a product, or re-register it: the same document again changes nothing,
        a changed one replaces the previous (``updated_at`` says when it last changed)."""
        parse_urn(urn)
        if registration.urn != urn:
            raise InvalidValue("urn", f"the document is {registration.urn}, the address {urn}")
        for port in registration.ports:
            outside = allows is not None and not allows(registration.context, port.url)
            if port.type is PortType.REST and outside:
                raise InvalidValue(
                    "ports",
                    f"the REST port {port.url!r} is not under the base URLs allowed for "
                    f"{registration.context} (DPMESH_DASHBOARD_ALLOWED_BASE_URLS)",
                )
        outcome = await catalog.upsert(registration, clock())
        response.status_code = 201 if outcome is Upsert.CREATED else 200
        response.headers["X-Registration"] = outcome.value
        return detail(await _found(catalog, urn))

    @router.delete(
        "/products/{urn}",
        status_code=204,
        responses={**PROBLEM_RESPONSES, **AUTH_RESPONSES},
        dependencies=writer,
    )
    async def deregister(urn: str, catalog: CatalogStore = store) -> Response:
        """Forget a product (and its heartbeat): a product withdrawn, or registered by
        mistake."""
        parse_urn(urn)
        if not await catalog.remove(urn):
            raise NotFound("data product", urn)
        return Response(status_code=204)

    @router.post(
        "/products/{urn}/heartbeat",
        status_code=204,
        responses={**PROBLEM_RESPONSES, **AUTH_RESPONSES},
        dependencies=writer,
    )
    async def heartbeat(urn: str, beat: Heartbeat, catalog: CatalogStore = store) -> Response:
        """Record the product's live SLIs; the product's objectives are judged against them."""
        parse_urn(urn)
        if not await catalog.record_heartbeat(urn, beat, clock()):
            raise NotFound("data product", urn)
        return Response(status_code=204)

    @router.get("/products", response_model=ProductPage)
    async def search(
        catalog: CatalogStore = store,
        q: Annotated[
            str | None, Query(description="Words in names, descriptions, columns.")
        ] = None,
        domain: str | None = None,
        owner: str | None = None,
        tag: str | None = None,
    ) -> ProductPage:
        """Products matching every criterion given, by URN."""
        found = await catalog.search(text=q, domain=domain, owner=owner, tag=tag)
        return ProductPage(items=[summary(stored) for stored in found], total=len(found))

    @router.get("/products/{urn}", response_model=ProductDetail, responses=PROBLEM_RESPONSES)
    async def resolve(urn: str, catalog: CatalogStore = store) -> ProductDetail:
        """Resolve a product's address to its ports, schemas, contracts, owner and SLOs."""
        return detail(await _found(catalog, urn))

    @router.get("/lineage", response_model=Lineage)
    async def lineage_graph(catalog: CatalogStore = store) -> Lineage:
        """Products, the topics and systems they read, and the edges between them."""
        return lineage(stored.registration for stored in await catalog.all())

    @router.get("/lineage.mmd", response_class=PlainTextResponse)
    async def lineage_mermaid(catalog: CatalogStore = store) -> str:
        """The lineage graph as a mermaid flowchart."""
        return to_mermaid(lineage(stored.registration for stored in await catalog.all()))

    return router


def create_catalog_app(
    database_url: str | None = None,
    *,
    clock: Clock = _utc_now,
    dashboard: DashboardSettings | None = None,
    product_transport: httpx.AsyncBaseTransport | None = None,
    auth_settings: AuthSettings | None = None,
) -> FastAPI:
    """The catalog service (also a uvicorn ``--factory`` without arguments).

    ``dashboard`` configures how the dashboard calls product APIs (default:
    ``DPMESH_DASHBOARD_*``); ``product_transport`` replaces its network, for tests.
    """
    url = database_url or CatalogSettings().database_url
    dashboard = dashboard or DashboardSettings()
    auth_settings = auth_settings or AuthSettings()
    auth = Authenticator(auth_settings)
    auth.warn_if_disabled("the catalog (registrations and heartbeats)")
    engine = create_engine(url)
    catalog = CatalogStore(engine)
    closing: list[Callable[[], Awaitable[None]]] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await catalog.create_all()
        try:
            yield
        finally:
            for close in closing:
                await close()
            await catalog.dispose()

    app = create_api(
        title="dpmesh catalog",
        security_headers=True,
        description=DESCRIPTION,
        routers=[
            catalog_router(lambda: catalog, clock=clock, auth=auth, allows=dashboard.allows),
            token_router(auth_settings),
        ],
        readiness_checks={"database": database_check(engine)},
        tags=[{"name": "catalog", "description": "Data products: register, search, resolve"}],
        lifespan=lifespan,
    )
    app.state.catalog = catalog
    live = install_dashboard(app, lambda: catalog, dashboard, transport=product_transport)
    closing.append(live.aclose)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home() -> str:
        found = await catalog.all()
        return _page(found, to_mermaid(lineage(stored.registration for stored in found)))

    return app


def _page(found: list[StoredProduct], mermaid: str) -> str:
    rows = []
    for stored in found:
        view = summary(stored)
        health = view.heartbeat.status if view.heartbeat else "no heartbeat"
        judged = [slo for slo in view.slos if slo.met is not None]
        slo_text = (
            "no SLI reported"
            if not judged
            else f"{sum(bool(slo.met) for slo in judged)}/{len(judged)} SLOs met"
        )
        urn = html.escape(view.urn)
        rows.append(
            "<tr>"
            f'<td><a href="/api/v1/products/{urn}">{urn}</a></td>'
            f"<td>{html.escape(view.domain)}</td>"
            f"<td>{html.escape(view.owner or '')}</td>"
            f"<td>{html.escape(view.status)}</td>"
            f"<td>{html.escape(health)}</td>"
            f"<td>{html.escape(slo_text)}</td>"
            f"<td>{html.escape(view.purpose or '')}</td>"
            "</tr>"
        )
    body = "\n".join(rows) or '<tr><td colspan="7">No product has registered yet.</td></tr>'
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>dpmesh catalog</title>
<link rel="stylesheet" href="/dashboard/static/catalog.css">
</head>
<body>
<h1>dpmesh catalog</h1>
<p><a href="/dashboard">Live dashboard</a>: inventory, suppliers, alerts, deliveries, SLOs
and lineage, refreshed every few seconds.</p>
<h2>Data products</h2>
<table>
<thead><tr><th>URN</th><th>Domain</th><th>Owner</th><th>Status</th><th>Health</th><th>SLOs</th><th>Purpose</th></tr></thead>
<tbody>
{body}
</tbody>
</table>
<h2>Lineage</h2>
<p>Mermaid source (also <a href="/api/v1/lineage.mmd">lineage.mmd</a>;
JSON at <a href="/api/v1/lineage">/api/v1/lineage</a>):</p>
<pre class="mermaid">{html.escape(mermaid)}</pre>
</body>
</html>
"""
