"""From a stock-out alert to a Draft purchase order: analytics driving operations."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from contexts.supply_chain.application.commands.purchasing import ProposeReplenishment
from contexts.supply_chain.application.handlers._support import found
from contexts.supply_chain.application.ports import (
    SYSTEM_CLOCK,
    Clock,
    SupplyChainUnitOfWork,
    today,
)
from contexts.supply_chain.application.results import ReplenishmentOutcome
from contexts.supply_chain.domain.ids import PurchaseOrderId, SkuCode, WarehouseCode
from contexts.supply_chain.domain.planning.policy import DemandRate
from contexts.supply_chain.domain.planning.replenishment import plan_replenishment
from contexts.supply_chain.domain.purchasing.lines import LineSpec
from contexts.supply_chain.domain.purchasing.order import PurchaseOrder
from shared_kernel.domain import BusinessRuleViolation


def proposal_key(warehouse: WarehouseCode, sku: SkuCode, day: date) -> str:
    """One proposal per warehouse, SKU and day, however often the alert repeats."""
    return f"replenishment:{warehouse}:{sku}:{day.isoformat()}"


async def propose_replenishment(
    cmd: ProposeReplenishment, uow: SupplyChainUnitOfWork, clock: Clock = SYSTEM_CLOCK
) -> ReplenishmentOutcome:
    """Draft an order from the SKU's preferred supplier at its standard cost, sized by
    ``plan_replenishment`` over available stock plus what open orders still bring.

    Idempotent per day: a second alert for the same key returns the existing draft
    and changes nothing. When the inventory position already covers the target,
    nothing is drafted (and a later alert the same day may still draft).
    """
    warehouse_code, sku_code = WarehouseCode(cmd.warehouse), SkuCode(cmd.sku)
    key = proposal_key(warehouse_code, sku_code, cmd.on or today(clock))
    async with uow:
        existing = await uow.purchase_orders.get_by_idempotency_key(key)
        if existing is not None:
            line = existing.line(sku_code)
            quantity = line.quantity.amount if line is not None else Decimal(0)
            return ReplenishmentOutcome(str(existing.id), quantity, created=False)
        found(await uow.warehouses.get(warehouse_code), "warehouse", warehouse_code)
        sku = found(await uow.skus.get(sku_code), "SKU", sku_code)
        item = await uow.inventory.get(warehouse_code, sku_code)
        proposal = plan_replenishment(
            sku.policy,
            DemandRate(cmd.daily_demand, sku.unit),
            available=item.available if item is not None else sku.quantity(0),
            on_order=sku.quantity(
                await uow.purchase_orders.quantity_on_order(warehouse_code, sku_code)
            ),
        )
        if not proposal.needed:
            return ReplenishmentOutcome(None, proposal.quantity.amount, created=False)
        if sku.preferred_supplier is None or sku.standard_cost is None:
            raise BusinessRuleViolation(
                "no_sourcing",
                f"SKU {sku_code} needs a preferred supplier and a standard cost "
                "to be replenished automatically",
            )
        found(await uow.suppliers.get(sku.preferred_supplier), "supplier", sku.preferred_supplier)
        order = PurchaseOrder.draft(
            PurchaseOrderId.new(),
            sku.preferred_supplier,
            warehouse_code,
            [LineSpec(sku_code, proposal.quantity, sku.standard_cost)],
            at=clock.now(),
            idempotency_key=key,
        )
        await uow.purchase_orders.add(order)
        await uow.commit()
    return ReplenishmentOutcome(str(order.id), proposal.quantity.amount, created=True)
