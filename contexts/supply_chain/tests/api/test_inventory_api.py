"""Inventory over HTTP: every stock movement, levels with filters and pages, refusals."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from contexts.supply_chain.tests.api.support import fields, problem

pytestmark = pytest.mark.integration

HUB_IN_LYON = "/api/v1/inventory/LYS-1/KD-HUB-200"


async def move(
    client: httpx.AsyncClient, item: str, movement: str, body: dict[str, Any], **headers: str
) -> httpx.Response:
    return await client.post(f"{item}/{movement}", json=body, headers=headers)


def level(response: httpx.Response) -> tuple[str, str, str, int]:
    body = response.json()
    return body["on_hand"], body["reserved"], body["available"], body["version"]


async def test_stock_goes_through_every_movement(catalog: httpx.AsyncClient) -> None:
    client = catalog
    received = await move(client, HUB_IN_LYON, "receive", {"quantity": 200, "reference": "GRN-1"})
    assert received.status_code == 200, received.text
    assert received.headers["etag"] == '"1"'
    assert level(received) == ("200", "0", "200", 1)

    reserved = await move(client, HUB_IN_LYON, "reserve", {"reference": "SO-1", "quantity": "30"})
    await move(client, HUB_IN_LYON, "reserve", {"reference": "SO-2", "quantity": "12.5"})
    assert level(reserved) == ("200", "30", "170", 2)

    released = await move(client, HUB_IN_LYON, "release", {"reference": "SO-1", "quantity": 10})
    assert level(released) == ("200", "32.5", "167.5", 4)

    shipped = await move(client, HUB_IN_LYON, "ship", {"reference": "SO-1"})
    assert level(shipped) == ("180", "12.5", "167.5", 5)

    counted = await move(client, HUB_IN_LYON, "adjust", {"counted": 178, "reason": "damaged"})
    assert level(counted) == ("178", "12.5", "165.5", 6)

    transferred = await move(
        client, HUB_IN_LYON, "transfer", {"destination": "HAM-2", "quantity": "15.5"}
    )
    assert transferred.headers["etag"] == '"7"'
    assert level(transferred) == ("162.5", "12.5", "150", 7)

    item = await client.get(HUB_IN_LYON)
    assert item.headers["etag"] == '"7"'
    body = item.json()
    assert (body["warehouse"], body["sku"], body["unit"]) == ("LYS-1", "KD-HUB-200", "each")
    assert body["reservations"] == [
        {"reference": "SO-2", "quantity": "12.5", "reserved_at": "2025-03-03T09:00:00Z"}
    ]
    hamburg = await client.get("/api/v1/inventory/HAM-2/KD-HUB-200")
    assert level(hamburg) == ("15.5", "0", "15.5", 1)


async def test_levels_are_filtered_and_paged(catalog: httpx.AsyncClient) -> None:
    client = catalog
    for item, quantity in (
        (HUB_IN_LYON, 200),
        ("/api/v1/inventory/LYS-1/KD-CAM-10", 4),
        ("/api/v1/inventory/HAM-2/KD-HUB-200", 30),
    ):
        assert (await move(client, item, "receive", {"quantity": quantity})).status_code == 200
    await move(client, HUB_IN_LYON, "reserve", {"reference": "SO-1", "quantity": 150})

    async def keys(**params: Any) -> tuple[list[tuple[str, str]], int]:
        page = (await client.get("/api/v1/inventory", params=params)).json()
        return [(x["warehouse"], x["sku"]) for x in page["items"]], page["total"]

    assert await keys() == (
        [("HAM-2", "KD-HUB-200"), ("LYS-1", "KD-CAM-10"), ("LYS-1", "KD-HUB-200")],
        3,
    )
    assert await keys(warehouse="LYS-1") == ([("LYS-1", "KD-CAM-10"), ("LYS-1", "KD-HUB-200")], 2)
    assert await keys(sku="KD-HUB-200", limit=1, offset=1) == ([("LYS-1", "KD-HUB-200")], 2)
    # available: HAM-2 hubs 30 <= 80, LYS-1 cameras 4 <= 10, LYS-1 hubs 50 <= 80
    assert await keys(below_reorder_point="true", warehouse="LYS-1", limit=1) == (
        [("LYS-1", "KD-CAM-10")],
        2,
    )
    assert await keys(warehouse="NOWHERE") == ([], 0)
    bad_page = problem(
        await client.get("/api/v1/inventory", params={"limit": 0, "offset": -1}), 422
    )
    assert sorted(fields(bad_page)) == ["query.limit", "query.offset"]


async def test_refused_movements_change_nothing(catalog: httpx.AsyncClient) -> None:
    client = catalog
    await move(client, HUB_IN_LYON, "receive", {"quantity": 20})

    assert problem(await client.get("/api/v1/inventory/LYS-1/KD-CAM-10"), 404)
    unknown = problem(
        await move(
            client,
            "/api/v1/inventory/LYS-1/KD-CAM-10",
            "reserve",
            {"reference": "SO-1", "quantity": 1},
        ),
        404,
    )
    assert unknown["detail"] == "inventory item LYS-1:KD-CAM-10 does not exist"

    short = problem(
        await move(client, HUB_IN_LYON, "reserve", {"reference": "SO-1", "quantity": 21}), 409
    )
    assert short["rule"] == "insufficient_stock"
    full = problem(
        await move(client, "/api/v1/inventory/HAM-2/KD-HUB-200", "receive", {"quantity": 51}), 409
    )
    assert full["rule"] == "warehouse_capacity_exceeded"

    stale = problem(
        await move(
            client,
            HUB_IN_LYON,
            "reserve",
            {"reference": "SO-1", "quantity": 1},
            **{"If-Match": '"7"'},
        ),
        412,
    )
    assert stale["detail"] == (
        "inventory item LYS-1:KD-HUB-200 was modified concurrently "
        "(expected version 7, current version 1)"
    )

    zero = problem(
        await move(client, HUB_IN_LYON, "reserve", {"reference": "SO-1", "quantity": 0}), 422
    )
    assert fields(zero) == ["quantity"]
    wrong = problem(
        await move(client, HUB_IN_LYON, "adjust", {"counted": "1.1234567", "reason": "stolen"}), 422
    )
    assert sorted(fields(wrong)) == ["body.counted", "body.reason"]

    unchanged = await client.get(HUB_IN_LYON)
    assert unchanged.headers["etag"] == '"1"'
    assert level(unchanged) == ("20", "0", "20", 1)

    matching = await move(
        client, HUB_IN_LYON, "reserve", {"reference": "SO-1", "quantity": 1}, **{"If-Match": '"1"'}
    )
    anything = await move(
        client, HUB_IN_LYON, "reserve", {"reference": "SO-2", "quantity": 1}, **{"If-Match": "*"}
    )
    assert (matching.status_code, anything.status_code) == (200, 200)
    assert anything.headers["etag"] == '"3"'
