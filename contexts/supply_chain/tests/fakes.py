"""In-memory adapters that behave like the real ones where the use cases can tell.

``FakeDatabase`` outlives transactions. A ``FakeUnitOfWork`` hands out copies of the
stored aggregates, so that nothing changes unless ``commit`` is called: leaving the
block without it, or failing half-way, rolls back as a database would. Commit checks
versions like the SQL unit of work (compare-and-set), so two units of work that
loaded the same aggregate cannot both commit.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from contexts.supply_chain.application.ports import SupplyChainUnitOfWork
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
from contexts.supply_chain.application.queries.ports import (
    CatalogReader,
    InventoryReader,
    PurchasingReader,
    ShippingReader,
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
from contexts.supply_chain.domain.repositories import (
    InventoryRepository,
    PurchaseOrderRepository,
    ShipmentRepository,
    SkuRepository,
    SupplierRepository,
    WarehouseRepository,
)
from contexts.supply_chain.domain.shipping.shipment import Shipment
from shared_kernel.domain import AggregateRoot, ConcurrencyConflict, Conflict, DomainEvent

A = TypeVar("A", bound=AggregateRoot[Any])
T = TypeVar("T")


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, now: datetime = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@dataclass
class FakeDatabase:
    """Committed state: one table per aggregate type, keyed by aggregate id."""

    tables: dict[type[Any], dict[Hashable, Any]] = field(default_factory=dict)
    events: list[DomainEvent] = field(default_factory=list)

    def table(self, kind: type[A]) -> dict[Hashable, A]:
        return self.tables.setdefault(kind, {})

    def rows(self, kind: type[A]) -> list[A]:
        return list(self.table(kind).values())


class _WorkingSet:
    """The aggregates one unit of work has loaded or added, with their loaded version."""

    def __init__(self, database: FakeDatabase) -> None:
        self.database = database
        self.loaded: dict[tuple[type[Any], Hashable], tuple[AggregateRoot[Any], int | None]] = {}

    def get(self, kind: type[A], key: Hashable) -> A | None:
        entry = self.loaded.get((kind, key))
        if entry is not None:
            return entry[0]  # type: ignore[return-value]
        stored = self.database.table(kind).get(key)
        if stored is None:
            return None
        working = copy.deepcopy(stored)
        self.loaded[(kind, key)] = (working, stored.version)
        return working

    def add(self, aggregate: AggregateRoot[Any]) -> None:
        self.loaded[(type(aggregate), aggregate.id)] = (aggregate, None)

    def all(self, kind: type[A]) -> list[A]:
        """Committed rows overlaid with this unit of work's copies (autoflush)."""
        rows: dict[Hashable, Any] = dict(self.database.table(kind))
        for (loaded_kind, key), (aggregate, _) in self.loaded.items():
            if loaded_kind is kind:
                rows[key] = aggregate
        return list(rows.values())


class _Repository(Generic[A]):
    kind: type[A]

    def __init__(self, working: _WorkingSet) -> None:
        self._working = working

    async def add(self, aggregate: A) -> None:
        self._working.add(aggregate)

    async def _get(self, key: Hashable) -> A | None:
        return self._working.get(self.kind, key)

    def _all(self) -> list[A]:
        return self._working.all(self.kind)


class FakeWarehouseRepository(_Repository[Warehouse], WarehouseRepository):
    kind = Warehouse

    async def get(self, code: WarehouseCode) -> Warehouse | None:
        return await self._get(code)


class FakeSkuRepository(_Repository[Sku], SkuRepository):
    kind = Sku

    async def get(self, code: SkuCode) -> Sku | None:
        return await self._get(code)


class FakeSupplierRepository(_Repository[Supplier], SupplierRepository):
    kind = Supplier

    async def get(self, id: SupplierId) -> Supplier | None:
        return await self._get(id)


class FakeInventoryRepository(_Repository[InventoryItem], InventoryRepository):
    kind = InventoryItem

    async def get(self, warehouse: WarehouseCode, sku: SkuCode) -> InventoryItem | None:
        return await self._get(InventoryItemId.of(warehouse, sku))

    async def total_on_hand(self, warehouse: WarehouseCode, unit: str) -> Decimal:
        return sum(
            (i.on_hand.amount for i in self._all() if i.warehouse == warehouse and i.unit == unit),
            Decimal(0),
        )


class FakePurchaseOrderRepository(_Repository[PurchaseOrder], PurchaseOrderRepository):
    kind = PurchaseOrder

    async def get(self, id: PurchaseOrderId) -> PurchaseOrder | None:
        return await self._get(id)

    async def get_by_idempotency_key(self, key: str) -> PurchaseOrder | None:
        match = next((o for o in self._all() if o.idempotency_key == key), None)
        return None if match is None else await self._get(match.id)

    async def quantity_on_order(self, warehouse: WarehouseCode, sku: SkuCode) -> Decimal:
        total = Decimal(0)
        for order in self._all():
            outstanding = order.on_order(sku) if order.warehouse == warehouse else None
            if outstanding is not None:
                total += outstanding.amount
        return total


class FakeShipmentRepository(_Repository[Shipment], ShipmentRepository):
    kind = Shipment

    async def get(self, id: ShipmentId) -> Shipment | None:
        return await self._get(id)


class FakeUnitOfWork(SupplyChainUnitOfWork):
    """Implements the real port over a ``FakeDatabase``; reusable, one block at a time."""

    def __init__(self, database: FakeDatabase | None = None) -> None:
        self.database = database or FakeDatabase()
        self.commits = 0
        self._committed: list[DomainEvent] = []
        self._open(_WorkingSet(self.database))

    def _open(self, working: _WorkingSet) -> None:
        self._working = working
        self._warehouses = FakeWarehouseRepository(working)
        self._skus = FakeSkuRepository(working)
        self._suppliers = FakeSupplierRepository(working)
        self._inventory = FakeInventoryRepository(working)
        self._purchase_orders = FakePurchaseOrderRepository(working)
        self._shipments = FakeShipmentRepository(working)

    @property
    def warehouses(self) -> FakeWarehouseRepository:
        return self._warehouses

    @property
    def skus(self) -> FakeSkuRepository:
        return self._skus

    @property
    def suppliers(self) -> FakeSupplierRepository:
        return self._suppliers

    @property
    def inventory(self) -> FakeInventoryRepository:
        return self._inventory

    @property
    def purchase_orders(self) -> FakePurchaseOrderRepository:
        return self._purchase_orders

    @property
    def shipments(self) -> FakeShipmentRepository:
        return self._shipments

    async def __aenter__(self) -> Self:
        self._open(_WorkingSet(self.database))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.rollback()

    async def commit(self) -> None:
        """Store what changed (new aggregates and those that recorded events), each
        only if nobody else stored a newer version since it was loaded."""
        changed = {
            (kind, key): (aggregate, loaded_version)
            for (kind, key), (aggregate, loaded_version) in self._working.loaded.items()
            if aggregate.version != loaded_version
        }
        for (kind, key), (_, loaded_version) in changed.items():
            stored = self.database.table(kind).get(key)
            if loaded_version is None and stored is not None:
                raise Conflict(f"{kind.__name__} {key} already exists")
            if stored is not None and stored.version != loaded_version:
                raise ConcurrencyConflict(kind.__name__, key, loaded_version, stored.version)
        events = [e for aggregate, _ in changed.values() for e in aggregate.pull_events()]
        for (kind, key), (aggregate, _) in changed.items():
            self.database.table(kind)[key] = copy.deepcopy(aggregate)
        self.database.events.extend(events)
        self._committed.extend(events)
        self.commits += 1
        self._open(_WorkingSet(self.database))

    async def rollback(self) -> None:
        self._open(_WorkingSet(self.database))

    def collect_committed_events(self) -> Iterator[DomainEvent]:
        while self._committed:
            yield self._committed.pop(0)


def events_of(database: FakeDatabase, kind: type[Any]) -> list[Any]:
    return [event for event in database.events if isinstance(event, kind)]


def _page(items: list[T], query: ListQuery) -> Page[T]:
    chosen = items[query.offset : query.offset + query.limit]
    return Page(tuple(chosen), total=len(items), limit=query.limit, offset=query.offset)


def _level(item: InventoryItem) -> InventoryLevel:
    return InventoryLevel(
        warehouse=str(item.warehouse),
        sku=str(item.sku),
        unit=item.unit,
        on_hand=item.on_hand.amount,
        reserved=item.reserved.amount,
        available=item.available.amount,
        version=item.version,
    )


def _order_summary(order: PurchaseOrder) -> PurchaseOrderSummary:
    return PurchaseOrderSummary(
        id=str(order.id),
        supplier=str(order.supplier),
        warehouse=str(order.warehouse),
        status=order.status,
        total=order.total,
        drafted_at=order.drafted_at,
        placed_on=order.placed_on,
        promised_on=order.promised_on,
        version=order.version,
    )


def _shipment_summary(shipment: Shipment) -> ShipmentSummary:
    return ShipmentSummary(
        id=str(shipment.id),
        account=str(shipment.account),
        warehouse=str(shipment.warehouse),
        status=shipment.status,
        destination=shipment.destination,
        planned_delivery=shipment.planned_delivery,
        eta=shipment.eta,
        delivered_at=shipment.delivered_at,
        version=shipment.version,
    )


class FakeReadModel(CatalogReader, InventoryReader, PurchasingReader, ShippingReader):
    """Answers the read ports from committed state only, like a separate connection."""

    def __init__(self, database: FakeDatabase) -> None:
        self.database = database

    async def list_warehouses(self, query: ListWarehouses) -> Page[WarehouseView]:
        rows = sorted(self.database.rows(Warehouse), key=lambda w: str(w.id))
        return _page([self._warehouse(w) for w in rows], query)

    async def warehouse(self, query: GetWarehouse) -> WarehouseView | None:
        found = self.database.table(Warehouse).get(WarehouseCode(query.code))
        return None if found is None else self._warehouse(found)

    async def list_skus(self, query: ListSkus) -> Page[SkuView]:
        rows = sorted(self.database.rows(Sku), key=lambda s: str(s.id))
        return _page([self._sku(s) for s in rows], query)

    async def sku(self, query: GetSku) -> SkuView | None:
        found = self.database.table(Sku).get(SkuCode(query.code))
        return None if found is None else self._sku(found)

    async def list_suppliers(self, query: ListSuppliers) -> Page[SupplierView]:
        rows = sorted(self.database.rows(Supplier), key=lambda s: str(s.id))
        return _page([self._supplier(s) for s in rows], query)

    async def supplier(self, query: GetSupplier) -> SupplierView | None:
        found = self.database.table(Supplier).get(SupplierId(query.id))
        return None if found is None else self._supplier(found)

    async def list_inventory(self, query: ListInventory) -> Page[InventoryLevel]:
        skus = self.database.table(Sku)
        rows = [
            item
            for item in self.database.rows(InventoryItem)
            if (query.warehouse is None or str(item.warehouse) == query.warehouse)
            and (query.sku is None or str(item.sku) == query.sku)
            and (
                not query.below_reorder_point
                or item.available.amount <= skus[item.sku].reorder_point.amount
            )
        ]
        rows.sort(key=lambda item: (str(item.warehouse), str(item.sku)))
        return _page([_level(item) for item in rows], query)

    async def inventory_item(self, query: GetInventoryItem) -> InventoryItemDetail | None:
        key = InventoryItemId.of(WarehouseCode(query.warehouse), SkuCode(query.sku))
        item = self.database.table(InventoryItem).get(key)
        if item is None:
            return None
        reservations = tuple(
            ReservationView(
                reference=str(r.reference), quantity=r.quantity.amount, reserved_at=r.reserved_at
            )
            for r in item.reservations
        )
        return InventoryItemDetail(level=_level(item), reservations=reservations)

    async def list_purchase_orders(self, query: ListPurchaseOrders) -> Page[PurchaseOrderSummary]:
        rows = [
            order
            for order in self.database.rows(PurchaseOrder)
            if (query.status is None or order.status is query.status)
            and (query.supplier is None or str(order.supplier) == query.supplier)
            and (query.warehouse is None or str(order.warehouse) == query.warehouse)
        ]
        rows.sort(key=lambda order: str(order.id))
        rows.sort(key=lambda order: order.drafted_at, reverse=True)
        return _page([_order_summary(order) for order in rows], query)

    async def purchase_order(self, query: GetPurchaseOrder) -> PurchaseOrderDetail | None:
        order = self.database.table(PurchaseOrder).get(PurchaseOrderId(query.purchase_order_id))
        if order is None:
            return None
        lines = tuple(
            PurchaseOrderLineView(
                sku=str(line.sku),
                unit=line.quantity.unit,
                quantity=line.quantity.amount,
                unit_price=line.unit_price,
                accepted=line.accepted.amount,
                rejected=line.rejected.amount,
                outstanding=line.outstanding.amount,
            )
            for line in order.lines
        )
        receipts = tuple(
            GoodsReceiptView(
                number=receipt.number,
                received_on=receipt.received_on,
                on_time=receipt.on_time,
                lead_time_days=receipt.lead_time_days,
                lines=tuple(
                    ReceiptLineView(
                        sku=str(r.sku), accepted=r.accepted.amount, rejected=r.rejected.amount
                    )
                    for r in receipt.lines
                ),
            )
            for receipt in order.receipts
        )
        return PurchaseOrderDetail(
            summary=_order_summary(order),
            lines=lines,
            receipts=receipts,
            idempotency_key=order.idempotency_key,
            cancellation_reason=order.cancellation_reason,
        )

    async def list_shipments(self, query: ListShipments) -> Page[ShipmentSummary]:
        rows = [
            shipment
            for shipment in self.database.rows(Shipment)
            if (query.status is None or shipment.status is query.status)
            and (query.account is None or str(shipment.account) == query.account)
            and (query.warehouse is None or str(shipment.warehouse) == query.warehouse)
        ]
        rows.sort(key=lambda shipment: (shipment.planned_delivery, str(shipment.id)))
        return _page([_shipment_summary(shipment) for shipment in rows], query)

    async def shipment(self, query: GetShipment) -> ShipmentDetail | None:
        shipment = self.database.table(Shipment).get(ShipmentId(query.shipment_id))
        if shipment is None:
            return None
        return ShipmentDetail(
            summary=_shipment_summary(shipment),
            dispatched_at=shipment.dispatched_at,
            lines=tuple(
                ShipmentLineView(
                    sku=str(line.sku), unit=line.quantity.unit, quantity=line.quantity.amount
                )
                for line in shipment.lines
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
                for leg in shipment.legs
            ),
        )

    @staticmethod
    def _warehouse(warehouse: Warehouse) -> WarehouseView:
        return WarehouseView(
            code=str(warehouse.id),
            name=warehouse.name,
            latitude=warehouse.location.latitude,
            longitude=warehouse.location.longitude,
            capacity=warehouse.capacity.amount,
            capacity_unit=warehouse.capacity.unit,
            version=warehouse.version,
        )

    @staticmethod
    def _sku(sku: Sku) -> SkuView:
        return SkuView(
            code=str(sku.id),
            name=sku.name,
            unit=sku.unit,
            reorder_point=sku.reorder_point.amount,
            safety_stock=sku.safety_stock.amount,
            lead_time_days=sku.lead_time_days,
            preferred_supplier=None
            if sku.preferred_supplier is None
            else str(sku.preferred_supplier),
            standard_cost=sku.standard_cost,
            version=sku.version,
        )

    @staticmethod
    def _supplier(supplier: Supplier) -> SupplierView:
        return SupplierView(
            id=str(supplier.id),
            name=supplier.name,
            country=supplier.country,
            version=supplier.version,
        )
