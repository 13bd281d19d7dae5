"""Warehouses, suppliers and SKUs over HTTP: register, list, read, and the refusals."""

from __future__ import annotations

import httpx
import pytest

from contexts.supply_chain.tests.api.support import fields, problem

pytestmark = pytest.mark.integration


async def test_reference_data_is_registered_then_read_and_listed(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post(
        "/api/v1/warehouses",
        json={
            "code": "LYS-1",
            "name": " Lyon ",
            "latitude": "45.7640",
            "longitude": 4.8357,
            "capacity": "1000.5",
            "capacity_unit": "pallet",
        },
    )
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/api/v1/warehouses/LYS-1"
    assert created.headers["etag"] == '"1"'
    assert created.json() == {
        "code": "LYS-1",
        "name": "Lyon",
        "latitude": "45.764",
        "longitude": "4.8357",
        "capacity": "1000.5",
        "capacity_unit": "pallet",
        "version": 1,
    }
    read = await client.get(created.headers["location"])
    assert read.status_code == 200
    assert read.headers["etag"] == '"1"'
    assert read.json() == created.json()

    await client.post(
        "/api/v1/warehouses",
        json={"code": "HAM-2", "name": "Hamburg", "latitude": 53, "longitude": 10, "capacity": 50},
    )
    listed = await client.get("/api/v1/warehouses")
    second_page = await client.get("/api/v1/warehouses", params={"limit": 1, "offset": 1})
    assert [w["code"] for w in listed.json()["items"]] == ["HAM-2", "LYS-1"]
    assert second_page.json() == {"items": [created.json()], "total": 2, "limit": 1, "offset": 1}

    supplier = await client.post(
        "/api/v1/suppliers", json={"id": "ACME", "name": "Acme Components", "country": "DE"}
    )
    assert supplier.status_code == 201, supplier.text
    assert supplier.headers["location"] == "/api/v1/suppliers/ACME"
    sku = await client.post(
        "/api/v1/skus",
        json={
            "code": "KD-HUB-200",
            "name": "Kestrel Hub 200",
            "reorder_point": 80,
            "safety_stock": "50",
            "lead_time_days": 7,
            "preferred_supplier": "ACME",
            "standard_cost": {"amount": "18.5", "currency": "EUR"},
        },
    )
    assert sku.status_code == 201, sku.text
    assert sku.headers["location"] == "/api/v1/skus/KD-HUB-200"

    assert (await client.get("/api/v1/suppliers/ACME")).json() == {
        "id": "ACME",
        "name": "Acme Components",
        "country": "DE",
        "version": 1,
    }
    read_sku = await client.get("/api/v1/skus/KD-HUB-200")
    assert read_sku.headers["etag"] == '"1"'
    assert read_sku.json() == {
        "code": "KD-HUB-200",
        "name": "Kestrel Hub 200",
        "unit": "each",
        "reorder_point": "80",
        "safety_stock": "50",
        "lead_time_days": 7,
        "preferred_supplier": "ACME",
        "standard_cost": {"amount": "18.50", "currency": "EUR"},
        "version": 1,
    }
    skus = (await client.get("/api/v1/skus")).json()
    suppliers = (await client.get("/api/v1/suppliers")).json()
    assert (skus["total"], [s["code"] for s in skus["items"]]) == (1, ["KD-HUB-200"])
    assert (suppliers["total"], [s["id"] for s in suppliers["items"]]) == (1, ["ACME"])


async def test_reference_data_refusals(catalog: httpx.AsyncClient) -> None:
    client = catalog
    for path in ("/api/v1/warehouses/NOPE", "/api/v1/skus/NOPE", "/api/v1/suppliers/NOPE"):
        missing = problem(await client.get(path), 404)
        assert missing["instance"] == path

    duplicate = problem(
        await client.post(
            "/api/v1/suppliers", json={"id": "ACME", "name": "Acme again", "country": "DE"}
        ),
        409,
    )
    assert duplicate["detail"] == "supplier ACME is already registered"

    shapeless = problem(await client.post("/api/v1/warehouses", json={"code": "X", "size": 3}), 422)
    assert sorted(fields(shapeless)) == [
        "body.capacity",
        "body.latitude",
        "body.longitude",
        "body.name",
        "body.size",
    ]

    country = problem(
        await client.post("/api/v1/suppliers", json={"id": "ZED", "name": "Zed", "country": "pl"}),
        422,
    )
    assert fields(country) == ["country"]

    too_precise = problem(
        await client.post(
            "/api/v1/skus",
            json={
                "code": "KD-X",
                "name": "X",
                "reorder_point": "1.0000001",
                "safety_stock": 1,
                "lead_time_days": 1,
            },
        ),
        422,
    )
    assert fields(too_precise) == ["body.reorder_point"]

    unknown_supplier = problem(
        await client.post(
            "/api/v1/skus",
            json={
                "code": "KD-X",
                "name": "X",
                "reorder_point": 2,
                "safety_stock": 1,
                "lead_time_days": 1,
                "preferred_supplier": "NOBODY",
            },
        ),
        404,
    )
    assert unknown_supplier["detail"] == "supplier NOBODY does not exist"
    assert (await client.get("/api/v1/skus/KD-X")).status_code == 404


async def test_codes_must_be_on_the_iso_lists_not_only_the_right_shape(
    client: httpx.AsyncClient,
) -> None:
    nowhere = problem(
        await client.post("/api/v1/suppliers", json={"id": "ZED", "name": "Zed", "country": "ZZ"}),
        422,
    )
    assert fields(nowhere) == ["body.country"]
    assert "ISO 3166" in str(nowhere)
    no_money = problem(
        await client.post(
            "/api/v1/skus",
            json={
                "code": "KD-NEW-1",
                "name": "New",
                "unit": "each",
                "reorder_point": 1,
                "safety_stock": 1,
                "lead_time_days": 1,
                "standard_cost": {"amount": "1.00", "currency": "ZZZ"},
            },
        ),
        422,
    )
    assert fields(no_money) == ["body.standard_cost.currency"]
