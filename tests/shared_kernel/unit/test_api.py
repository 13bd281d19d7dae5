"""The API pieces, exercised in process through httpx's ASGI transport."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Mapping
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Query
from prometheus_client import Counter
from pydantic import BaseModel, Field

from shared_kernel.domain import (
    BusinessRuleViolation,
    ConcurrencyConflict,
    Conflict,
    DomainError,
    InvalidValue,
    NotFound,
)
from shared_kernel.infrastructure.logging import current_correlation_id
from shared_kernel.infrastructure.metrics import new_registry
from shared_kernel.interfaces.app import create_api
from shared_kernel.interfaces.health import ReadinessCheck
from shared_kernel.interfaces.problems import PROBLEM_JSON, PROBLEM_RESPONSES

SECRET = "password=hunter2 at db.internal"
GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


class NewThing(BaseModel):
    sku: str
    name: str = Field(min_length=1)
    quantity: int = Field(gt=0)


def things_router() -> APIRouter:
    router = APIRouter(prefix="/things", responses=PROBLEM_RESPONSES)

    @router.get("/{thing_id}")
    async def get_thing(thing_id: str) -> dict[str, str]:
        raise NotFound("Thing", thing_id)

    @router.post("/duplicate")
    async def duplicate() -> None:
        raise Conflict("Thing T1 already exists")

    @router.put("/{thing_id}")
    async def update_thing(thing_id: str) -> None:
        raise ConcurrencyConflict("Thing", thing_id, expected=3, actual=4)

    @router.post("/invalid")
    async def invalid() -> None:
        raise InvalidValue("quantity", "must not be negative")

    @router.post("/rule")
    async def rule() -> None:
        raise BusinessRuleViolation("insufficient_stock", "only 3 left")

    @router.post("/vague")
    async def vague() -> None:
        raise DomainError("something the domain refuses")

    @router.post("")
    async def create_thing(
        thing: NewThing, limit: Annotated[int, Query(ge=1)] = 10
    ) -> dict[str, str]:
        return {"sku": thing.sku}

    @router.get("/oops/crash")
    async def crash() -> None:
        raise RuntimeError(SECRET)

    return router


def whoami_router() -> APIRouter:
    router = APIRouter()

    @router.get("/whoami")
    async def whoami() -> dict[str, str | None]:
        return {"correlation_id": current_correlation_id()}

    return router


def build_app(
    checks: Mapping[str, ReadinessCheck] | None = None, *, with_metrics: bool = False
) -> FastAPI:
    registry = new_registry() if with_metrics else None
    if registry is not None:
        things = Counter("dpmesh_test_things", "Things made in the test", registry=registry)
        things.inc(3)
    return create_api(
        title="Test API",
        description="Only for tests",
        routers=[things_router(), whoami_router()],
        readiness_checks=checks,
        readiness_timeout_s=0.2,
        metrics=registry,
    )


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(build_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        yield client


async def call(app: FastAPI, method: str, path: str, **kwargs: object) -> httpx.Response:
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        return await client.request(method, path, **kwargs)  # type: ignore[arg-type]


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, object] = response.json()
    assert body["status"] == status
    return body


class TestDomainErrorsAsProblems:
    async def test_not_found_is_404(self, client: httpx.AsyncClient) -> None:
        body = assert_problem(await client.get("/things/T9"), 404)

        assert body == {
            "type": "https://dpmesh.dev/problems/not-found",
            "title": "Not found",
            "status": 404,
            "detail": "Thing T9 does not exist",
            "instance": "/things/T9",
        }

    async def test_conflict_is_409(self, client: httpx.AsyncClient) -> None:
        body = assert_problem(await client.post("/things/duplicate"), 409)

        assert body["type"] == "https://dpmesh.dev/problems/conflict"
        assert body["detail"] == "Thing T1 already exists"

    async def test_stale_if_match_is_412(self, client: httpx.AsyncClient) -> None:
        response = await client.put("/things/T1", headers={"If-Match": '"3"'})

        body = assert_problem(response, 412)
        assert body["type"] == "https://dpmesh.dev/problems/concurrency-conflict"
        assert body["title"] == "Concurrent modification"
        assert body["detail"] == (
            "Thing T1 was modified concurrently (expected version 3, current version 4)"
        )

    async def test_concurrent_change_without_if_match_is_409(
        self, client: httpx.AsyncClient
    ) -> None:
        body = assert_problem(await client.put("/things/T1"), 409)

        assert body["type"] == "https://dpmesh.dev/problems/concurrency-conflict"

    async def test_invalid_value_is_422_naming_the_field(self, client: httpx.AsyncClient) -> None:
        body = assert_problem(await client.post("/things/invalid"), 422)

        assert body["type"] == "https://dpmesh.dev/problems/invalid-value"
        assert body["errors"] == [{"field": "quantity", "message": "must not be negative"}]

    async def test_business_rule_is_409_with_the_rule_name(self, client: httpx.AsyncClient) -> None:
        body = assert_problem(await client.post("/things/rule"), 409)

        assert body["type"] == "https://dpmesh.dev/problems/business-rule-violation"
        assert body["rule"] == "insufficient_stock"
        assert body["detail"] == "only 3 left"

    async def test_any_other_domain_error_is_400(self, client: httpx.AsyncClient) -> None:
        body = assert_problem(await client.post("/things/vague"), 400)

        assert body["detail"] == "something the domain refuses"


class TestRequestValidation:
    async def test_every_offending_field_is_listed(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/things", params={"limit": "zero"}, json={"name": "", "quantity": 0}
        )

        body = assert_problem(response, 422)
        assert body["type"] == "https://dpmesh.dev/problems/validation-error"
        errors = body["errors"]
        assert isinstance(errors, list)
        assert {error["field"] for error in errors} == {
            "query.limit",
            "body.sku",
            "body.name",
            "body.quantity",
        }
        assert body["detail"] == "4 field(s) failed validation"
        assert all(error["message"] and error["type"] for error in errors)
        by_field = {error["field"]: error["type"] for error in errors}
        assert by_field["body.sku"] == "missing"
        assert by_field["body.quantity"] == "greater_than"

    async def test_a_body_that_is_not_json_is_a_problem_too(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            "/things", content=b"{not json", headers={"content-type": "application/json"}
        )

        body = assert_problem(response, 422)
        assert body["errors"]

    async def test_valid_input_passes(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/things", json={"sku": "K1", "name": "n", "quantity": 1})

        assert response.status_code == 200
        assert response.json() == {"sku": "K1"}


class TestOtherErrors:
    async def test_unknown_route_is_a_404_problem(self, client: httpx.AsyncClient) -> None:
        body = assert_problem(await client.get("/nowhere"), 404)

        assert body["instance"] == "/nowhere"

    async def test_wrong_method_is_a_405_problem_that_keeps_allow(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.delete("/things/oops/crash")

        assert_problem(response, 405)
        assert response.headers["allow"] == "GET"

    async def test_allow_names_the_methods_of_every_route_on_the_path(
        self, client: httpx.AsyncClient
    ) -> None:
        # GET /things/{id} and PUT /things/{id} are two routes on one path.
        response = await client.delete("/things/T1")

        assert_problem(response, 405)
        assert response.headers["allow"] == "GET, PUT"

    async def test_unexpected_exception_is_a_500_problem_without_the_message(
        self, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.ERROR, logger="shared_kernel.interfaces.problems"):
            response = await client.get("/things/oops/crash", headers={"X-Request-ID": "req-500"})

        body = assert_problem(response, 500)
        assert body["title"] == "Internal Server Error"
        assert "hunter2" not in response.text
        assert "RuntimeError" not in response.text
        # The detail promises the error is logged with the request id: the client gets it.
        assert response.headers.get_list("x-request-id") == ["req-500"]
        [record] = caplog.records
        assert record.getMessage() == "unhandled error on GET /things/oops/crash"
        assert record.exc_info is not None


class TestRequestId:
    async def test_a_safe_incoming_id_is_echoed(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz", headers={"X-Request-ID": "abc.DEF_123-x"})

        assert response.headers["x-request-id"] == "abc.DEF_123-x"

    @pytest.mark.parametrize(
        "unsafe", [b"has spaces", b"semi;colon", b"a" * 129, b'quote"d', "caf\u00e9".encode()]
    )
    async def test_an_unsafe_incoming_id_is_replaced(
        self, client: httpx.AsyncClient, unsafe: bytes
    ) -> None:
        response = await client.get("/healthz", headers={b"X-Request-ID": unsafe})

        assert GENERATED_ID.fullmatch(response.headers["x-request-id"])

    async def test_a_missing_id_is_generated_per_request(self, client: httpx.AsyncClient) -> None:
        first = (await client.get("/healthz")).headers["x-request-id"]
        second = (await client.get("/healthz")).headers["x-request-id"]

        assert GENERATED_ID.fullmatch(first)
        assert GENERATED_ID.fullmatch(second)
        assert first != second

    async def test_the_id_is_the_correlation_id_while_handling(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/whoami", headers={"X-Request-ID": "trace-7"})

        assert response.json() == {"correlation_id": "trace-7"}
        generated = await client.get("/whoami")
        assert generated.json() == {"correlation_id": generated.headers["x-request-id"]}

    async def test_error_responses_carry_the_id_too(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/things/T1", headers={"X-Request-ID": "req-404"})

        assert response.status_code == 404
        assert response.headers.get_list("x-request-id") == ["req-404"]


async def ok() -> None:
    return None


async def refuses() -> None:
    raise ConnectionRefusedError("connection refused by broker:9092")


async def hangs() -> None:
    await asyncio.Event().wait()


class TestHealth:
    async def test_healthz_says_the_process_is_up(self) -> None:
        response = await call(build_app({"broken": refuses}), "GET", "/healthz")

        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    async def test_ready_when_every_check_passes(self) -> None:
        response = await call(build_app({"database": ok, "broker": ok}), "GET", "/readyz")

        assert response.status_code == 200
        assert response.json() == {
            "status": "ready",
            "checks": {"database": "ok", "broker": "ok"},
        }

    async def test_ready_without_checks(self) -> None:
        response = await call(build_app(), "GET", "/readyz")

        assert response.status_code == 200

    async def test_a_failing_check_makes_it_503_and_is_named(self) -> None:
        response = await call(build_app({"database": ok, "broker": refuses}), "GET", "/readyz")

        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "not ready"
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["broker"] == (
            "ConnectionRefusedError: connection refused by broker:9092"
        )

    async def test_a_check_that_times_out_makes_it_503_and_is_named(self) -> None:
        response = await call(build_app({"database": hangs, "broker": ok}), "GET", "/readyz")

        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks["database"].startswith("timed out")
        assert checks["broker"] == "ok"


class TestMetrics:
    async def test_metrics_expose_the_registry(self) -> None:
        response = await call(build_app(with_metrics=True), "GET", "/metrics")

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert "# TYPE dpmesh_test_things_total counter" in response.text
        assert "dpmesh_test_things_total 3.0" in response.text

    async def test_two_apps_keep_separate_registries(self) -> None:
        first, second = build_app(with_metrics=True), build_app(with_metrics=True)

        assert (await call(first, "GET", "/metrics")).status_code == 200
        assert (await call(second, "GET", "/metrics")).status_code == 200

    async def test_no_registry_no_metrics_route(self) -> None:
        response = await call(build_app(), "GET", "/metrics")

        assert response.status_code == 404


class TestOpenApi:
    async def test_problem_responses_are_documented(self) -> None:
        response = await call(build_app(), "GET", "/openapi.json")

        operation = response.json()["paths"]["/things/{thing_id}"]["get"]
        for status in ("404", "409", "412", "422"):
            assert PROBLEM_JSON in operation["responses"][status]["content"]
