"""Shipment use cases: plan, dispatch, track legs and ETAs, deliver."""

from __future__ import annotations

from contexts.supply_chain.application.commands.shipping import (
    DeliverShipment,
    DispatchShipment,
    PlanShipment,
    RecordLegArrival,
    RecordLegDeparture,
    UpdateShipmentEta,
)
from contexts.supply_chain.application.handlers._support import check_version, found
from contexts.supply_chain.application.ports import SYSTEM_CLOCK, Clock, SupplyChainUnitOfWork
from contexts.supply_chain.application.results import AggregateRef
from contexts.supply_chain.domain.ids import AccountId, ShipmentId, SkuCode, WarehouseCode
from contexts.supply_chain.domain.shipping.legs import LegPlan
from contexts.supply_chain.domain.shipping.lines import ShipmentItem
from contexts.supply_chain.domain.shipping.shipment import Shipment
from shared_kernel.domain import Conflict

SHIPMENT = "shipment"


async def _shipment(
    uow: SupplyChainUnitOfWork, shipment_id: str, expected_version: int | None
) -> Shipment:
    identifier = ShipmentId(shipment_id)
    shipment = found(await uow.shipments.get(identifier), SHIPMENT, identifier)
    check_version(SHIPMENT, shipment, expected_version)
    return shipment


async def plan_shipment(
    cmd: PlanShipment, uow: SupplyChainUnitOfWork, clock: Clock = SYSTEM_CLOCK
) -> AggregateRef:
    shipment_id = ShipmentId(cmd.shipment_id) if cmd.shipment_id else ShipmentId.new()
    warehouse = WarehouseCode(cmd.warehouse)
    route = [
        LegPlan(
            leg.origin, leg.destination, leg.carrier, leg.planned_departure, leg.planned_arrival
        )
        for leg in cmd.legs
    ]
    async with uow:
        if await uow.shipments.get(shipment_id) is not None:
            raise Conflict(f"shipment {shipment_id} already exists")
        found(await uow.warehouses.get(warehouse), "warehouse", warehouse)
        items = []
        for line in cmd.lines:
            code = SkuCode(line.sku)
            sku = found(await uow.skus.get(code), "SKU", code)
            items.append(ShipmentItem(code, sku.quantity(line.quantity)))
        shipment = Shipment.plan(
            shipment_id, AccountId(cmd.account), warehouse, items, route, at=clock.now()
        )
        await uow.shipments.add(shipment)
        await uow.commit()
    return AggregateRef.of(shipment)


async def dispatch_shipment(
    cmd: DispatchShipment, uow: SupplyChainUnitOfWork, clock: Clock = SYSTEM_CLOCK
) -> AggregateRef:
    now = clock.now()
    async with uow:
        shipment = await _shipment(uow, cmd.shipment_id, cmd.expected_version)
        shipment.dispatch(cmd.dispatched_at or now, at=now)
        await uow.commit()
    return AggregateRef.of(shipment)


async def record_leg_departure(
    cmd: RecordLegDeparture, uow: SupplyChainUnitOfWork, clock: Clock = SYSTEM_CLOCK
) -> AggregateRef:
    async with uow:
        shipment = await _shipment(uow, cmd.shipment_id, cmd.expected_version)
        shipment.record_departure(cmd.sequence, cmd.departed_at, at=clock.now())
        await uow.commit()
    return AggregateRef.of(shipment)


async def record_leg_arrival(
    cmd: RecordLegArrival, uow: SupplyChainUnitOfWork, clock: Clock = SYSTEM_CLOCK
) -> AggregateRef:
    async with uow:
        shipment = await _shipment(uow, cmd.shipment_id, cmd.expected_version)
        shipment.record_arrival(cmd.sequence, cmd.arrived_at, at=clock.now())
        await uow.commit()
    return AggregateRef.of(shipment)


async def update_shipment_eta(
    cmd: UpdateShipmentEta, uow: SupplyChainUnitOfWork, clock: Clock = SYSTEM_CLOCK
) -> AggregateRef:
    async with uow:
        shipment = await _shipment(uow, cmd.shipment_id, cmd.expected_version)
        shipment.update_eta(cmd.eta, at=clock.now())
        await uow.commit()
    return AggregateRef.of(shipment)


async def deliver_shipment(
    cmd: DeliverShipment, uow: SupplyChainUnitOfWork, clock: Clock = SYSTEM_CLOCK
) -> AggregateRef:
    now = clock.now()
    async with uow:
        shipment = await _shipment(uow, cmd.shipment_id, cmd.expected_version)
        shipment.deliver(cmd.delivered_at or now, at=now)
        await uow.commit()
    return AggregateRef.of(shipment)
