"""The catalog's dashboard (``/dashboard``).

In a real browser: Debian's headless Chromium, driven by Selenium through Debian's
chromedriver (never a downloaded one), against ``dpmesh demo`` running in a subprocess.
The page must show the running system's inventory, follow it as it changes, say so in a
panel when a product API stops answering while the rest keeps working, and log no
JavaScript error. Skipped only where ``/usr/bin/chromium`` is not installed
(``apt-get install -y chromium chromium-driver``).

Without a browser, in process: what the page is built on, i.e. the catalog's proxy to
product APIs (data, errors, timeouts, client-credentials tokens), the page and its
static files, and the lineage picture.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr, ValidationError
from selenium.common.exceptions import StaleElementReferenceException

from dpmesh.catalog import create_catalog_app
from dpmesh.catalog.client import register_products
from dpmesh.catalog.dashboard import PANELS, ClientCredentials, DashboardSettings
from dpmesh.catalog.models import Registration
from dpmesh.testing.environments import sqlite_database_url
from shared_kernel.infrastructure.catalog_registration import build_registrations
from tests.platform.test_demo import analyst, eventually, get_json, running_demo

DATAPRODUCT = Path(__file__).resolve().parents[2] / "contexts" / "supply_chain" / "dataproduct"
CATALOG = "http://catalog.test"
PRODUCTS_BASE = "http://products.test"
INVENTORY = "urn:dpmesh:supply_chain:inventory-levels"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
ALERTS = "urn:dpmesh:supply_chain:alerts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def data_url(urn: str) -> str:
    return f"/dashboard/api/products/{quote(urn)}/data"


# -- a small product API, and a catalog where the supply chain's products registered ---


class ProductApi:
    """Serves ``/api/v1/products/<product>`` with rows that change on every read;
    with ``tokens``, only to a caller presenting one of them."""

    def __init__(self) -> None:
        self.reads = 0
        self.tokens: set[str] | None = None
        self.queries: list[str] = []
        self.app = FastAPI()

        @self.app.get("/api/v1/products/{product}")
        async def read(product: str, request: Request) -> JSONResponse:
            if self.tokens is not None:
                scheme, _, token = request.headers.get("authorization", "").partition(" ")
                if scheme != "Bearer" or token not in self.tokens:
                    return JSONResponse(
                        {"title": "Unauthorized", "status": 401, "detail": "a token is needed"},
                        status_code=401,
                    )
            self.reads += 1
            self.queries.append(request.url.query)
            as_of = f"2025-03-09T12:00:{self.reads % 60:02d}Z"
            return JSONResponse(
                {
                    "product": product,
                    "count": 1,
                    "items": [{"warehouse": "LYS-1", "on_hand": str(100 - self.reads)}],
                    "as_of": as_of,
                    "materialized_at": as_of,
                    "freshness_ms": 5,
                }
            )


@asynccontextmanager
async def registered_catalog(
    tmp_path: Path,
    api_base_url: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    settings: DashboardSettings | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings or DashboardSettings(timeout_s=0.5)
    if not settings.allowed_base_urls:
        settings = settings.model_copy(
            update={"allowed_base_urls": {"supply_chain": [api_base_url]}}
        )
    app = create_catalog_app(
        sqlite_database_url(tmp_path, "catalog.db"),
        dashboard=settings,
        product_transport=transport,
    )
    async with app.router.lifespan_context(app):
        catalog = httpx.ASGITransport(app=app)
        registrations = build_registrations(
            DATAPRODUCT,
            context="supply_chain",
            api_base_url=api_base_url,
            kafka_bootstrap_servers="kafka.test:9092",
            snapshot_root="s3://snapshots/supply_chain",
        )
        await register_products(CATALOG, registrations, transport=catalog)
        async with httpx.AsyncClient(transport=catalog, base_url=CATALOG) as http:
            yield http


@pytest.fixture
def products() -> ProductApi:
    return ProductApi()


@pytest.fixture
async def http(tmp_path: Path, products: ProductApi) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=products.app)
    async with registered_catalog(tmp_path, PRODUCTS_BASE, transport=transport) as client:
        yield client


# -- the proxy -----------------------------------------------------------------------


async def test_a_product_s_data_comes_through_the_catalog_from_its_registered_port(
    http: httpx.AsyncClient, products: ProductApi
) -> None:
    first = await http.get(data_url(INVENTORY), params={"limit": "7"})
    second = await http.get(data_url(INVENTORY))

    assert first.status_code == 200, first.text
    body = first.json()
    assert body["urn"] == INVENTORY
    assert body["source"] == f"{PRODUCTS_BASE}/api/v1/products/inventory-levels?limit=7"
    assert body["data"]["product"] == "inventory-levels"
    assert body["elapsed_ms"] >= 0
    assert first.headers["cache-control"] == "no-store"
    assert products.queries == ["limit=7", ""]
    assert second.json()["data"]["as_of"] != body["data"]["as_of"]


async def test_a_port_outside_the_allowed_base_urls_is_refused_and_never_called(
    tmp_path: Path, products: ProductApi
) -> None:
    """A registration pointing at another host (a cloud metadata address, an internal
    service) is refused; one stored before the allowed URLs changed gets a problem from
    the dashboard, and no request, so no token, goes there."""
    settings = DashboardSettings(allowed_base_urls={"supply_chain": ["http://elsewhere.test"]})
    app = create_catalog_app(
        sqlite_database_url(tmp_path, "catalog.db"),
        dashboard=settings,
        product_transport=httpx.ASGITransport(app=products.app),
    )
    (registration,) = [
        r
        for r in build_registrations(
            DATAPRODUCT,
            context="supply_chain",
            api_base_url="http://169.254.169.254",
            kafka_bootstrap_servers="kafka.test:9092",
            snapshot_root="s3://snapshots/supply_chain",
        )
        if r["urn"] == INVENTORY
    ]
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=CATALOG) as http,
    ):
        refused = await http.put(f"/api/v1/products/{INVENTORY}", json=registration)
        await app.state.catalog.upsert(Registration.model_validate(registration), NOW)
        answer = await http.get(data_url(INVENTORY))

    assert refused.status_code == 422
    assert "169.254.169.254" in refused.json()["errors"][0]["message"]
    assert answer.status_code == 502
    assert answer.json()["type"].endswith("product-not-allowed")
    assert products.reads == 0


async def test_every_catalog_page_and_answer_sends_the_security_headers(
    http: httpx.AsyncClient,
) -> None:
    for path in ("/", "/dashboard", "/api/v1/products", data_url(INVENTORY)):
        answer = await http.get(path)
        assert answer.status_code == 200, path
        assert "script-src 'self'" in answer.headers["content-security-policy"], path
        assert answer.headers["x-content-type-options"] == "nosniff", path
        assert answer.headers["cache-control"] == "no-store", path


def test_without_configured_base_urls_only_loopback_is_allowed() -> None:
    settings = DashboardSettings()
    assert settings.allows("supply_chain", "http://127.0.0.1:8101/api/v1/products/alerts")
    assert settings.allows("supply_chain", "http://localhost:8101/x")
    assert not settings.allows("supply_chain", "http://10.0.0.5:8101/x")
    assert not settings.allows("supply_chain", "http://127.0.0.1.evil.test/x")
    configured = DashboardSettings(allowed_base_urls={"supply_chain": ["http://api:8000"]})
    assert configured.allows("supply_chain", "http://api:8000/api/v1/products/alerts")
    assert not configured.allows("supply_chain", "http://api:8000.evil.test/x")
    assert not configured.allows("other", "http://api:8000/x")


async def test_unknown_and_malformed_products_are_problems(http: httpx.AsyncClient) -> None:
    unknown = await http.get(data_url("urn:dpmesh:supply_chain:nothing"))
    malformed = await http.get(data_url("not-a-urn"))

    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert malformed.status_code == 422


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_product_api_that_is_down_is_a_502_naming_it(tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{closed_port()}"
    async with registered_catalog(tmp_path, base) as http:
        answer = await http.get(data_url(INVENTORY))
        catalog = await http.get("/api/v1/products")

    assert answer.status_code == 502
    problem = answer.json()
    assert problem["title"] == "Product API unavailable"
    assert problem["source"] == f"{base}/api/v1/products/inventory-levels"
    assert f"cannot reach {base}/api/v1/products/inventory-levels" in problem["detail"]
    assert catalog.status_code == 200  # the catalog itself keeps answering


async def test_a_product_api_that_does_not_answer_is_a_504_after_the_timeout(
    tmp_path: Path,
) -> None:
    # Accepts connections (the kernel's backlog) and never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        base = f"http://127.0.0.1:{silent.getsockname()[1]}"
        settings = DashboardSettings(timeout_s=0.3)
        async with registered_catalog(tmp_path, base, settings=settings) as http:
            started = time.monotonic()
            answer = await http.get(data_url(ALERTS))
            took = time.monotonic() - started

    assert answer.status_code == 504
    assert answer.json()["detail"] == f"{base}/api/v1/products/alerts did not answer within 0.3 s"
    assert 0.25 < took < 3


async def test_a_refusal_says_how_to_give_the_catalog_a_client(
    http: httpx.AsyncClient, products: ProductApi
) -> None:
    products.tokens = {"someone-elses"}

    answer = await http.get(data_url(INVENTORY))

    assert answer.status_code == 502
    assert answer.json()["title"] == "Product API refused the catalog"
    assert "401 Unauthorized (a token is needed)" in answer.json()["detail"]
    assert "DPMESH_DASHBOARD_CLIENT_ID" in answer.json()["detail"]


class TokenEndpoint:
    """RFC 6749 client credentials for one client; issues t1, t2, ..."""

    def __init__(self, products: ProductApi) -> None:
        self.products = products
        self.issued: list[str] = []
        self.forms: list[dict[str, list[str]]] = []
        products.tokens = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        expected = base64.b64encode(b"dashboard:s3cret%21").decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return httpx.Response(401, json={"error": "invalid_client"})
        self.forms.append(parse_qs(request.content.decode()))
        token = f"t{len(self.issued) + 1}"
        self.issued.append(token)
        assert self.products.tokens is not None
        self.products.tokens.add(token)
        return httpx.Response(
            200, json={"access_token": token, "token_type": "Bearer", "expires_in": 900}
        )


def routed(token_endpoint: TokenEndpoint, products: ProductApi) -> httpx.AsyncBaseTransport:
    api = httpx.ASGITransport(app=products.app)
    tokens = httpx.MockTransport(token_endpoint)

    class Routes(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.host == "auth.test":
                return await tokens.handle_async_request(request)
            return await api.handle_async_request(request)

    return Routes()


async def test_with_a_client_the_catalog_gets_a_token_reuses_it_and_renews_it_on_401(
    tmp_path: Path, products: ProductApi
) -> None:
    endpoint = TokenEndpoint(products)
    settings = DashboardSettings(
        token_url="http://auth.test/oauth/token",
        client_id="dashboard",
        client_secret=SecretStr("s3cret!"),
        scope="supply_chain:inventory-levels:read",
    )
    transport = routed(endpoint, products)
    async with registered_catalog(
        tmp_path, PRODUCTS_BASE, transport=transport, settings=settings
    ) as http:
        first = await http.get(data_url(INVENTORY))
        second = await http.get(data_url(INVENTORY))
        products.tokens = set()  # every token revoked: the next call meets a 401
        third = await http.get(data_url(INVENTORY))

    assert [first.status_code, second.status_code, third.status_code] == [200, 200, 200]
    assert endpoint.issued == ["t1", "t2"]
    assert endpoint.forms[0] == {
        "grant_type": ["client_credentials"],
        "scope": ["supply_chain:inventory-levels:read"],
    }
    assert products.reads == 3


async def test_a_token_endpoint_that_refuses_the_client_is_a_502_saying_so(
    tmp_path: Path, products: ProductApi
) -> None:
    endpoint = TokenEndpoint(products)
    settings = DashboardSettings(
        token_url="http://auth.test/oauth/token",
        client_id="dashboard",
        client_secret=SecretStr("wrong"),
    )
    async with registered_catalog(
        tmp_path, PRODUCTS_BASE, transport=routed(endpoint, products), settings=settings
    ) as http:
        answer = await http.get(data_url(INVENTORY))

    assert answer.status_code == 502
    assert answer.json()["detail"] == (
        "the token endpoint http://auth.test/oauth/token answered 401: invalid_client"
    )
    assert products.reads == 0


def test_a_client_needs_a_secret_and_a_token_url(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="DPMESH_DASHBOARD_CLIENT_SECRET"):
        DashboardSettings(client_id="dashboard", token_url="http://auth.test/oauth/token")
    monkeypatch.delenv("DPMESH_DASHBOARD_TOKEN_URL", raising=False)
    monkeypatch.setenv("DPMESH_AUTH_TOKEN_URL", "http://catalog.test/oauth/token")
    monkeypatch.setenv("DPMESH_DASHBOARD_CLIENT_ID", "dashboard")
    monkeypatch.setenv("DPMESH_DASHBOARD_CLIENT_SECRET", "s3cret")

    settings = DashboardSettings()

    auth = settings.auth()
    assert isinstance(auth, ClientCredentials)
    assert auth.token_url == "http://catalog.test/oauth/token"
    assert DashboardSettings(client_id=None).auth() is None


# -- the page, its files, the lineage picture -------------------------------------------


async def test_the_page_is_linked_from_the_catalog_and_its_files_are_served(
    http: httpx.AsyncClient,
) -> None:
    home = await http.get("/")
    page = await http.get("/dashboard")
    script = await http.get("/dashboard/static/dashboard.js")
    style = await http.get("/dashboard/static/dashboard.css")

    assert '<a href="/dashboard">' in home.text
    assert page.status_code == 200
    for panel, urn in PANELS:
        assert f'id="{panel.element}"' in page.text
        assert f'data-urn="{urn}"' in page.text
        assert f'data-kind="{panel.kind}"' in page.text
    assert 'src="/dashboard/static/dashboard.js"' in page.text
    assert 'data-poll-ms="2000"' in page.text
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert style.status_code == 200
    assert style.headers["content-type"].startswith("text/css")


SVG = "{http://www.w3.org/2000/svg}"


def node_x(group: ET.Element) -> float:
    shape = group.find(f"{SVG}rect")
    if shape is not None:
        return float(shape.attrib["x"])
    polygon = group.find(f"{SVG}polygon")
    assert polygon is not None
    return min(float(point.split(",")[0]) for point in polygon.attrib["points"].split())


async def test_the_lineage_picture_draws_every_node_and_edge_left_to_right(
    http: httpx.AsyncClient,
) -> None:
    graph = (await http.get("/api/v1/lineage")).json()
    answer = await http.get("/dashboard/api/lineage.svg")

    assert answer.headers["content-type"] == "image/svg+xml"
    svg = ET.fromstring(answer.text)  # well-formed XML
    nodes = {g.attrib["data-id"]: g for g in svg.iter(f"{SVG}g") if "data-id" in g.attrib}
    assert set(nodes) == {node["id"] for node in graph["nodes"]}
    texts = {t.text for t in svg.iter(f"{SVG}text")}
    assert {node["label"] for node in graph["nodes"]} <= texts
    edges = [g for g in svg.iter(f"{SVG}g") if g.attrib.get("class", "").startswith("edge")]
    assert len(edges) == len(graph["edges"])
    for edge in graph["edges"]:
        assert node_x(nodes[edge["source"]]) < node_x(nodes[edge["target"]]), edge
    acl = [g for g in edges if g.attrib["class"] == "edge acl"]
    assert acl
    assert all(g.find(f"{SVG}path").attrib.get("stroke-dasharray") for g in acl)  # type: ignore[union-attr]
    links = {a.attrib["href"] for a in svg.iter(f"{SVG}a")}
    assert f"/api/v1/products/{INVENTORY}" in links


async def test_an_empty_catalog_draws_an_empty_lineage(tmp_path: Path) -> None:
    app = create_catalog_app(sqlite_database_url(tmp_path, "empty.db"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=CATALOG) as http:
            answer = await http.get("/dashboard/api/lineage.svg")

    assert "No product has registered yet." in ET.fromstring(answer.text).itertext()


# -- in a browser, against the running demo ----------------------------------------------


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(
            f"needs Debian's Chromium at {CHROMIUM} "
            "(apt-get install -y chromium chromium-driver); CI installs it"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1800",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium Manager never looks for, or downloads, one.
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def inventory_on_page(driver: Any) -> dict[tuple[str, str], str]:
    """The rows as the page shows them now, read in one script: the page redraws its
    rows at every poll, so elements found one call earlier may be gone the next."""
    rows = driver.execute_script(
        "return Array.from(document.querySelectorAll('#inventory g.row[data-warehouse]'))"
        ".map(r => [r.dataset.warehouse, r.dataset.sku, r.dataset.onHand]);"
    )
    return {(warehouse, sku): on_hand for warehouse, sku, on_hand in rows}


def attribute(driver: Any, selector: str, name: str) -> str:
    """The attribute now; "" while the element is being redrawn (callers wait)."""
    try:
        return str(driver.find_element("css selector", selector).get_attribute(name) or "")
    except StaleElementReferenceException:
        return ""


def text(driver: Any, selector: str) -> str:
    """The text now; "" while the element is being redrawn (callers wait)."""
    try:
        return str(driver.find_element("css selector", selector).text)
    except StaleElementReferenceException:
        return ""


def severe(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry for entry in entries if entry["level"] == "SEVERE"]


class Paused:
    """SIGSTOP a process (a product API that stops answering), SIGCONT on exit."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def __enter__(self) -> Paused:
        os.kill(self.pid, signal.SIGSTOP)
        return self

    def __exit__(self, *_: object) -> None:
        os.kill(self.pid, signal.SIGCONT)


def wait_for(driver: Any, check: Callable[[], Any], *, timeout_s: float, what: str) -> Any:
    try:
        return eventually(check, timeout_s=timeout_s, every_s=0.25, what=what)
    except BaseException:
        print(driver.find_element("tag name", "body").text[:3000])
        raise


@pytest.mark.slow
@pytest.mark.integration
def test_the_dashboard_follows_the_running_demo_in_a_browser(tmp_path: Path, browser: Any) -> None:
    started = time.monotonic()

    def phase(what: str) -> None:  # shown with a failure, and with -s
        print(f"{time.monotonic() - started:5.1f} s  {what}")

    with running_demo(tmp_path, duration=180) as demo:
        demo.wait_until_up()
        phase("demo up")
        demo.record_descendants()
        with httpx.Client(timeout=5.0) as client:
            analyst(client, demo.catalog_url)
            levels_url = f"{demo.api_url}/api/v1/products/inventory-levels"
            levels = eventually(
                lambda: get_json(client, levels_url)["items"],
                timeout_s=60,
                what="inventory levels in the API",
            )
        phase("inventory levels served by the API")
        browser.get(f"{demo.catalog_url}/dashboard")
        assert browser.title == "dpmesh dashboard"

        # The running system's stock is on the page: every warehouse and SKU the API has.
        shown = wait_for(
            browser,
            lambda: inventory_on_page(browser),
            timeout_s=15,
            what="inventory on the page",
        )
        assert {(i["warehouse"], i["sku"]) for i in levels} <= set(shown)
        assert {"LYS-1", "HAM-1", "MAD-1"} <= {warehouse for warehouse, _ in shown}
        first_as_of = attribute(browser, "#inventory", "data-as-of")
        assert first_as_of
        phase("inventory on the page")

        # It follows the system: the data's own timestamp and the stock both move.
        wait_for(
            browser,
            lambda: attribute(browser, "#inventory", "data-as-of") != first_as_of,
            timeout_s=20,
            what="a newer inventory as_of",
        )
        wait_for(
            browser,
            lambda: inventory_on_page(browser) != shown,
            timeout_s=20,
            what="a change of stock on the page",
        )
        phase("the page followed a change")
        for panel in ("#suppliers", "#alerts", "#timelines", "#catalog", "#lineage"):
            assert "failed" not in attribute(browser, panel, "class"), text(browser, panel)
        assert len(browser.find_elements("css selector", "#catalog tr[data-urn]")) >= 4
        assert browser.find_elements("css selector", "#lineage svg g.node.product")
        assert severe(browser.get_log("browser")) == []

        # The product API stops answering: its panels say so, the page keeps going.
        api = demo.service("api")
        polls = int(attribute(browser, "body", "data-polls"))
        with Paused(api.pid):
            phase("API paused")
            wait_for(
                browser,
                lambda: "failed" in attribute(browser, "#inventory", "class"),
                timeout_s=15,
                what="the inventory panel reporting the outage",
            )
            status = text(browser, "#inventory .status")
            assert "Product API timed out" in status
            assert f"{demo.api_url}/api/v1/products/inventory-levels" in status
            assert "showing data from" in status
            wait_for(
                browser,
                lambda: int(attribute(browser, "body", "data-polls")) >= polls + 2,
                timeout_s=15,
                what="polls going on during the outage",
            )
            assert "failed" not in attribute(browser, "#catalog", "class")
            assert inventory_on_page(browser)  # the last data stays, dimmed
        wait_for(
            browser,
            lambda: "failed" not in attribute(browser, "#inventory", "class"),
            timeout_s=20,
            what="the inventory panel recovering",
        )
        phase("API resumed, panel recovered")
        during = severe(browser.get_log("browser"))
        # Only the gateway errors of the proxied calls: no JavaScript error.
        assert all(
            entry["source"] == "network" and "/dashboard/api/products/" in entry["message"]
            for entry in during
        ), during
    assert demo.process.returncode == 0, demo.logs()
