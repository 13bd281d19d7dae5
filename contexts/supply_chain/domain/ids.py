"""Typed identifiers of the supply chain.

Codes chosen by people (warehouses, SKUs) are short and exclude ``:``, so that an
inventory item can be addressed unambiguously as ``<warehouse>:<sku>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared_kernel.domain import EntityId, InvalidValue

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,39}$")


def _check_code(kind: str, value: str) -> None:
    if not _CODE.fullmatch(value):
        raise InvalidValue(
            kind,
            f"{value!r} is not a valid code (up to 40 letters, digits, '.', '_', '-')",
        )


@dataclass(frozen=True, slots=True)
class WarehouseCode(EntityId):
    """A warehouse's short code, e.g. ``LYS-1``."""

    def __post_init__(self) -> None:
        EntityId.__post_init__(self)
        _check_code("warehouse", self.value)


@dataclass(frozen=True, slots=True)
class SkuCode(EntityId):
    """A stock keeping unit's code, e.g. ``KD-HUB-200``."""

    def __post_init__(self) -> None:
        EntityId.__post_init__(self)
        _check_code("sku", self.value)


@dataclass(frozen=True, slots=True)
class InventoryItemId(EntityId):
    """``<warehouse>:<sku>``: the stock of one SKU in one warehouse."""

    @classmethod
    def of(cls, warehouse: WarehouseCode, sku: SkuCode) -> InventoryItemId:
        return cls(f"{warehouse}:{sku}")


@dataclass(frozen=True, slots=True)
class SupplierId(EntityId):
    pass


@dataclass(frozen=True, slots=True)
class PurchaseOrderId(EntityId):
    pass


@dataclass(frozen=True, slots=True)
class ShipmentId(EntityId):
    pass


@dataclass(frozen=True, slots=True)
class AccountId(EntityId):
    """The customer account a shipment is delivered to."""


@dataclass(frozen=True, slots=True)
class ReservationRef(EntityId):
    """What stock is reserved for: a sales order or shipment number."""


@dataclass(frozen=True, slots=True)
class TransferId(EntityId):
    """Pairs the two halves of a transfer between warehouses."""
