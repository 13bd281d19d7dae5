"""Detail reads that answer NotFound, so every interface reports a miss the same way."""

from __future__ import annotations

from contexts.supply_chain.application.queries.messages import (
    GetInventoryItem,
    GetPurchaseOrder,
    GetShipment,
    GetSku,
    GetSupplier,
    GetWarehouse,
)
from contexts.supply_chain.application.queries.ports import (
    CatalogReader,
    InventoryReader,
    PurchasingReader,
    ShippingReader,
)
from contexts.supply_chain.application.queries.views import (
    InventoryItemDetail,
    PurchaseOrderDetail,
    ShipmentDetail,
    SkuView,
    SupplierView,
    WarehouseView,
)
from shared_kernel.domain import NotFound


async def get_warehouse(query: GetWarehouse, reader: CatalogReader) -> WarehouseView:
    view = await reader.warehouse(query)
    if view is None:
        raise NotFound("warehouse", query.code)
    return view


async def get_sku(query: GetSku, reader: CatalogReader) -> SkuView:
    view = await reader.sku(query)
    if view is None:
        raise NotFound("SKU", query.code)
    return view


async def get_supplier(query: GetSupplier, reader: CatalogReader) -> SupplierView:
    view = await reader.supplier(query)
    if view is None:
        raise NotFound("supplier", query.id)
    return view


async def get_inventory_item(
    query: GetInventoryItem, reader: InventoryReader
) -> InventoryItemDetail:
    view = await reader.inventory_item(query)
    if view is None:
        raise NotFound("inventory item", f"{query.warehouse}:{query.sku}")
    return view


async def get_purchase_order(
    query: GetPurchaseOrder, reader: PurchasingReader
) -> PurchaseOrderDetail:
    view = await reader.purchase_order(query)
    if view is None:
        raise NotFound("purchase order", query.purchase_order_id)
    return view


async def get_shipment(query: GetShipment, reader: ShippingReader) -> ShipmentDetail:
    view = await reader.shipment(query)
    if view is None:
        raise NotFound("shipment", query.shipment_id)
    return view
