"""Stock movements, as published on ``supply_chain.inventory.v1``.

Every event carries the item's resulting ``on_hand``, ``reserved`` and ``available``
so that a consumer keeping real-time inventory levels needs only the latest event per
key (``<warehouse>:<sku>``), while the movement fields (``quantity``, ``difference``)
let trend analysis rebuild the flows.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from contexts.supply_chain.domain.events import SupplyChainEvent


class AdjustmentReason(StrEnum):
    """Why a count differed from the books; shrinkage analysis groups by it."""

    CYCLE_COUNT = "cycle_count"
    DAMAGED = "damaged"
    LOST = "lost"
    FOUND = "found"
    CORRECTION = "correction"


@dataclass(frozen=True, slots=True, kw_only=True)
class InventoryEvent(SupplyChainEvent):
    aggregate_type: ClassVar[str] = "inventory"

    warehouse: str
    sku: str
    unit: str
    on_hand: Decimal
    reserved: Decimal
    available: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class StockReceived(InventoryEvent):
    """Stock came in: from a supplier (``reference`` = purchase order) or a transfer
    (``reference`` = transfer id, ``source_warehouse`` set)."""

    quantity: Decimal
    reference: str | None = None
    source_warehouse: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StockReserved(InventoryEvent):
    quantity: Decimal
    reference: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReservationReleased(InventoryEvent):
    quantity: Decimal
    reference: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StockShipped(InventoryEvent):
    """Reserved stock left the warehouse; demand forecasts are built from these."""

    quantity: Decimal
    reference: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StockAdjusted(InventoryEvent):
    """A count set on hand to ``counted``; ``difference`` is counted minus booked."""

    counted: Decimal
    difference: Decimal
    reason: AdjustmentReason


@dataclass(frozen=True, slots=True, kw_only=True)
class StockTransferred(InventoryEvent):
    """Stock left for another warehouse, where a ``StockReceived`` with the same
    ``transfer_id`` as reference books it in."""

    quantity: Decimal
    transfer_id: str
    destination_warehouse: str
