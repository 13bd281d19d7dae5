"""Shipments over HTTP: planned, tracked leg by leg, delivered; lists and refusals."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from contexts.supply_chain.tests.api.support import fields, problem

pytestmark = pytest.mark.integration

SHIPMENTS = "/api/v1/shipments"


def legs(day: str = "2025-03-04") -> list[dict[str, str]]:
    return [
        {
            "origin": "LYS-1",
            "destination": "Paris hub",
            "carrier": "RoadCo",
            "planned_departure": f"{day}T08:00:00Z",
            "planned_arrival": f"{day}T14:00:00+00:00",
        },
        {
            "origin": "Paris hub",
            "destination": "Orbital SA, Nanterre",
            "carrier": "CityVan",
            "planned_departure": f"{day}T16:00:00+01:00",
            "planned_arrival": f"{day}T20:00:00Z",
        },
    ]


async def plan(
    client: httpx.AsyncClient, shipment_id: str, account: str = "ACC-1", **changes: Any
) -> httpx.Response:
    body = {
        "id": shipment_id,
        "account": account,
        "warehouse": "LYS-1",
        "lines": [{"sku": "KD-HUB-200", "quantity": 3}, {"sku": "KD-CAM-10", "quantity": "1"}],
        "legs": legs(),
        **changes,
    }
    return await client.post(SHIPMENTS, json=body)


async def test_a_shipment_is_planned_tracked_and_delivered(catalog: httpx.AsyncClient) -> None:
    client = catalog
    planned = await plan(client, "SH-1")
    assert planned.status_code == 201, planned.text
    assert planned.headers["location"] == f"{SHIPMENTS}/SH-1"
    assert planned.headers["etag"] == '"1"'
    body = planned.json()
    assert (body["status"], body["destination"], body["planned_delivery"], body["eta"]) == (
        "planned",
        "Orbital SA, Nanterre",
        "2025-03-04T20:00:00Z",
        "2025-03-04T20:00:00Z",
    )

    steps = [
        ("dispatch", {"dispatched_at": "2025-03-04T08:00:00Z"}, "dispatched"),
        ("legs/1/departure", {"departed_at": "2025-03-04T08:10:00Z"}, "in_transit"),
        ("legs/1/arrival", {"arrived_at": "2025-03-04T15:30:00Z"}, "in_transit"),
        ("eta", {"eta": "2025-03-04T22:15:00Z"}, "delayed"),
        ("legs/2/departure", {"departed_at": "2025-03-04T17:00:00+01:00"}, "delayed"),
        ("deliver", {"delivered_at": "2025-03-04T22:05:00Z"}, "delivered"),
    ]
    version = 1
    for path, step, status in steps:
        response = await client.post(
            f"{SHIPMENTS}/SH-1/{path}", json=step, headers={"If-Match": f'"{version}"'}
        )
        assert response.status_code == 200, (path, response.text)
        assert response.json()["status"] == status
        version = response.json()["version"]
        assert response.headers["etag"] == f'"{version}"'
    assert version == 8  # the ETA update also recorded the delay

    shipment = (await client.get(f"{SHIPMENTS}/SH-1")).json()
    assert (shipment["dispatched_at"], shipment["delivered_at"], shipment["eta"]) == (
        "2025-03-04T08:00:00Z",
        "2025-03-04T22:05:00Z",
        "2025-03-04T22:05:00Z",
    )
    assert shipment["lines"] == [
        {"sku": "KD-HUB-200", "unit": "each", "quantity": "3"},
        {"sku": "KD-CAM-10", "unit": "each", "quantity": "1"},
    ]
    assert [
        (leg["sequence"], leg["planned_departure"], leg["departed_at"], leg["arrived_at"])
        for leg in shipment["legs"]
    ] == [
        (1, "2025-03-04T08:00:00Z", "2025-03-04T08:10:00Z", "2025-03-04T15:30:00Z"),
        (2, "2025-03-04T15:00:00Z", "2025-03-04T16:00:00Z", None),
    ]


async def test_shipments_are_listed_by_status_account_and_warehouse(
    catalog: httpx.AsyncClient,
) -> None:
    client = catalog
    await plan(client, "SH-B", legs=legs("2025-03-06"))
    await plan(client, "SH-A", account="ACC-2", legs=legs("2025-03-05"))
    await plan(client, "SH-C", account="ACC-2", legs=legs("2025-03-07"))
    await client.post(f"{SHIPMENTS}/SH-C/dispatch")

    async def ids(**params: Any) -> tuple[list[str], int]:
        page = (await client.get(SHIPMENTS, params=params)).json()
        return [shipment["id"] for shipment in page["items"]], page["total"]

    assert await ids() == (["SH-A", "SH-B", "SH-C"], 3)
    assert await ids(status="dispatched") == (["SH-C"], 1)
    assert await ids(account="ACC-2", limit=1) == (["SH-A"], 2)
    assert await ids(warehouse="LYS-1", offset=2) == (["SH-C"], 3)
    assert await ids(warehouse="HAM-2") == ([], 0)
    dispatched = (await client.get(f"{SHIPMENTS}/SH-C")).json()
    assert dispatched["dispatched_at"] == "2025-03-03T09:00:00Z"  # now, on the pinned clock


async def test_refused_shipment_commands(catalog: httpx.AsyncClient) -> None:
    client = catalog
    broken = legs()
    broken[1]["origin"] = "Lille hub"
    unchained = problem(await plan(client, "SH-X", legs=broken), 422)
    assert fields(unchained) == ["legs"]
    naive = legs()
    naive[0]["planned_departure"] = "2025-03-04T08:00:00"
    assert fields(problem(await plan(client, "SH-X", legs=naive), 422)) == [
        "body.legs.0.planned_departure"
    ]
    unknown_sku = problem(
        await plan(client, "SH-X", lines=[{"sku": "KD-NONE", "quantity": 1}]), 404
    )
    assert unknown_sku["detail"] == "SKU KD-NONE does not exist"
    assert problem(await client.get(f"{SHIPMENTS}/SH-X"), 404)

    assert (await plan(client, "SH-1")).status_code == 201
    assert problem(await plan(client, "SH-1"), 409)["detail"] == "shipment SH-1 already exists"
    early = problem(await client.post(f"{SHIPMENTS}/SH-1/deliver"), 409)
    assert early["rule"] == "illegal_transition"
    stale = problem(
        await client.post(f"{SHIPMENTS}/SH-1/dispatch", headers={"If-Match": '"2"'}), 412
    )
    assert "expected version 2, current version 1" in stale["detail"]
    no_leg = problem(
        await client.post(
            f"{SHIPMENTS}/SH-1/legs/0/departure", json={"departed_at": "2025-03-04T08:10:00Z"}
        ),
        422,
    )
    assert fields(no_leg) == ["path.sequence"]
    assert problem(
        await client.post(f"{SHIPMENTS}/SH-404/eta", json={"eta": "2025-03-04T22:15:00Z"}), 404
    )
    assert (await client.get(f"{SHIPMENTS}/SH-1")).json()["status"] == "planned"
