"""Inventory levels, and the stock movements of one SKU in one warehouse.

Movements are commands on the inventory item ``/inventory/{warehouse}/{sku}``; each
answers with the item as it now stands, with its ``ETag``. Receiving stock starts
the item on its first receipt.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from contexts.supply_chain.application.queries.handlers import get_inventory_item
from contexts.supply_chain.application.queries.messages import GetInventoryItem, ListInventory
from contexts.supply_chain.application.queries.ports import InventoryReader
from contexts.supply_chain.interfaces.api.conventions import API_PREFIX, problems, tag
from contexts.supply_chain.interfaces.api.dependencies import Bus, IfMatch, Inventory
from contexts.supply_chain.interfaces.api.dto.common import PageOut
from contexts.supply_chain.interfaces.api.dto.inventory import (
    AdjustStockIn,
    InventoryItemOut,
    InventoryLevelOut,
    ReceiveStockIn,
    ReleaseReservationIn,
    ReserveStockIn,
    ShipStockIn,
    TransferStockIn,
)
from contexts.supply_chain.interfaces.api.idempotency import IdempotentRoute
from contexts.supply_chain.interfaces.api.paging import Limit, Offset

router = APIRouter(
    prefix=f"{API_PREFIX}/inventory",
    tags=["inventory"],
    route_class=IdempotentRoute,
    responses=problems(422),
)

ITEM = "/{warehouse}/{sku}"
MOVEMENT_PROBLEMS = problems(404, 409, 412, 422)


async def _item(
    reader: InventoryReader, warehouse: str, sku: str, response: Response
) -> InventoryItemOut:
    view = await get_inventory_item(GetInventoryItem(warehouse=warehouse, sku=sku), reader)
    tag(response, view.level.version)
    return InventoryItemOut.of_detail(view)


@router.get("", summary="List inventory levels, by warehouse then SKU")
async def list_inventory(
    inventory: Inventory,
    warehouse: Annotated[str | None, Query(description="Only this warehouse.")] = None,
    sku: Annotated[str | None, Query(description="Only this SKU.")] = None,
    below_reorder_point: Annotated[
        bool,
        Query(description="Only items whose available stock is at or below the reorder point."),
    ] = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> PageOut[InventoryLevelOut]:
    page = await inventory.list_inventory(
        ListInventory(
            warehouse=warehouse,
            sku=sku,
            below_reorder_point=below_reorder_point,
            limit=limit,
            offset=offset,
        )
    )
    return PageOut.of(page, [InventoryLevelOut.of(view) for view in page.items])


@router.get(ITEM, summary="Read an inventory item and its reservations", responses=problems(404))
async def read_inventory_item(
    warehouse: str, sku: str, inventory: Inventory, response: Response
) -> InventoryItemOut:
    return await _item(inventory, warehouse, sku, response)


@router.post(f"{ITEM}/receive", summary="Receive stock", responses=MOVEMENT_PROBLEMS)
async def receive_stock(
    warehouse: str,
    sku: str,
    body: ReceiveStockIn,
    bus: Bus,
    inventory: Inventory,
    if_match: IfMatch,
    response: Response,
) -> InventoryItemOut:
    """Book stock in outside a purchase order, within the warehouse's capacity."""
    await bus.handle(body.to_command(warehouse, sku, if_match))
    return await _item(inventory, warehouse, sku, response)


@router.post(f"{ITEM}/reserve", summary="Reserve stock for an order", responses=MOVEMENT_PROBLEMS)
async def reserve_stock(
    warehouse: str,
    sku: str,
    body: ReserveStockIn,
    bus: Bus,
    inventory: Inventory,
    if_match: IfMatch,
    response: Response,
) -> InventoryItemOut:
    """Refused (409 ``insufficient_stock``) beyond the available stock."""
    await bus.handle(body.to_command(warehouse, sku, if_match))
    return await _item(inventory, warehouse, sku, response)


@router.post(f"{ITEM}/release", summary="Release a reservation", responses=MOVEMENT_PROBLEMS)
async def release_reservation(
    warehouse: str,
    sku: str,
    body: ReleaseReservationIn,
    bus: Bus,
    inventory: Inventory,
    if_match: IfMatch,
    response: Response,
) -> InventoryItemOut:
    await bus.handle(body.to_command(warehouse, sku, if_match))
    return await _item(inventory, warehouse, sku, response)


@router.post(f"{ITEM}/ship", summary="Ship reserved stock", responses=MOVEMENT_PROBLEMS)
async def ship_stock(
    warehouse: str,
    sku: str,
    body: ShipStockIn,
    bus: Bus,
    inventory: Inventory,
    if_match: IfMatch,
    response: Response,
) -> InventoryItemOut:
    await bus.handle(body.to_command(warehouse, sku, if_match))
    return await _item(inventory, warehouse, sku, response)


@router.post(f"{ITEM}/adjust", summary="Record a stock count", responses=MOVEMENT_PROBLEMS)
async def adjust_stock(
    warehouse: str,
    sku: str,
    body: AdjustStockIn,
    bus: Bus,
    inventory: Inventory,
    if_match: IfMatch,
    response: Response,
) -> InventoryItemOut:
    """Set on hand to what the count found; never below what is reserved."""
    await bus.handle(body.to_command(warehouse, sku, if_match))
    return await _item(inventory, warehouse, sku, response)


@router.post(
    f"{ITEM}/transfer", summary="Transfer stock to another warehouse", responses=MOVEMENT_PROBLEMS
)
async def transfer_stock(
    warehouse: str,
    sku: str,
    body: TransferStockIn,
    bus: Bus,
    inventory: Inventory,
    if_match: IfMatch,
    response: Response,
) -> InventoryItemOut:
    """Both halves at once; answers with the source item (``If-Match`` is its version)."""
    await bus.handle(body.to_command(warehouse, sku, if_match))
    return await _item(inventory, warehouse, sku, response)
