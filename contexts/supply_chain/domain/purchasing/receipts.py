"""Goods receipts: deliveries recorded against a purchase order, and their inspection."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from contexts.supply_chain.domain.ids import SkuCode
from contexts.supply_chain.domain.purchasing.lines import Inspection, OrderLine
from shared_kernel.domain import BusinessRuleViolation, InvalidValue, Quantity


class ReceiptLine:
    """The inspection result of one SKU within a goods receipt."""

    sku: SkuCode
    accepted: Quantity
    rejected: Quantity

    def __init__(self, sku: SkuCode, accepted: Quantity, rejected: Quantity) -> None:
        self.sku = sku
        self.accepted = accepted
        self.rejected = rejected


class GoodsReceipt:
    """One delivery against a purchase order, numbered from 1 within the order.

    ``on_time`` compares the day the goods arrived with the promised day (arriving on
    the promised day is on time); ``lead_time_days`` counts calendar days from the day
    the order was placed to this receipt. Both feed supplier performance.
    """

    number: int
    received_on: date
    on_time: bool
    lead_time_days: int
    lines: list[ReceiptLine]

    def __init__(
        self,
        number: int,
        received_on: date,
        on_time: bool,
        lead_time_days: int,
        lines: list[ReceiptLine],
    ) -> None:
        self.number = number
        self.received_on = received_on
        self.on_time = on_time
        self.lead_time_days = lead_time_days
        self.lines = lines

    @classmethod
    def inspect(
        cls,
        number: int,
        ordered: Sequence[OrderLine],
        inspections: Sequence[Inspection],
        *,
        placed_on: date,
        promised_on: date,
        received_on: date,
    ) -> GoodsReceipt:
        """Check a delivery against the order lines, without changing them.

        Refused: an empty delivery, a SKU inspected twice or not on the order, a line
        accepting more than it still expects (over-receipt), a day before placing.
        """
        if received_on < placed_on:
            raise BusinessRuleViolation(
                "received_before_placed",
                f"goods received on {received_on}, before the order was placed ({placed_on})",
            )
        if not inspections:
            raise InvalidValue("lines", "a goods receipt inspects at least one line")
        by_sku = {line.sku: line for line in ordered}
        lines: list[ReceiptLine] = []
        for inspection in inspections:
            line = by_sku.pop(inspection.sku, None)
            if line is None:
                raise BusinessRuleViolation(
                    "unknown_line", f"{inspection.sku} is not on the order or inspected twice"
                )
            if inspection.accepted > line.outstanding:
                raise BusinessRuleViolation(
                    "over_receipt",
                    f"{line.sku}: {line.outstanding} still expected, "
                    f"{inspection.accepted} accepted",
                )
            lines.append(ReceiptLine(inspection.sku, inspection.accepted, inspection.rejected))
        return cls(
            number=number,
            received_on=received_on,
            on_time=received_on <= promised_on,
            lead_time_days=(received_on - placed_on).days,
            lines=lines,
        )

    def __repr__(self) -> str:
        return f"GoodsReceipt(#{self.number}, {self.received_on}, on_time={self.on_time})"
