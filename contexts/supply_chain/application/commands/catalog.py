"""Commands that add reference data."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from shared_kernel.application import Command
from shared_kernel.domain import Money


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterWarehouse(Command):
    code: str
    name: str
    latitude: Decimal
    longitude: Decimal
    capacity: Decimal
    capacity_unit: str = "each"


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterSku(Command):
    code: str
    name: str
    unit: str = "each"
    reorder_point: Decimal
    safety_stock: Decimal
    lead_time_days: int
    preferred_supplier: str | None = None
    standard_cost: Money | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterSupplier(Command):
    id: str
    name: str
    country: str
