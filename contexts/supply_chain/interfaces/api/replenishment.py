"""Replenishment proposals: where an analytical insight drives an operational command."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from contexts.supply_chain.interfaces.api.conventions import API_PREFIX, problems
from contexts.supply_chain.interfaces.api.dependencies import Bus
from contexts.supply_chain.interfaces.api.dto.replenishment import (
    ProposeReplenishmentIn,
    ReplenishmentOut,
)
from contexts.supply_chain.interfaces.api.idempotency import IdempotentRoute

router = APIRouter(
    prefix=API_PREFIX, tags=["replenishment"], route_class=IdempotentRoute, responses=problems(422)
)


@router.post(
    "/replenishment-proposals",
    summary="Propose a purchase for a stock-out alert",
    responses={
        201: {"description": "A draft purchase order was proposed", "model": ReplenishmentOut},
        **problems(404, 409, 422),
    },
)
async def propose_replenishment(
    body: ProposeReplenishmentIn, bus: Bus, request: Request, response: Response
) -> ReplenishmentOut:
    """Drafts an order from the SKU's preferred supplier at its standard cost, sized to
    outlast the lead time (201 with the draft's ``Location``). At most one draft per
    warehouse, SKU and day: a repeated alert gets the same draft back (200,
    ``created: false``); so does an alert whose need open orders already cover
    (``purchase_order_id: null``). A SKU without sourcing is refused (409 ``no_sourcing``)."""
    outcome = await bus.handle(body.to_command())
    if outcome.created:
        response.status_code = 201
        response.headers["Location"] = str(
            request.app.url_path_for("read_purchase_order", order_id=outcome.purchase_order_id)
        )
    return ReplenishmentOut.of(outcome)
