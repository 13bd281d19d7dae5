"""The supply chain's analytical data products, computed from its own domain events.

Pure computations (standard library and the domain only), so they are tested without
a broker: the stream worker (``interfaces/streams``) feeds them each event with the
state it keeps in its tables, stores the state they return, and writes the product
rows through a :class:`ProductSink`. See docs/supply-chain-data-products.md.
"""

from contexts.supply_chain.application.analytics.alerts import (
    AlertChange,
    AlertState,
    Transition,
    alert_id,
)
from contexts.supply_chain.application.analytics.errors import UnusableFact
from contexts.supply_chain.application.analytics.inventory import (
    InventoryAnalytics,
    InventoryUpdate,
    ItemState,
    SkuReference,
    SkuUpdate,
    item_key,
)
from contexts.supply_chain.application.analytics.ports import (
    DEFAULT_LIMIT,
    ProductReader,
    ProductSink,
    ReplenishmentProposer,
    ReplenishmentRequest,
)
from contexts.supply_chain.application.analytics.products import (
    ALERTS,
    DELIVERY_TIMELINES,
    INVENTORY_LEVELS,
    INVENTORY_LEVELS_SPEC,
    PRODUCTS,
    SUPPLIER_PERFORMANCE,
    Alert,
    AlertType,
    DeliveryTimeline,
    InventoryLevel,
    Materialized,
    PerformanceFigures,
    ProductRow,
    Severity,
    SupplierPerformance,
    TimelineLeg,
    fields_of,
)
from contexts.supply_chain.application.analytics.suppliers import (
    SupplierAnalytics,
    SupplierState,
    SupplierUpdate,
)
from contexts.supply_chain.application.analytics.timelines import (
    TimelineAnalytics,
    TimelineState,
    TimelineUpdate,
)

__all__ = [
    "ALERTS",
    "DEFAULT_LIMIT",
    "DELIVERY_TIMELINES",
    "INVENTORY_LEVELS",
    "INVENTORY_LEVELS_SPEC",
    "PRODUCTS",
    "SUPPLIER_PERFORMANCE",
    "Alert",
    "AlertChange",
    "AlertState",
    "AlertType",
    "DeliveryTimeline",
    "InventoryAnalytics",
    "InventoryLevel",
    "InventoryUpdate",
    "ItemState",
    "Materialized",
    "PerformanceFigures",
    "ProductReader",
    "ProductRow",
    "ProductSink",
    "ReplenishmentProposer",
    "ReplenishmentRequest",
    "Severity",
    "SkuReference",
    "SkuUpdate",
    "SupplierAnalytics",
    "SupplierPerformance",
    "SupplierState",
    "SupplierUpdate",
    "TimelineAnalytics",
    "TimelineLeg",
    "TimelineState",
    "TimelineUpdate",
    "Transition",
    "UnusableFact",
    "alert_id",
    "fields_of",
    "item_key",
]
