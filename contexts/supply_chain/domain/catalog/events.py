"""Facts about the reference data: warehouses, SKUs and suppliers joining the network."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from contexts.supply_chain.domain.events import SupplyChainEvent
from shared_kernel.domain import Money


@dataclass(frozen=True, slots=True, kw_only=True)
class WarehouseEvent(SupplyChainEvent):
    aggregate_type: ClassVar[str] = "warehouse"


@dataclass(frozen=True, slots=True, kw_only=True)
class WarehouseRegistered(WarehouseEvent):
    warehouse: str
    name: str
    latitude: Decimal
    longitude: Decimal
    capacity: Decimal
    capacity_unit: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SkuEvent(SupplyChainEvent):
    aggregate_type: ClassVar[str] = "sku"


@dataclass(frozen=True, slots=True, kw_only=True)
class SkuRegistered(SkuEvent):
    sku: str
    name: str
    unit: str
    reorder_point: Decimal
    safety_stock: Decimal
    lead_time_days: int
    preferred_supplier: str | None
    standard_cost: Money | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplierEvent(SupplyChainEvent):
    aggregate_type: ClassVar[str] = "supplier"


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplierRegistered(SupplierEvent):
    supplier: str
    name: str
    country: str
