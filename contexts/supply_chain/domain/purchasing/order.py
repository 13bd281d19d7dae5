"""Purchase orders: what is bought from a supplier for a warehouse, and what arrived."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from contexts.supply_chain.domain.ids import PurchaseOrderId, SkuCode, SupplierId, WarehouseCode
from contexts.supply_chain.domain.purchasing import events
from contexts.supply_chain.domain.purchasing.lines import Inspection, LineSpec, OrderLine
from contexts.supply_chain.domain.purchasing.receipts import GoodsReceipt
from contexts.supply_chain.domain.purchasing.status import PurchaseOrderStatus as Status
from contexts.supply_chain.domain.purchasing.status import check_transition
from contexts.supply_chain.domain.values import aware, business_day, required_text
from shared_kernel.domain import AggregateRoot, BusinessRuleViolation, InvalidValue, Money, Quantity


class PurchaseOrder(AggregateRoot[PurchaseOrderId]):
    """An order to one supplier, delivered to one warehouse, in one currency.

    Lines change only while Draft. Goods are received only once the supplier has
    promised a delivery day, since every receipt is judged against it.
    ``placed_on`` and ``promised_on`` are set by ``place`` and ``confirm``.
    """

    supplier: SupplierId
    warehouse: WarehouseCode
    currency: str
    status: Status
    lines: list[OrderLine]
    receipts: list[GoodsReceipt]
    idempotency_key: str | None
    drafted_at: datetime
    placed_on: date | None
    promised_on: date | None
    cancellation_reason: str | None

    def __init__(
        self,
        id: PurchaseOrderId,
        supplier: SupplierId,
        warehouse: WarehouseCode,
        currency: str,
        drafted_at: datetime,
        idempotency_key: str | None = None,
        version: int = 0,
    ) -> None:
        super().__init__(id, version)
        self.supplier = supplier
        self.warehouse = warehouse
        self.currency = Money.zero(currency).currency
        self.status = Status.DRAFT
        self.lines = []
        self.receipts = []
        self.idempotency_key = (
            None if idempotency_key is None else required_text("idempotency_key", idempotency_key)
        )
        self.drafted_at = aware("at", drafted_at)
        self.placed_on = None
        self.promised_on = None
        self.cancellation_reason = None

    @classmethod
    def draft(
        cls,
        id: PurchaseOrderId,
        supplier: SupplierId,
        warehouse: WarehouseCode,
        lines: Sequence[LineSpec],
        *,
        at: datetime,
        idempotency_key: str | None = None,
    ) -> PurchaseOrder:
        """A new Draft; ``idempotency_key`` marks one proposed automatically."""
        if not lines:
            raise InvalidValue("lines", "a purchase order needs at least one line")
        order = cls(id, supplier, warehouse, lines[0].unit_price.currency, at, idempotency_key)
        for spec in lines:
            if order.line(spec.sku) is not None:
                raise InvalidValue("lines", f"{spec.sku} appears on more than one line")
            order._check_currency(spec.unit_price)
            order.lines.append(OrderLine(spec.sku, spec.quantity, spec.unit_price))
        order._record(
            events.PurchaseOrderDrafted(
                **order._about(at),
                lines=order._ordered_lines(),
                total=order.total,
                idempotency_key=order.idempotency_key,
            )
        )
        return order

    @property
    def total(self) -> Money:
        return sum((line.total for line in self.lines), Money.zero(self.currency))

    def line(self, sku: SkuCode) -> OrderLine | None:
        return next((line for line in self.lines if line.sku == sku), None)

    def on_order(self, sku: SkuCode) -> Quantity | None:
        """What is still expected of ``sku`` (zero once closed); None if not ordered."""
        line = self.line(sku)
        if line is None:
            return None
        return line.outstanding if self.status.is_open else Quantity.zero(line.quantity.unit)

    def set_line(self, spec: LineSpec, *, at: datetime) -> None:
        """Add the line for ``spec.sku`` or replace its quantity and price (Draft only)."""
        self._check_editable(at)
        self._check_currency(spec.unit_price)
        line = self.line(spec.sku)
        if line is None:
            self.lines.append(OrderLine(spec.sku, spec.quantity, spec.unit_price))
        else:
            line.quantity, line.unit_price = spec.quantity, spec.unit_price
        self._line_revised(spec.sku, spec.quantity, spec.unit_price, at)

    def remove_line(self, sku: SkuCode, *, at: datetime) -> None:
        """Drop the line for ``sku`` (Draft only); the last line cannot go."""
        self._check_editable(at)
        line = self.line(sku)
        if line is None:
            raise BusinessRuleViolation("unknown_line", f"{self.id} has no line for {sku}")
        if len(self.lines) == 1:
            raise BusinessRuleViolation(
                "empty_order", f"cannot remove the last line of {self.id}; cancel it instead"
            )
        self.lines.remove(line)
        self._line_revised(sku, Quantity.zero(line.quantity.unit), line.unit_price, at)

    def place(self, *, at: datetime) -> None:
        """Send the order to the supplier; its lead time counts from today."""
        check_transition(str(self.id), self.status, Status.PLACED, "place it")
        placed_on = business_day(at)
        self.status, self.placed_on = Status.PLACED, placed_on
        self._record(
            events.PurchaseOrderPlaced(
                **self._about(at),
                placed_on=placed_on,
                lines=self._ordered_lines(),
                total=self.total,
            )
        )

    def confirm(self, promised_on: date, *, at: datetime) -> None:
        """Record the supplier's promised delivery day, the yardstick of on-time."""
        check_transition(str(self.id), self.status, Status.CONFIRMED, "confirm it")
        placed_on = self._placed_on()
        if promised_on < placed_on:
            raise BusinessRuleViolation(
                "promised_before_placed",
                f"promised day {promised_on} is before the order was placed ({placed_on})",
            )
        aware("at", at)
        self.status = Status.CONFIRMED
        self.promised_on = promised_on
        self._record(
            events.PurchaseOrderConfirmed(
                **self._about(at), placed_on=placed_on, promised_on=promised_on
            )
        )

    def receive(
        self, inspections: Sequence[Inspection], received_on: date, *, at: datetime
    ) -> GoodsReceipt:
        """Record a delivery and its inspection (see ``GoodsReceipt.inspect``).

        Accepted goods lower what the lines still expect; rejected goods do not. The
        order becomes Received when nothing is outstanding, else PartiallyReceived.
        """
        check_transition(str(self.id), self.status, Status.PARTIALLY_RECEIVED, "receive goods")
        aware("at", at)
        placed_on, promised_on = self._placed_on(), self._promised_on()
        receipt = GoodsReceipt.inspect(
            len(self.receipts) + 1,
            self.lines,
            inspections,
            placed_on=placed_on,
            promised_on=promised_on,
            received_on=received_on,
        )
        lines = {line.sku: line for line in self.lines}
        for received in receipt.lines:
            lines[received.sku].accepted += received.accepted
            lines[received.sku].rejected += received.rejected
        self.receipts.append(receipt)
        complete = all(line.outstanding.is_zero() for line in self.lines)
        self.status = Status.RECEIVED if complete else Status.PARTIALLY_RECEIVED
        self._record(
            events.GoodsReceived(
                **self._about(at),
                receipt_number=receipt.number,
                received_on=received_on,
                placed_on=placed_on,
                promised_on=promised_on,
                on_time=receipt.on_time,
                lead_time_days=receipt.lead_time_days,
                lines=tuple(
                    events.InspectedLine(
                        sku=str(line.sku),
                        unit=line.accepted.unit,
                        accepted=line.accepted.amount,
                        rejected=line.rejected.amount,
                    )
                    for line in receipt.lines
                ),
                fully_received=complete,
            )
        )
        if complete:
            self._record(
                events.PurchaseOrderReceived(
                    **self._about(at),
                    received_on=received_on,
                    promised_on=promised_on,
                    on_time=receipt.on_time,
                    lead_time_days=receipt.lead_time_days,
                    receipts=len(self.receipts),
                )
            )
        return receipt

    def cancel(self, reason: str, *, at: datetime) -> None:
        """Call the order off; no longer possible once goods have started to arrive."""
        check_transition(str(self.id), self.status, Status.CANCELLED, "cancel it")
        reason = required_text("reason", reason, max_length=500)
        aware("at", at)
        previous, self.status = self.status, Status.CANCELLED
        self.cancellation_reason = reason
        self._record(
            events.PurchaseOrderCancelled(
                **self._about(at), reason=reason, previous_status=previous
            )
        )

    def _check_currency(self, price: Money) -> None:
        if price.currency != self.currency:
            raise InvalidValue(
                "unit_price", f"{self.id} is in {self.currency}; got a price in {price.currency}"
            )

    def _check_editable(self, at: datetime) -> None:
        aware("at", at)
        if self.status is not Status.DRAFT:
            raise BusinessRuleViolation(
                "not_editable", f"purchase order {self.id} is {self.status}; only drafts change"
            )

    def _placed_on(self) -> date:
        if self.placed_on is None:  # the state machine makes this unreachable
            raise BusinessRuleViolation("not_placed", f"{self.id} was never placed")
        return self.placed_on

    def _promised_on(self) -> date:
        if self.promised_on is None:  # the state machine makes this unreachable
            raise BusinessRuleViolation("not_confirmed", f"{self.id} has no promised day")
        return self.promised_on

    def _line_revised(self, sku: SkuCode, quantity: Quantity, price: Money, at: datetime) -> None:
        self._record(
            events.PurchaseOrderLineRevised(
                **self._about(at),
                sku=str(sku),
                unit=quantity.unit,
                quantity=quantity.amount,
                unit_price=price,
                total=self.total,
            )
        )

    def _ordered_lines(self) -> tuple[events.OrderedLine, ...]:
        return tuple(
            events.OrderedLine(
                sku=str(line.sku),
                unit=line.quantity.unit,
                quantity=line.quantity.amount,
                unit_price=line.unit_price,
            )
            for line in self.lines
        )

    def _about(self, at: datetime) -> dict[str, Any]:
        """The facts every purchase order event starts with."""
        return {
            "occurred_at": aware("at", at),
            "purchase_order_id": str(self.id),
            "supplier": str(self.supplier),
            "warehouse": str(self.warehouse),
        }
