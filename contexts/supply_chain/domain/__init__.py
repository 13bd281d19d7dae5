"""The supply chain's domain model: standard library and shared kernel only."""

from contexts.supply_chain.domain.catalog.sku import Sku
from contexts.supply_chain.domain.catalog.supplier import Supplier
from contexts.supply_chain.domain.catalog.warehouse import Warehouse
from contexts.supply_chain.domain.event_types import EVENT_TYPES, TOPICS
from contexts.supply_chain.domain.ids import (
    AccountId,
    InventoryItemId,
    PurchaseOrderId,
    ReservationRef,
    ShipmentId,
    SkuCode,
    SupplierId,
    TransferId,
    WarehouseCode,
)
from contexts.supply_chain.domain.inventory.events import AdjustmentReason
from contexts.supply_chain.domain.inventory.item import InventoryItem
from contexts.supply_chain.domain.planning.forecast import StockOutForecast, forecast_stock_out
from contexts.supply_chain.domain.planning.policy import DemandRate, ReplenishmentPolicy
from contexts.supply_chain.domain.planning.replenishment import (
    ReplenishmentProposal,
    plan_replenishment,
)
from contexts.supply_chain.domain.purchasing.lines import Inspection, LineSpec
from contexts.supply_chain.domain.purchasing.order import PurchaseOrder
from contexts.supply_chain.domain.purchasing.status import PurchaseOrderStatus
from contexts.supply_chain.domain.shipping.legs import LegPlan
from contexts.supply_chain.domain.shipping.lines import ShipmentItem
from contexts.supply_chain.domain.shipping.shipment import Shipment
from contexts.supply_chain.domain.shipping.status import ShipmentStatus
from contexts.supply_chain.domain.values import GeoLocation

__all__ = [
    "EVENT_TYPES",
    "TOPICS",
    "AccountId",
    "AdjustmentReason",
    "DemandRate",
    "GeoLocation",
    "Inspection",
    "InventoryItem",
    "InventoryItemId",
    "LegPlan",
    "LineSpec",
    "PurchaseOrder",
    "PurchaseOrderId",
    "PurchaseOrderStatus",
    "ReplenishmentPolicy",
    "ReplenishmentProposal",
    "ReservationRef",
    "Shipment",
    "ShipmentId",
    "ShipmentItem",
    "ShipmentStatus",
    "Sku",
    "SkuCode",
    "StockOutForecast",
    "Supplier",
    "SupplierId",
    "TransferId",
    "Warehouse",
    "WarehouseCode",
    "forecast_stock_out",
    "plan_replenishment",
]
