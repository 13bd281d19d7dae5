"""Carrier tracking: bring what the carrier knows into the shipments it carries.

The carrier's data never enters the model as it is. An adapter behind the
:class:`CarrierTracking` port (the anti-corruption layer in
``infrastructure.acl.carrier``) translates the carrier's answer into a
:class:`TrackingUpdate`: our reading of the carrier's tracking, in the shipment's own
terms (which legs departed and arrived when, the latest estimate, the delivery).

:func:`track_shipment` compares that reading with the shipment as stored and issues
only the facts the shipment lacks, as the ordinary shipping commands (record a
departure or an arrival, update the ETA, deliver), each on the version it read. So:

- applying the same tracking state again changes nothing: facts already recorded,
  by tracking or by a person through the API, are never sent twice or overwritten;
- the carrier failing, or the shipment changing meanwhile, leaves the shipment as it
  was last known; the outcome reports it and the next poll tries again;
- facts the domain could not accept in order (an arrival whose departure the carrier
  never reported, a departure before the goods reached the leg's origin) are left
  out and reported, since making up the missing times would be worse. A person can
  still record them through the API; delivery and ETA do not depend on them.

Tracking numbers: a shipment is tracked under its id. The Shipment has no tracking
number of its own, and the API lets the planner choose the id, so a shipment can be
planned under the number the carrier issued. If carriers ever need numbers of their
own, the adapter is the one place that changes: the port hands it the whole shipment.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from contexts.supply_chain.application.commands.shipping import (
    DeliverShipment,
    RecordLegArrival,
    RecordLegDeparture,
    UpdateShipmentEta,
)
from contexts.supply_chain.application.queries.messages import GetShipment, ListShipments
from contexts.supply_chain.application.queries.ports import ShippingReader
from contexts.supply_chain.application.queries.views import ShipmentDetail
from contexts.supply_chain.application.results import AggregateRef
from contexts.supply_chain.domain.shipping.status import ShipmentStatus
from shared_kernel.application import Command
from shared_kernel.domain import ConcurrencyConflict, DomainError

__all__ = [
    "CarrierTracking",
    "CarrierTrackingError",
    "LegTracking",
    "Send",
    "TrackingOutcome",
    "TrackingPlan",
    "TrackingReport",
    "TrackingUpdate",
    "plan_tracking",
    "run_tracking_poller",
    "track_shipment",
    "track_shipments",
]

logger = logging.getLogger(__name__)

#: Statuses in which a carrier has the goods, so tracking applies.
TRACKED_STATUSES = tuple(status for status in ShipmentStatus if status.on_the_way)

TrackingCommand = RecordLegDeparture | RecordLegArrival | UpdateShipmentEta | DeliverShipment
#: How commands reach their handlers: ``MessageBus.handle`` of a fresh bus per call.
Send = Callable[[Command], Awaitable[Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class LegTracking:
    """When the carrier saw leg ``sequence`` (from 1) leave its origin and reach its
    destination; None where it did not say."""

    sequence: int
    departed_at: datetime | None = None
    arrived_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackingUpdate:
    """The carrier's tracking of one shipment, in our terms: a snapshot, not a delta.

    ``eta`` is the carrier's latest estimate of delivery, ``delivered_at`` its proof
    of delivery. The counts say how many checkpoints the translation could not use:
    codes it does not know, places that are on none of the shipment's legs.
    ``exceptions`` are the carrier's descriptions of problems on the way.
    """

    shipment_id: str
    legs: tuple[LegTracking, ...] = ()
    eta: datetime | None = None
    delivered_at: datetime | None = None
    unknown_checkpoints: int = 0
    off_route_checkpoints: int = 0
    exceptions: tuple[str, ...] = ()

    def leg(self, sequence: int) -> LegTracking | None:
        return next((leg for leg in self.legs if leg.sequence == sequence), None)


class CarrierTrackingError(Exception):
    """The carrier could not tell where a shipment is: unreachable, refusing, or
    answering something unusable. Adapters raise subclasses of it."""


class CarrierTracking(Protocol):
    """The carrier's tracking, seen through our anti-corruption layer."""

    async def track(self, shipment: ShipmentDetail) -> TrackingUpdate | None:
        """The carrier's tracking of ``shipment``; None when the carrier does not know
        it (yet). Raises :class:`CarrierTrackingError` when the carrier cannot answer."""
        ...


@dataclass(frozen=True, slots=True)
class TrackingPlan:
    """The commands that bring a shipment up to its tracking (without versions),
    and what of the tracking had to be left out, and why."""

    commands: tuple[TrackingCommand, ...]
    skipped: tuple[str, ...] = ()


def plan_tracking(shipment: ShipmentDetail, update: TrackingUpdate) -> TrackingPlan:
    """What ``update`` adds to ``shipment``, as commands in the order the domain needs.

    Legs go in order, each departure after the goods reached the leg's origin (the
    dispatch, then the previous leg's arrival); the first fact that cannot be
    applied in that order ends the legs. Then either the delivery or a changed ETA.
    """
    summary = shipment.summary
    if not summary.status.on_the_way:
        return TrackingPlan(())
    commands: list[TrackingCommand] = []
    skipped: list[str] = []
    reached = shipment.dispatched_at
    for leg in sorted(shipment.legs, key=lambda leg: leg.sequence):
        seen = update.leg(leg.sequence) or LegTracking(sequence=leg.sequence)
        departed = leg.departed_at
        if departed is None:
            if seen.departed_at is None or reached is None:
                if seen.arrived_at is not None:
                    skipped.append(f"leg {leg.sequence} arrival: its departure is unknown")
                break
            if seen.departed_at < reached:
                skipped.append(
                    f"leg {leg.sequence} departure at {seen.departed_at.isoformat()}: "
                    f"before the goods reached {leg.origin} ({reached.isoformat()})"
                )
                break
            departed = seen.departed_at
            commands.append(
                RecordLegDeparture(
                    shipment_id=summary.id, sequence=leg.sequence, departed_at=departed
                )
            )
        arrived = leg.arrived_at
        if arrived is None:
            if seen.arrived_at is None:
                break
            if seen.arrived_at < departed:
                skipped.append(
                    f"leg {leg.sequence} arrival at {seen.arrived_at.isoformat()}: "
                    f"before its departure ({departed.isoformat()})"
                )
                break
            arrived = seen.arrived_at
            commands.append(
                RecordLegArrival(shipment_id=summary.id, sequence=leg.sequence, arrived_at=arrived)
            )
        reached = arrived
    if update.delivered_at is not None:
        if shipment.dispatched_at is not None and update.delivered_at < shipment.dispatched_at:
            skipped.append(
                f"delivery at {update.delivered_at.isoformat()}: before the dispatch "
                f"({shipment.dispatched_at.isoformat()})"
            )
        else:
            commands.append(
                DeliverShipment(shipment_id=summary.id, delivered_at=update.delivered_at)
            )
    elif update.eta is not None and update.eta != summary.eta:
        commands.append(UpdateShipmentEta(shipment_id=summary.id, eta=update.eta))
    return TrackingPlan(tuple(commands), tuple(skipped))


def describe(command: Command) -> str:
    """A short account of a tracking command, for reports and logs."""
    match command:
        case RecordLegDeparture(sequence=sequence, departed_at=moment):
            return f"leg {sequence} departed {moment.isoformat()}"
        case RecordLegArrival(sequence=sequence, arrived_at=moment):
            return f"leg {sequence} arrived {moment.isoformat()}"
        case UpdateShipmentEta(eta=moment):
            return f"ETA {moment.isoformat()}"
        case DeliverShipment(delivered_at=moment):
            return f"delivered {moment.isoformat() if moment else 'now'}"
    return type(command).__name__


@dataclass(frozen=True, slots=True)
class TrackingOutcome:
    """What tracking did to one shipment.

    ``applied`` are the commands that took effect, in order. ``problem`` says why
    tracking stopped short (the carrier failed, a command was refused); the shipment
    then keeps what was applied before it. ``skipped`` are facts left out (see
    :func:`plan_tracking`).
    """

    shipment_id: str
    applied: tuple[Command, ...] = ()
    skipped: tuple[str, ...] = ()
    problem: str | None = None
    unknown_to_carrier: bool = False
    ignored_checkpoints: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.applied)

    def describe(self) -> str:
        parts = [describe(command) for command in self.applied] or ["no change"]
        if self.unknown_to_carrier:
            parts = ["unknown to the carrier"]
        if self.skipped:
            parts.append("skipped: " + "; ".join(self.skipped))
        if self.problem:
            parts.append(f"problem: {self.problem}")
        return f"{self.shipment_id}: " + ", ".join(parts)


@dataclass(frozen=True, slots=True)
class TrackingReport:
    """One tracking round over every shipment on its way."""

    outcomes: tuple[TrackingOutcome, ...] = field(default_factory=tuple)

    @property
    def checked(self) -> int:
        return len(self.outcomes)

    @property
    def changed(self) -> tuple[TrackingOutcome, ...]:
        return tuple(outcome for outcome in self.outcomes if outcome.changed)

    @property
    def failed(self) -> tuple[TrackingOutcome, ...]:
        return tuple(outcome for outcome in self.outcomes if outcome.problem is not None)

    def describe(self) -> str:
        return (
            f"tracked {self.checked} shipment(s): {len(self.changed)} changed, "
            f"{len(self.failed)} failed"
        )


async def track_shipment(
    shipment: ShipmentDetail, carrier: CarrierTracking, send: Send
) -> TrackingOutcome:
    """Apply the carrier's tracking to ``shipment`` (module docstring).

    Never raises for the carrier's failures or the domain's refusals: they are in
    the outcome. Anything else (the database is down) propagates.
    """
    shipment_id = shipment.summary.id
    if not shipment.summary.status.on_the_way:
        return TrackingOutcome(shipment_id)
    try:
        update = await carrier.track(shipment)
    except CarrierTrackingError as exc:
        return TrackingOutcome(shipment_id, problem=str(exc))
    if update is None:
        return TrackingOutcome(shipment_id, unknown_to_carrier=True)
    if update.shipment_id != shipment_id:
        return TrackingOutcome(
            shipment_id, problem=f"carrier answered for another shipment ({update.shipment_id})"
        )
    plan = plan_tracking(shipment, update)
    ignored = update.unknown_checkpoints + update.off_route_checkpoints
    applied: list[Command] = []
    version: int | None = shipment.summary.version
    for command in plan.commands:
        try:
            result = await send(dataclasses.replace(command, expected_version=version))
        except ConcurrencyConflict:
            problem = "the shipment changed meanwhile; the next round takes it from there"
        except DomainError as exc:
            problem = f"{describe(command)} refused: {exc}"
        else:
            applied.append(command)
            version = result.version if isinstance(result, AggregateRef) else None
            continue
        return TrackingOutcome(
            shipment_id,
            applied=tuple(applied),
            skipped=plan.skipped,
            problem=problem,
            ignored_checkpoints=ignored,
        )
    return TrackingOutcome(
        shipment_id, applied=tuple(applied), skipped=plan.skipped, ignored_checkpoints=ignored
    )


async def _shipments_on_their_way(reader: ShippingReader, page_size: int) -> list[str]:
    """Ids first, details later: statuses change while a round runs, and paging over
    a moving list would skip or repeat shipments."""
    ids: dict[str, None] = {}
    for status in TRACKED_STATUSES:
        offset = 0
        while True:
            page = await reader.list_shipments(
                ListShipments(status=status, limit=page_size, offset=offset)
            )
            ids.update((summary.id, None) for summary in page.items)
            offset += len(page.items)
            if not page.items or offset >= page.total:
                break
    return list(ids)


async def track_shipments(
    reader: ShippingReader, carrier: CarrierTracking, send: Send, *, page_size: int = 100
) -> TrackingReport:
    """One tracking round: every dispatched, in-transit or delayed shipment in turn."""
    outcomes: list[TrackingOutcome] = []
    for shipment_id in await _shipments_on_their_way(reader, page_size):
        shipment = await reader.shipment(GetShipment(shipment_id=shipment_id))
        if shipment is None or not shipment.summary.status.on_the_way:
            continue
        outcome = await track_shipment(shipment, carrier, send)
        if outcome.problem is not None:
            logger.warning("carrier tracking: %s", outcome.describe())
        elif outcome.changed:
            logger.info("carrier tracking: %s", outcome.describe())
        outcomes.append(outcome)
    return TrackingReport(tuple(outcomes))


async def run_tracking_poller(
    track: Callable[[], Awaitable[object]], interval_s: float, stop: asyncio.Event
) -> None:
    """Call ``track`` (e.g. one :func:`track_shipments` round) every ``interval_s``
    seconds until ``stop`` is set.

    A failing round is logged and the next one runs on schedule: a poller that dies
    on the first database hiccup would silently stop tracking. The wait between
    rounds ends as soon as ``stop`` is set; a round in progress is not interrupted.
    """
    if interval_s < 0:
        raise ValueError("interval_s must not be negative")
    while not stop.is_set():
        try:
            result = await track()
        except Exception:
            logger.exception("carrier tracking round failed; next round in %.1f s", interval_s)
        else:
            if isinstance(result, TrackingReport):
                logger.debug("carrier tracking: %s", result.describe())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
