"""Read-side ports: the infrastructure answers these straight from the database.

Reads never load aggregates: a list view is one SQL query, not N aggregates. Detail
methods return None for an unknown id (see ``queries.handlers`` for NotFound).
"""

from __future__ import annotations

from typing import Protocol

from contexts.supply_chain.application.queries.messages import (
    GetInventoryItem,
    GetPurchaseOrder,
    GetShipment,
    GetSku,
    GetSupplier,
    GetWarehouse,
    ListInventory,
    ListPurchaseOrders,
    ListShipments,
    ListSkus,
    ListSuppliers,
    ListWarehouses,
)
from contexts.supply_chain.application.queries.views import (
    InventoryItemDetail,
    InventoryLevel,
    Page,
    PurchaseOrderDetail,
    PurchaseOrderSummary,
    ShipmentDetail,
    ShipmentSummary,
    SkuView,
    SupplierView,
    WarehouseView,
)


class CatalogReader(Protocol):
    async def list_warehouses(self, query: ListWarehouses) -> Page[WarehouseView]: ...

    async def warehouse(self, query: GetWarehouse) -> WarehouseView | None: ...

    async def list_skus(self, query: ListSkus) -> Page[SkuView]: ...

    async def sku(self, query: GetSku) -> SkuView | None: ...

    async def list_suppliers(self, query: ListSuppliers) -> Page[SupplierView]: ...

    async def supplier(self, query: GetSupplier) -> SupplierView | None: ...


class InventoryReader(Protocol):
    async def list_inventory(self, query: ListInventory) -> Page[InventoryLevel]: ...

    async def inventory_item(self, query: GetInventoryItem) -> InventoryItemDetail | None: ...


class PurchasingReader(Protocol):
    async def list_purchase_orders(
        self, query: ListPurchaseOrders
    ) -> Page[PurchaseOrderSummary]: ...

    async def purchase_order(self, query: GetPurchaseOrder) -> PurchaseOrderDetail | None: ...


class ShippingReader(Protocol):
    async def list_shipments(self, query: ListShipments) -> Page[ShipmentSummary]: ...

    async def shipment(self, query: GetShipment) -> ShipmentDetail | None: ...
