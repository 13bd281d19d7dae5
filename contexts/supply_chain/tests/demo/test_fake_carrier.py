"""The demo's fake carrier: scripted over HTTP, read back by the supply chain's own
carrier client and ACL (so the fake and the ACL agree on the carrier's model)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from contexts.supply_chain.application.queries.views import (
    RouteLegView,
    ShipmentDetail,
    ShipmentLineView,
    ShipmentSummary,
)
from contexts.supply_chain.application.tracking import LegTracking
from contexts.supply_chain.demo.fake_carrier import API_KEY_HEADER, create_app
from contexts.supply_chain.domain import ShipmentStatus
from contexts.supply_chain.infrastructure.acl.carrier import CarrierTrackingGateway
from contexts.supply_chain.infrastructure.external_services import (
    CarrierClient,
    CarrierSettings,
    CarrierUnavailable,
)

KEY = "demo-key"
T0 = datetime(2025, 3, 4, 8, 0, tzinfo=UTC)


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


@pytest.fixture
def transport() -> httpx.ASGITransport:
    return httpx.ASGITransport(app=create_app(api_key=KEY))


@pytest.fixture
async def carrier(transport: httpx.ASGITransport) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=transport, base_url="http://carrier", headers={API_KEY_HEADER: KEY}
    ) as client:
        yield client


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def client_for(transport: httpx.ASGITransport, sleeps: Sleeps, **options: object) -> CarrierClient:
    settings = CarrierSettings(api_url="http://carrier", api_key=KEY, **options)
    return CarrierClient.from_settings(settings, transport=transport, sleep=sleeps)


def shipment(shipment_id: str) -> ShipmentDetail:
    legs = (
        RouteLegView(
            sequence=1,
            origin="LYS-1",
            destination="HUB-PAR",
            carrier="Kestrel Freight",
            planned_departure=T0,
            planned_arrival=T0 + timedelta(hours=6),
            departed_at=None,
            arrived_at=None,
        ),
        RouteLegView(
            sequence=2,
            origin="HUB-PAR",
            destination="SITE-ORBITAL",
            carrier="CityVan",
            planned_departure=T0 + timedelta(hours=20),
            planned_arrival=T0 + timedelta(hours=24),
            departed_at=None,
            arrived_at=None,
        ),
    )
    return ShipmentDetail(
        summary=ShipmentSummary(
            id=shipment_id,
            account="ACC-ENT-ORBITAL",
            warehouse="LYS-1",
            status=ShipmentStatus.DISPATCHED,
            destination="SITE-ORBITAL",
            planned_delivery=T0 + timedelta(hours=24),
            eta=T0 + timedelta(hours=24),
            delivered_at=None,
            version=2,
        ),
        dispatched_at=T0 - timedelta(minutes=30),
        lines=(ShipmentLineView(sku="KD-HUB-200", unit="each", quantity=Decimal(2)),),
        legs=legs,
    )


async def test_a_scripted_tracking_reads_back_through_the_supply_chains_acl(
    carrier: httpx.AsyncClient, transport: httpx.ASGITransport
) -> None:
    number = "SHP-7"
    for body in (
        {"code": "INFO_RECEIVED", "checkpoint_time": at(-1), "location_code": "LYS-1"},
        {"code": "PICKED_UP", "checkpoint_time": at(0.5), "location_code": "LYS-1"},
        {"code": "IN_TRANSIT", "checkpoint_time": at(6.5), "location_code": "HUB-PAR"},
        {
            "code": "EXCEPTION",
            "checkpoint_time": at(7),
            "location_code": "HUB-PAR",
            "description": "Missed linehaul connection",
            "estimated_delivery": at(30),
        },
    ):
        response = await carrier.post(f"/v1/trackings/{number}/checkpoints", json=body)
        assert response.status_code == 201, response.text
    assert response.json()["status"] == "EXCEPTION"

    async with client_for(transport, Sleeps()) as client:
        update = await CarrierTrackingGateway(client).track(shipment(number))

    assert update is not None
    assert update.legs == (
        LegTracking(
            sequence=1, departed_at=T0 + timedelta(hours=0.5), arrived_at=T0 + timedelta(hours=6.5)
        ),
    )
    assert update.eta == T0 + timedelta(hours=30)
    assert update.exceptions == ("Missed linehaul connection",)
    assert update.unknown_checkpoints == 1


async def test_the_estimate_can_be_set_and_cleared(carrier: httpx.AsyncClient) -> None:
    path = "/v1/trackings/SHP-8/estimate"

    first = await carrier.put(path, json={"estimated_delivery": at(24)})
    cleared = await carrier.put(path, json={"estimated_delivery": None})

    assert first.status_code == 200
    assert datetime.fromisoformat(first.json()["estimated_delivery"]) == T0 + timedelta(hours=24)
    assert first.json()["status"] == "PENDING"
    assert cleared.json()["estimated_delivery"] is None


async def test_a_checkpoint_without_a_time_is_stamped_now(carrier: httpx.AsyncClient) -> None:
    before = datetime.now(UTC)

    response = await carrier.post("/v1/trackings/SHP-9/checkpoints", json={"code": "PICKED_UP"})

    stamped = datetime.fromisoformat(response.json()["checkpoints"][0]["checkpoint_time"])
    assert stamped.tzinfo is not None
    assert stamped >= before


async def test_unknown_trackings_are_404_and_every_v1_route_wants_the_key(
    carrier: httpx.AsyncClient, transport: httpx.ASGITransport
) -> None:
    assert (await carrier.get("/v1/trackings/NOPE")).status_code == 404
    async with httpx.AsyncClient(transport=transport, base_url="http://carrier") as anonymous:
        assert (await anonymous.get("/v1/trackings/NOPE")).status_code == 401
        refused = await anonymous.post("/v1/trackings/X/checkpoints", json={"code": "PICKED_UP"})
        assert refused.status_code == 401
        wrong = await anonymous.get("/v1/trackings/NOPE", headers={API_KEY_HEADER: "guess"})
        assert wrong.status_code == 401
        health = await anonymous.get("/healthz")
        assert health.status_code == 200
        assert health.json()["status"] == "ok"


async def test_a_short_outage_is_ridden_out_and_a_long_one_is_reported(
    carrier: httpx.AsyncClient, transport: httpx.ASGITransport
) -> None:
    await carrier.post("/v1/trackings/SHP-10/checkpoints", json={"code": "PICKED_UP"})
    sleeps = Sleeps()

    assert (await carrier.post("/v1/outage", json={"requests": 2})).status_code == 204
    async with client_for(transport, sleeps, attempts=3) as client:
        body = await client.tracking("SHP-10")
    assert body["tracking_number"] == "SHP-10"
    assert len(sleeps.delays) == 2

    await carrier.post("/v1/outage", json={"requests": 5, "status_code": 502})
    async with client_for(transport, Sleeps(), attempts=3) as client:
        with pytest.raises(CarrierUnavailable, match="502"):
            await client.tracking("SHP-10")
    assert (await carrier.get("/v1/trackings/SHP-10")).status_code == 502
    assert (await carrier.get("/v1/trackings/SHP-10")).status_code == 502
    assert (await carrier.get("/v1/trackings/SHP-10")).status_code == 200


async def test_times_without_a_zone_are_read_as_utc(carrier: httpx.AsyncClient) -> None:
    path = "/v1/trackings/SHP-11/checkpoints"
    await carrier.post(path, json={"code": "IN_TRANSIT", "checkpoint_time": "2025-03-04T12:00:00"})
    await carrier.post(path, json={"code": "PICKED_UP", "checkpoint_time": at(1)})

    tracking = (await carrier.get("/v1/trackings/SHP-11")).json()

    assert tracking["status"] == "IN_TRANSIT"
    first = datetime.fromisoformat(tracking["checkpoints"][0]["checkpoint_time"])
    assert first == T0 + timedelta(hours=4)
