"""SQLAlchemy repositories: the domain's repository ports over one session.

Every aggregate a repository adds or returns is handed to ``track``, so that the unit
of work writes its pending events to the outbox at commit. ``get`` goes through the
session's identity map: asking twice in one unit of work returns the same object.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contexts.supply_chain.domain.catalog.sku import Sku
from contexts.supply_chain.domain.catalog.supplier import Supplier
from contexts.supply_chain.domain.catalog.warehouse import Warehouse
from contexts.supply_chain.domain.ids import (
    InventoryItemId,
    PurchaseOrderId,
    ShipmentId,
    SkuCode,
    SupplierId,
    WarehouseCode,
)
from contexts.supply_chain.domain.inventory.item import InventoryItem
from contexts.supply_chain.domain.purchasing.order import PurchaseOrder
from contexts.supply_chain.domain.purchasing.status import PurchaseOrderStatus
from contexts.supply_chain.domain.shipping.shipment import Shipment
from contexts.supply_chain.infrastructure.persistence.tables import (
    inventory_items,
    purchase_order_lines,
    purchase_orders,
)
from shared_kernel.domain import AggregateRoot

A = TypeVar("A", bound=AggregateRoot[Any])
Track = Callable[[AggregateRoot[Any]], None]

OPEN_STATUSES = tuple(status for status in PurchaseOrderStatus if status.is_open)


class _Repository(Generic[A]):
    aggregate: type[A]

    def __init__(self, session: AsyncSession, track: Track) -> None:
        self._session = session
        self._track = track

    async def add(self, aggregate: A) -> None:
        self._session.add(aggregate)
        self._track(aggregate)

    async def _get(self, key: object) -> A | None:
        found = await self._session.get(self.aggregate, key)
        return self._tracked(found)

    def _tracked(self, found: A | None) -> A | None:
        if found is not None:
            self._track(found)
        return found


class SqlAlchemyWarehouseRepository(_Repository[Warehouse]):
    aggregate = Warehouse

    async def get(self, code: WarehouseCode) -> Warehouse | None:
        return await self._get(code)


class SqlAlchemySkuRepository(_Repository[Sku]):
    aggregate = Sku

    async def get(self, code: SkuCode) -> Sku | None:
        return await self._get(code)


class SqlAlchemySupplierRepository(_Repository[Supplier]):
    aggregate = Supplier

    async def get(self, id: SupplierId) -> Supplier | None:
        return await self._get(id)


class SqlAlchemyInventoryRepository(_Repository[InventoryItem]):
    aggregate = InventoryItem

    async def get(self, warehouse: WarehouseCode, sku: SkuCode) -> InventoryItem | None:
        return await self._get(InventoryItemId.of(warehouse, sku))

    async def total_on_hand(self, warehouse: WarehouseCode, unit: str) -> Decimal:
        """Summed in Python over exact decimals; the flush makes this transaction's own
        changes (a transfer's first half) visible to the query."""
        await self._session.flush()
        amounts = await self._session.scalars(
            select(inventory_items.c.on_hand).where(
                inventory_items.c.warehouse == warehouse, inventory_items.c.unit == unit
            )
        )
        return sum(amounts, Decimal(0))


class SqlAlchemyPurchaseOrderRepository(_Repository[PurchaseOrder]):
    aggregate = PurchaseOrder

    async def get(self, id: PurchaseOrderId) -> PurchaseOrder | None:
        return await self._get(id)

    async def get_by_idempotency_key(self, key: str) -> PurchaseOrder | None:
        found = await self._session.scalar(
            select(PurchaseOrder).where(purchase_orders.c.idempotency_key == key)
        )
        return self._tracked(found)

    async def quantity_on_order(self, warehouse: WarehouseCode, sku: SkuCode) -> Decimal:
        """Ordered minus accepted over the open orders' lines of ``sku`` (see the port)."""
        await self._session.flush()
        lines = purchase_order_lines.c
        rows = await self._session.execute(
            select(lines.quantity, lines.accepted)
            .join(purchase_orders, purchase_orders.c.id == lines.purchase_order_id)
            .where(
                purchase_orders.c.warehouse == warehouse,
                purchase_orders.c.status.in_(OPEN_STATUSES),
                lines.sku == sku,
            )
        )
        return sum((quantity - accepted for quantity, accepted in rows), Decimal(0))


class SqlAlchemyShipmentRepository(_Repository[Shipment]):
    aggregate = Shipment

    async def get(self, id: ShipmentId) -> Shipment | None:
        return await self._get(id)
