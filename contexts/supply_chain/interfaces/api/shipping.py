"""Shipments: plan, dispatch, track each leg and the ETA, deliver.

Every command answers with the shipment as it now stands, with its ``ETag``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from contexts.supply_chain.application.queries.handlers import get_shipment
from contexts.supply_chain.application.queries.messages import GetShipment, ListShipments
from contexts.supply_chain.application.queries.ports import ShippingReader
from contexts.supply_chain.domain.shipping.status import ShipmentStatus
from contexts.supply_chain.interfaces.api.conventions import API_PREFIX, created, problems, tag
from contexts.supply_chain.interfaces.api.dependencies import Bus, IfMatch, Shipping
from contexts.supply_chain.interfaces.api.dto.common import PageOut
from contexts.supply_chain.interfaces.api.dto.shipping import (
    ArrivalIn,
    DeliverIn,
    DepartureIn,
    DispatchIn,
    EtaIn,
    PlanShipmentIn,
    ShipmentOut,
    ShipmentSummaryOut,
)
from contexts.supply_chain.interfaces.api.idempotency import IdempotentRoute
from contexts.supply_chain.interfaces.api.paging import Limit, Offset

router = APIRouter(
    prefix=f"{API_PREFIX}/shipments",
    tags=["shipments"],
    route_class=IdempotentRoute,
    responses=problems(422),
)

SHIPMENT = "/{shipment_id}"
COMMAND_PROBLEMS = problems(404, 409, 412, 422)
Sequence = Annotated[int, Path(ge=1, le=1000, description="The leg's number, from 1.")]


async def _shipment(reader: ShippingReader, shipment_id: str, response: Response) -> ShipmentOut:
    view = await get_shipment(GetShipment(shipment_id=shipment_id), reader)
    tag(response, view.summary.version)
    return ShipmentOut.of_detail(view)


@router.post("", status_code=201, summary="Plan a shipment", responses=problems(404, 409, 422))
async def plan_shipment(
    body: PlanShipmentIn, bus: Bus, shipping: Shipping, request: Request, response: Response
) -> ShipmentOut:
    """Lines of registered SKUs and a chain of route legs, each starting where and after
    the previous one ends (422 otherwise)."""
    ref = await bus.handle(body.to_command())
    shipment = await _shipment(shipping, ref.id, response)
    created(response, request, "read_shipment", shipment.version, shipment_id=shipment.id)
    return shipment


@router.get("", summary="List shipments, soonest planned delivery first")
async def list_shipments(
    shipping: Shipping,
    status: Annotated[ShipmentStatus | None, Query(description="Only this status.")] = None,
    account: Annotated[str | None, Query(description="Only this customer account.")] = None,
    warehouse: Annotated[str | None, Query(description="Only this warehouse.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> PageOut[ShipmentSummaryOut]:
    page = await shipping.list_shipments(
        ListShipments(
            status=status, account=account, warehouse=warehouse, limit=limit, offset=offset
        )
    )
    return PageOut.of(page, [ShipmentSummaryOut.of(view) for view in page.items])


@router.get(SHIPMENT, summary="Read a shipment with its lines and legs", responses=problems(404))
async def read_shipment(shipment_id: str, shipping: Shipping, response: Response) -> ShipmentOut:
    return await _shipment(shipping, shipment_id, response)


@router.post(
    f"{SHIPMENT}/dispatch", summary="Hand the goods to the carrier", responses=COMMAND_PROBLEMS
)
async def dispatch_shipment(
    shipment_id: str,
    bus: Bus,
    shipping: Shipping,
    if_match: IfMatch,
    response: Response,
    body: DispatchIn | None = None,
) -> ShipmentOut:
    await bus.handle((body or DispatchIn()).to_command(shipment_id, if_match))
    return await _shipment(shipping, shipment_id, response)


@router.post(
    f"{SHIPMENT}/legs/{{sequence}}/departure",
    summary="Record a leg's departure",
    responses=COMMAND_PROBLEMS,
)
async def record_leg_departure(
    shipment_id: str,
    sequence: Sequence,
    body: DepartureIn,
    bus: Bus,
    shipping: Shipping,
    if_match: IfMatch,
    response: Response,
) -> ShipmentOut:
    """Legs depart in order, each after the previous one arrived."""
    await bus.handle(body.to_command(shipment_id, sequence, if_match))
    return await _shipment(shipping, shipment_id, response)


@router.post(
    f"{SHIPMENT}/legs/{{sequence}}/arrival",
    summary="Record a leg's arrival",
    responses=COMMAND_PROBLEMS,
)
async def record_leg_arrival(
    shipment_id: str,
    sequence: Sequence,
    body: ArrivalIn,
    bus: Bus,
    shipping: Shipping,
    if_match: IfMatch,
    response: Response,
) -> ShipmentOut:
    await bus.handle(body.to_command(shipment_id, sequence, if_match))
    return await _shipment(shipping, shipment_id, response)


@router.post(f"{SHIPMENT}/eta", summary="Take the carrier's new ETA", responses=COMMAND_PROBLEMS)
async def update_shipment_eta(
    shipment_id: str,
    body: EtaIn,
    bus: Bus,
    shipping: Shipping,
    if_match: IfMatch,
    response: Response,
) -> ShipmentOut:
    """An ETA past the planned delivery makes the shipment Delayed; back within plan,
    it is in transit again."""
    await bus.handle(body.to_command(shipment_id, if_match))
    return await _shipment(shipping, shipment_id, response)


@router.post(f"{SHIPMENT}/deliver", summary="Record the delivery", responses=COMMAND_PROBLEMS)
async def deliver_shipment(
    shipment_id: str,
    bus: Bus,
    shipping: Shipping,
    if_match: IfMatch,
    response: Response,
    body: DeliverIn | None = None,
) -> ShipmentOut:
    await bus.handle((body or DeliverIn()).to_command(shipment_id, if_match))
    return await _shipment(shipping, shipment_id, response)
