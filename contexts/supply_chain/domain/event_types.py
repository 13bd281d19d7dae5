"""Every event the supply chain publishes, and the topics they go to.

The interfaces layer generates JSON Schemas from ``EVENT_TYPES``; messaging declares
``TOPICS``. A new event class must be listed here (a unit test checks it).
"""

from __future__ import annotations

from contexts.supply_chain.domain.catalog.events import (
    SkuRegistered,
    SupplierRegistered,
    WarehouseRegistered,
)
from contexts.supply_chain.domain.events import SupplyChainEvent, topic_of
from contexts.supply_chain.domain.inventory.events import (
    ReservationReleased,
    StockAdjusted,
    StockReceived,
    StockReserved,
    StockShipped,
    StockTransferred,
)
from contexts.supply_chain.domain.purchasing.events import (
    GoodsReceived,
    PurchaseOrderCancelled,
    PurchaseOrderConfirmed,
    PurchaseOrderDrafted,
    PurchaseOrderLineRevised,
    PurchaseOrderPlaced,
    PurchaseOrderReceived,
)
from contexts.supply_chain.domain.shipping.events import (
    LegArrived,
    LegDeparted,
    ShipmentDelayed,
    ShipmentDelivered,
    ShipmentDispatched,
    ShipmentEtaUpdated,
    ShipmentPlanned,
)

EVENT_TYPES: tuple[type[SupplyChainEvent], ...] = (
    WarehouseRegistered,
    SkuRegistered,
    SupplierRegistered,
    StockReceived,
    StockReserved,
    ReservationReleased,
    StockShipped,
    StockAdjusted,
    StockTransferred,
    PurchaseOrderDrafted,
    PurchaseOrderLineRevised,
    PurchaseOrderPlaced,
    PurchaseOrderConfirmed,
    GoodsReceived,
    PurchaseOrderReceived,
    PurchaseOrderCancelled,
    ShipmentPlanned,
    ShipmentDispatched,
    LegDeparted,
    LegArrived,
    ShipmentEtaUpdated,
    ShipmentDelayed,
    ShipmentDelivered,
)

TOPICS: tuple[str, ...] = tuple(sorted({topic_of(event_type) for event_type in EVENT_TYPES}))
