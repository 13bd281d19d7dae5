"""Command handlers, and the table the message bus dispatches with.

Each handler is ``async (command, uow, clock=SYSTEM_CLOCK) -> result``.
``COMMAND_HANDLERS`` uses the system clock; ``command_handlers(clock)`` binds another
one (a composition root pinning time, or a test).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from contexts.supply_chain.application.commands.catalog import (
    RegisterSku,
    RegisterSupplier,
    RegisterWarehouse,
)
from contexts.supply_chain.application.commands.inventory import (
    AdjustStock,
    ReceiveStock,
    ReleaseReservation,
    ReserveStock,
    ShipStock,
    TransferStock,
)
from contexts.supply_chain.application.commands.purchasing import (
    CancelPurchaseOrder,
    ConfirmPurchaseOrder,
    DraftPurchaseOrder,
    PlacePurchaseOrder,
    ProposeReplenishment,
    ReceiveGoods,
    RemovePurchaseOrderLine,
    SetPurchaseOrderLine,
)
from contexts.supply_chain.application.commands.shipping import (
    DeliverShipment,
    DispatchShipment,
    PlanShipment,
    RecordLegArrival,
    RecordLegDeparture,
    UpdateShipmentEta,
)
from contexts.supply_chain.application.handlers.catalog import (
    register_sku,
    register_supplier,
    register_warehouse,
)
from contexts.supply_chain.application.handlers.inventory import (
    adjust_stock,
    receive_stock,
    release_reservation,
    reserve_stock,
    ship_stock,
    transfer_stock,
)
from contexts.supply_chain.application.handlers.purchasing import (
    cancel_purchase_order,
    confirm_purchase_order,
    draft_purchase_order,
    place_purchase_order,
    receive_goods,
    remove_purchase_order_line,
    set_purchase_order_line,
)
from contexts.supply_chain.application.handlers.replenishment import propose_replenishment
from contexts.supply_chain.application.handlers.shipping import (
    deliver_shipment,
    dispatch_shipment,
    plan_shipment,
    record_leg_arrival,
    record_leg_departure,
    update_shipment_eta,
)
from contexts.supply_chain.application.ports import SYSTEM_CLOCK, Clock, SupplyChainUnitOfWork
from shared_kernel.application import Command

Handler = Callable[[Any, SupplyChainUnitOfWork], Awaitable[Any]]

_HANDLERS: dict[type[Command], Callable[..., Awaitable[Any]]] = {
    RegisterWarehouse: register_warehouse,
    RegisterSku: register_sku,
    RegisterSupplier: register_supplier,
    ReceiveStock: receive_stock,
    ReserveStock: reserve_stock,
    ReleaseReservation: release_reservation,
    ShipStock: ship_stock,
    AdjustStock: adjust_stock,
    TransferStock: transfer_stock,
    DraftPurchaseOrder: draft_purchase_order,
    SetPurchaseOrderLine: set_purchase_order_line,
    RemovePurchaseOrderLine: remove_purchase_order_line,
    PlacePurchaseOrder: place_purchase_order,
    ConfirmPurchaseOrder: confirm_purchase_order,
    ReceiveGoods: receive_goods,
    CancelPurchaseOrder: cancel_purchase_order,
    ProposeReplenishment: propose_replenishment,
    PlanShipment: plan_shipment,
    DispatchShipment: dispatch_shipment,
    RecordLegDeparture: record_leg_departure,
    RecordLegArrival: record_leg_arrival,
    UpdateShipmentEta: update_shipment_eta,
    DeliverShipment: deliver_shipment,
}


def command_handlers(clock: Clock = SYSTEM_CLOCK) -> dict[type[Command], Handler]:
    """Every command type with its handler, reading time from ``clock``."""
    return {command: partial(handler, clock=clock) for command, handler in _HANDLERS.items()}


COMMAND_HANDLERS: dict[type[Command], Handler] = command_handlers()
