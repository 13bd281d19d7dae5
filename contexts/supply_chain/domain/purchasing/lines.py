"""What a purchase order asks for, and what an inspection found on arrival."""

from __future__ import annotations

from dataclasses import dataclass

from contexts.supply_chain.domain.ids import SkuCode
from contexts.supply_chain.domain.values import positive
from shared_kernel.domain import InvalidValue, Money, Quantity, ValueObject


@dataclass(frozen=True, slots=True)
class LineSpec(ValueObject):
    """A line as a buyer writes it: this much of a SKU at this unit price."""

    sku: SkuCode
    quantity: Quantity
    unit_price: Money

    def __post_init__(self) -> None:
        positive("quantity", self.quantity)
        if self.unit_price.amount < 0:
            raise InvalidValue("unit_price", "must not be negative")


@dataclass(frozen=True, slots=True)
class Inspection(ValueObject):
    """The quality inspection of one SKU in a delivery: accepted goods go to stock,
    rejected goods go back to the supplier and still count as outstanding."""

    sku: SkuCode
    accepted: Quantity
    rejected: Quantity

    def __post_init__(self) -> None:
        if self.accepted.unit != self.rejected.unit:
            raise InvalidValue("rejected", "must be in the accepted quantity's unit")
        if self.accepted.is_zero() and self.rejected.is_zero():
            raise InvalidValue("accepted", "an inspected line accepts or rejects something")

    @property
    def delivered(self) -> Quantity:
        return self.accepted + self.rejected


class OrderLine:
    """One SKU on a purchase order (a SKU appears on at most one line)."""

    sku: SkuCode
    quantity: Quantity
    unit_price: Money
    accepted: Quantity
    rejected: Quantity

    def __init__(self, sku: SkuCode, quantity: Quantity, unit_price: Money) -> None:
        self.sku = sku
        self.quantity = quantity
        self.unit_price = unit_price
        self.accepted = Quantity.zero(quantity.unit)
        self.rejected = Quantity.zero(quantity.unit)

    @property
    def outstanding(self) -> Quantity:
        """Still to be accepted; rejected goods do not reduce it."""
        return self.quantity - self.accepted

    @property
    def total(self) -> Money:
        return self.unit_price * self.quantity.amount

    def __repr__(self) -> str:
        return f"OrderLine({self.sku!s}, {self.quantity}, {self.unit_price})"
