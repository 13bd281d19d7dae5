"""Bounded requests: a body over the limit is a 413 before any parsing; a 422 lists a
bounded number of field problems, however many the body has."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, ConfigDict

from shared_kernel.interfaces.app import create_api
from shared_kernel.interfaces.problems import MAX_FIELD_PROBLEMS, PROBLEM_JSON

LIMIT = 2048


class Order(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str


def build_app() -> FastAPI:
    router = APIRouter()

    @router.post("/orders")
    async def place(order: Order) -> dict[str, str]:
        return {"sku": order.sku}

    return create_api(title="t", description="t", routers=[router], max_body_bytes=LIMIT)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(build_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        yield client


async def test_a_body_over_the_limit_is_413_problem(client: httpx.AsyncClient) -> None:
    body = json.dumps({"sku": "K" * (LIMIT + 10)})
    response = await client.post(
        "/orders", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["status"] == 413


async def test_a_streamed_body_without_a_length_is_counted_too(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"sku": "'
        for _ in range(10):
            yield b"K" * 512
        yield b'"}'

    response = await client.post(
        "/orders", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_a_body_within_the_limit_passes(client: httpx.AsyncClient) -> None:
    response = await client.post("/orders", json={"sku": "K1"})
    assert (response.status_code, response.json()) == (200, {"sku": "K1"})


async def test_a_422_lists_a_bounded_number_of_field_problems(client: httpx.AsyncClient) -> None:
    unknown = {f"k{n}": 1 for n in range(150)}  # small enough for the body limit
    response = await client.post("/orders", json={"sku": "K", **unknown})
    assert response.status_code == 422
    body = response.json()
    assert len(body["errors"]) == MAX_FIELD_PROBLEMS
    assert (
        body["detail"]
        == f"150 field(s) failed validation; the first {MAX_FIELD_PROBLEMS} are listed"
    )


async def test_a_body_of_another_media_type_is_415(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/orders", content=b"sku=K1", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["accept-post"] == "application/json"


async def test_a_json_body_of_the_wrong_shape_stays_a_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/orders", json=["not", "an", "object"])
    assert response.status_code == 422


async def test_a_body_that_is_not_utf8_is_a_documented_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/orders", content=b'{"sku": "\xff\xfe"}', headers={"content-type": "application/json"}
    )
    assert response.status_code in (400, 422)
    assert response.headers["content-type"] == PROBLEM_JSON
    documented = client_app_openapi()["paths"]["/orders"]["post"]["responses"]
    assert str(response.status_code) in documented


def client_app_openapi() -> dict[str, object]:
    schema: dict[str, object] = build_app().openapi()
    return schema


def test_the_openapi_declares_problem_documents_not_fastapi_s_error() -> None:
    schema = client_app_openapi()
    responses = schema["paths"]["/orders"]["post"]["responses"]  # type: ignore[index]
    for status in ("400", "413", "415", "422"):
        assert PROBLEM_JSON in responses[status]["content"], status
    assert "HTTPValidationError" not in schema["components"]["schemas"]  # type: ignore[index]
    assert "Problem" in schema["components"]["schemas"]  # type: ignore[index]
