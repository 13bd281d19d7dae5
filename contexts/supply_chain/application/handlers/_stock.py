"""Booking stock in, shared by receipts, transfers and goods receipts."""

from __future__ import annotations

from datetime import datetime

from contexts.supply_chain.application.handlers._support import found
from contexts.supply_chain.application.ports import SupplyChainUnitOfWork
from contexts.supply_chain.domain.catalog.sku import Sku
from contexts.supply_chain.domain.catalog.warehouse import Warehouse
from contexts.supply_chain.domain.ids import SkuCode, WarehouseCode
from contexts.supply_chain.domain.inventory.item import InventoryItem
from shared_kernel.domain import Quantity

ITEM = "inventory item"


async def existing_item(
    uow: SupplyChainUnitOfWork, warehouse: WarehouseCode, sku: SkuCode
) -> InventoryItem:
    return found(await uow.inventory.get(warehouse, sku), ITEM, f"{warehouse}:{sku}")


async def item_for(uow: SupplyChainUnitOfWork, warehouse: Warehouse, sku: Sku) -> InventoryItem:
    """The item of ``sku`` in ``warehouse``, started (empty) on its first receipt."""
    item = await uow.inventory.get(warehouse.code, sku.code)
    if item is None:
        item = InventoryItem(warehouse.code, sku.code, sku.unit)
        await uow.inventory.add(item)
    return item


async def ensure_room(uow: SupplyChainUnitOfWork, warehouse: Warehouse, incoming: Quantity) -> None:
    """Refuse stock the warehouse has no room for (only its capacity's unit counts)."""
    if incoming.unit != warehouse.capacity.unit:
        return
    stored = await uow.inventory.total_on_hand(warehouse.code, incoming.unit)
    warehouse.ensure_room_for(incoming, stored=Quantity(stored, incoming.unit))


async def stock_in(
    uow: SupplyChainUnitOfWork,
    warehouse: Warehouse,
    item: InventoryItem,
    quantity: Quantity,
    *,
    at: datetime,
    reference: str | None = None,
    source_warehouse: WarehouseCode | None = None,
) -> None:
    await ensure_room(uow, warehouse, quantity)
    item.receive(quantity, at=at, reference=reference, source_warehouse=source_warehouse)
