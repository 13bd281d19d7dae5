"""Purchase orders and replenishment proposals over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from contexts.supply_chain.tests.api.support import fields, problem

pytestmark = pytest.mark.integration

ORDERS = "/api/v1/purchase-orders"


def line(sku: str, quantity: Any, price: str, currency: str = "EUR") -> dict[str, Any]:
    return {"sku": sku, "quantity": quantity, "unit_price": {"amount": price, "currency": currency}}


async def draft(
    client: httpx.AsyncClient, order_id: str, supplier: str = "ACME", warehouse: str = "LYS-1"
) -> httpx.Response:
    response = await client.post(
        ORDERS,
        json={
            "id": order_id,
            "supplier": supplier,
            "warehouse": warehouse,
            "lines": [line("KD-HUB-200", 40, "17.99"), line("KD-CAM-10", "3", "29.5")],
        },
    )
    assert response.status_code == 201, response.text
    return response


async def test_an_order_goes_from_draft_to_received(catalog: httpx.AsyncClient) -> None:
    client = catalog
    drafted = await draft(client, "PO-1")
    assert drafted.headers["location"] == f"{ORDERS}/PO-1"
    assert drafted.headers["etag"] == '"1"'
    body = drafted.json()
    assert (body["status"], body["total"], body["supplier"], body["warehouse"]) == (
        "draft",
        {"amount": "808.10", "currency": "EUR"},
        "ACME",
        "LYS-1",
    )

    revised = await client.put(
        f"{ORDERS}/PO-1/lines/KD-HUB-200",
        json={"quantity": 50, "unit_price": {"amount": "17.50", "currency": "EUR"}},
        headers={"If-Match": '"1"'},
    )
    assert revised.status_code == 200, revised.text
    trimmed = await client.delete(f"{ORDERS}/PO-1/lines/KD-CAM-10", headers={"If-Match": '"2"'})
    assert trimmed.headers["etag"] == '"3"'
    assert [(x["sku"], x["quantity"]) for x in trimmed.json()["lines"]] == [("KD-HUB-200", "50")]

    placed = await client.post(f"{ORDERS}/PO-1/place")
    assert (placed.json()["status"], placed.json()["placed_on"]) == ("placed", "2025-03-03")
    confirmed = await client.post(f"{ORDERS}/PO-1/confirm", json={"promised_on": "2025-03-10"})
    assert confirmed.json()["promised_on"] == "2025-03-10"

    partly = await client.post(
        f"{ORDERS}/PO-1/receipts",
        json={
            "received_on": "2025-03-09",
            "lines": [{"sku": "KD-HUB-200", "accepted": 30, "rejected": 2}],
        },
    )
    assert partly.json()["status"] == "partially_received"
    rest = await client.post(
        f"{ORDERS}/PO-1/receipts",
        json={"received_on": "2025-03-11", "lines": [{"sku": "KD-HUB-200", "accepted": "20"}]},
        headers={"If-Match": '"6"'},
    )
    assert rest.status_code == 200, rest.text
    assert rest.headers["etag"] == '"8"'  # goods received, then the order received

    order = await client.get(f"{ORDERS}/PO-1")
    assert order.headers["etag"] == '"8"'
    assert order.json() == {
        "id": "PO-1",
        "supplier": "ACME",
        "warehouse": "LYS-1",
        "status": "received",
        "total": {"amount": "875.00", "currency": "EUR"},
        "drafted_at": "2025-03-03T09:00:00Z",
        "placed_on": "2025-03-03",
        "promised_on": "2025-03-10",
        "version": 8,
        "lines": [
            {
                "sku": "KD-HUB-200",
                "unit": "each",
                "quantity": "50",
                "unit_price": {"amount": "17.50", "currency": "EUR"},
                "accepted": "50",
                "rejected": "2",
                "outstanding": "0",
            }
        ],
        "receipts": [
            {
                "number": 1,
                "received_on": "2025-03-09",
                "on_time": True,
                "lead_time_days": 6,
                "lines": [{"sku": "KD-HUB-200", "accepted": "30", "rejected": "2"}],
            },
            {
                "number": 2,
                "received_on": "2025-03-11",
                "on_time": False,
                "lead_time_days": 8,
                "lines": [{"sku": "KD-HUB-200", "accepted": "20", "rejected": "0"}],
            },
        ],
        "idempotency_key": None,
        "cancellation_reason": None,
    }
    stock = (await client.get("/api/v1/inventory/LYS-1/KD-HUB-200")).json()
    assert stock["on_hand"] == "50"


async def test_orders_are_listed_by_status_supplier_and_warehouse(
    catalog: httpx.AsyncClient,
) -> None:
    client = catalog
    await draft(client, "PO-1")
    await draft(client, "PO-2", supplier="BOLT", warehouse="HAM-2")
    await draft(client, "PO-3")
    await client.post(f"{ORDERS}/PO-2/place")
    cancelled = await client.post(f"{ORDERS}/PO-3/cancel", json={"reason": "duplicate"})
    assert (cancelled.json()["status"], cancelled.json()["cancellation_reason"]) == (
        "cancelled",
        "duplicate",
    )

    async def ids(**params: Any) -> tuple[list[str], int]:
        page = (await client.get(ORDERS, params=params)).json()
        return [order["id"] for order in page["items"]], page["total"]

    assert await ids() == (["PO-1", "PO-2", "PO-3"], 3)  # one draft time: then by id
    assert await ids(status="placed") == (["PO-2"], 1)
    assert await ids(supplier="ACME", limit=1, offset=1) == (["PO-3"], 2)
    assert await ids(warehouse="HAM-2") == (["PO-2"], 1)
    summary = (await client.get(ORDERS, params={"status": "draft"})).json()["items"][0]
    assert summary["total"] == {"amount": "808.10", "currency": "EUR"}
    assert "lines" not in summary
    bad = problem(await client.get(ORDERS, params={"status": "lost"}), 422)
    assert fields(bad) == ["query.status"]


async def test_refused_order_commands(catalog: httpx.AsyncClient) -> None:
    client = catalog
    await draft(client, "PO-1")

    assert problem(await client.get(f"{ORDERS}/PO-404"), 404)
    assert problem(await client.post(f"{ORDERS}/PO-404/place"), 404)
    unknown_supplier = problem(
        await client.post(
            ORDERS,
            json={
                "supplier": "NOBODY",
                "warehouse": "LYS-1",
                "lines": [line("KD-HUB-200", 1, "1")],
            },
        ),
        404,
    )
    assert unknown_supplier["detail"] == "supplier NOBODY does not exist"
    taken = problem(
        await client.post(
            ORDERS,
            json={
                "id": "PO-1",
                "supplier": "ACME",
                "warehouse": "LYS-1",
                "lines": [line("KD-HUB-200", 1, "1")],
            },
        ),
        409,
    )
    assert taken["detail"] == "purchase order PO-1 already exists"

    early = problem(
        await client.post(f"{ORDERS}/PO-1/confirm", json={"promised_on": "2025-03-10"}), 409
    )
    assert early["rule"] == "illegal_transition"
    mixed = problem(
        await client.put(
            f"{ORDERS}/PO-1/lines/KD-CAM-10",
            json={"quantity": 1, "unit_price": {"amount": "30", "currency": "USD"}},
        ),
        422,
    )
    assert fields(mixed) == ["unit_price"]
    stale = problem(await client.post(f"{ORDERS}/PO-1/place", headers={"If-Match": '"9"'}), 412)
    assert "expected version 9, current version 1" in stale["detail"]
    no_lines = problem(
        await client.post(ORDERS, json={"supplier": "ACME", "warehouse": "LYS-1", "lines": []}), 422
    )
    assert fields(no_lines) == ["lines"]

    await client.delete(f"{ORDERS}/PO-1/lines/KD-CAM-10")
    last = problem(await client.delete(f"{ORDERS}/PO-1/lines/KD-HUB-200"), 409)
    assert last["rule"] == "empty_order"
    assert (await client.get(f"{ORDERS}/PO-1")).headers["etag"] == '"2"'


async def test_a_replenishment_proposal_drafts_one_order_per_day(
    catalog: httpx.AsyncClient,
) -> None:
    client = catalog
    alert = {"warehouse": "LYS-1", "sku": "KD-HUB-200", "daily_demand": "10"}

    proposed = await client.post("/api/v1/replenishment-proposals", json=alert)
    assert proposed.status_code == 201, proposed.text
    outcome = proposed.json()
    assert (outcome["quantity"], outcome["created"]) == ("150", True)  # 80 + 10 x 7 - 0
    order = await client.get(proposed.headers["location"])
    assert order.json()["id"] == outcome["purchase_order_id"]
    assert order.json()["idempotency_key"] == "replenishment:LYS-1:KD-HUB-200:2025-03-03"
    assert order.json()["lines"][0]["unit_price"] == {"amount": "18.00", "currency": "EUR"}

    again = await client.post("/api/v1/replenishment-proposals", json=alert)
    assert again.status_code == 200
    assert again.json() == {**outcome, "created": False}
    assert "location" not in again.headers
    covered = await client.post(
        "/api/v1/replenishment-proposals", json={**alert, "on": "2025-03-04", "daily_demand": 5}
    )
    assert (covered.status_code, covered.json()["purchase_order_id"]) == (200, None)

    unsourced = problem(
        await client.post(
            "/api/v1/replenishment-proposals",
            json={"warehouse": "LYS-1", "sku": "KD-CAM-10", "daily_demand": 3},
        ),
        409,
    )
    assert unsourced["rule"] == "no_sourcing"
    assert (await client.get(ORDERS)).json()["total"] == 1
