"""Stock movements of one SKU in one warehouse.

Quantities are amounts in the SKU's unit. ``expected_version`` is the inventory item's
version the caller last read (HTTP ``If-Match``); None skips the check.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from contexts.supply_chain.domain.inventory.events import AdjustmentReason
from shared_kernel.application import Command


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiveStock(Command):
    """Book stock in outside a purchase order (goods receipts book their own)."""

    warehouse: str
    sku: str
    quantity: Decimal
    reference: str | None = None
    expected_version: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReserveStock(Command):
    warehouse: str
    sku: str
    reference: str
    quantity: Decimal
    expected_version: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseReservation(Command):
    """Release ``quantity`` of the reservation, or all of it when None."""

    warehouse: str
    sku: str
    reference: str
    quantity: Decimal | None = None
    expected_version: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ShipStock(Command):
    """Ship ``quantity`` of the reservation, or all of it when None."""

    warehouse: str
    sku: str
    reference: str
    quantity: Decimal | None = None
    expected_version: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AdjustStock(Command):
    warehouse: str
    sku: str
    counted: Decimal
    reason: AdjustmentReason
    expected_version: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferStock(Command):
    """Move available stock to ``destination``; ``expected_version`` is the source's."""

    warehouse: str
    sku: str
    destination: str
    quantity: Decimal
    transfer_id: str | None = None
    expected_version: int | None = None
