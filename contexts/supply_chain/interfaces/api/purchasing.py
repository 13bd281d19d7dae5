"""Purchase orders: draft, revise lines, place, confirm, receive goods, cancel.

Every command answers with the order as it now stands, with its ``ETag``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from contexts.supply_chain.application.commands.purchasing import (
    PlacePurchaseOrder,
    RemovePurchaseOrderLine,
)
from contexts.supply_chain.application.queries.handlers import get_purchase_order
from contexts.supply_chain.application.queries.messages import (
    GetPurchaseOrder,
    ListPurchaseOrders,
)
from contexts.supply_chain.application.queries.ports import PurchasingReader
from contexts.supply_chain.domain.purchasing.status import PurchaseOrderStatus
from contexts.supply_chain.interfaces.api.conventions import API_PREFIX, created, problems, tag
from contexts.supply_chain.interfaces.api.dependencies import Bus, IfMatch, Purchasing
from contexts.supply_chain.interfaces.api.dto.common import PageOut
from contexts.supply_chain.interfaces.api.dto.purchasing import (
    CancelIn,
    ConfirmIn,
    DraftPurchaseOrderIn,
    PurchaseOrderOut,
    PurchaseOrderSummaryOut,
    ReceiveGoodsIn,
    SetLineIn,
)
from contexts.supply_chain.interfaces.api.idempotency import IdempotentRoute
from contexts.supply_chain.interfaces.api.paging import Limit, Offset

router = APIRouter(
    prefix=f"{API_PREFIX}/purchase-orders",
    tags=["purchase-orders"],
    route_class=IdempotentRoute,
    responses=problems(422),
)

ORDER = "/{order_id}"
COMMAND_PROBLEMS = problems(404, 409, 412, 422)


async def _order(reader: PurchasingReader, order_id: str, response: Response) -> PurchaseOrderOut:
    view = await get_purchase_order(GetPurchaseOrder(purchase_order_id=order_id), reader)
    tag(response, view.summary.version)
    return PurchaseOrderOut.of_detail(view)


@router.post(
    "", status_code=201, summary="Draft a purchase order", responses=problems(404, 409, 422)
)
async def draft_purchase_order(
    body: DraftPurchaseOrderIn,
    bus: Bus,
    purchasing: Purchasing,
    request: Request,
    response: Response,
) -> PurchaseOrderOut:
    """One supplier, one warehouse, one currency; the supplier, warehouse and SKUs must
    exist (404 otherwise)."""
    ref = await bus.handle(body.to_command())
    order = await _order(purchasing, ref.id, response)
    created(response, request, "read_purchase_order", order.version, order_id=order.id)
    return order


@router.get("", summary="List purchase orders, newest draft first")
async def list_purchase_orders(
    purchasing: Purchasing,
    status: Annotated[PurchaseOrderStatus | None, Query(description="Only this status.")] = None,
    supplier: Annotated[str | None, Query(description="Only this supplier.")] = None,
    warehouse: Annotated[str | None, Query(description="Only this warehouse.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> PageOut[PurchaseOrderSummaryOut]:
    page = await purchasing.list_purchase_orders(
        ListPurchaseOrders(
            status=status, supplier=supplier, warehouse=warehouse, limit=limit, offset=offset
        )
    )
    return PageOut.of(page, [PurchaseOrderSummaryOut.of(view) for view in page.items])


@router.get(ORDER, summary="Read a purchase order", responses=problems(404))
async def read_purchase_order(
    order_id: str, purchasing: Purchasing, response: Response
) -> PurchaseOrderOut:
    return await _order(purchasing, order_id, response)


@router.put(
    f"{ORDER}/lines/{{sku}}", summary="Add or change a draft's line", responses=COMMAND_PROBLEMS
)
async def set_purchase_order_line(
    order_id: str,
    sku: str,
    body: SetLineIn,
    bus: Bus,
    purchasing: Purchasing,
    if_match: IfMatch,
    response: Response,
) -> PurchaseOrderOut:
    await bus.handle(body.to_command(order_id, sku, if_match))
    return await _order(purchasing, order_id, response)


@router.delete(
    f"{ORDER}/lines/{{sku}}", summary="Remove a draft's line", responses=COMMAND_PROBLEMS
)
async def remove_purchase_order_line(
    order_id: str, sku: str, bus: Bus, purchasing: Purchasing, if_match: IfMatch, response: Response
) -> PurchaseOrderOut:
    """The last line cannot go (409 ``empty_order``): cancel the order instead."""
    await bus.handle(
        RemovePurchaseOrderLine(purchase_order_id=order_id, sku=sku, expected_version=if_match)
    )
    return await _order(purchasing, order_id, response)


@router.post(f"{ORDER}/place", summary="Send the order to the supplier", responses=COMMAND_PROBLEMS)
async def place_purchase_order(
    order_id: str, bus: Bus, purchasing: Purchasing, if_match: IfMatch, response: Response
) -> PurchaseOrderOut:
    await bus.handle(PlacePurchaseOrder(purchase_order_id=order_id, expected_version=if_match))
    return await _order(purchasing, order_id, response)


@router.post(
    f"{ORDER}/confirm", summary="Record the supplier's promised day", responses=COMMAND_PROBLEMS
)
async def confirm_purchase_order(
    order_id: str,
    body: ConfirmIn,
    bus: Bus,
    purchasing: Purchasing,
    if_match: IfMatch,
    response: Response,
) -> PurchaseOrderOut:
    await bus.handle(body.to_command(order_id, if_match))
    return await _order(purchasing, order_id, response)


@router.post(
    f"{ORDER}/receipts", summary="Receive goods against the order", responses=COMMAND_PROBLEMS
)
async def receive_goods(
    order_id: str,
    body: ReceiveGoodsIn,
    bus: Bus,
    purchasing: Purchasing,
    if_match: IfMatch,
    response: Response,
) -> PurchaseOrderOut:
    """Records the delivery and its inspection, and books the accepted goods into the
    order's warehouse, in one transaction."""
    await bus.handle(body.to_command(order_id, if_match))
    return await _order(purchasing, order_id, response)


@router.post(f"{ORDER}/cancel", summary="Cancel the order", responses=COMMAND_PROBLEMS)
async def cancel_purchase_order(
    order_id: str,
    body: CancelIn,
    bus: Bus,
    purchasing: Purchasing,
    if_match: IfMatch,
    response: Response,
) -> PurchaseOrderOut:
    """Possible until goods start to arrive."""
    await bus.handle(body.to_command(order_id, if_match))
    return await _order(purchasing, order_id, response)
