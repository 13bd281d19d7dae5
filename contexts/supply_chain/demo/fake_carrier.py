"""A fake external carrier: a tracking API with in-memory state, for the demo.

It speaks the carrier's model, not the supply chain's: parcels by tracking number,
each a list of checkpoints (``PICKED_UP``, ``IN_TRANSIT``, ``OUT_FOR_DELIVERY``,
``DELIVERED``, ``EXCEPTION`` or anything else a carrier may invent) with a time, a
location code and maybe a revised estimate. The supply chain reads it through its
anti-corruption layer; the simulator scripts it.

- ``GET /v1/trackings/{tracking_number}``: the tracking (404 when unknown).
- ``POST /v1/trackings/{tracking_number}/checkpoints``: append a checkpoint (the
  tracking starts with its first one). A checkpoint carrying ``estimated_delivery``
  also becomes the tracking's current estimate, as a carrier revises it on an
  exception.
- ``PUT /v1/trackings/{tracking_number}/estimate``: set or clear the estimate.
- ``POST /v1/outage``: answer the next ``requests`` tracking reads with an error
  status, to watch the client's retries and the supply chain's patience.
- ``GET /healthz``: liveness, never behind the key.

With an API key, every ``/v1`` route wants it in ``X-Api-Key`` (401 otherwise).
State lives in the app: one app, one carrier; nothing survives a restart.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request, Response
from pydantic import BaseModel, Field

__all__ = ["API_KEY_HEADER", "CarrierBook", "create_app"]

API_KEY_HEADER = "X-Api-Key"
CARRIER_NAME = "Kestrel Freight (simulated)"

TrackingNumber = Annotated[str, Field(min_length=1, max_length=128)]


class CheckpointIn(BaseModel):
    code: Annotated[str, Field(min_length=1, max_length=64, examples=["IN_TRANSIT"])]
    checkpoint_time: datetime | None = Field(default=None, description="Now when omitted.")
    location_code: Annotated[str | None, Field(max_length=200)] = None
    description: Annotated[str | None, Field(max_length=500)] = None
    estimated_delivery: datetime | None = None


class EstimateIn(BaseModel):
    estimated_delivery: datetime | None


class OutageIn(BaseModel):
    requests: Annotated[int, Field(ge=0, le=1000)]
    status_code: Annotated[int, Field(ge=500, le=599)] = 503


class Checkpoint(BaseModel):
    code: str
    checkpoint_time: datetime
    location_code: str | None
    description: str | None
    estimated_delivery: datetime | None


class Tracking(BaseModel):
    tracking_number: str
    carrier: str
    status: str = Field(description="The code of the latest checkpoint.")
    estimated_delivery: datetime | None
    checkpoints: list[Checkpoint]
    updated_at: datetime


def _utc(moment: datetime | None) -> datetime | None:
    """This carrier reads a time without a zone as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@dataclass
class _Parcel:
    number: str
    checkpoints: list[Checkpoint] = field(default_factory=list)
    estimated_delivery: datetime | None = None
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def view(self) -> Tracking:
        latest = max(self.checkpoints, key=lambda c: c.checkpoint_time, default=None)
        return Tracking(
            tracking_number=self.number,
            carrier=CARRIER_NAME,
            status="PENDING" if latest is None else latest.code,
            estimated_delivery=self.estimated_delivery,
            checkpoints=list(self.checkpoints),
            updated_at=self.updated_at,
        )


class CarrierBook:
    """The carrier's whole state: its parcels, and an outage in progress, if any."""

    def __init__(self) -> None:
        self.parcels: dict[str, _Parcel] = {}
        self.outage_left = 0
        self.outage_status = 503

    def parcel(self, number: str) -> _Parcel:
        return self.parcels.setdefault(number, _Parcel(number))

    def add_checkpoint(self, number: str, body: CheckpointIn) -> Tracking:
        parcel = self.parcel(number)
        now = datetime.now(UTC)
        estimate = _utc(body.estimated_delivery)
        parcel.checkpoints.append(
            Checkpoint(
                code=body.code,
                checkpoint_time=_utc(body.checkpoint_time) or now,
                location_code=body.location_code,
                description=body.description,
                estimated_delivery=estimate,
            )
        )
        if estimate is not None:
            parcel.estimated_delivery = estimate
        parcel.updated_at = now
        return parcel.view()

    def set_estimate(self, number: str, estimate: datetime | None) -> Tracking:
        parcel = self.parcel(number)
        parcel.estimated_delivery = _utc(estimate)
        parcel.updated_at = datetime.now(UTC)
        return parcel.view()

    def take_outage(self) -> int | None:
        """The error status to answer this read with, while an outage lasts."""
        if self.outage_left <= 0:
            return None
        self.outage_left -= 1
        return self.outage_status


def create_app(api_key: str | None = None, book: CarrierBook | None = None) -> FastAPI:
    """The fake carrier; ``book`` lets a caller look at or prepare its state."""
    state = book or CarrierBook()

    def check_key(
        key: Annotated[str | None, Header(alias=API_KEY_HEADER)] = None,
    ) -> None:
        if api_key is not None and (key is None or not secrets.compare_digest(key, api_key)):
            raise HTTPException(401, "missing or wrong API key", {"WWW-Authenticate": "ApiKey"})

    router = APIRouter(prefix="/v1", dependencies=[Depends(check_key)])

    @router.get("/trackings", summary="Every tracking number, in order of creation")
    async def list_trackings() -> list[str]:
        return list(state.parcels)

    @router.get("/trackings/{tracking_number}", summary="Read a tracking")
    async def read_tracking(tracking_number: str) -> Tracking:
        failing = state.take_outage()
        if failing is not None:
            raise HTTPException(failing, "carrier systems are down (simulated outage)")
        parcel = state.parcels.get(tracking_number)
        if parcel is None:
            raise HTTPException(404, f"no tracking {tracking_number!r}")
        return parcel.view()

    @router.post(
        "/trackings/{tracking_number}/checkpoints",
        status_code=201,
        summary="Append a checkpoint",
    )
    async def add_checkpoint(tracking_number: str, body: CheckpointIn) -> Tracking:
        return state.add_checkpoint(tracking_number, body)

    @router.put("/trackings/{tracking_number}/estimate", summary="Set the estimated delivery")
    async def set_estimate(tracking_number: str, body: EstimateIn) -> Tracking:
        return state.set_estimate(tracking_number, body.estimated_delivery)

    @router.post("/outage", status_code=204, summary="Fail the next tracking reads")
    async def start_outage(body: OutageIn) -> Response:
        state.outage_left, state.outage_status = body.requests, body.status_code
        return Response(status_code=204)

    app = FastAPI(
        title="Fake carrier tracking API",
        description=__doc__,
        version="1.0",
    )
    app.include_router(router)
    app.state.book = state

    @app.get("/healthz", summary="Liveness")
    async def healthz(request: Request) -> dict[str, object]:
        return {"status": "ok", "trackings": len(request.app.state.book.parcels)}

    return app
