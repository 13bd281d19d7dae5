"""SQL implementations of the read ports: lists and details straight from the tables.

Reads never load aggregates. A list is two statements (the page and its count), plus
one for the children a summary needs (order totals); a detail is one per table.
Totals are computed with ``Money`` in Python so a list shows the very total the
aggregate computes (rounded per line, half-even), on both backends.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contexts.supply_chain.application.queries.messages import (
    GetInventoryItem,
    GetPurchaseOrder,
    GetShipment,
    GetSku,
    GetSupplier,
    GetWarehouse,
    ListInventory,
    ListPurchaseOrders,
    ListQuery,
    ListShipments,
    ListSkus,
    ListSuppliers,
    ListWarehouses,
)
from contexts.supply_chain.application.queries.views import (
    GoodsReceiptView,
    InventoryItemDetail,
    InventoryLevel,
    Page,
    PurchaseOrderDetail,
    PurchaseOrderLineView,
    PurchaseOrderSummary,
    ReceiptLineView,
    ReservationView,
    RouteLegView,
    ShipmentDetail,
    ShipmentLineView,
    ShipmentSummary,
    SkuView,
    SupplierView,
    WarehouseView,
)
from contexts.supply_chain.infrastructure.persistence.tables import (
    inventory_items,
    inventory_reservations,
    purchase_order_lines,
    purchase_order_receipt_lines,
    purchase_order_receipts,
    purchase_orders,
    shipment_legs,
    shipment_lines,
    shipments,
    skus,
    suppliers,
    warehouses,
)
from shared_kernel.domain import Money
from shared_kernel.infrastructure.persistence.types import plain

V = TypeVar("V")
Row = Any


async def _page(
    connection: AsyncConnection, statement: Select[Any], query: ListQuery
) -> tuple[list[Row], int]:
    """The rows of the page ``query`` asks for, and how many rows match in all."""
    counted = select(func.count()).select_from(statement.order_by(None).subquery())
    total = (await connection.execute(counted)).scalar_one()
    rows = (await connection.execute(statement.limit(query.limit).offset(query.offset))).all()
    return list(rows), total


def _as_page(items: Sequence[V], total: int, query: ListQuery) -> Page[V]:
    return Page(tuple(items), total=total, limit=query.limit, offset=query.offset)


class _Reader:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _list(
        self, statement: Select[Any], query: ListQuery, convert: Callable[[Row], V]
    ) -> Page[V]:
        async with self._engine.connect() as connection:
            rows, total = await _page(connection, statement, query)
        return _as_page([convert(row) for row in rows], total, query)

    async def _one(self, statement: Select[Any], convert: Callable[[Row], V]) -> V | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else convert(row)


# -- catalog -------------------------------------------------------------------------


def _warehouse(row: Row) -> WarehouseView:
    return WarehouseView(
        code=str(row.code),
        name=row.name,
        latitude=row.latitude,
        longitude=row.longitude,
        capacity=row.capacity,
        capacity_unit=row.capacity_unit,
        version=row.version,
    )


def _sku(row: Row) -> SkuView:
    cost = row.standard_cost_amount
    return SkuView(
        code=str(row.code),
        name=row.name,
        unit=row.unit,
        reorder_point=row.reorder_point,
        safety_stock=row.safety_stock,
        lead_time_days=row.lead_time_days,
        preferred_supplier=None if row.preferred_supplier is None else str(row.preferred_supplier),
        standard_cost=None if cost is None else Money(cost, row.standard_cost_currency),
        version=row.version,
    )


def _supplier(row: Row) -> SupplierView:
    return SupplierView(id=str(row.id), name=row.name, country=row.country, version=row.version)


class SqlCatalogReader(_Reader):
    """Warehouses and SKUs ordered by code, suppliers by id."""

    async def list_warehouses(self, query: ListWarehouses) -> Page[WarehouseView]:
        return await self._list(select(warehouses).order_by(warehouses.c.code), query, _warehouse)

    async def warehouse(self, query: GetWarehouse) -> WarehouseView | None:
        return await self._one(
            select(warehouses).where(warehouses.c.code == query.code), _warehouse
        )

    async def list_skus(self, query: ListSkus) -> Page[SkuView]:
        return await self._list(select(skus).order_by(skus.c.code), query, _sku)

    async def sku(self, query: GetSku) -> SkuView | None:
        return await self._one(select(skus).where(skus.c.code == query.code), _sku)

    async def list_suppliers(self, query: ListSuppliers) -> Page[SupplierView]:
        return await self._list(select(suppliers).order_by(suppliers.c.id), query, _supplier)

    async def supplier(self, query: GetSupplier) -> SupplierView | None:
        return await self._one(select(suppliers).where(suppliers.c.id == query.id), _supplier)


# -- inventory -----------------------------------------------------------------------


def _level(row: Row) -> InventoryLevel:
    return InventoryLevel(
        warehouse=str(row.warehouse),
        sku=str(row.sku),
        unit=row.unit,
        on_hand=row.on_hand,
        reserved=row.reserved,
        available=plain(row.on_hand - row.reserved),
        version=row.version,
    )


class SqlInventoryReader(_Reader):
    async def list_inventory(self, query: ListInventory) -> Page[InventoryLevel]:
        items = inventory_items.c
        statement = select(inventory_items).order_by(items.warehouse, items.sku)
        if query.warehouse is not None:
            statement = statement.where(items.warehouse == query.warehouse)
        if query.sku is not None:
            statement = statement.where(items.sku == query.sku)
        if query.below_reorder_point:
            # available <= reorder point, written without a difference column
            statement = statement.join(skus, skus.c.code == items.sku).where(
                items.on_hand <= items.reserved + skus.c.reorder_point
            )
        return await self._list(statement, query, _level)

    async def inventory_item(self, query: GetInventoryItem) -> InventoryItemDetail | None:
        items, held = inventory_items.c, inventory_reservations.c
        async with self._engine.connect() as connection:
            item = (
                await connection.execute(
                    select(inventory_items).where(
                        items.warehouse == query.warehouse, items.sku == query.sku
                    )
                )
            ).first()
            if item is None:
                return None
            reservations = (
                await connection.execute(
                    select(inventory_reservations)
                    .where(held.inventory_item_id == item.id)
                    .order_by(held.position)
                )
            ).all()
        return InventoryItemDetail(
            level=_level(item),
            reservations=tuple(
                ReservationView(
                    reference=str(row.reference), quantity=row.quantity, reserved_at=row.reserved_at
                )
                for row in reservations
            ),
        )


# -- purchasing ----------------------------------------------------------------------


def _order_summary(row: Row, total: Money) -> PurchaseOrderSummary:
    return PurchaseOrderSummary(
        id=str(row.id),
        supplier=str(row.supplier),
        warehouse=str(row.warehouse),
        status=row.status,
        total=total,
        drafted_at=row.drafted_at,
        placed_on=row.placed_on,
        promised_on=row.promised_on,
        version=row.version,
    )


def _line_total(row: Row) -> Money:
    """As ``OrderLine.total``: the unit price times the quantity, rounded half-even."""
    price = Money(row.unit_price, row.currency)
    total: Money = price * row.quantity
    return total


async def _order_totals(connection: AsyncConnection, orders: Sequence[Row]) -> dict[str, Money]:
    totals = {str(order.id): Money.zero(order.currency) for order in orders}
    if not orders:
        return totals
    lines = await connection.execute(
        select(purchase_order_lines).where(
            purchase_order_lines.c.purchase_order_id.in_([order.id for order in orders])
        )
    )
    for line in lines:
        key = str(line.purchase_order_id)
        totals[key] = totals[key] + _line_total(line)
    return totals


class SqlPurchasingReader(_Reader):
    async def list_purchase_orders(self, query: ListPurchaseOrders) -> Page[PurchaseOrderSummary]:
        orders = purchase_orders.c
        statement = select(purchase_orders).order_by(orders.drafted_at.desc(), orders.id)
        if query.status is not None:
            statement = statement.where(orders.status == query.status)
        if query.supplier is not None:
            statement = statement.where(orders.supplier == query.supplier)
        if query.warehouse is not None:
            statement = statement.where(orders.warehouse == query.warehouse)
        async with self._engine.connect() as connection:
            rows, total = await _page(connection, statement, query)
            totals = await _order_totals(connection, rows)
        summaries = [_order_summary(row, totals[str(row.id)]) for row in rows]
        return _as_page(summaries, total, query)

    async def purchase_order(self, query: GetPurchaseOrder) -> PurchaseOrderDetail | None:
        key = query.purchase_order_id
        lines, receipts = purchase_order_lines.c, purchase_order_receipts.c
        received = purchase_order_receipt_lines.c
        async with self._engine.connect() as connection:
            order = (
                await connection.execute(select(purchase_orders).where(purchase_orders.c.id == key))
            ).first()
            if order is None:
                return None
            line_rows = (
                await connection.execute(
                    select(purchase_order_lines)
                    .where(lines.purchase_order_id == key)
                    .order_by(lines.position)
                )
            ).all()
            receipt_rows = (
                await connection.execute(
                    select(purchase_order_receipts)
                    .where(receipts.purchase_order_id == key)
                    .order_by(receipts.number)
                )
            ).all()
            received_rows = (
                await connection.execute(
                    select(purchase_order_receipt_lines)
                    .where(received.purchase_order_id == key)
                    .order_by(received.receipt_number, received.position)
                )
            ).all()
        by_receipt: dict[int, list[ReceiptLineView]] = defaultdict(list)
        for row in received_rows:
            by_receipt[row.receipt_number].append(
                ReceiptLineView(sku=str(row.sku), accepted=row.accepted, rejected=row.rejected)
            )
        total = sum((_line_total(row) for row in line_rows), Money.zero(order.currency))
        return PurchaseOrderDetail(
            summary=_order_summary(order, total),
            lines=tuple(
                PurchaseOrderLineView(
                    sku=str(row.sku),
                    unit=row.unit,
                    quantity=row.quantity,
                    unit_price=Money(row.unit_price, row.currency),
                    accepted=row.accepted,
                    rejected=row.rejected,
                    outstanding=plain(row.quantity - row.accepted),
                )
                for row in line_rows
            ),
            receipts=tuple(
                GoodsReceiptView(
                    number=row.number,
                    received_on=row.received_on,
                    on_time=row.on_time,
                    lead_time_days=row.lead_time_days,
                    lines=tuple(by_receipt[row.number]),
                )
                for row in receipt_rows
            ),
            idempotency_key=order.idempotency_key,
            cancellation_reason=order.cancellation_reason,
        )


# -- shipping ------------------------------------------------------------------------

_DESTINATION = (
    select(shipment_legs.c.destination)
    .where(shipment_legs.c.shipment_id == shipments.c.id)
    .order_by(shipment_legs.c.sequence.desc())
    .limit(1)
    .correlate(shipments)
    .scalar_subquery()
    .label("destination")
)


def _shipment_summary(row: Row) -> ShipmentSummary:
    return ShipmentSummary(
        id=str(row.id),
        account=str(row.account),
        warehouse=str(row.warehouse),
        status=row.status,
        destination=row.destination,
        planned_delivery=row.planned_delivery,
        eta=row.eta,
        delivered_at=row.delivered_at,
        version=row.version,
    )


class SqlShippingReader(_Reader):
    async def list_shipments(self, query: ListShipments) -> Page[ShipmentSummary]:
        columns = shipments.c
        statement = select(shipments, _DESTINATION).order_by(columns.planned_delivery, columns.id)
        if query.status is not None:
            statement = statement.where(columns.status == query.status)
        if query.account is not None:
            statement = statement.where(columns.account == query.account)
        if query.warehouse is not None:
            statement = statement.where(columns.warehouse == query.warehouse)
        return await self._list(statement, query, _shipment_summary)

    async def shipment(self, query: GetShipment) -> ShipmentDetail | None:
        key = query.shipment_id
        lines, legs = shipment_lines.c, shipment_legs.c
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(shipments, _DESTINATION).where(shipments.c.id == key)
                )
            ).first()
            if row is None:
                return None
            line_rows = (
                await connection.execute(
                    select(shipment_lines).where(lines.shipment_id == key).order_by(lines.position)
                )
            ).all()
            leg_rows = (
                await connection.execute(
                    select(shipment_legs).where(legs.shipment_id == key).order_by(legs.sequence)
                )
            ).all()
        return ShipmentDetail(
            summary=_shipment_summary(row),
            dispatched_at=row.dispatched_at,
            lines=tuple(
                ShipmentLineView(sku=str(line.sku), unit=line.unit, quantity=line.quantity)
                for line in line_rows
            ),
            legs=tuple(
                RouteLegView(
                    sequence=leg.sequence,
                    origin=leg.origin,
                    destination=leg.destination,
                    carrier=leg.carrier,
                    planned_departure=leg.planned_departure,
                    planned_arrival=leg.planned_arrival,
                    departed_at=leg.departed_at,
                    arrived_at=leg.arrived_at,
                )
                for leg in leg_rows
            ),
        )
