"""Purchase order use cases, from draft to goods receipt."""

from __future__ import annotations

from contexts.supply_chain.application.commands.purchasing import (
    CancelPurchaseOrder,
    ConfirmPurchaseOrder,
    DraftPurchaseOrder,
    OrderLineInput,
    PlacePurchaseOrder,
    ReceiveGoods,
    RemovePurchaseOrderLine,
    SetPurchaseOrderLine,
)
from contexts.supply_chain.application.handlers._stock import item_for, stock_in
from contexts.supply_chain.application.handlers._support import check_version, found
from contexts.supply_chain.application.ports import (
    SYSTEM_CLOCK,
    Clock,
    SupplyChainUnitOfWork,
    today,
)
from contexts.supply_chain.application.results import AggregateRef
from contexts.supply_chain.domain.ids import PurchaseOrderId, SkuCode, SupplierId, WarehouseCode
from contexts.supply_chain.domain.purchasing.lines import Inspection, LineSpec
from contexts.supply_chain.domain.purchasing.order import PurchaseOrder
from shared_kernel.domain import Conflict

ORDER = "purchase order"


async def _line_spec(uow: SupplyChainUnitOfWork, line: OrderLineInput) -> LineSpec:
    code = SkuCode(line.sku)
    sku = found(await uow.skus.get(code), "SKU", code)
    return LineSpec(code, sku.quantity(line.quantity), line.unit_price)


async def _order(
    uow: SupplyChainUnitOfWork, order_id: str, expected_version: int | None
) -> PurchaseOrder:
    identifier = PurchaseOrderId(order_id)
    order = found(await uow.purchase_orders.get(identifier), ORDER, identifier)
    check_version(ORDER, order, expected_version)
    return order


async def draft_purchase_order(
    cmd: DraftPurchaseOrder, uow: SupplyChainUnitOfWork, clock: Clock = SYSTEM_CLOCK
) -> AggregateRef:
    order_id = PurchaseOrderId(cmd.purchase_order_id or PurchaseOrderId.new().value)
    supplier_id, warehouse_code = SupplierId(cmd.supplier), WarehouseCode(cmd.warehouse)
    async with uow:
        if await uow.purchase_orders.get(order_id) is not None:
            raise Conflict(f"purchase order {order_id} already exists")
        found(await uow.suppliers.get(supplier_id), "supplier", supplier_id)
        found(await uow.warehouses.get(warehouse_code), "warehouse", warehouse_code)
        lines = [await _line_spec(uow, line) for line in cmd.lines]
        order = PurchaseOrder.draft(order_id, supplier_id, warehouse_code, lines, at=clock.now())
        await uow.purchase_orders.add(order)
        await uow.commit()
    return AggregateRef.of(order)


async def set_purchase_order_line(
    cmd: SetPurchaseOrderLine, uow: SupplyChainUnitOfWork, clock: Clock = SYSTEM_CLOCK
) -> AggregateRef:
    async with uow:
        order = await _order(uow, cmd.purchase_order_id, cmd.expected_version)
        order.set_line(await _line_spec(uow, cmd.line), at=clock.now())
        await uow.commit()
    return AggregateRef.of(order)


async def remove_purchase_order_line(
    cmd: RemovePurchaseOrderLine, uow: SupplyChainUnitOfWork, clock: Clock = SYSTEM_CLOCK
) -> AggregateRef:
    async with uow:
        order = await _order(uow, cmd.purchase_order_id, cmd.expected_version)
        order.remove_line(SkuCode(cmd.sku), at=clock.now())
        await uow.commit()
    return AggregateRef.of(order)


async def place_purchase_order(
    cmd: PlacePurchaseOrder, uow: SupplyChainUnitOfWork, clock: Clock = SYSTEM_CLOCK
) -> AggregateRef:
    async with uow:
        order = await _order(uow, cmd.purchase_order_id, cmd.expected_version)
        order.place(at=clock.now())
        await uow.commit()
    return AggregateRef.of(order)


async def confirm_purchase_order(
    cmd: ConfirmPurchaseOrder, uow: SupplyChainUnitOfWork, clock: Clock = SYSTEM_CLOCK
) -> AggregateRef:
    async with uow:
        order = await _order(uow, cmd.purchase_order_id, cmd.expected_version)
        order.confirm(cmd.promised_on, at=clock.now())
        await uow.commit()
    return AggregateRef.of(order)


async def receive_goods(
    cmd: ReceiveGoods, uow: SupplyChainUnitOfWork, clock: Clock = SYSTEM_CLOCK
) -> AggregateRef:
    """Record the delivery on the order and book the accepted goods into the order's
    warehouse, in one transaction (rejected goods go back, never into stock)."""
    now = clock.now()
    async with uow:
        order = await _order(uow, cmd.purchase_order_id, cmd.expected_version)
        warehouse = found(await uow.warehouses.get(order.warehouse), "warehouse", order.warehouse)
        inspections = []
        for line in cmd.lines:
            code = SkuCode(line.sku)
            sku = found(await uow.skus.get(code), "SKU", code)
            inspections.append(
                Inspection(code, sku.quantity(line.accepted), sku.quantity(line.rejected))
            )
        receipt = order.receive(inspections, cmd.received_on or today(clock), at=now)
        for received in receipt.lines:
            if received.accepted.is_zero():
                continue
            sku = found(await uow.skus.get(received.sku), "SKU", received.sku)
            item = await item_for(uow, warehouse, sku)
            await stock_in(uow, warehouse, item, received.accepted, at=now, reference=str(order.id))
        await uow.commit()
    return AggregateRef.of(order)


async def cancel_purchase_order(
    cmd: CancelPurchaseOrder, uow: SupplyChainUnitOfWork, clock: Clock = SYSTEM_CLOCK
) -> AggregateRef:
    async with uow:
        order = await _order(uow, cmd.purchase_order_id, cmd.expected_version)
        order.cancel(cmd.reason, at=clock.now())
        await uow.commit()
    return AggregateRef.of(order)
