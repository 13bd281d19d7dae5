"""The catalog's live dashboard: one page at ``/dashboard`` for people watching the mesh.

The page (``static/dashboard.js``, ``static/dashboard.css``, no library, no build step)
polls the catalog every two seconds and only the catalog:

``GET /dashboard``                               the page
``GET /dashboard/api/products/{urn}/data``       a product's REST port, fetched server-side
``GET /dashboard/api/lineage.svg``               the lineage graph drawn as SVG
``GET /api/v1/products``                         the catalog itself (products, heartbeats, SLOs)

The catalog fetches product data from the REST port URL the product registered, with a
short timeout, so the browser needs no CORS and never holds a token. A product API that
is down, slow or refusing answers a problem document (502, or 504 on a timeout) naming
the URL, and the page shows it in that product's panel only.

When the product APIs require a token, the catalog gets one with the OAuth 2.0 client
credentials grant (``DPMESH_DASHBOARD_CLIENT_ID``/``_CLIENT_SECRET``, from
``DPMESH_DASHBOARD_TOKEN_URL`` or else ``DPMESH_AUTH_TOKEN_URL``), keeps it until shortly
before it expires and fetches a new one on a 401. See docs/dashboard.md.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dpmesh.catalog.lineage import lineage
from dpmesh.catalog.models import Lineage, LineageNode, PortType, parse_urn
from dpmesh.catalog.store import CatalogStore
from dpmesh.runtime.contexts import manifests
from shared_kernel.domain import NotFound
from shared_kernel.infrastructure.oauth import ClientCredentials, TokenUnavailable
from shared_kernel.interfaces.manifest import DashboardPanel
from shared_kernel.interfaces.problems import PROBLEM_BASE, PROBLEM_JSON

__all__ = [
    "DASHBOARD_PATH",
    "PANELS",
    "ClientCredentials",
    "Dashboard",
    "DashboardSettings",
    "TokenUnavailable",
    "install_dashboard",
    "lineage_svg",
]

DASHBOARD_PATH: Final = "/dashboard"
STATIC_DIR: Final = Path(__file__).parent / "static"

#: The registered contexts' panels (their manifests' ``dashboard``), with each one's
#: product URN.
PANELS: Final = tuple(
    (panel, manifest.urn(panel.product)) for manifest in manifests() for panel in manifest.dashboard
)

StoreDependency = Callable[[], CatalogStore]

_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})


class DashboardSettings(BaseSettings):
    """``DPMESH_DASHBOARD_*``: how the catalog calls product APIs for the dashboard."""

    model_config = SettingsConfigDict(
        env_prefix="DPMESH_DASHBOARD_", extra="ignore", populate_by_name=True
    )

    timeout_s: float = Field(
        default=2.0, gt=0, le=30, description="Per call to a product API, token included."
    )
    poll_interval_s: float = Field(default=2.0, ge=0.5, le=60, description="Page refresh.")
    token_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "DPMESH_DASHBOARD_TOKEN_URL", "DPMESH_AUTH_TOKEN_URL", "token_url"
        ),
        description="OAuth 2.0 token endpoint; only used with a client id.",
    )
    client_id: str | None = Field(default=None, description="Client-credentials client.")
    client_secret: SecretStr | None = None
    scope: str | None = Field(
        default=None, description="Space-separated scopes; every allowed one if unset."
    )
    allowed_base_urls: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Per context, the base URLs its products' REST ports may have "
        '(JSON: {"supply_chain": ["http://api:8000"]}); the dashboard fetches nothing else, '
        "so a registration cannot point it (and its token) anywhere. A context without an "
        "entry may only use loopback addresses.",
    )

    def allows(self, context: str, url: str) -> bool:
        """Whether the dashboard may fetch ``url`` for a product of ``context``."""
        bases = self.allowed_base_urls.get(context)
        if bases is None:
            return (urlsplit(url).hostname or "") in _LOOPBACK
        return any(url == base or url.startswith(base.rstrip("/") + "/") for base in bases)

    @model_validator(mode="after")
    def _complete_client(self) -> DashboardSettings:
        if self.client_id and (self.client_secret is None or not self.token_url):
            raise ValueError(
                "DPMESH_DASHBOARD_CLIENT_ID needs DPMESH_DASHBOARD_CLIENT_SECRET and a token "
                "URL (DPMESH_DASHBOARD_TOKEN_URL or DPMESH_AUTH_TOKEN_URL)"
            )
        return self

    def auth(self) -> ClientCredentials | None:
        if not self.client_id or self.client_secret is None or not self.token_url:
            return None
        return ClientCredentials(
            self.token_url,
            self.client_id,
            self.client_secret.get_secret_value(),
            scope=self.scope,
        )


class Dashboard:
    """The dashboard's routes and the HTTP client it calls product APIs with."""

    def __init__(
        self,
        store: StoreDependency,
        settings: DashboardSettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings or DashboardSettings()
        self._store = store
        self.client = httpx.AsyncClient(
            timeout=self.settings.timeout_s,
            transport=transport,
            auth=self.settings.auth(),
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": "dpmesh-catalog-dashboard"},
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    def router(self) -> APIRouter:
        router = APIRouter(prefix=DASHBOARD_PATH, include_in_schema=False)

        @router.get("", response_class=HTMLResponse)
        async def page() -> HTMLResponse:
            return HTMLResponse(_page(self.settings.poll_interval_s))

        @router.get("/api/products/{urn}/data")
        async def product_data(urn: str, request: Request) -> Response:
            return await self.product_data(urn, request)

        @router.get("/api/lineage.svg")
        async def lineage_picture() -> Response:
            found = await self._store().all()
            return Response(
                lineage_svg(lineage(stored.registration for stored in found)),
                media_type="image/svg+xml",
                headers={"Cache-Control": "no-store"},
            )

        return router

    async def product_data(self, urn: str, request: Request) -> Response:
        """The product's REST port answer, wrapped with where and when it was fetched."""
        parse_urn(urn)
        stored = await self._store().get(urn)
        if stored is None:
            raise NotFound("data product", urn)
        port = next((p for p in stored.registration.ports if p.type is PortType.REST), None)
        if port is None:
            raise NotFound("REST port of data product", urn)
        url = port.url

        def fail(status: int, slug: str, title: str, detail: str) -> JSONResponse:
            return _problem(request, urn, url, status, slug, title, detail)

        if not url.startswith(("http://", "https://")):
            return fail(
                502,
                "product-unavailable",
                "Product API unavailable",
                f"the registered REST port {url!r} is not http(s)",
            )
        context, _ = parse_urn(urn)
        if not self.settings.allows(context, url):
            return fail(
                502,
                "product-not-allowed",
                "Product API not allowed",
                f"the registered REST port {url!r} is not under the base URLs allowed for "
                f"{context} (DPMESH_DASHBOARD_ALLOWED_BASE_URLS); the catalog did not call it",
            )
        started = time.perf_counter()
        try:
            response = await self.client.get(url, params=list(request.query_params.multi_items()))
        except httpx.TimeoutException:
            return fail(
                504,
                "product-timeout",
                "Product API timed out",
                f"{url} did not answer within {self.settings.timeout_s:g} s",
            )
        except httpx.HTTPError as exc:
            return fail(
                502,
                "product-unavailable",
                "Product API unavailable",
                f"cannot reach {url}: {_reason(exc)}",
            )
        except TokenUnavailable as exc:
            return fail(502, "product-unauthorized", "No token for the product API", str(exc))
        elapsed_ms = round((time.perf_counter() - started) * 1000)
        if response.status_code in (401, 403):
            hint = (
                "check the catalog's client and its scopes (DPMESH_DASHBOARD_CLIENT_ID)"
                if self.client.auth is not None
                else "give the catalog a client: DPMESH_DASHBOARD_CLIENT_ID and "
                "DPMESH_DASHBOARD_CLIENT_SECRET (docs/dashboard.md)"
            )
            return fail(
                502,
                "product-unauthorized",
                "Product API refused the catalog",
                f"{url} answered {response.status_code} {_upstream_detail(response)}; {hint}",
            )
        if not response.is_success:
            return fail(
                502,
                "product-unavailable",
                "Product API failed",
                f"{url} answered {response.status_code} {_upstream_detail(response)}",
            )
        try:
            data = response.json()
        except ValueError:
            return fail(
                502,
                "product-unavailable",
                "Product API failed",
                f"{url} answered something that is not JSON",
            )
        return JSONResponse(
            {
                "urn": urn,
                "source": str(response.request.url),
                "fetched_at": datetime.now(UTC).isoformat(),
                "elapsed_ms": elapsed_ms,
                "data": data,
            },
            headers={"Cache-Control": "no-store"},
        )


def install_dashboard(
    app: FastAPI,
    store: StoreDependency,
    settings: DashboardSettings | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Dashboard:
    """Mount the dashboard on the catalog ``app``; close it with :meth:`Dashboard.aclose`."""
    dashboard = Dashboard(store, settings, transport=transport)
    app.include_router(dashboard.router())
    app.mount(
        f"{DASHBOARD_PATH}/static", StaticFiles(directory=STATIC_DIR), name="dashboard-static"
    )
    return dashboard


def _problem(
    request: Request, urn: str, url: str, status: int, slug: str, title: str, detail: str
) -> JSONResponse:
    return JSONResponse(
        {
            "type": PROBLEM_BASE + slug,
            "title": title,
            "status": status,
            "detail": detail,
            "instance": request.url.path,
            "urn": urn,
            "source": url,
        },
        status_code=status,
        media_type=PROBLEM_JSON,
        headers={"Cache-Control": "no-store"},
    )


def _reason(exc: httpx.HTTPError) -> str:
    return str(exc) or type(exc).__name__


def _upstream_detail(response: httpx.Response) -> str:
    """The reason phrase, and the problem's own detail when the answer carries one."""
    text = response.reason_phrase
    try:
        body = response.json()
    except ValueError:
        return text
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return f"{text} ({body['detail'][:200]})"
    return text


# -- the page -----------------------------------------------------------------------


def _panel(panel: DashboardPanel, urn: str) -> str:
    """One product panel; everything from a manifest is escaped."""
    width = "panel wide" if panel.wide else "panel"
    title = panel.title or panel.product
    return (
        f'<section id="{html.escape(panel.element)}" class="{width}" '
        f'data-urn="{html.escape(urn)}" data-query="{html.escape(panel.query)}" '
        f'data-kind="{html.escape(panel.kind)}">\n'
        f"<h2>{html.escape(title)}</h2>\n"
        '<p class="status">Loading…</p>\n<p class="source"></p>\n<div class="body"></div>\n'
        "</section>\n"
    )


def _page(poll_interval_s: float) -> str:
    panels = "".join(_panel(panel, urn) for panel, urn in PANELS)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dpmesh dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{DASHBOARD_PATH}/static/dashboard.css">
<script src="{DASHBOARD_PATH}/static/dashboard.js" defer></script>
</head>
<body data-poll-ms="{round(poll_interval_s * 1000)}">
<header>
<h1>dpmesh dashboard</h1>
<p id="poll-status" class="status">Starting…</p>
<nav><a href="/">Catalog</a> · <a href="/api/v1/lineage.mmd">lineage.mmd</a>
· <a href="/docs">API</a></nav>
</header>
<main>
{panels}<section id="catalog" class="panel wide" data-source="/api/v1/products">
<h2>Data products</h2>
<p class="status">Loading…</p>
<div class="body"></div>
</section>
<section id="lineage" class="panel wide" data-source="{DASHBOARD_PATH}/api/lineage.svg">
<h2>Lineage</h2>
<p class="status">Loading…</p>
<div class="body"></div>
</section>
</main>
</body>
</html>
"""


# -- the lineage picture --------------------------------------------------------------

_FONT_PX: Final = 12
_CHAR_PX: Final = 7.0
_NODE_H: Final = 40
_V_GAP: Final = 16
_COLUMN_GAP: Final = 90
_PAD: Final = 16
_KIND_ORDER: Final = {"external": 0, "topic": 1, "product": 2}
_STYLE: Final = {
    "product": ("#e8f1fb", "#2f6fb3"),
    "topic": ("#fdf3e1", "#b37a2f"),
    "external": ("#f2f2f2", "#777777"),
}


def _ranks(graph: Lineage) -> dict[str, int]:
    """Longest path from a source, so data flows left to right; bounded on a cycle."""
    rank = {node.id: 0 for node in graph.nodes}
    for _ in range(len(graph.nodes)):
        changed = False
        for edge in graph.edges:
            if edge.source not in rank or edge.target not in rank:
                continue
            if rank[edge.target] < rank[edge.source] + 1:
                rank[edge.target] = rank[edge.source] + 1
                changed = True
        if not changed:
            break
    used = sorted(set(rank.values()))
    compact = {value: index for index, value in enumerate(used)}
    return {node: compact[value] for node, value in rank.items()}


def _columns(graph: Lineage) -> list[list[LineageNode]]:
    ranks = _ranks(graph)
    columns: list[list[LineageNode]] = [[] for _ in range(max(ranks.values(), default=-1) + 1)]
    for node in sorted(graph.nodes, key=lambda n: (_KIND_ORDER[n.kind], n.label, n.id)):
        columns[ranks[node.id]].append(node)
    feeds: dict[str, list[str]] = {}  # node -> the nodes it reads from
    fed: dict[str, list[str]] = {}  # node -> the nodes reading from it
    for edge in graph.edges:
        feeds.setdefault(edge.target, []).append(edge.source)
        fed.setdefault(edge.source, []).append(edge.target)
    position = {node.id: row for column in columns for row, node in enumerate(column)}

    def barycentre(neighbours: dict[str, list[str]]) -> Callable[[LineageNode], float]:
        def weight(node: LineageNode) -> float:
            placed = [position[n] for n in neighbours.get(node.id, []) if n in position]
            return sum(placed) / len(placed) if placed else float(position[node.id])

        return weight

    # Fewer crossings: each node near the average row of its neighbours, swept left to
    # right (by what feeds it), right to left (by what it feeds), then left to right.
    last = len(columns) - 1
    sweeps = [(range(1, last + 1), feeds), (range(last - 1, -1, -1), fed)]
    for indices, neighbours in [*sweeps, sweeps[0]]:
        for index in indices:
            columns[index].sort(key=barycentre(neighbours))
            position.update({node.id: row for row, node in enumerate(columns[index])})
    return columns


def lineage_svg(graph: Lineage) -> str:
    """The lineage graph as a standalone SVG: external systems and topics on the left,
    the products that read them to the right; ACL edges dashed; products link to
    their catalog entry."""
    if not graph.nodes:
        return (
            '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="40" '
            'viewBox="0 0 320 40" role="img" aria-label="empty lineage">'
            f'<text x="8" y="24" font-size="{_FONT_PX}" font-family="system-ui, sans-serif">'
            "No product has registered yet.</text></svg>"
        )
    columns = _columns(graph)
    widths = {
        node.id: max(len(node.label), len(node.context or "")) * _CHAR_PX + 28
        for node in graph.nodes
    }
    boxes: dict[str, tuple[float, float, float]] = {}  # id -> x, y, width
    tallest = max(len(column) for column in columns)
    height = 2 * _PAD + tallest * _NODE_H + (tallest - 1) * _V_GAP
    x = float(_PAD)
    for column in columns:
        column_width = max(widths[node.id] for node in column)
        used = len(column) * _NODE_H + (len(column) - 1) * _V_GAP
        y = (height - used) / 2
        for node in column:
            boxes[node.id] = (x + (column_width - widths[node.id]) / 2, y, widths[node.id])
            y += _NODE_H + _V_GAP
        x += column_width + _COLUMN_GAP
    width = x - _COLUMN_GAP + _PAD
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="lineage graph" '
        f'font-family="system-ui, sans-serif" font-size="{_FONT_PX}">',
        "<defs>"
        '<marker id="lineage-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
    ]
    for edge in graph.edges:
        if edge.source not in boxes or edge.target not in boxes:
            continue
        sx, sy, sw = boxes[edge.source]
        tx, ty, _ = boxes[edge.target]
        x1, y1 = sx + sw, sy + _NODE_H / 2
        x2, y2 = tx, ty + _NODE_H / 2
        bend = max(abs(x2 - x1) / 2, 40)
        dash = ' stroke-dasharray="5 4"' if edge.kind == "acl" else ""
        title = html.escape(f"{edge.source} -> {edge.target} ({edge.kind}: {edge.label})")
        parts.append(
            f'<g class="edge {edge.kind}"><title>{title}</title>'
            f'<path d="M {x1:.1f} {y1:.1f} C {x1 + bend:.1f} {y1:.1f} {x2 - bend:.1f} '
            f'{y2:.1f} {x2:.1f} {y2:.1f}" fill="none" stroke="#555" stroke-width="1.2"'
            f'{dash} marker-end="url(#lineage-arrow)"/>'
        )
        if edge.kind == "acl":
            parts.append(
                f'<text x="{(x1 + x2) / 2:.1f}" y="{(y1 + y2) / 2 - 4:.1f}" '
                f'text-anchor="middle" font-size="10" fill="#555">'
                f"{html.escape(edge.label)}</text>"
            )
        parts.append("</g>")
    for node in graph.nodes:
        parts.append(_node_svg(node, *boxes[node.id]))
    parts.append("</svg>")
    return "".join(parts)


def _node_svg(node: LineageNode, x: float, y: float, width: float) -> str:
    fill, stroke = _STYLE[node.kind]
    h = _NODE_H
    if node.kind == "product":
        shape = (
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{h}" rx="{h / 2}" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>'
        )
    elif node.kind == "topic":
        slant = 10
        points = (
            f"{x + slant:.1f},{y:.1f} {x + width:.1f},{y:.1f} "
            f"{x + width - slant:.1f},{y + h:.1f} {x:.1f},{y + h:.1f}"
        )
        shape = f'<polygon points="{points}" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>'
    else:
        cut = 12
        points = (
            f"{x + cut:.1f},{y:.1f} {x + width - cut:.1f},{y:.1f} {x + width:.1f},{y + h / 2:.1f} "
            f"{x + width - cut:.1f},{y + h:.1f} {x + cut:.1f},{y + h:.1f} {x:.1f},{y + h / 2:.1f}"
        )
        shape = f'<polygon points="{points}" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>'
    centre = x + width / 2
    label = html.escape(node.label)
    lines = (
        f'<text x="{centre:.1f}" y="{y + h / 2 - 2:.1f}" text-anchor="middle">{label}</text>'
        f'<text x="{centre:.1f}" y="{y + h / 2 + 12:.1f}" text-anchor="middle" '
        f'font-size="10" fill="#555">{html.escape(node.context)}</text>'
        if node.context
        else f'<text x="{centre:.1f}" y="{y + h / 2 + 4:.1f}" text-anchor="middle">{label}</text>'
    )
    body = (
        f'<g class="node {node.kind}" data-id="{html.escape(node.id)}">'
        f"<title>{html.escape(node.id)}</title>{shape}{lines}</g>"
    )
    if node.kind == "product":
        return f'<a href="/api/v1/products/{html.escape(node.id)}">{body}</a>'
    return body
