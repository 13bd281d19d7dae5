"""The carrier client and ACL over HTTP, with a fake carrier behind httpx.MockTransport,
and tracking applied through the context's real container and database.

Backoff is checked through an injected ``sleep`` that records the delays instead of
waiting, so no test depends on how fast it runs.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from contexts.supply_chain.application.commands.catalog import RegisterSku, RegisterWarehouse
from contexts.supply_chain.application.commands.shipping import (
    DispatchShipment,
    LegInput,
    PlanShipment,
    ShipmentLineInput,
)
from contexts.supply_chain.application.queries.messages import GetShipment
from contexts.supply_chain.application.queries.views import ShipmentDetail
from contexts.supply_chain.application.tracking import TrackingReport, track_shipments
from contexts.supply_chain.bootstrap import SupplyChainContainer
from contexts.supply_chain.domain import ShipmentStatus
from contexts.supply_chain.infrastructure.acl.carrier import CarrierTrackingGateway
from contexts.supply_chain.infrastructure.external_services import (
    CarrierClient,
    CarrierRequestRejected,
    CarrierSettings,
    CarrierUnavailable,
    MalformedTrackingPayload,
    RetryPolicy,
)

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 4, 8, 0, tzinfo=UTC)
PLANNED_DELIVERY = T0 + timedelta(hours=27)
API_KEY = "s3cret-key"


def stamp(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


def tracking_body(number: str = "SH-1", **extra: Any) -> dict[str, Any]:
    return {
        "tracking_number": number,
        "status": "IN_TRANSIT",
        "checkpoints": [
            {"code": "INFO_RECEIVED", "checkpoint_time": stamp(-1), "location_code": "LYS-1"},
            {"code": "PICKED_UP", "checkpoint_time": stamp(1.5), "location_code": "LYS-1"},
            {"code": "IN_TRANSIT", "checkpoint_time": stamp(8), "location_code": "HUB-PAR"},
            {
                "code": "EXCEPTION",
                "checkpoint_time": stamp(9),
                "location_code": "HUB-PAR",
                "description": "Missed linehaul connection",
                "estimated_delivery": stamp(33),
            },
        ],
        **extra,
    }


class FakeCarrier:
    """Serves scripted responses, one per request (the last one repeats), and keeps
    the requests it received."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


class Midpoint(random.Random):
    """Jitter that always lands in the middle: the delays are the bare series."""

    def random(self) -> float:
        return 0.5


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def ok(body: Any) -> httpx.Response:
    return httpx.Response(200, json=body)


def client_for(
    carrier: Callable[[httpx.Request], httpx.Response],
    sleeps: Sleeps,
    *,
    attempts: int = 4,
) -> CarrierClient:
    settings = CarrierSettings(
        api_url="https://carrier.test", api_key=API_KEY, attempts=attempts, backoff_s=0.5
    )
    return CarrierClient.from_settings(
        settings, transport=httpx.MockTransport(carrier), sleep=sleeps, rng=Midpoint()
    )


class Fixed(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


def test_backoff_doubles_up_to_the_cap_with_jitter_either_side() -> None:
    policy = RetryPolicy(attempts=6, backoff_s=0.5, max_backoff_s=3, jitter=0.2)

    assert [policy.delay(n, Midpoint()) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.delay(2, Fixed(0.0)) == pytest.approx(0.8)
    assert policy.delay(2, Fixed(0.999999)) == pytest.approx(1.2, abs=1e-5)


async def test_a_tracking_is_fetched_with_the_api_key_under_its_number() -> None:
    carrier, sleeps = FakeCarrier(ok(tracking_body("SH/1 b"))), Sleeps()

    async with client_for(carrier, sleeps) as client:
        body = await client.tracking("SH/1 b")

    assert body["tracking_number"] == "SH/1 b"
    [request] = carrier.requests
    assert request.method == "GET"
    assert request.url.raw_path == b"/v1/trackings/SH%2F1%20b"
    assert request.headers["X-Api-Key"] == API_KEY
    assert sleeps.delays == []


async def test_server_errors_connect_errors_and_timeouts_are_retried_with_backoff() -> None:
    carrier = FakeCarrier(
        httpx.Response(503),
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("read timed out"),
        ok(tracking_body()),
    )
    sleeps = Sleeps()

    async with client_for(carrier, sleeps) as client:
        body = await client.tracking("SH-1")

    assert body["tracking_number"] == "SH-1"
    assert len(carrier.requests) == 4
    assert sleeps.delays == [0.5, 1.0, 2.0]


async def test_a_numeric_retry_after_is_honoured_up_to_the_cap() -> None:
    carrier = FakeCarrier(
        httpx.Response(429, headers={"Retry-After": "3"}),
        httpx.Response(503, headers={"Retry-After": "120"}),
        ok(tracking_body()),
    )
    sleeps = Sleeps()

    async with client_for(carrier, sleeps) as client:
        await client.tracking("SH-1")

    assert sleeps.delays == [3.0, 5.0]


async def test_a_carrier_that_stays_down_is_unavailable_after_the_last_attempt() -> None:
    carrier, sleeps = FakeCarrier(httpx.Response(502)), Sleeps()

    async with client_for(carrier, sleeps, attempts=3) as client:
        with pytest.raises(CarrierUnavailable) as raised:
            await client.tracking("SH-1")

    assert len(carrier.requests) == 3
    assert sleeps.delays == [0.5, 1.0]
    assert raised.value.attempts == 3
    assert "after 3 attempt(s)" in str(raised.value)
    assert "502" in str(raised.value)


async def test_a_refusal_is_not_retried_and_says_why() -> None:
    carrier, sleeps = FakeCarrier(httpx.Response(401)), Sleeps()

    async with client_for(carrier, sleeps) as client:
        with pytest.raises(CarrierRequestRejected, match="SUPPLY_CHAIN_CARRIER_API_KEY"):
            await client.tracking("SH-1")

    assert len(carrier.requests) == 1


async def test_an_unknown_tracking_number_is_none_not_an_error() -> None:
    carrier, sleeps = (
        FakeCarrier(httpx.Response(404, json={"detail": "no such tracking"})),
        Sleeps(),
    )

    async with client_for(carrier, sleeps) as client:
        assert await client.tracking("SH-1") is None

    assert len(carrier.requests) == 1


async def test_a_body_that_is_not_json_is_a_malformed_payload() -> None:
    carrier = FakeCarrier(
        httpx.Response(200, text="<html>maintenance</html>", headers={"content-type": "text/html"})
    )

    async with client_for(carrier, Sleeps()) as client:
        with pytest.raises(MalformedTrackingPayload, match="not JSON"):
            await client.tracking("SH-1")


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPLY_CHAIN_CARRIER_API_URL", "http://127.0.0.1:8190")
    monkeypatch.setenv("SUPPLY_CHAIN_CARRIER_API_KEY", API_KEY)
    monkeypatch.setenv("SUPPLY_CHAIN_CARRIER_POLL_INTERVAL_S", "2.5")

    settings = CarrierSettings()

    assert settings.enabled
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == API_KEY
    assert API_KEY not in repr(settings)
    assert settings.poll_interval_s == 2.5
    assert not CarrierSettings(api_url=None).enabled


# Tracking through the real container: SQL unit of work, readers and handlers.


async def dispatched_shipment(container: SupplyChainContainer) -> None:
    for command in (
        RegisterWarehouse(
            code="LYS-1",
            name="Lyon",
            latitude=Decimal("45.76"),
            longitude=Decimal("4.84"),
            capacity=Decimal(1000),
        ),
        RegisterSku(
            code="KD-HUB-200",
            name="Kestrel Hub 200",
            reorder_point=Decimal(80),
            safety_stock=Decimal(50),
            lead_time_days=7,
        ),
        PlanShipment(
            shipment_id="SH-1",
            account="ACC-ORBITAL",
            warehouse="LYS-1",
            lines=(ShipmentLineInput(sku="KD-HUB-200", quantity=Decimal(3)),),
            legs=(
                LegInput(
                    origin="LYS-1",
                    destination="HUB-PAR",
                    carrier="RoadCo",
                    planned_departure=T0 + timedelta(hours=1),
                    planned_arrival=T0 + timedelta(hours=7),
                ),
                LegInput(
                    origin="HUB-PAR",
                    destination="CUST-42",
                    carrier="CityVan",
                    planned_departure=T0 + timedelta(hours=24),
                    planned_arrival=PLANNED_DELIVERY,
                ),
            ),
        ),
        DispatchShipment(shipment_id="SH-1", dispatched_at=T0),
    ):
        await container.message_bus().handle(command)


async def read(container: SupplyChainContainer) -> ShipmentDetail:
    detail = await container.shipping_reader().shipment(GetShipment(shipment_id="SH-1"))
    assert detail is not None
    return detail


async def track_once(container: SupplyChainContainer, client: CarrierClient) -> TrackingReport:
    async def send(command: Any) -> Any:
        return await container.message_bus().handle(command)

    return await track_shipments(container.shipping_reader(), CarrierTrackingGateway(client), send)


@pytest.fixture
async def shipment(migrated: SupplyChainContainer) -> SupplyChainContainer:
    await dispatched_shipment(migrated)
    return migrated


async def test_the_carriers_tracking_becomes_the_shipments_legs_and_delay(
    shipment: SupplyChainContainer,
) -> None:
    carrier = FakeCarrier(ok(tracking_body()))

    async with client_for(carrier, Sleeps()) as client:
        report = await track_once(shipment, client)
        again = await track_once(shipment, client)

    [outcome] = report.outcomes
    assert outcome.problem is None
    assert outcome.ignored_checkpoints == 1
    detail = await read(shipment)
    assert detail.summary.status is ShipmentStatus.DELAYED
    assert detail.summary.eta == T0 + timedelta(hours=33)
    assert detail.legs[0].departed_at == T0 + timedelta(hours=1.5)
    assert detail.legs[0].arrived_at == T0 + timedelta(hours=8)
    assert detail.legs[1].departed_at is None
    assert again.changed == ()
    assert (await read(shipment)).summary.version == detail.summary.version


async def test_a_carrier_that_is_down_leaves_the_shipment_in_its_last_known_state(
    shipment: SupplyChainContainer,
) -> None:
    carrier = FakeCarrier(ok(tracking_body()))
    async with client_for(carrier, Sleeps()) as client:
        await track_once(shipment, client)
    known = await read(shipment)
    down = FakeCarrier(httpx.ConnectError("connection refused"))
    sleeps = Sleeps()

    async with client_for(down, sleeps, attempts=3) as client:
        report = await track_once(shipment, client)

    [failed] = report.failed
    assert "unavailable" in (failed.problem or "")
    assert "ConnectError" in (failed.problem or "")
    assert len(down.requests) == 3
    assert await read(shipment) == known


async def test_a_malformed_tracking_is_reported_and_changes_nothing(
    shipment: SupplyChainContainer,
) -> None:
    before = await read(shipment)
    body = tracking_body()
    body["checkpoints"][1] = {"code": "PICKED_UP", "checkpoint_time": "soon"}
    carrier = FakeCarrier(httpx.Response(200, content=json.dumps(body).encode()))

    async with client_for(carrier, Sleeps()) as client:
        report = await track_once(shipment, client)

    [failed] = report.failed
    assert "malformed" in (failed.problem or "")
    assert "checkpoints.1.checkpoint_time" in (failed.problem or "")
    assert await read(shipment) == before
