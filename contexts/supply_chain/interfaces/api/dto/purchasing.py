"""Purchase orders: drafting, lines, life cycle and goods receipts."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from contexts.supply_chain.application.commands.purchasing import (
    CancelPurchaseOrder,
    ConfirmPurchaseOrder,
    DraftPurchaseOrder,
    InspectionInput,
    OrderLineInput,
    ReceiveGoods,
    SetPurchaseOrderLine,
)
from contexts.supply_chain.application.queries.views import (
    PurchaseOrderDetail,
    PurchaseOrderSummary,
)
from contexts.supply_chain.domain.purchasing.status import PurchaseOrderStatus
from contexts.supply_chain.interfaces.api.dto.common import (
    Amount,
    Code,
    Day,
    Identifier,
    Input,
    MoneyIn,
    MoneyOut,
)


class OrderLineIn(Input):
    sku: Code = Field(examples=["KD-HUB-200"])
    quantity: Amount
    unit_price: MoneyIn

    def to_input(self) -> OrderLineInput:
        return OrderLineInput(
            sku=self.sku, quantity=self.quantity, unit_price=self.unit_price.to_money()
        )


class DraftPurchaseOrderIn(Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "supplier": "ACME",
                    "warehouse": "LYS-1",
                    "lines": [
                        {
                            "sku": "KD-HUB-200",
                            "quantity": "100",
                            "unit_price": {"amount": "18.00", "currency": "EUR"},
                        }
                    ],
                }
            ]
        }
    )

    id: Identifier | None = Field(default=None, description="Chosen by the server when omitted.")
    supplier: Identifier
    warehouse: Code
    lines: list[OrderLineIn]

    def to_command(self) -> DraftPurchaseOrder:
        return DraftPurchaseOrder(
            supplier=self.supplier,
            warehouse=self.warehouse,
            lines=tuple(line.to_input() for line in self.lines),
            purchase_order_id=self.id,
        )


class SetLineIn(Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"quantity": "120", "unit_price": {"amount": "17.50", "currency": "EUR"}}]
        }
    )

    quantity: Amount
    unit_price: MoneyIn

    def to_command(self, order: str, sku: str, version: int | None) -> SetPurchaseOrderLine:
        line = OrderLineInput(
            sku=sku, quantity=self.quantity, unit_price=self.unit_price.to_money()
        )
        return SetPurchaseOrderLine(purchase_order_id=order, line=line, expected_version=version)


class ConfirmIn(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"promised_on": "2025-03-10"}]})

    promised_on: Day = Field(description="The delivery day the supplier promised.")

    def to_command(self, order: str, version: int | None) -> ConfirmPurchaseOrder:
        return ConfirmPurchaseOrder(
            purchase_order_id=order, promised_on=self.promised_on, expected_version=version
        )


class InspectionIn(Input):
    sku: Code = Field(examples=["KD-HUB-200"])
    accepted: Amount
    rejected: Amount = Decimal(0)


class ReceiveGoodsIn(Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "received_on": "2025-03-09",
                    "lines": [{"sku": "KD-HUB-200", "accepted": "98", "rejected": "2"}],
                }
            ]
        }
    )

    lines: list[InspectionIn]
    received_on: Day | None = Field(default=None, description="Today when omitted.")

    def to_command(self, order: str, version: int | None) -> ReceiveGoods:
        return ReceiveGoods(
            purchase_order_id=order,
            lines=tuple(
                InspectionInput(sku=line.sku, accepted=line.accepted, rejected=line.rejected)
                for line in self.lines
            ),
            received_on=self.received_on,
            expected_version=version,
        )


class CancelIn(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "Duplicate order"}]})

    reason: str = Field(max_length=500)

    def to_command(self, order: str, version: int | None) -> CancelPurchaseOrder:
        return CancelPurchaseOrder(
            purchase_order_id=order, reason=self.reason, expected_version=version
        )


class PurchaseOrderSummaryOut(BaseModel):
    id: str
    supplier: str
    warehouse: str
    status: PurchaseOrderStatus
    total: MoneyOut
    drafted_at: datetime
    placed_on: date | None
    promised_on: date | None
    version: int

    @classmethod
    def of(cls, view: PurchaseOrderSummary) -> PurchaseOrderSummaryOut:
        return cls(
            id=view.id,
            supplier=view.supplier,
            warehouse=view.warehouse,
            status=view.status,
            total=MoneyOut.of(view.total),
            drafted_at=view.drafted_at,
            placed_on=view.placed_on,
            promised_on=view.promised_on,
            version=view.version,
        )


class OrderLineOut(BaseModel):
    sku: str
    unit: str
    quantity: Decimal
    unit_price: MoneyOut
    accepted: Decimal
    rejected: Decimal
    outstanding: Decimal


class ReceiptLineOut(BaseModel):
    sku: str
    accepted: Decimal
    rejected: Decimal


class GoodsReceiptOut(BaseModel):
    number: int
    received_on: date
    on_time: bool
    lead_time_days: int
    lines: list[ReceiptLineOut]


class PurchaseOrderOut(PurchaseOrderSummaryOut):
    lines: list[OrderLineOut]
    receipts: list[GoodsReceiptOut]
    idempotency_key: str | None = Field(description="Set on drafts proposed automatically.")
    cancellation_reason: str | None

    @classmethod
    def of_detail(cls, view: PurchaseOrderDetail) -> PurchaseOrderOut:
        return cls(
            **PurchaseOrderSummaryOut.of(view.summary).model_dump(),
            lines=[
                OrderLineOut(
                    sku=line.sku,
                    unit=line.unit,
                    quantity=line.quantity,
                    unit_price=MoneyOut.of(line.unit_price),
                    accepted=line.accepted,
                    rejected=line.rejected,
                    outstanding=line.outstanding,
                )
                for line in view.lines
            ],
            receipts=[
                GoodsReceiptOut.model_validate(receipt, from_attributes=True)
                for receipt in view.receipts
            ],
            idempotency_key=view.idempotency_key,
            cancellation_reason=view.cancellation_reason,
        )
