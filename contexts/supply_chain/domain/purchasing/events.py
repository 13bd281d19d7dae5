"""Purchase order facts, as published on ``supply_chain.purchase_order.v1``.

Supplier performance is computed from these: ``GoodsReceived`` says whether each
delivery was on time, its lead time, and how much passed inspection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import ClassVar

from contexts.supply_chain.domain.events import SupplyChainEvent
from contexts.supply_chain.domain.purchasing.status import PurchaseOrderStatus
from shared_kernel.domain import Money


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderedLine:
    sku: str
    unit: str
    quantity: Decimal
    unit_price: Money


@dataclass(frozen=True, slots=True, kw_only=True)
class InspectedLine:
    sku: str
    unit: str
    accepted: Decimal
    rejected: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class PurchaseOrderEvent(SupplyChainEvent):
    aggregate_type: ClassVar[str] = "purchase_order"

    purchase_order_id: str
    supplier: str
    warehouse: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PurchaseOrderDrafted(PurchaseOrderEvent):
    """``idempotency_key`` is set when the draft was proposed automatically."""

    lines: tuple[OrderedLine, ...]
    total: Money
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PurchaseOrderLineRevised(PurchaseOrderEvent):
    """A draft's line was added, changed or (quantity 0) removed."""

    sku: str
    unit: str
    quantity: Decimal
    unit_price: Money
    total: Money


@dataclass(frozen=True, slots=True, kw_only=True)
class PurchaseOrderPlaced(PurchaseOrderEvent):
    placed_on: date
    lines: tuple[OrderedLine, ...]
    total: Money


@dataclass(frozen=True, slots=True, kw_only=True)
class PurchaseOrderConfirmed(PurchaseOrderEvent):
    placed_on: date
    promised_on: date


@dataclass(frozen=True, slots=True, kw_only=True)
class GoodsReceived(PurchaseOrderEvent):
    """One delivery: on time when ``received_on <= promised_on``."""

    receipt_number: int
    received_on: date
    placed_on: date
    promised_on: date
    on_time: bool
    lead_time_days: int
    lines: tuple[InspectedLine, ...]
    fully_received: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PurchaseOrderReceived(PurchaseOrderEvent):
    """Everything ordered was accepted; timeliness is that of the last delivery."""

    received_on: date
    promised_on: date
    on_time: bool
    lead_time_days: int
    receipts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PurchaseOrderCancelled(PurchaseOrderEvent):
    reason: str
    previous_status: PurchaseOrderStatus
