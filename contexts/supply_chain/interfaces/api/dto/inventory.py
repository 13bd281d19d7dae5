"""Inventory levels and stock movements of one SKU in one warehouse."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from contexts.supply_chain.application.commands.inventory import (
    AdjustStock,
    ReceiveStock,
    ReleaseReservation,
    ReserveStock,
    ShipStock,
    TransferStock,
)
from contexts.supply_chain.application.queries.views import InventoryItemDetail, InventoryLevel
from contexts.supply_chain.domain.inventory.events import AdjustmentReason
from contexts.supply_chain.interfaces.api.dto.common import Amount, Code, Identifier, Input


def _example(**fields: str) -> ConfigDict:
    example: JsonDict = {**fields}
    return ConfigDict(json_schema_extra={"examples": [example]})


class ReceiveStockIn(Input):
    model_config = _example(quantity="120", reference="GRN-2025-0042")

    quantity: Amount
    reference: Identifier | None = Field(default=None, description="Delivery note or similar.")

    def to_command(self, warehouse: str, sku: str, version: int | None) -> ReceiveStock:
        return ReceiveStock(
            warehouse=warehouse,
            sku=sku,
            quantity=self.quantity,
            reference=self.reference,
            expected_version=version,
        )


class ReserveStockIn(Input):
    model_config = _example(reference="SO-1001", quantity="5")

    reference: Identifier = Field(description="What the stock is reserved for (an order).")
    quantity: Amount

    def to_command(self, warehouse: str, sku: str, version: int | None) -> ReserveStock:
        return ReserveStock(
            warehouse=warehouse,
            sku=sku,
            reference=self.reference,
            quantity=self.quantity,
            expected_version=version,
        )


class ReleaseReservationIn(Input):
    model_config = _example(reference="SO-1001", quantity="2")

    reference: Identifier
    quantity: Amount | None = Field(default=None, description="All that remains when omitted.")

    def to_command(self, warehouse: str, sku: str, version: int | None) -> ReleaseReservation:
        return ReleaseReservation(
            warehouse=warehouse,
            sku=sku,
            reference=self.reference,
            quantity=self.quantity,
            expected_version=version,
        )


class ShipStockIn(Input):
    model_config = _example(reference="SO-1001")

    reference: Identifier = Field(description="The reservation the stock is shipped from.")
    quantity: Amount | None = Field(default=None, description="All reserved when omitted.")

    def to_command(self, warehouse: str, sku: str, version: int | None) -> ShipStock:
        return ShipStock(
            warehouse=warehouse,
            sku=sku,
            reference=self.reference,
            quantity=self.quantity,
            expected_version=version,
        )


class AdjustStockIn(Input):
    model_config = _example(counted="118", reason="cycle_count")

    counted: Amount = Field(description="What the count found on hand.")
    reason: AdjustmentReason

    def to_command(self, warehouse: str, sku: str, version: int | None) -> AdjustStock:
        return AdjustStock(
            warehouse=warehouse,
            sku=sku,
            counted=self.counted,
            reason=self.reason,
            expected_version=version,
        )


class TransferStockIn(Input):
    model_config = _example(destination="HAM-2", quantity="10")

    destination: Code
    quantity: Amount
    transfer_id: Identifier | None = Field(
        default=None, description="Chosen by the server when omitted."
    )

    def to_command(self, warehouse: str, sku: str, version: int | None) -> TransferStock:
        return TransferStock(
            warehouse=warehouse,
            sku=sku,
            destination=self.destination,
            quantity=self.quantity,
            transfer_id=self.transfer_id,
            expected_version=version,
        )


class InventoryLevelOut(BaseModel):
    warehouse: str
    sku: str
    unit: str
    on_hand: Decimal
    reserved: Decimal
    available: Decimal
    version: int

    @classmethod
    def of(cls, view: InventoryLevel) -> InventoryLevelOut:
        return cls.model_validate(view, from_attributes=True)


class ReservationOut(BaseModel):
    reference: str
    quantity: Decimal
    reserved_at: datetime


class InventoryItemOut(InventoryLevelOut):
    reservations: list[ReservationOut]

    @classmethod
    def of_detail(cls, view: InventoryItemDetail) -> InventoryItemOut:
        return cls(
            **InventoryLevelOut.of(view.level).model_dump(),
            reservations=[
                ReservationOut.model_validate(r, from_attributes=True) for r in view.reservations
            ],
        )
