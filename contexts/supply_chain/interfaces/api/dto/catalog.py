"""Warehouses, SKUs and suppliers."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from contexts.supply_chain.application.commands.catalog import (
    RegisterSku,
    RegisterSupplier,
    RegisterWarehouse,
)
from contexts.supply_chain.application.queries.views import SkuView, SupplierView, WarehouseView
from contexts.supply_chain.interfaces.api.dto.common import (
    Amount,
    Code,
    Country,
    Identifier,
    Input,
    MoneyIn,
    MoneyOut,
    Text,
    Unit,
)

Degrees = Annotated[Decimal, Field(max_digits=10, decimal_places=7)]


class RegisterWarehouseIn(Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "LYS-1",
                    "name": "Lyon distribution centre",
                    "latitude": "45.7640",
                    "longitude": "4.8357",
                    "capacity": "1000",
                    "capacity_unit": "each",
                }
            ]
        }
    )

    code: Code
    name: Text
    latitude: Degrees
    longitude: Degrees
    capacity: Amount = Field(description="How much fits, in `capacity_unit`.")
    capacity_unit: Unit = "each"

    def to_command(self) -> RegisterWarehouse:
        return RegisterWarehouse(
            code=self.code,
            name=self.name,
            latitude=self.latitude,
            longitude=self.longitude,
            capacity=self.capacity,
            capacity_unit=self.capacity_unit,
        )


class WarehouseOut(BaseModel):
    code: str
    name: str
    latitude: Decimal
    longitude: Decimal
    capacity: Decimal
    capacity_unit: str
    version: int

    @classmethod
    def of(cls, view: WarehouseView) -> WarehouseOut:
        return cls.model_validate(view, from_attributes=True)


class RegisterSupplierIn(Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"id": "ACME", "name": "Acme Components GmbH", "country": "DE"}]
        }
    )

    id: Identifier
    name: Text
    country: Country

    def to_command(self) -> RegisterSupplier:
        return RegisterSupplier(id=self.id, name=self.name, country=self.country)


class SupplierOut(BaseModel):
    id: str
    name: str
    country: str
    version: int

    @classmethod
    def of(cls, view: SupplierView) -> SupplierOut:
        return cls.model_validate(view, from_attributes=True)


class RegisterSkuIn(Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "KD-HUB-200",
                    "name": "Kestrel Hub 200",
                    "unit": "each",
                    "reorder_point": "80",
                    "safety_stock": "50",
                    "lead_time_days": 7,
                    "preferred_supplier": "ACME",
                    "standard_cost": {"amount": "18.00", "currency": "EUR"},
                }
            ]
        }
    )

    code: Code
    name: Text
    unit: Unit = "each"
    reorder_point: Amount
    safety_stock: Amount
    lead_time_days: StrictInt = Field(
        description="The supplier's usual days from order to receipt."
    )
    preferred_supplier: Identifier | None = None
    standard_cost: MoneyIn | None = None

    def to_command(self) -> RegisterSku:
        return RegisterSku(
            code=self.code,
            name=self.name,
            unit=self.unit,
            reorder_point=self.reorder_point,
            safety_stock=self.safety_stock,
            lead_time_days=self.lead_time_days,
            preferred_supplier=self.preferred_supplier,
            standard_cost=None if self.standard_cost is None else self.standard_cost.to_money(),
        )


class SkuOut(BaseModel):
    code: str
    name: str
    unit: str
    reorder_point: Decimal
    safety_stock: Decimal
    lead_time_days: int
    preferred_supplier: str | None
    standard_cost: MoneyOut | None
    version: int

    @classmethod
    def of(cls, view: SkuView) -> SkuOut:
        return cls(
            code=view.code,
            name=view.name,
            unit=view.unit,
            reorder_point=view.reorder_point,
            safety_stock=view.safety_stock,
            lead_time_days=view.lead_time_days,
            preferred_supplier=view.preferred_supplier,
            standard_cost=None if view.standard_cost is None else MoneyOut.of(view.standard_cost),
            version=view.version,
        )
