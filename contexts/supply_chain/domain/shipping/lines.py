"""What a shipment carries."""

from __future__ import annotations

from dataclasses import dataclass

from contexts.supply_chain.domain.ids import SkuCode
from contexts.supply_chain.domain.values import positive
from shared_kernel.domain import Quantity, ValueObject


@dataclass(frozen=True, slots=True)
class ShipmentItem(ValueObject):
    """So much of a SKU, as a shipment is planned with it."""

    sku: SkuCode
    quantity: Quantity

    def __post_init__(self) -> None:
        positive("quantity", self.quantity)


class ShipmentLine:
    """One SKU in a shipment (a SKU appears on at most one line)."""

    sku: SkuCode
    quantity: Quantity

    def __init__(self, sku: SkuCode, quantity: Quantity) -> None:
        self.sku = sku
        self.quantity = quantity

    def __repr__(self) -> str:
        return f"ShipmentLine({self.sku!s}, {self.quantity})"
