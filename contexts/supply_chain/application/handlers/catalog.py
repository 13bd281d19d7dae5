"""Register warehouses, SKUs and suppliers; a code can be registered only once."""

from __future__ import annotations

from contexts.supply_chain.application.commands.catalog import (
    RegisterSku,
    RegisterSupplier,
    RegisterWarehouse,
)
from contexts.supply_chain.application.handlers._support import found
from contexts.supply_chain.application.ports import SYSTEM_CLOCK, Clock, SupplyChainUnitOfWork
from contexts.supply_chain.application.results import AggregateRef
from contexts.supply_chain.domain.catalog.sku import Sku
from contexts.supply_chain.domain.catalog.supplier import Supplier
from contexts.supply_chain.domain.catalog.warehouse import Warehouse
from contexts.supply_chain.domain.ids import SkuCode, SupplierId, WarehouseCode
from contexts.supply_chain.domain.planning.policy import ReplenishmentPolicy
from contexts.supply_chain.domain.values import GeoLocation
from shared_kernel.domain import Conflict, Quantity


async def register_warehouse(
    cmd: RegisterWarehouse, uow: SupplyChainUnitOfWork, clock: Clock = SYSTEM_CLOCK
) -> AggregateRef:
    code = WarehouseCode(cmd.code)
    location = GeoLocation(cmd.latitude, cmd.longitude)
    capacity = Quantity(cmd.capacity, cmd.capacity_unit)
    async with uow:
        if await uow.warehouses.get(code) is not None:
            raise Conflict(f"warehouse {code} is already registered")
        warehouse = Warehouse.register(code, cmd.name, location, capacity, at=clock.now())
        await uow.warehouses.add(warehouse)
        await uow.commit()
    return AggregateRef.of(warehouse)


async def register_sku(
    cmd: RegisterSku, uow: SupplyChainUnitOfWork, clock: Clock = SYSTEM_CLOCK
) -> AggregateRef:
    """The preferred supplier, when given, must be registered first."""
    code = SkuCode(cmd.code)
    policy = ReplenishmentPolicy(
        reorder_point=Quantity(cmd.reorder_point, cmd.unit),
        safety_stock=Quantity(cmd.safety_stock, cmd.unit),
        lead_time_days=cmd.lead_time_days,
    )
    supplier = SupplierId(cmd.preferred_supplier) if cmd.preferred_supplier else None
    async with uow:
        if await uow.skus.get(code) is not None:
            raise Conflict(f"SKU {code} is already registered")
        if supplier is not None:
            found(await uow.suppliers.get(supplier), "supplier", supplier)
        sku = Sku.register(
            code,
            cmd.name,
            policy,
            preferred_supplier=supplier,
            standard_cost=cmd.standard_cost,
            at=clock.now(),
        )
        await uow.skus.add(sku)
        await uow.commit()
    return AggregateRef.of(sku)


async def register_supplier(
    cmd: RegisterSupplier, uow: SupplyChainUnitOfWork, clock: Clock = SYSTEM_CLOCK
) -> AggregateRef:
    supplier_id = SupplierId(cmd.id)
    async with uow:
        if await uow.suppliers.get(supplier_id) is not None:
            raise Conflict(f"supplier {supplier_id} is already registered")
        supplier = Supplier.register(supplier_id, cmd.name, cmd.country, at=clock.now())
        await uow.suppliers.add(supplier)
        await uow.commit()
    return AggregateRef.of(supplier)
