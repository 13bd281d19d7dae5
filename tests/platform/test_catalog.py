"""The catalog service, in process over its real app and a fresh database per test
(SQLite, and PostgreSQL when one is available: see the ``database_url`` fixture).

Products are the supply chain's own, built from its ``dataproduct/`` folder the way the
context registers them at start-up, plus one product of another context that reads the
alerts stream through an anti-corruption layer.
"""

from __future__ import annotations

import copy
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from dpmesh.catalog import create_catalog_app
from dpmesh.catalog.client import CatalogClient, register_products
from dpmesh.catalog.dashboard import DashboardSettings
from shared_kernel.infrastructure.catalog_registration import (
    CatalogRejected,
    CatalogUnavailable,
    build_registrations,
    send_heartbeat,
)

DATAPRODUCT = Path(__file__).resolve().parents[2] / "contexts" / "supply_chain" / "dataproduct"
BASE = "http://catalog.test"
INVENTORY = "urn:dpmesh:supply_chain:inventory-levels"
SUPPLIERS = "urn:dpmesh:supply_chain:supplier-performance"
ALERTS = "urn:dpmesh:supply_chain:alerts"
TIMELINES = "urn:dpmesh:supply_chain:delivery-timelines"
CONVERSIONS = "urn:dpmesh:product_usage:conversions"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 9, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def catalog(database_url: str, clock: Clock) -> AsyncIterator[httpx.ASGITransport]:
    allowed = {
        "supply_chain": ["http://sc.test:8101", "http://moved.test"],
        "product_usage": ["http://pu.test"],
    }
    app = create_catalog_app(
        database_url, clock=clock, dashboard=DashboardSettings(allowed_base_urls=allowed)
    )
    async with app.router.lifespan_context(app):
        yield httpx.ASGITransport(app=app)


@pytest.fixture
async def http(catalog: httpx.ASGITransport) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=catalog, base_url=BASE) as client:
        yield client


def supply_chain() -> list[dict[str, Any]]:
    return build_registrations(
        DATAPRODUCT,
        context="supply_chain",
        api_base_url="http://sc.test:8101",
        kafka_bootstrap_servers="kafka.test:9092",
        snapshot_root="s3://snapshots/supply_chain",
    )


def conversions() -> dict[str, Any]:
    """A product of another context that reads the supply chain's alerts through an ACL."""
    contract = {
        "apiVersion": "v3.1.0",
        "kind": "DataContract",
        "id": f"{CONVERSIONS}:rest",
        "version": "1.0.0",
        "status": "active",
        "dataProduct": "conversions",
        "servers": [{"server": "api", "type": "api", "location": "http://pu.test/x"}],
        "schema": [{"name": "conversion", "properties": [{"name": "plan_code"}]}],
    }
    descriptor = {
        "apiVersion": "v1.1.0",
        "kind": "DataProduct",
        "id": CONVERSIONS,
        "name": "conversions",
        "domain": "product_usage",
        "status": "draft",
        "description": {"purpose": "Trials that became paid plans."},
        "tags": ["funnel"],
        "team": {"name": "growth-analytics"},
        "inputPorts": [
            {
                "name": "supply_chain.alerts.v1",
                "customProperties": [
                    {"property": "sourceType", "value": "kafkaTopic"},
                    {"property": "acl", "value": "contexts.product_usage.infrastructure.acl.stock"},
                ],
            }
        ],
        "outputPorts": [
            {"name": "rest", "type": "rest", "version": "1.0.0", "contractId": contract["id"]}
        ],
    }
    return {
        "urn": CONVERSIONS,
        "context": "product_usage",
        "name": "conversions",
        "version": "1.0.0",
        "status": "draft",
        "domain": "product_usage",
        "descriptor": descriptor,
        "contracts": [contract],
        "ports": [
            {
                "name": "rest",
                "type": "rest",
                "version": "1.0.0",
                "contract_id": contract["id"],
                "url": "http://pu.test/x",
            }
        ],
    }


async def register_all(catalog: httpx.ASGITransport) -> None:
    documents = [*supply_chain(), conversions()]
    registered = await register_products(BASE, documents, transport=catalog)
    assert registered == [ALERTS, TIMELINES, INVENTORY, SUPPLIERS, CONVERSIONS]


def urns(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return [item["urn"] for item in body["items"]]


# -- register and resolve ------------------------------------------------------------------


async def test_a_registered_product_resolves_to_its_live_ports_and_schemas(
    catalog: httpx.ASGITransport, http: httpx.AsyncClient
) -> None:
    await register_all(catalog)

    resolved = await http.get(f"/api/v1/products/{ALERTS}")

    assert resolved.status_code == 200
    product = resolved.json()
    assert product["owner"] == "supply-chain-data"
    assert product["domain"] == "supply_chain"
    ports = {port["name"]: port for port in product["ports"]}
    assert ports["rest"]["url"] == "http://sc.test:8101/api/v1/products/alerts"
    assert ports["stream"]["topic"] == "supply_chain.alerts.v1"
    assert ports["stream"]["url"] == "kafka://kafka.test:9092/supply_chain.alerts.v1"
    assert ports["snapshots"]["url"] == "s3://snapshots/supply_chain/alerts/"
    assert {port["scope"] for port in product["ports"]} == {"supply_chain:alerts:read"}
    stream_schema = product["schemas"][f"{ALERTS}:stream"]
    assert stream_schema[0]["physicalName"] == "supply_chain.alerts.v1"
    assert "alert_id" in [prop["name"] for prop in stream_schema[0]["properties"]]
    assert {port["name"] for port in product["input_ports"]} == {
        "supply_chain.inventory.v1",
        "supply_chain.sku.v1",
        "supply_chain.shipment.v1",
    }


async def test_re_registering_the_same_document_changes_nothing(
    catalog: httpx.ASGITransport, http: httpx.AsyncClient, clock: Clock
) -> None:
    (document,) = [d for d in supply_chain() if d["urn"] == INVENTORY]
    first = await http.put(f"/api/v1/products/{INVENTORY}", json=document)
    clock.now += timedelta(minutes=5)

    again = await http.put(f"/api/v1/products/{INVENTORY}", json=document)

    assert (first.status_code, first.headers["X-Registration"]) == (201, "created")
    assert (again.status_code, again.headers["X-Registration"]) == (200, "unchanged")
    assert again.json()["updated_at"] == first.json()["updated_at"]
    assert urns(await http.get("/api/v1/products")) == [INVENTORY]


async def test_re_registering_a_changed_document_replaces_it(
    http: httpx.AsyncClient, clock: Clock
) -> None:
    (document,) = [d for d in supply_chain() if d["urn"] == INVENTORY]
    await http.put(f"/api/v1/products/{INVENTORY}", json=document)
    changed = copy.deepcopy(document)
    changed["descriptor"]["description"]["purpose"] = "Stock, now with pallet counts."
    changed["descriptor"]["tags"] = ["pallets"]
    changed["ports"][0]["url"] = "http://moved.test/api/v1/products/inventory-levels"
    clock.now += timedelta(minutes=5)

    updated = await http.put(f"/api/v1/products/{INVENTORY}", json=changed)

    assert (updated.status_code, updated.headers["X-Registration"]) == (200, "updated")
    body = updated.json()
    assert body["purpose"] == "Stock, now with pallet counts."
    assert body["ports"][0]["url"] == "http://moved.test/api/v1/products/inventory-levels"
    assert body["registered_at"] == "2025-03-09T12:00:00Z"
    assert body["updated_at"] == "2025-03-09T12:05:00Z"
    assert urns(await http.get("/api/v1/products", params={"tag": "pallets"})) == [INVENTORY]
    assert urns(await http.get("/api/v1/products", params={"tag": "inventory"})) == []


async def test_a_document_at_another_address_or_inconsistent_is_refused(
    http: httpx.AsyncClient,
) -> None:
    (document,) = [d for d in supply_chain() if d["urn"] == INVENTORY]

    elsewhere = await http.put(f"/api/v1/products/{SUPPLIERS}", json=document)
    broken = copy.deepcopy(document)
    broken["contracts"] = broken["contracts"][:1]
    inconsistent = await http.put(f"/api/v1/products/{INVENTORY}", json=broken)

    assert elsewhere.status_code == 422
    assert elsewhere.headers["content-type"] == "application/problem+json"
    assert elsewhere.json()["errors"][0]["field"] == "urn"
    assert inconsistent.status_code == 422
    assert "names contract" in inconsistent.text
    assert (await http.get(f"/api/v1/products/{INVENTORY}")).status_code == 404


async def test_an_unknown_urn_is_404_and_a_malformed_one_422(http: httpx.AsyncClient) -> None:
    unknown = await http.get("/api/v1/products/urn:dpmesh:supply_chain:nothing-here")
    malformed = await http.get("/api/v1/products/urn:dpmesh:Supply-Chain")

    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert "urn:dpmesh:supply_chain:nothing-here" in unknown.json()["detail"]
    assert malformed.status_code == 422
    assert malformed.headers["content-type"] == "application/problem+json"
    assert malformed.json()["errors"] == [
        {"field": "urn", "message": malformed.json()["errors"][0]["message"]}
    ]
    assert "urn:dpmesh:<context>:<product>" in malformed.json()["errors"][0]["message"]


# -- heartbeats ----------------------------------------------------------------------------


async def test_a_heartbeat_is_judged_against_the_products_objectives(
    catalog: httpx.ASGITransport, http: httpx.AsyncClient
) -> None:
    await register_all(catalog)

    delivered = await send_heartbeat(
        BASE,
        SUPPLIERS,
        slis={"freshness_ms": 1200, "completeness": 0.9995, "error_rate": 0.02},
        status="degraded",
        transport=catalog,
    )

    assert delivered
    product = (await http.get(f"/api/v1/products/{SUPPLIERS}")).json()
    assert product["heartbeat"]["status"] == "degraded"
    assert product["heartbeat"]["slis"]["freshness_ms"] == 1200
    judged = {slo["sli"]: (slo["objective"], slo["met"]) for slo in product["slos"]}
    assert judged == {
        "freshness_ms": ("<= 5000", True),
        "completeness": (">= 0.999", True),
        "error_rate": ("<= 0.001", False),
    }
    untouched = (await http.get(f"/api/v1/products/{INVENTORY}")).json()
    assert untouched["heartbeat"] is None
    assert {slo["met"] for slo in untouched["slos"]} == {None}


async def test_a_newer_heartbeat_replaces_the_previous_one(
    catalog: httpx.ASGITransport, http: httpx.AsyncClient, clock: Clock
) -> None:
    await register_all(catalog)
    await send_heartbeat(BASE, ALERTS, slis={"freshness_ms": 9000}, transport=catalog)
    clock.now += timedelta(seconds=30)

    await send_heartbeat(BASE, ALERTS, slis={"freshness_ms": 800}, transport=catalog)

    product = (await http.get(f"/api/v1/products/{ALERTS}")).json()
    assert product["heartbeat"]["slis"] == {"freshness_ms": 800}
    assert product["heartbeat"]["received_at"] == "2025-03-09T12:00:30Z"
    freshness = next(slo for slo in product["slos"] if slo["sli"] == "freshness_ms")
    assert freshness["met"] is True


async def test_a_heartbeat_for_an_unknown_product_is_404_and_not_delivered(
    catalog: httpx.ASGITransport, http: httpx.AsyncClient
) -> None:
    refused = await http.post(
        "/api/v1/products/urn:dpmesh:supply_chain:ghost/heartbeat", json={"slis": {}}
    )
    delivered = await send_heartbeat(
        BASE, "urn:dpmesh:supply_chain:ghost", slis={}, transport=catalog
    )

    assert refused.status_code == 404
    assert refused.headers["content-type"] == "application/problem+json"
    assert delivered is False


# -- search --------------------------------------------------------------------------------


async def test_search_by_text_matches_names_descriptions_and_columns(
    catalog: httpx.ASGITransport, http: httpx.AsyncClient
) -> None:
    await register_all(catalog)

    async def search(**criteria: str) -> list[str]:
        return urns(await http.get("/api/v1/products", params=criteria))

    assert await search(q="on_time_rate") == [SUPPLIERS]
    assert await search(q="TRIALS") == [CONVERSIONS]
    assert await search(q="days_of_cover") == [INVENTORY]
    assert await search(q="100%") == []
    assert await search() == [CONVERSIONS, ALERTS, TIMELINES, INVENTORY, SUPPLIERS]


async def test_search_by_domain_owner_and_tag_combines_criteria(
    catalog: httpx.ASGITransport, http: httpx.AsyncClient
) -> None:
    await register_all(catalog)

    async def search(**criteria: str) -> list[str]:
        return urns(await http.get("/api/v1/products", params=criteria))

    assert await search(domain="product_usage") == [CONVERSIONS]
    assert len(await search(domain="supply_chain")) == 4
    assert await search(owner="Growth-Analytics") == [CONVERSIONS]
    assert await search(owner="nobody") == []
    assert await search(tag="alerts") == [ALERTS]
    assert await search(tag="real-time", q="shipment") == [ALERTS, TIMELINES]
    assert await search(tag="funnel", domain="supply_chain") == []


async def test_the_client_reads_what_the_api_serves(catalog: httpx.ASGITransport) -> None:
    await register_all(catalog)

    async with CatalogClient(BASE, transport=catalog) as client:
        found = await client.search("lead time", domain="supply_chain")
        resolved = await client.resolve(SUPPLIERS)

    assert [item["urn"] for item in found] == [SUPPLIERS]
    assert resolved["name"] == "supplier-performance"


# -- lineage -------------------------------------------------------------------------------


async def test_lineage_links_topics_products_and_acls(
    catalog: httpx.ASGITransport, http: httpx.AsyncClient
) -> None:
    await register_all(catalog)

    graph = (await http.get("/api/v1/lineage")).json()

    edges = {(e["source"], e["target"], e["kind"]) for e in graph["edges"]}
    assert ("topic:supply_chain.inventory.v1", INVENTORY, "input") in edges
    assert ("topic:supply_chain.sku.v1", ALERTS, "input") in edges
    assert ("topic:supply_chain.purchase_order.v1", SUPPLIERS, "input") in edges
    assert (ALERTS, "topic:supply_chain.alerts.v1", "output") in edges
    assert ("topic:supply_chain.alerts.v1", CONVERSIONS, "acl") in edges
    assert ("external:supply_chain:carrier-tracking", TIMELINES, "acl") in edges
    kinds = {node["id"]: node["kind"] for node in graph["nodes"]}
    assert kinds[CONVERSIONS] == "product"
    assert kinds["topic:supply_chain.alerts.v1"] == "topic"
    assert kinds["external:supply_chain:carrier-tracking"] == "external"
    assert all(e["source"] in kinds and e["target"] in kinds for e in graph["edges"])


async def test_lineage_as_mermaid_draws_the_same_edges(
    catalog: httpx.ASGITransport, http: httpx.AsyncClient
) -> None:
    await register_all(catalog)

    response = await http.get("/api/v1/lineage.mmd")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert text.startswith("flowchart LR\n")
    ids = {
        label: node
        for node, label in re.findall(r"^  (n\d+)\W+\"([^\"<]+)", text, flags=re.MULTILINE)
    }
    arrows = set(re.findall(r"^  (n\d+) (-->|-\.->)\|[^|]*\| (n\d+)$", text, flags=re.MULTILINE))
    assert (ids["supply_chain.inventory.v1"], "-->", ids["inventory-levels"]) in arrows
    assert (ids["alerts"], "-->", ids["supply_chain.alerts.v1"]) in arrows
    assert (ids["supply_chain.alerts.v1"], "-.->", ids["conversions"]) in arrows
    assert (ids["carrier-tracking"], "-.->", ids["delivery-timelines"]) in arrows
    assert len(arrows) == len((await http.get("/api/v1/lineage")).json()["edges"])


async def test_the_home_page_lists_products_and_the_lineage(
    catalog: httpx.ASGITransport, http: httpx.AsyncClient
) -> None:
    await register_all(catalog)
    await send_heartbeat(BASE, INVENTORY, slis={"freshness_ms": 100}, transport=catalog)

    page = await http.get("/")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for urn in (INVENTORY, SUPPLIERS, ALERTS, TIMELINES, CONVERSIONS):
        assert f'href="/api/v1/products/{urn}"' in page.text
    assert "1/1 SLOs met" in page.text
    assert "flowchart LR" in page.text
    assert "&quot;supply_chain.alerts.v1" in page.text


# -- registration client -------------------------------------------------------------------


class FlakyNetwork(httpx.AsyncBaseTransport):
    """Refuses the first ``failures`` connections, then reaches the catalog."""

    def __init__(self, catalog: httpx.AsyncBaseTransport, failures: int) -> None:
        self.catalog = catalog
        self.failures = failures
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.requests <= self.failures:
            raise httpx.ConnectError("connection refused", request=request)
        return await self.catalog.handle_async_request(request)


async def test_registration_retries_until_the_catalog_answers(
    catalog: httpx.ASGITransport, http: httpx.AsyncClient
) -> None:
    network = FlakyNetwork(catalog, failures=2)

    registered = await register_products(
        BASE, supply_chain()[0], attempts=3, backoff_s=0.01, transport=network
    )

    assert registered == [ALERTS]
    assert network.requests == 3
    assert (await http.get(f"/api/v1/products/{ALERTS}")).status_code == 200


async def test_registration_gives_up_after_its_attempts(catalog: httpx.ASGITransport) -> None:
    network = FlakyNetwork(catalog, failures=10)

    with pytest.raises(CatalogUnavailable, match="after 3 attempt"):
        await register_products(
            BASE, supply_chain()[0], attempts=3, backoff_s=0.01, transport=network
        )
    assert network.requests == 3


async def test_a_refused_document_is_not_retried(catalog: httpx.ASGITransport) -> None:
    network = FlakyNetwork(catalog, failures=0)
    document = supply_chain()[0]
    document["ports"] = [{"name": "rest"}]

    with pytest.raises(CatalogRejected) as refused:
        await register_products(BASE, document, attempts=5, backoff_s=0.01, transport=network)
    assert refused.value.status == 422
    assert network.requests == 1


def test_registrations_keep_the_declared_addresses_when_none_is_given() -> None:
    documents = build_registrations(DATAPRODUCT, context="supply_chain")

    ports = {(d["name"], p["name"]): p for d in documents for p in d["ports"]}
    assert ports[("inventory-levels", "rest")]["url"] == (
        "http://127.0.0.1:8000/api/v1/products/inventory-levels"
    )
    assert ports[("alerts", "stream")]["bootstrap_servers"] == "127.0.0.1:9092"
    assert ports[("supplier-performance", "snapshots")]["path"] == (
        "./var/snapshots/supply_chain/supplier-performance/*/*.parquet"
    )


def test_registrations_refuse_a_product_of_another_context() -> None:
    from shared_kernel.infrastructure.catalog_registration import RegistrationError

    with pytest.raises(RegistrationError, match="urn:dpmesh:product_usage:"):
        build_registrations(DATAPRODUCT, context="product_usage")
