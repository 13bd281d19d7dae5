"""Where the stream worker measures the live SLIs of its data products.

Two places, so that each figure is taken where it means what it says:

- **freshness** where product rows are written (:func:`observe_freshness`): once the
  event's transaction has committed, each product written gets one lag sample, from
  the newest ``as_of`` of its rows (the event time of the newest fact) to now, when the
  rows became visible. Skipped redeliveries write nothing, so they add no sample.
- **completeness, errors and dead letters** around each agent's handler
  (:func:`measured_handler`, :func:`dead_letter_hook`), per the products the agent feeds
  (:data:`AGENT_PRODUCTS`). The sequence of aggregate versions is followed by the agent
  that reads the product's *domain* topic, where every version of an aggregate passes
  (the forwarders for re-keyed streams: only goods receipts are forwarded from the
  purchase orders, so their versions have holes by design further down). Keys are
  prefixed with that topic, so aggregates of different topics never share a sequence.
  Agents downstream of a forwarder report failures and dead letters (a dead letter
  there marks its version lost) but do not count events again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

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
from shared_kernel.infrastructure.messaging.cloudevents import EventEnvelope
from shared_kernel.infrastructure.slo import SliRecorder
from shared_kernel.infrastructure.streams import DeadLetterHook, aggregate_version_of

__all__ = [
    "AGENT_PRODUCTS",
    "AgentMeasure",
    "agent_measure",
    "dead_letter_hook",
    "measured_handler",
    "observe_freshness",
    "product_of",
]

#: A handler may return a future for an effect still on its way (see process_events).
Handler = Callable[[EventEnvelope], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class AgentMeasure:
    """What one agent contributes to the SLIs of ``products``.

    ``sequence_topic`` is the domain topic whose aggregate versions are followed (the
    key prefix); ``counts_events`` is True for the agent reading that topic itself.
    """

    products: tuple[str, ...]
    sequence_topic: str
    counts_events: bool


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
    """One freshness sample per product written, from its newest row's ``as_of`` to
    now; call it once the rows are committed (visible)."""
    if not rows:
        return
    visible_at = recorder.now()
    newest: dict[str, datetime] = {}
    for row in rows:
        product = product_of(row)
        if product not in newest or row.as_of > newest[product]:
            newest[product] = row.as_of
    for product, as_of in newest.items():
        recorder.observe_freshness(product, as_of, visible_at)


def _sequence_key(measure: AgentMeasure, envelope: EventEnvelope) -> tuple[str, int] | None:
    subject = envelope.subject or envelope.key
    version = aggregate_version_of(envelope)
    if subject is None or version is None:
        return None
    return f"{measure.sequence_topic}/{subject}", version


def measured_handler(handle: Handler, recorder: SliRecorder, measure: AgentMeasure) -> Handler:
    """``handle``, reporting each failed attempt and, where the agent counts events,
    each event applied."""

    async def measured(envelope: EventEnvelope) -> Any:
        try:
            effect = await handle(envelope)
        except Exception:
            for product in measure.products:
                recorder.observe_error(product)
            raise
        if not measure.counts_events:
            return effect
        sequence = _sequence_key(measure, envelope)
        key, version = sequence if sequence is not None else (None, None)
        for product in measure.products:
            recorder.observe(product, envelope.time, key, version)
        return effect

    return measured


def dead_letter_hook(recorder: SliRecorder, measure: AgentMeasure) -> DeadLetterHook:
    """For ``process_events(on_dead_letter=...)``: each dead letter of the agent, for
    each of its products, with the event's version when the message was an event."""

    def hook(envelope: EventEnvelope | None, reason: str) -> None:
        sequence = None if envelope is None else _sequence_key(measure, envelope)
        key, version = sequence if sequence is not None else (None, None)
        for product in measure.products:
            recorder.observe_dead_letter(product, key, version)

    return hook
