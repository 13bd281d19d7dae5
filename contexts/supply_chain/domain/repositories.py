"""Repository ports: how the application finds and stores aggregates.

Implementations must register every aggregate they return or add with their unit of
work, so that committing stores it and its pending events together. ``get`` returns
None for an unknown id; the application turns that into ``NotFound``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from contexts.supply_chain.domain.catalog.sku import Sku
from contexts.supply_chain.domain.catalog.supplier import Supplier
from contexts.supply_chain.domain.catalog.warehouse import Warehouse
from contexts.supply_chain.domain.ids import (
    PurchaseOrderId,
    ShipmentId,
    SkuCode,
    SupplierId,
    WarehouseCode,
)
from contexts.supply_chain.domain.inventory.item import InventoryItem
from contexts.supply_chain.domain.purchasing.order import PurchaseOrder
from contexts.supply_chain.domain.shipping.shipment import Shipment


class WarehouseRepository(Protocol):
    async def add(self, warehouse: Warehouse) -> None: ...

    async def get(self, code: WarehouseCode) -> Warehouse | None: ...


class SkuRepository(Protocol):
    async def add(self, sku: Sku) -> None: ...

    async def get(self, code: SkuCode) -> Sku | None: ...


class SupplierRepository(Protocol):
    async def add(self, supplier: Supplier) -> None: ...

    async def get(self, id: SupplierId) -> Supplier | None: ...


class InventoryRepository(Protocol):
    async def add(self, item: InventoryItem) -> None: ...

    async def get(self, warehouse: WarehouseCode, sku: SkuCode) -> InventoryItem | None: ...

    async def total_on_hand(self, warehouse: WarehouseCode, unit: str) -> Decimal:
        """Sum of on hand over the warehouse's items counted in ``unit``.

        Must include changes made earlier in the same unit of work (flush first), since
        a transfer changes two items before it commits.
        """
        ...


class PurchaseOrderRepository(Protocol):
    async def add(self, order: PurchaseOrder) -> None: ...

    async def get(self, id: PurchaseOrderId) -> PurchaseOrder | None: ...

    async def get_by_idempotency_key(self, key: str) -> PurchaseOrder | None:
        """The order drafted under ``key``; keys are unique (a database constraint)."""
        ...

    async def quantity_on_order(self, warehouse: WarehouseCode, sku: SkuCode) -> Decimal:
        """Outstanding quantity of ``sku`` on the warehouse's open orders.

        Open: Draft, Placed, Confirmed or PartiallyReceived. Outstanding: ordered minus
        accepted (``OrderLine.outstanding``).
        """
        ...


class ShipmentRepository(Protocol):
    async def add(self, shipment: Shipment) -> None: ...

    async def get(self, id: ShipmentId) -> Shipment | None: ...
