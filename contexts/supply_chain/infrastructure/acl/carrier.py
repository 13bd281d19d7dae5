"""Anti-corruption layer for the external carrier's tracking API.

The carrier's model is not ours. It tracks parcels by tracking number as a list of
checkpoints (a code, a time, a location code, maybe a new estimate); we track
shipments as route legs that depart and arrive, an ETA and a delivery. This module
reads the carrier's payload with a tolerant model of its own and translates it into
a :class:`TrackingUpdate`; nothing of the carrier's vocabulary goes further.

The carrier's payload, as far as we rely on it::

    {"tracking_number": "SHP-1",
     "estimated_delivery": "2025-03-05T11:00:00Z",          # optional
     "checkpoints": [{"code": "PICKED_UP",
                      "checkpoint_time": "2025-03-04T08:10:00Z",
                      "location_code": "LYS-1",               # optional
                      "description": "Picked up",             # optional
                      "estimated_delivery": null}]}           # optional

Tolerant reading: fields we do not use are ignored; codes are compared without
regard to case, spaces or dashes (``in-transit`` is ``IN_TRANSIT``); a timestamp
without a zone is taken as UTC; a missing checkpoint list is an empty one. What is
not tolerable (not an object, a checkpoint without code or time, another tracking
number) raises :class:`MalformedTrackingPayload` with the fields at fault.

How checkpoints become leg facts (location codes match leg origins and destinations,
again ignoring case and surrounding blanks; checkpoints are taken in time order):

``PICKED_UP`` at X
    The leg starting at X departed (the first leg when no location is given).
``IN_TRANSIT`` at X
    A scan at X. The first scan where a leg ends is that leg's arrival; a later scan
    at the same place, where the next leg starts, is that leg's departure (carriers
    scan goods in and out of a hub under the same code). A scan at the shipment's
    origin is the first leg's departure.
``OUT_FOR_DELIVERY`` at X
    The leg starting at X departed (the last leg when no location is given).
``DELIVERED`` at X
    The delivery; also the last leg's arrival when X is its destination or missing.
``EXCEPTION``
    A problem on the way: its description is kept, and a new ``estimated_delivery``
    it carries becomes the ETA unless the tracking has a current one at top level.

Other codes are ignored and counted; so are checkpoints at places on none of the
legs. A repeated scan that adds nothing is simply ignored. The ETA is the tracking's
``estimated_delivery``, else the newest estimate a checkpoint carried.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from contexts.supply_chain.application.queries.views import RouteLegView, ShipmentDetail
from contexts.supply_chain.application.tracking import LegTracking, TrackingUpdate
from contexts.supply_chain.infrastructure.external_services.carrier_client import (
    CarrierClient,
    MalformedTrackingPayload,
)

__all__ = [
    "CarrierCheckpoint",
    "CarrierTrackingGateway",
    "CarrierTrackingPayload",
    "CheckpointCode",
    "parse_tracking",
    "tracking_number",
    "translate",
]


def _utc_when_naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _normalized_code(value: Any) -> Any:
    if isinstance(value, str):
        return re.sub(r"[\s\-]+", "_", value.strip()).upper()
    return value


def _list_or_empty(value: Any) -> Any:
    return [] if value is None else value


Moment = Annotated[datetime, AfterValidator(_utc_when_naive)]


class CheckpointCode(StrEnum):
    PICKED_UP = "PICKED_UP"
    IN_TRANSIT = "IN_TRANSIT"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    DELIVERED = "DELIVERED"
    EXCEPTION = "EXCEPTION"


class CarrierCheckpoint(BaseModel):
    """One scan or event in the carrier's tracking. ``code`` stays a string: a code
    we do not know is the carrier's business, not an error."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    code: Annotated[str, BeforeValidator(_normalized_code), Field(min_length=1)]
    checkpoint_time: Moment
    location_code: str | None = None
    description: str | None = None
    estimated_delivery: Moment | None = None

    @property
    def known_code(self) -> CheckpointCode | None:
        try:
            return CheckpointCode(self.code)
        except ValueError:
            return None


class CarrierTrackingPayload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    tracking_number: Annotated[str, Field(min_length=1)]
    estimated_delivery: Moment | None = None
    checkpoints: Annotated[list[CarrierCheckpoint], BeforeValidator(_list_or_empty)] = Field(
        default_factory=list
    )


def tracking_number(shipment: ShipmentDetail) -> str:
    """The number the carrier tracks ``shipment`` under: its id (see
    ``application.tracking``)."""
    return shipment.summary.id


def parse_tracking(raw: Any, *, expected_number: str | None = None) -> CarrierTrackingPayload:
    """Read the carrier's JSON; :class:`MalformedTrackingPayload` says what is wrong."""
    try:
        payload = CarrierTrackingPayload.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'payload'}: {error['msg']}"
            for error in exc.errors()[:5]
        )
        more = f" (and {exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
        number = f" for {expected_number!r}" if expected_number else ""
        raise MalformedTrackingPayload(
            f"carrier tracking{number} is malformed: {problems}{more}"
        ) from None
    if expected_number is not None and payload.tracking_number != expected_number:
        raise MalformedTrackingPayload(
            f"asked the carrier for {expected_number!r}, "
            f"it answered for {payload.tracking_number!r}"
        )
    return payload


def _place(code: str | None) -> str | None:
    if code is None or not code.strip():
        return None
    return code.strip().casefold()


class _Route:
    """The legs' places, and the leg facts found so far."""

    def __init__(self, legs: Sequence[RouteLegView]) -> None:
        self.legs = sorted(legs, key=lambda leg: leg.sequence)
        self.departed: dict[int, datetime] = {}
        self.arrived: dict[int, datetime] = {}

    def on_route(self, place: str) -> bool:
        return any(place in (_place(leg.origin), _place(leg.destination)) for leg in self.legs)

    def depart_from(self, place: str, at: datetime) -> bool:
        for leg in self.legs:
            if _place(leg.origin) == place and leg.sequence not in self.departed:
                self.departed[leg.sequence] = at
                return True
        return False

    def arrive_at(self, place: str, at: datetime) -> bool:
        for leg in self.legs:
            if _place(leg.destination) == place and leg.sequence not in self.arrived:
                self.arrived[leg.sequence] = at
                return True
        return False

    def depart_leg(self, leg: RouteLegView, at: datetime) -> None:
        self.departed.setdefault(leg.sequence, at)

    def facts(self) -> tuple[LegTracking, ...]:
        return tuple(
            LegTracking(
                sequence=leg.sequence,
                departed_at=self.departed.get(leg.sequence),
                arrived_at=self.arrived.get(leg.sequence),
            )
            for leg in self.legs
            if leg.sequence in self.departed or leg.sequence in self.arrived
        )


def translate(payload: CarrierTrackingPayload, shipment: ShipmentDetail) -> TrackingUpdate:
    """The carrier's tracking of ``shipment`` in our terms (module docstring)."""
    route = _Route(shipment.legs)
    first, last = route.legs[0], route.legs[-1]
    unknown = off_route = 0
    delivered_at: datetime | None = None
    checkpoint_eta: datetime | None = None
    exceptions: list[str] = []
    for checkpoint in sorted(payload.checkpoints, key=lambda c: c.checkpoint_time):
        code = checkpoint.known_code
        if code is None:
            unknown += 1
            continue
        at = checkpoint.checkpoint_time
        place = _place(checkpoint.location_code)
        if checkpoint.estimated_delivery is not None:
            checkpoint_eta = checkpoint.estimated_delivery
        if place is not None and not route.on_route(place):
            off_route += 1
            if code is CheckpointCode.DELIVERED and delivered_at is None:
                delivered_at = at
            elif code is CheckpointCode.EXCEPTION:
                exceptions.append(checkpoint.description or f"exception at {place}")
            continue
        match code:
            case CheckpointCode.PICKED_UP:
                if place is None:
                    route.depart_leg(first, at)
                else:
                    route.depart_from(place, at)
            case CheckpointCode.OUT_FOR_DELIVERY:
                if place is None:
                    route.depart_leg(last, at)
                else:
                    route.depart_from(place, at)
            case CheckpointCode.IN_TRANSIT:
                if place is not None and not route.arrive_at(place, at):
                    route.depart_from(place, at)
            case CheckpointCode.DELIVERED:
                delivered_at = delivered_at or at
                if place is None or place == _place(last.destination):
                    route.arrived.setdefault(last.sequence, at)
            case CheckpointCode.EXCEPTION:
                where = f" at {(checkpoint.location_code or '').strip()}" if place else ""
                exceptions.append(checkpoint.description or f"exception{where}")
    return TrackingUpdate(
        shipment_id=shipment.summary.id,
        legs=route.facts(),
        eta=payload.estimated_delivery or checkpoint_eta,
        delivered_at=delivered_at,
        unknown_checkpoints=unknown,
        off_route_checkpoints=off_route,
        exceptions=tuple(exceptions),
    )


class CarrierTrackingGateway:
    """The ``CarrierTracking`` port over the carrier's HTTP API: fetch, read, translate."""

    def __init__(self, client: CarrierClient) -> None:
        self._client = client

    async def track(self, shipment: ShipmentDetail) -> TrackingUpdate | None:
        number = tracking_number(shipment)
        raw = await self._client.tracking(number)
        if raw is None:
            return None
        return translate(parse_tracking(raw, expected_number=number), shipment)
