"""Purchase order commands. ``expected_version`` as for inventory (If-Match)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from shared_kernel.application import Command
from shared_kernel.domain import Money


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderLineInput:
    sku: str
    quantity: Decimal
    unit_price: Money


@dataclass(frozen=True, slots=True, kw_only=True)
class InspectionInput:
    sku: str
    accepted: Decimal
    rejected: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftPurchaseOrder(Command):
    """``purchase_order_id`` lets a client choose the id (retries then get Conflict)."""

    supplier: str
    warehouse: str
    lines: tuple[OrderLineInput, ...]
    purchase_order_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SetPurchaseOrderLine(Command):
    purchase_order_id: str
    line: OrderLineInput
    expected_version: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RemovePurchaseOrderLine(Command):
    purchase_order_id: str
    sku: str
    expected_version: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PlacePurchaseOrder(Command):
    purchase_order_id: str
    expected_version: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfirmPurchaseOrder(Command):
    purchase_order_id: str
    promised_on: date
    expected_version: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiveGoods(Command):
    """A delivery and its inspection; ``received_on`` defaults to today."""

    purchase_order_id: str
    lines: tuple[InspectionInput, ...]
    received_on: date | None = None
    expected_version: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelPurchaseOrder(Command):
    purchase_order_id: str
    reason: str
    expected_version: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProposeReplenishment(Command):
    """A stock-out alert turned into a Draft purchase order.

    At most one draft per warehouse, SKU and day (``on``, default today): a repeated
    alert returns the same draft. ``daily_demand`` is the alert's demand rate.
    """

    warehouse: str
    sku: str
    daily_demand: Decimal
    on: date | None = None
