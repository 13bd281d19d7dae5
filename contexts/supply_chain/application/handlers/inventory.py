"""Stock movements: one handler per command, each one transaction."""

from __future__ import annotations

from contexts.supply_chain.application.commands.inventory import (
    AdjustStock,
    ReceiveStock,
    ReleaseReservation,
    ReserveStock,
    ShipStock,
    TransferStock,
)
from contexts.supply_chain.application.handlers._stock import (
    ITEM,
    existing_item,
    item_for,
    stock_in,
)
from contexts.supply_chain.application.handlers._support import check_version, found
from contexts.supply_chain.application.ports import SYSTEM_CLOCK, Clock, SupplyChainUnitOfWork
from contexts.supply_chain.application.results import AggregateRef
from contexts.supply_chain.domain.ids import ReservationRef, SkuCode, TransferId, WarehouseCode
from shared_kernel.domain import Quantity


async def receive_stock(
    cmd: ReceiveStock, uow: SupplyChainUnitOfWork, clock: Clock = SYSTEM_CLOCK
) -> AggregateRef:
    """Book stock in; the first receipt of a SKU in a warehouse starts its item."""
    code, sku_code = WarehouseCode(cmd.warehouse), SkuCode(cmd.sku)
    async with uow:
        warehouse = found(await uow.warehouses.get(code), "warehouse", code)
        sku = found(await uow.skus.get(sku_code), "SKU", sku_code)
        item = await item_for(uow, warehouse, sku)
        check_version(ITEM, item, cmd.expected_version)
        await stock_in(
            uow,
            warehouse,
            item,
            sku.quantity(cmd.quantity),
            at=clock.now(),
            reference=cmd.reference,
        )
        await uow.commit()
    return AggregateRef.of(item)


async def reserve_stock(
    cmd: ReserveStock, uow: SupplyChainUnitOfWork, clock: Clock = SYSTEM_CLOCK
) -> AggregateRef:
    async with uow:
        item = await existing_item(uow, WarehouseCode(cmd.warehouse), SkuCode(cmd.sku))
        check_version(ITEM, item, cmd.expected_version)
        item.reserve(
            ReservationRef(cmd.reference), Quantity(cmd.quantity, item.unit), at=clock.now()
        )
        await uow.commit()
    return AggregateRef.of(item)


async def release_reservation(
    cmd: ReleaseReservation, uow: SupplyChainUnitOfWork, clock: Clock = SYSTEM_CLOCK
) -> AggregateRef:
    async with uow:
        item = await existing_item(uow, WarehouseCode(cmd.warehouse), SkuCode(cmd.sku))
        check_version(ITEM, item, cmd.expected_version)
        quantity = None if cmd.quantity is None else Quantity(cmd.quantity, item.unit)
        item.release(ReservationRef(cmd.reference), quantity, at=clock.now())
        await uow.commit()
    return AggregateRef.of(item)


async def ship_stock(
    cmd: ShipStock, uow: SupplyChainUnitOfWork, clock: Clock = SYSTEM_CLOCK
) -> AggregateRef:
    async with uow:
        item = await existing_item(uow, WarehouseCode(cmd.warehouse), SkuCode(cmd.sku))
        check_version(ITEM, item, cmd.expected_version)
        quantity = None if cmd.quantity is None else Quantity(cmd.quantity, item.unit)
        item.ship(ReservationRef(cmd.reference), quantity, at=clock.now())
        await uow.commit()
    return AggregateRef.of(item)


async def adjust_stock(
    cmd: AdjustStock, uow: SupplyChainUnitOfWork, clock: Clock = SYSTEM_CLOCK
) -> AggregateRef:
    async with uow:
        item = await existing_item(uow, WarehouseCode(cmd.warehouse), SkuCode(cmd.sku))
        check_version(ITEM, item, cmd.expected_version)
        item.adjust(Quantity(cmd.counted, item.unit), cmd.reason, at=clock.now())
        await uow.commit()
    return AggregateRef.of(item)


async def transfer_stock(
    cmd: TransferStock, uow: SupplyChainUnitOfWork, clock: Clock = SYSTEM_CLOCK
) -> AggregateRef:
    """Both halves in one transaction: out of the source item, into the destination's
    (started if needed), within the destination warehouse's capacity."""
    source_code, sku_code = WarehouseCode(cmd.warehouse), SkuCode(cmd.sku)
    destination_code = WarehouseCode(cmd.destination)
    transfer_id = TransferId(cmd.transfer_id) if cmd.transfer_id else TransferId.new()
    now = clock.now()
    async with uow:
        source = await existing_item(uow, source_code, sku_code)
        check_version(ITEM, source, cmd.expected_version)
        quantity = Quantity(cmd.quantity, source.unit)
        source.transfer_out(quantity, destination_code, transfer_id, at=now)
        destination = found(
            await uow.warehouses.get(destination_code), "warehouse", destination_code
        )
        sku = found(await uow.skus.get(sku_code), "SKU", sku_code)
        target = await item_for(uow, destination, sku)
        await stock_in(
            uow,
            destination,
            target,
            quantity,
            at=now,
            reference=str(transfer_id),
            source_warehouse=source_code,
        )
        await uow.commit()
    return AggregateRef.of(source)
