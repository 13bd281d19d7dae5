"""The purchasing lane: drafts for what fell below its reorder point, placed, confirmed
with a promised day, received on time or late, some in two deliveries."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from contexts.supply_chain.demo.scenario import (
    HOT_ITEM,
    SKU_BY_CODE,
    SKUS,
    WAREHOUSES,
    PurchaseWork,
    SkuSpec,
    as_amount,
    as_units,
)

if TYPE_CHECKING:
    from contexts.supply_chain.demo.simulator import Simulator


class PurchasingLane:
    """Replenishment: purchase orders from draft to receipt.

    Shares the scenario's state through ``core``: the simulator's queues, random
    generator and API client.
    """

    def __init__(self, core: Simulator) -> None:
        self.core = core

    async def step(self) -> str | None:
        for work in list(self.core.purchases):
            if work.order is None:
                work.order = await self.core.call(
                    "GET", f"/purchase-orders/{work.id}", f"read {work.id}"
                )
            try:
                text = await self._advance_purchase(work)
            except Exception:
                work.order = None  # read it again on its next turn
                raise
            if text is not None:
                return text
        if len(self.core.purchases) < self.core.MAX_OPEN_PURCHASE_ORDERS:
            return await self._draft_purchase()
        return None

    async def _advance_purchase(self, work: PurchaseWork) -> str | None:
        order = work.order
        assert order is not None
        status, version = order["status"], order["version"]
        path = f"/purchase-orders/{work.id}"
        if status in ("received", "cancelled"):
            self.core.purchases.remove(work)
            return None
        if status == "draft":
            work.order = await self.core.call(
                "POST", f"{path}/place", f"place {work.id}", version=version
            )
            self.core.summary.purchases["placed"] += 1
            return f"{work.id} placed with {order['supplier']}"
        if status == "placed":
            lead = max(SKU_BY_CODE[line["sku"]].lead_time_days for line in order["lines"])
            promised = date.fromisoformat(order["placed_on"]) + timedelta(days=lead)
            work.order = await self.core.call(
                "POST",
                f"{path}/confirm",
                f"confirm {work.id}",
                json={"promised_on": promised.isoformat()},
                version=version,
            )
            work.due_tick = self.core.tick + (
                self.core.LATE_ARRIVAL_TICKS if work.late else self.core.ON_TIME_ARRIVAL_TICKS
            )
            return f"{work.id} confirmed by {order['supplier']} for {promised.isoformat()}"
        if status in ("confirmed", "partially_received") and self.core.tick >= work.due_tick:
            return await self._receive(work, order)
        return None

    async def _receive(self, work: PurchaseWork, order: dict[str, Any]) -> str:
        placed_on = date.fromisoformat(order["placed_on"])
        promised_on = date.fromisoformat(order["promised_on"])
        first = order["status"] == "confirmed"
        partial = first and work.partial
        if work.late:
            received_on = (
                promised_on + timedelta(days=self.core.rng.randint(1, 3))
                if first or work.first_received_on is None
                else work.first_received_on + timedelta(days=self.core.rng.randint(1, 3))
            )
        else:
            received_on = max(
                placed_on,
                promised_on - timedelta(days=self.core.rng.randint(1, 2)) if first else promised_on,
            )
        lines = []
        for line in order["lines"]:
            outstanding = as_amount(line["outstanding"])
            if outstanding <= 0:
                continue
            if partial:
                accepted = max(Decimal(1), (outstanding * Decimal("0.6")).to_integral_value())
                rejected = Decimal(self.core.rng.randint(1, 3))
            else:
                accepted = outstanding
                rejected = Decimal(
                    self.core.rng.randint(1, 2) if self.core.rng.random() < 0.15 else 0
                )
            lines.append({"sku": line["sku"], "accepted": str(accepted), "rejected": str(rejected)})
        work.order = await self.core.call(
            "POST",
            f"/purchase-orders/{work.id}/receipts",
            f"receive {work.id}",
            json={"received_on": received_on.isoformat(), "lines": lines},
            version=order["version"],
        )
        receipt = work.order["receipts"][-1]
        on_time = bool(receipt["on_time"])
        self.core.summary.purchases["received on time" if on_time else "received late"] += 1
        accepted_total = sum((as_amount(line["accepted"]) for line in lines), Decimal(0))
        rejected_total = sum((as_amount(line["rejected"]) for line in lines), Decimal(0))
        self.core.summary.add_units("received", accepted_total)
        self.core.summary.add_units("rejected", rejected_total)
        if work.order["status"] == "partially_received":
            self.core.summary.purchases["partial deliveries"] += 1
            work.first_received_on = received_on
            work.due_tick = self.core.tick + self.core.SECOND_DELIVERY_TICKS
        else:
            self.core.purchases.remove(work)
        timing = "on time" if on_time else "late"
        return (
            f"{work.id} goods received {received_on.isoformat()} ({timing}, promised "
            f"{promised_on.isoformat()}): {as_units(accepted_total)} accepted, "
            f"{as_units(rejected_total)} rejected -> {work.order['status']}"
        )

    def _covered(self) -> set[tuple[str, str]]:
        """(warehouse, SKU) pairs an open purchase order already brings in."""
        covered: set[tuple[str, str]] = set()
        for work in self.core.purchases:
            if work.order is not None:
                warehouse = work.order["warehouse"]
                covered.update((warehouse, line["sku"]) for line in work.order["lines"])
        return covered

    async def _draft_purchase(self) -> str | None:
        page = await self.core.call(
            "GET",
            "/inventory",
            "read low stock",
            params={"below_reorder_point": "true", "limit": 100},
        )
        covered = self._covered()
        low = [
            level
            for level in page["items"]
            if (level["warehouse"], level["sku"]) not in covered and level["sku"] in SKU_BY_CODE
        ]
        low.sort(
            key=lambda level: (
                as_amount(level["available"]) / SKU_BY_CODE[level["sku"]].reorder_point,
                level["warehouse"],
                level["sku"],
            )
        )
        if low:
            warehouse, sku = low[0]["warehouse"], SKU_BY_CODE[low[0]["sku"]]
            available = as_amount(low[0]["available"])
            reason = f"available {as_units(available)} <= reorder point {sku.reorder_point}"
        elif self.core.rng.random() < 0.25:
            warehouse = self.core.rng.choice(WAREHOUSES).code
            sku = self.core.rng.choice(SKUS)
            if (warehouse, sku.code) in covered:
                return None
            available, reason = Decimal(sku.reorder_point), "routine order"
        else:
            return None
        lines = [self._order_line(sku, available)]
        if self.core.rng.random() < 0.3:
            extras = [
                other
                for other in SKUS
                if other.supplier == sku.supplier
                and other.code != sku.code
                and (warehouse, other.code) not in covered
            ]
            if extras:
                extra = self.core.rng.choice(extras)
                lines.append(self._order_line(extra, Decimal(extra.reorder_point)))
        order_id = self.core.next_id("PO")
        order = await self.core.call(
            "POST",
            "/purchase-orders",
            f"draft {order_id}",
            json={"id": order_id, "supplier": sku.supplier, "warehouse": warehouse, "lines": lines},
        )
        self.core.drafted += 1
        hot = any((warehouse, line["sku"]) == HOT_ITEM for line in lines)
        late = (
            self.core.drafted == 2
            or hot
            or (self.core.drafted > 2 and self.core.rng.random() < 0.3)
        )
        partial = self.core.drafted == 1 or self.core.rng.random() < 0.4
        self.core.purchases.append(PurchaseWork(order_id, late, partial, order=order))
        self.core.summary.purchases["drafted"] += 1
        summary = ", ".join(f"{line['quantity']} {line['sku']}" for line in lines)
        return f"{order_id} drafted for {warehouse} from {sku.supplier} ({reason}): {summary}"

    def _order_line(self, sku: SkuSpec, available: Decimal) -> dict[str, Any]:
        target = Decimal(2 * sku.reorder_point + sku.safety_stock)
        quantity = max(Decimal(20), Decimal(math.ceil((target - available) / 10) * 10))
        price = (Decimal(sku.cost) * Decimal(str(1 + self.core.rng.uniform(-0.05, 0.05)))).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_EVEN
        )
        return {
            "sku": sku.code,
            "quantity": str(quantity),
            "unit_price": {"amount": str(price), "currency": "EUR"},
        }
