"""Which products each of the supply chain's agents feeds, for the live SLIs.

The measuring itself is the kernel's (``shared_kernel.infrastructure.streams.measures``:
freshness where rows are written, completeness, errors and dead letters around each
handler). Here: per agent, its products and the domain topic whose aggregate versions
it follows. The forwarders count events; the agents downstream of them (re-keyed
streams) report failures and dead letters only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from contexts.supply_chain.application.analytics import (
    ALERTS,
    DELIVERY_TIMELINES,
    INVENTORY_LEVELS,
    SUPPLIER_PERFORMANCE,
    Alert,
    DeliveryTimeline,
    InventoryLevel,
    ProductRow,
    SupplierPerformance,
)
from shared_kernel.infrastructure.slo import SliRecorder
from shared_kernel.infrastructure.streams import measures
from shared_kernel.infrastructure.streams.measures import (
    AgentMeasure,
    dead_letter_hook,
    measured_handler,
)

__all__ = [
    "AGENT_PRODUCTS",
    "AgentMeasure",
    "agent_measure",
    "dead_letter_hook",
    "measured_handler",
    "observe_freshness",
    "product_of",
]

INVENTORY_PRODUCTS: Final = (INVENTORY_LEVELS, ALERTS)

#: Per agent name of ``build_analytics``: the products it feeds and its role. The
#: values are topic *roles*; ``agent_measures`` turns them into the topic names in use.
AGENT_PRODUCTS: Final[Mapping[str, tuple[tuple[str, ...], str, bool]]] = {
    "inventory-forward": (INVENTORY_PRODUCTS, "inventory", True),
    "inventory-levels": (INVENTORY_PRODUCTS, "inventory", False),
    "sku-reference": (INVENTORY_PRODUCTS, "sku", True),
    "receipts-forward": ((SUPPLIER_PERFORMANCE,), "purchase_order", True),
    "supplier-receipts": ((SUPPLIER_PERFORMANCE,), "purchase_order", False),
    "supplier-profiles": ((SUPPLIER_PERFORMANCE,), "supplier", True),
    "delivery-timelines": ((DELIVERY_TIMELINES, ALERTS), "shipment", True),
}


def agent_measure(agent: str, topics: Mapping[str, str]) -> AgentMeasure:
    """The measure of ``agent``, with ``topics`` mapping a role to its topic name."""
    if agent not in AGENT_PRODUCTS:
        raise ValueError(
            f"agent {agent!r} has no SLI measure: say which products it feeds in AGENT_PRODUCTS"
        )
    products, role, counts = AGENT_PRODUCTS[agent]
    return AgentMeasure(products, topics[role], counts)


def product_of(row: ProductRow) -> str:
    if isinstance(row, InventoryLevel):
        return INVENTORY_LEVELS
    if isinstance(row, SupplierPerformance):
        return SUPPLIER_PERFORMANCE
    if isinstance(row, Alert):
        return ALERTS
    if isinstance(row, DeliveryTimeline):
        return DELIVERY_TIMELINES
    raise TypeError(f"no product for {type(row).__name__}")


def observe_freshness(recorder: SliRecorder, rows: Sequence[ProductRow]) -> None:
    """One freshness sample per product written (``measures.observe_freshness``)."""
    measures.observe_freshness(recorder, rows, product_of)
