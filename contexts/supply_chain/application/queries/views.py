"""What list and detail views return: flat, immutable, ready to serialize."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Generic, TypeVar

from contexts.supply_chain.domain.purchasing.status import PurchaseOrderStatus
from contexts.supply_chain.domain.shipping.status import ShipmentStatus
from shared_kernel.domain import Money

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list; ``total`` counts every match, not only this page."""

    items: tuple[T, ...]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WarehouseView:
    code: str
    name: str
    latitude: Decimal
    longitude: Decimal
    capacity: Decimal
    capacity_unit: str
    version: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SkuView:
    code: str
    name: str
    unit: str
    reorder_point: Decimal
    safety_stock: Decimal
    lead_time_days: int
    preferred_supplier: str | None
    standard_cost: Money | None
    version: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplierView:
    id: str
    name: str
    country: str
    version: int


@dataclass(frozen=True, slots=True, kw_only=True)
class InventoryLevel:
    warehouse: str
    sku: str
    unit: str
    on_hand: Decimal
    reserved: Decimal
    available: Decimal
    version: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReservationView:
    reference: str
    quantity: Decimal
    reserved_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class InventoryItemDetail:
    level: InventoryLevel
    reservations: tuple[ReservationView, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PurchaseOrderSummary:
    id: str
    supplier: str
    warehouse: str
    status: PurchaseOrderStatus
    total: Money
    drafted_at: datetime
    placed_on: date | None
    promised_on: date | None
    version: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PurchaseOrderLineView:
    sku: str
    unit: str
    quantity: Decimal
    unit_price: Money
    accepted: Decimal
    rejected: Decimal
    outstanding: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiptLineView:
    sku: str
    accepted: Decimal
    rejected: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class GoodsReceiptView:
    number: int
    received_on: date
    on_time: bool
    lead_time_days: int
    lines: tuple[ReceiptLineView, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PurchaseOrderDetail:
    summary: PurchaseOrderSummary
    lines: tuple[PurchaseOrderLineView, ...]
    receipts: tuple[GoodsReceiptView, ...]
    idempotency_key: str | None
    cancellation_reason: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ShipmentSummary:
    id: str
    account: str
    warehouse: str
    status: ShipmentStatus
    destination: str
    planned_delivery: datetime
    eta: datetime
    delivered_at: datetime | None
    version: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ShipmentLineView:
    sku: str
    unit: str
    quantity: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteLegView:
    sequence: int
    origin: str
    destination: str
    carrier: str
    planned_departure: datetime
    planned_arrival: datetime
    departed_at: datetime | None
    arrived_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ShipmentDetail:
    summary: ShipmentSummary
    dispatched_at: datetime | None
    lines: tuple[ShipmentLineView, ...]
    legs: tuple[RouteLegView, ...]
