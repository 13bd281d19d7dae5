"""Imperative mapping of the supply chain's domain classes onto its tables.

The domain never imports SQLAlchemy: this module teaches SQLAlchemy about the domain
classes instead. Conventions:

- every column is mapped under ``_<column>`` unless a domain attribute claims it, so
  the ORM's bookkeeping (foreign keys, positions, units of composites) never clashes
  with the model's own names;
- value objects are composites: ``Quantity`` (amount + unit column; the quantities of
  one row share its unit column), ``Money`` (amount + currency), ``GeoLocation``;
- children are loaded with their aggregate (``selectin``: an async session cannot
  load lazily) and deleted with it when dropped from its list (``delete-orphan``);
  lists whose order is the domain's keep it in a ``position`` column (``PositionedList``);
- ``version`` is the ``version_id_col`` without a generator: the aggregate counts its
  own events, and SQLAlchemy adds ``WHERE version = <loaded version>`` to every
  UPDATE, so the second of two concurrent writers updates no row (``StaleDataError``,
  which the unit of work reports as ``ConcurrencyConflict``).

``start_mappers`` maps once per process; calling it again does nothing.
``clear_mappers`` undoes it (tests that also use the in-memory fakes need plain classes).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, SupportsIndex

from sqlalchemy import inspect
from sqlalchemy.orm import composite, registry, relationship

from contexts.supply_chain.domain.catalog.sku import Sku
from contexts.supply_chain.domain.catalog.supplier import Supplier
from contexts.supply_chain.domain.catalog.warehouse import Warehouse
from contexts.supply_chain.domain.inventory.item import InventoryItem
from contexts.supply_chain.domain.inventory.reservation import Reservation
from contexts.supply_chain.domain.purchasing.lines import OrderLine
from contexts.supply_chain.domain.purchasing.order import PurchaseOrder
from contexts.supply_chain.domain.purchasing.receipts import GoodsReceipt, ReceiptLine
from contexts.supply_chain.domain.shipping.legs import RouteLeg
from contexts.supply_chain.domain.shipping.lines import ShipmentLine
from contexts.supply_chain.domain.shipping.shipment import Shipment
from contexts.supply_chain.domain.values import GeoLocation
from contexts.supply_chain.infrastructure.persistence.tables import (
    idempotency_keys,
    inventory_items,
    inventory_reservations,
    metadata,
    outbox,
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
from shared_kernel.domain import Money, Quantity

__all__ = [
    "PositionedList",
    "clear_mappers",
    "idempotency_keys",
    "mapper_registry",
    "metadata",
    "outbox",
    "start_mappers",
]

mapper_registry = registry(metadata=metadata)

_CHILDREN = "all, delete-orphan"
_PREFIX = "_"


class PositionedList(list[Any]):
    """A child list that writes each child's index into its ``_position`` attribute.

    SQLAlchemy's own ``ordering_list`` would do, but it does not survive
    ``copy.deepcopy`` twice, which the in-memory fakes rely on. Lists are short, so
    every change simply renumbers them all.
    """

    def _renumber(self) -> None:
        for index, child in enumerate(self):
            child._position = index

    def append(self, child: Any) -> None:
        super().append(child)
        child._position = len(self) - 1

    def extend(self, children: Iterable[Any]) -> None:
        super().extend(children)
        self._renumber()

    def insert(self, index: SupportsIndex, child: Any) -> None:
        super().insert(index, child)
        self._renumber()

    def remove(self, child: Any) -> None:
        super().remove(child)
        self._renumber()

    def pop(self, index: SupportsIndex = -1) -> Any:
        child = super().pop(index)
        self._renumber()
        return child

    def __setitem__(self, index: Any, value: Any) -> None:
        super().__setitem__(index, value)
        self._renumber()

    def __delitem__(self, index: Any) -> None:
        super().__delitem__(index)
        self._renumber()


def _none_when_all_null(*values: Any) -> bool:
    return all(value is None for value in values)


def _children(child: type[Any], **options: Any) -> Any:
    return relationship(child, cascade=_CHILDREN, lazy="selectin", **options)


def _ordered_children(child: type[Any], table: Any) -> Any:
    """A list that keeps its order through the child table's ``position`` column."""
    return _children(
        child,
        order_by=table.c.position,
        collection_class=PositionedList,
    )


def _aggregate(cls: type[Any], table: Any, properties: dict[str, Any]) -> None:
    mapper_registry.map_imperatively(
        cls,
        table,
        column_prefix=_PREFIX,
        version_id_col=table.c.version,
        version_id_generator=False,
        properties={"version": table.c.version, **properties},
    )


def _entity(cls: type[Any], table: Any, properties: dict[str, Any]) -> None:
    mapper_registry.map_imperatively(cls, table, column_prefix=_PREFIX, properties=properties)


def start_mappers() -> None:
    if inspect(Warehouse, raiseerr=False) is not None:
        return
    _map_catalog()
    _map_inventory()
    _map_purchasing()
    _map_shipping()
    mapper_registry.configure()


def clear_mappers() -> None:
    """Give the domain classes back their plain selves (only this context's mappers)."""
    mapper_registry.dispose()


def _map_catalog() -> None:
    w = warehouses.c
    _aggregate(
        Warehouse,
        warehouses,
        {
            "id": w.code,
            "name": w.name,
            "location": composite(GeoLocation, w.latitude, w.longitude),
            "capacity": composite(Quantity, w.capacity, w.capacity_unit),
        },
    )
    s = suppliers.c
    _aggregate(Supplier, suppliers, {"id": s.id, "name": s.name, "country": s.country})
    k = skus.c
    _aggregate(
        Sku,
        skus,
        {
            "id": k.code,
            "name": k.name,
            "unit": k.unit,
            "reorder_point": composite(Quantity, k.reorder_point, k.unit),
            "safety_stock": composite(Quantity, k.safety_stock, k.unit),
            "lead_time_days": k.lead_time_days,
            "preferred_supplier": k.preferred_supplier,
            "standard_cost": composite(
                Money,
                k.standard_cost_amount,
                k.standard_cost_currency,
                return_none_on=_none_when_all_null,
            ),
        },
    )


def _map_inventory() -> None:
    r = inventory_reservations.c
    _entity(
        Reservation,
        inventory_reservations,
        {
            "reference": r.reference,
            "quantity": composite(Quantity, r.quantity, r.unit),
            "reserved_at": r.reserved_at,
        },
    )
    i = inventory_items.c
    _aggregate(
        InventoryItem,
        inventory_items,
        {
            "id": i.id,
            "warehouse": i.warehouse,
            "sku": i.sku,
            "unit": i.unit,
            "on_hand": composite(Quantity, i.on_hand, i.unit),
            "reserved": composite(Quantity, i.reserved, i.unit),
            "reservations": _ordered_children(Reservation, inventory_reservations),
        },
    )


def _map_purchasing() -> None:
    line = purchase_order_lines.c
    _entity(
        OrderLine,
        purchase_order_lines,
        {
            "sku": line.sku,
            "quantity": composite(Quantity, line.quantity, line.unit),
            "unit_price": composite(Money, line.unit_price, line.currency),
            "accepted": composite(Quantity, line.accepted, line.unit),
            "rejected": composite(Quantity, line.rejected, line.unit),
        },
    )
    received = purchase_order_receipt_lines.c
    _entity(
        ReceiptLine,
        purchase_order_receipt_lines,
        {
            "sku": received.sku,
            "accepted": composite(Quantity, received.accepted, received.unit),
            "rejected": composite(Quantity, received.rejected, received.unit),
        },
    )
    receipt = purchase_order_receipts.c
    _entity(
        GoodsReceipt,
        purchase_order_receipts,
        {
            "number": receipt.number,
            "received_on": receipt.received_on,
            "on_time": receipt.on_time,
            "lead_time_days": receipt.lead_time_days,
            "lines": _ordered_children(ReceiptLine, purchase_order_receipt_lines),
        },
    )
    o = purchase_orders.c
    _aggregate(
        PurchaseOrder,
        purchase_orders,
        {
            "id": o.id,
            "supplier": o.supplier,
            "warehouse": o.warehouse,
            "currency": o.currency,
            "status": o.status,
            "idempotency_key": o.idempotency_key,
            "drafted_at": o.drafted_at,
            "placed_on": o.placed_on,
            "promised_on": o.promised_on,
            "cancellation_reason": o.cancellation_reason,
            "lines": _ordered_children(OrderLine, purchase_order_lines),
            "receipts": _children(GoodsReceipt, order_by=receipt.number),
        },
    )


def _map_shipping() -> None:
    line = shipment_lines.c
    _entity(
        ShipmentLine,
        shipment_lines,
        {"sku": line.sku, "quantity": composite(Quantity, line.quantity, line.unit)},
    )
    leg = shipment_legs.c
    _entity(
        RouteLeg,
        shipment_legs,
        {
            name: leg[name]
            for name in (
                "sequence",
                "origin",
                "destination",
                "carrier",
                "planned_departure",
                "planned_arrival",
                "departed_at",
                "arrived_at",
            )
        },
    )
    s = shipments.c
    _aggregate(
        Shipment,
        shipments,
        {
            "id": s.id,
            "account": s.account,
            "warehouse": s.warehouse,
            "status": s.status,
            "planned_delivery": s.planned_delivery,
            "eta": s.eta,
            "dispatched_at": s.dispatched_at,
            "delivered_at": s.delivered_at,
            "lines": _ordered_children(ShipmentLine, shipment_lines),
            "legs": _children(RouteLeg, order_by=leg.sequence),
        },
    )
