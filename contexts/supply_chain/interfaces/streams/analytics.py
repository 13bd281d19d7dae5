"""The supply chain's stream worker: faust agents that keep its data products current.

Thin agents: decode the CloudEvent into the context's own domain event, hand it with
the state kept in a faust table to the pure computations of
``application.analytics``, then write the product rows through the injected
:class:`ProductSink`, publish alert changes on ``supply_chain.alerts.v1``, ask the
injected :class:`ReplenishmentProposer` when a stock-out alert fires, and store the
new state. The state is written last: if anything before fails, the retry starts
from the same state, and the sink's upserts make the repeated writes harmless.

Topology (all topics with the same partition count, see ``build_analytics``)::

    supply_chain.inventory.v1 ──forward, key=sku──▶ <app>-inventory-by-sku ─┐
    supply_chain.sku.v1 ─────────────────────────────────────────────────────┴▶ inventory-items,
                                                                                sku-reference
    supply_chain.purchase_order.v1 ─GoodsReceived, key=supplier─▶ <app>-receipts-by-supplier ─┐
    supply_chain.supplier.v1 ─────────────────────────────────────────────────────────────────┴▶
                                                                                supplier-state
    supply_chain.shipment.v1 ────────────────────────────────────────────────▶ delivery-timelines

Why re-key instead of a global table. Inventory events are keyed
``<warehouse>:<sku>``, SKU events by SKU code, and goods receipts by purchase order,
while the products join on the SKU and aggregate per supplier. Forwarding each
inventory event to an internal topic keyed by SKU (and each receipt keyed by
supplier), with the partition the relay would choose for that key, puts a SKU's
registration and all its stock movements in the same partition number, which
faust's assignor gives to one worker (co-partitioned topics). So:

- the SKU's policy and every warehouse's item state sit in one worker, and a
  registration processed after the stock movements (topics are consumed
  independently, e.g. when a new worker starts from the earliest offsets)
  re-assesses every warehouse holding the SKU at once; a global table would give
  every worker the policy but nobody the warehouses to re-assess;
- each supplier's performance state has exactly one owner, instead of partial
  copies on every partition its purchase orders hash to;
- nothing is replicated to every worker, and the scheme holds with any worker count.

The cost is one extra hop (an internal topic per join) and SKU-level hot spots: a
best-selling SKU's warehouses all land on one partition.

Idempotency. Each state carries the aggregate version of the newest event applied
(inventory items, SKUs, suppliers' profiles, shipments), or, for receipts, the
highest receipt number per purchase order; a redelivered or re-forwarded event is
recognised and skipped. No separate guard table is needed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import faust
from faust.types import TableT, TopicT

from contexts.supply_chain.application.analytics import (
    Alert,
    AlertChange,
    InventoryAnalytics,
    InventoryUpdate,
    ItemState,
    ProductRow,
    ProductSink,
    ReplenishmentProposer,
    SkuReference,
    SupplierAnalytics,
    SupplierState,
    TimelineAnalytics,
    TimelineState,
    Transition,
    UnusableFact,
    item_key,
)
from contexts.supply_chain.domain.catalog.events import (
    SkuEvent,
    SkuRegistered,
    SupplierEvent,
    SupplierRegistered,
    WarehouseEvent,
)
from contexts.supply_chain.domain.event_types import EVENT_TYPES
from contexts.supply_chain.domain.events import CONTEXT, SupplyChainEvent, topic_of
from contexts.supply_chain.domain.inventory.events import InventoryEvent
from contexts.supply_chain.domain.purchasing.events import GoodsReceived, PurchaseOrderEvent
from contexts.supply_chain.domain.shipping.events import ShipmentEvent
from contexts.supply_chain.interfaces.streams.slis import (
    MeasuredSink,
    agent_measure,
    dead_letter_hook,
    measured_handler,
)
from shared_kernel.domain import DomainError
from shared_kernel.infrastructure.messaging.cloudevents import EventEnvelope, encode
from shared_kernel.infrastructure.messaging.producer import KeyPartitioner, context_source
from shared_kernel.infrastructure.messaging.topics import ensure_topics
from shared_kernel.infrastructure.serialization import event_from_json
from shared_kernel.infrastructure.settings import KafkaSettings
from shared_kernel.infrastructure.slo import SliRecorder
from shared_kernel.infrastructure.streams import (
    DeadLetterHook,
    PermanentEventError,
    event_topic,
    process_events,
    stream_agent,
)

__all__ = [
    "ALERT_CLEARED",
    "ALERT_RAISED",
    "AnalyticsStreams",
    "AnalyticsTopics",
    "alert_payload",
    "build_analytics",
]

logger = logging.getLogger(__name__)

ALERT_RAISED = f"{CONTEXT}.AlertRaised"
ALERT_CLEARED = f"{CONTEXT}.AlertCleared"
SOURCE = context_source(CONTEXT)

#: Table names; changelogs are ``<app id>-<table>-changelog``.
SKU_TABLE = "sku-reference"
ITEM_TABLE = "inventory-items"
SUPPLIER_TABLE = "supplier-state"
TIMELINE_TABLE = "delivery-timelines"

#: A failing sink (the read store down) is retried this many times before the event
#: is dead-lettered: with the kernel's backoff, about half a minute.
MAX_ATTEMPTS = 18

_EVENT_CLASSES: dict[str, type[SupplyChainEvent]] = {cls.type_name(): cls for cls in EVENT_TYPES}

E = TypeVar("E", bound=SupplyChainEvent)


@dataclass(frozen=True, slots=True)
class AnalyticsTopics:
    """The topics the worker reads and writes; the defaults are the published names."""

    warehouse: str = topic_of(WarehouseEvent)
    sku: str = topic_of(SkuEvent)
    supplier: str = topic_of(SupplierEvent)
    inventory: str = topic_of(InventoryEvent)
    purchase_order: str = topic_of(PurchaseOrderEvent)
    shipment: str = topic_of(ShipmentEvent)
    alerts: str = f"{CONTEXT}.alerts.v1"

    def topic_for(self, event: SupplyChainEvent) -> str:
        """The outbox's routing rule: the field named after the event's aggregate type."""
        topic: str = getattr(self, event.aggregate_type)
        return topic


def build_analytics(
    app: faust.App,
    sink: ProductSink,
    propose: ReplenishmentProposer,
    *,
    topics: AnalyticsTopics | None = None,
    partitions: int | None = None,
    demand_window_days: int = 7,
    supplier_window_days: int = 30,
    sli: SliRecorder | None = None,
) -> AnalyticsStreams:
    """Register the data products' topics, tables and agents on ``app``.

    ``partitions`` (default: the app's ``topic_partitions``) is the partition count
    of every topic involved, the six domain topics included: the joins rely on it.
    Run the app with ``stream_worker``/``run_worker``, which create the source,
    internal and changelog topics; create the output topic with
    :meth:`AnalyticsStreams.declare_output_topics` first.

    With ``sli``, the products' live SLIs are measured as the agents run (see
    ``interfaces/streams/slis.py``).
    """
    return AnalyticsStreams(
        app,
        sink,
        propose,
        topics=topics or AnalyticsTopics(),
        partitions=partitions or int(app.conf.topic_partitions),
        inventory=InventoryAnalytics(demand_window_days),
        suppliers=SupplierAnalytics(supplier_window_days),
        timelines=TimelineAnalytics(),
        sli=sli,
    )


class AnalyticsStreams:
    """The agents, tables and topics of the supply chain's data products on one app."""

    def __init__(
        self,
        app: faust.App,
        sink: ProductSink,
        propose: ReplenishmentProposer,
        *,
        topics: AnalyticsTopics,
        partitions: int,
        inventory: InventoryAnalytics,
        suppliers: SupplierAnalytics,
        timelines: TimelineAnalytics,
        sli: SliRecorder | None = None,
    ) -> None:
        self.app = app
        self.sli = sli
        self.sink: ProductSink = sink if sli is None else MeasuredSink(sink, sli)
        self.propose = propose
        self.topics = topics
        self.partitions = partitions
        self.inventory = inventory
        self.suppliers = suppliers
        self.timelines = timelines
        self._locks = _KeyedLocks()
        self._partition_of = KeyPartitioner()

        app_id = str(app.conf.id)
        self.inventory_by_sku_topic = f"{app_id}-inventory-by-sku"
        self.receipts_by_supplier_topic = f"{app_id}-receipts-by-supplier"

        def topic(name: str) -> TopicT:
            return event_topic(app, name, partitions=partitions)

        def table(name: str, help: str) -> TableT[str, dict[str, Any]]:
            return app.Table(name, partitions=partitions, key_type=str, help=help)

        self.skus = table(SKU_TABLE, "Per SKU: replenishment policy and warehouses holding it.")
        self.items = table(ITEM_TABLE, "Per <warehouse>:<sku>: stock, demand, stock-out alert.")
        self.supplier_states = table(SUPPLIER_TABLE, "Per supplier: receipts and totals.")
        self.timeline_states = table(TIMELINE_TABLE, "Per shipment: timeline and delay alert.")
        self.alerts_topic = topic(topics.alerts)
        self._inventory_by_sku = topic(self.inventory_by_sku_topic)
        self._receipts_by_supplier = topic(self.receipts_by_supplier_topic)

        agents: list[tuple[str, str, Callable[[EventEnvelope], Awaitable[None]]]] = [
            ("inventory-forward", topics.inventory, self.forward_inventory),
            ("inventory-levels", self.inventory_by_sku_topic, self.on_inventory),
            ("sku-reference", topics.sku, self.on_sku),
            ("receipts-forward", topics.purchase_order, self.forward_receipt),
            ("supplier-receipts", self.receipts_by_supplier_topic, self.on_receipt),
            ("supplier-profiles", topics.supplier, self.on_supplier),
            ("delivery-timelines", topics.shipment, self.on_shipment),
        ]
        for name, source, handler in agents:
            self._agent(name, topic(source), handler)

    @property
    def output_topics(self) -> dict[str, int]:
        """Topics the worker writes but does not read: ``{name: partitions}``."""
        return {self.topics.alerts: self.partitions}

    async def declare_output_topics(self, settings: KafkaSettings) -> None:
        """Create the alerts topic (``stream_worker`` creates only what agents read)."""
        await ensure_topics(
            settings.bootstrap_servers,
            self.output_topics,
            settings.topic_replication,
            client_id=f"{settings.client_id}-topics",
            request_timeout_ms=settings.request_timeout_ms,
        )

    def _agent(
        self, name: str, source: TopicT, handle: Callable[[EventEnvelope], Awaitable[None]]
    ) -> None:
        async def apply(envelope: EventEnvelope) -> None:
            try:
                await handle(envelope)
            except (UnusableFact, DomainError) as exc:
                raise PermanentEventError(f"{type(exc).__name__}: {exc}") from exc

        handler: Callable[[EventEnvelope], Awaitable[None]] = apply
        on_dead_letter: DeadLetterHook | None = None
        if self.sli is not None:
            measure = agent_measure(name, dataclasses.asdict(self.topics))
            handler = measured_handler(apply, self.sli, measure)
            on_dead_letter = dead_letter_hook(self.sli, measure)

        async def agent(stream: faust.StreamT[Any]) -> None:
            await process_events(
                stream, handler, max_attempts=MAX_ATTEMPTS, on_dead_letter=on_dead_letter
            )

        stream_agent(self.app, source, name=f"{CONTEXT}.analytics.{name}")(agent)

    # -- inventory levels and stock-out alerts ----------------------------------------

    async def forward_inventory(self, envelope: EventEnvelope) -> None:
        event = _domain_event(envelope, InventoryEvent)
        if event is not None:
            await self._forward(envelope, self._inventory_by_sku, event.sku)

    async def on_inventory(self, envelope: EventEnvelope) -> None:
        event = _domain_event(envelope, InventoryEvent)
        if event is None:
            return
        async with self._locks(f"sku:{event.sku}"):
            key = item_key(event.warehouse, event.sku)
            item = _load(self.items, key, ItemState.from_json)
            sku = _load(self.skus, event.sku, SkuReference.from_json)
            update = self.inventory.apply_movement(item, sku, event, envelope.time)
            if update is None:
                logger.info("skipped redelivered %s of %s", envelope.type, key)
                return
            (state,) = await self._emit_inventory([update])
            self.items[key] = state.to_json()
            reference = sku or SkuReference(event.sku)
            if event.warehouse not in reference.warehouses:
                self.skus[event.sku] = reference.with_warehouse(event.warehouse).to_json()

    async def on_sku(self, envelope: EventEnvelope) -> None:
        event = _domain_event(envelope, SkuRegistered)
        if event is None:
            return
        async with self._locks(f"sku:{event.sku}"):
            sku = _load(self.skus, event.sku, SkuReference.from_json)
            items = [
                item
                for warehouse in (sku.warehouses if sku is not None else ())
                if (item := _load(self.items, item_key(warehouse, event.sku), ItemState.from_json))
            ]
            update = self.inventory.apply_registration(sku, event, envelope.time, items)
            if update is None:
                logger.info("skipped redelivered %s of %s", envelope.type, event.sku)
                return
            for state in await self._emit_inventory(update.items):
                self.items[state.key] = state.to_json()
            self.skus[event.sku] = update.sku.to_json()

    async def _emit_inventory(self, updates: Sequence[InventoryUpdate]) -> list[ItemState]:
        rows: list[ProductRow] = []
        for update in updates:
            rows.append(update.level)
            if update.alert is not None:
                rows.append(update.alert.alert)
        await self.sink.write(rows)
        for update in updates:
            if update.alert is not None and update.alert.published:
                await self._publish(update.alert)
        states = []
        for update in updates:
            state = update.item
            if update.proposal is not None:
                try:
                    await self.propose(update.proposal)
                except Exception:
                    logger.exception(
                        "replenishment proposal for %s:%s failed; asked again on a later day "
                        "while the alert lasts",
                        update.proposal.warehouse,
                        update.proposal.sku,
                    )
                    state = self.inventory.proposal_made(state, update.proposal, succeeded=False)
                else:
                    state = self.inventory.proposal_made(state, update.proposal, succeeded=True)
            states.append(state)
        return states

    # -- supplier performance ---------------------------------------------------------

    async def forward_receipt(self, envelope: EventEnvelope) -> None:
        event = _domain_event(envelope, GoodsReceived)
        if event is not None:
            await self._forward(envelope, self._receipts_by_supplier, event.supplier)

    async def on_receipt(self, envelope: EventEnvelope) -> None:
        event = _domain_event(envelope, GoodsReceived)
        if event is None:
            return
        async with self._locks(f"supplier:{event.supplier}"):
            state = _load(self.supplier_states, event.supplier, SupplierState.from_json)
            update = self.suppliers.apply_receipt(state, event, envelope.time)
            if update is None:
                logger.info("skipped redelivered %s of %s", envelope.type, envelope.subject)
                return
            await self.sink.write([update.row])
            self.supplier_states[event.supplier] = update.state.to_json()

    async def on_supplier(self, envelope: EventEnvelope) -> None:
        event = _domain_event(envelope, SupplierRegistered)
        if event is None:
            return
        async with self._locks(f"supplier:{event.supplier}"):
            state = _load(self.supplier_states, event.supplier, SupplierState.from_json)
            update = self.suppliers.apply_registration(state, event, envelope.time)
            if update is None:
                return
            await self.sink.write([update.row])
            self.supplier_states[event.supplier] = update.state.to_json()

    # -- delivery timelines and delay alerts -----------------------------------------

    async def on_shipment(self, envelope: EventEnvelope) -> None:
        event = _domain_event(envelope, ShipmentEvent)
        if event is None:
            return
        key = event.shipment_id
        state = _load(self.timeline_states, key, TimelineState.from_json)
        update = self.timelines.apply(state, event, envelope.time)
        if update is None:
            logger.info("skipped redelivered %s of %s", envelope.type, key)
            return
        rows: list[ProductRow] = [update.state.timeline]
        if update.alert is not None:
            rows.append(update.alert.alert)
        await self.sink.write(rows)
        if update.alert is not None and update.alert.published:
            await self._publish(update.alert)
        self.timeline_states[key] = update.state.to_json()

    # -- plumbing ---------------------------------------------------------------------

    async def _forward(self, envelope: EventEnvelope, topic: TopicT, key: str) -> None:
        """Send ``envelope`` on ``topic`` keyed by ``key``, to the partition a producer
        of that key on any of the context's topics would pick."""
        raw_key = key.encode()
        _, value, headers = encode(
            event_id=envelope.id,
            source=envelope.source,
            event_type=envelope.type,
            time=envelope.time,
            subject=envelope.subject or envelope.key or key,
            payload=json.dumps(envelope.data).encode(),
            dataschema=envelope.dataschema,
            traceparent=envelope.traceparent,
            extensions=dict(envelope.extensions) or None,
        )
        await topic.send(
            key=raw_key,
            value=value,
            headers=headers,
            partition=self._partition_of(raw_key, self.partitions),
        )

    async def _publish(self, change: AlertChange) -> None:
        alert = change.alert
        key, value, headers = encode(
            event_id=change.event_id(),
            source=SOURCE,
            event_type=ALERT_RAISED if change.transition is Transition.RAISED else ALERT_CLEARED,
            time=alert.as_of,
            subject=alert.subject,
            payload=json.dumps(alert_payload(alert)).encode(),
        )
        await self.alerts_topic.send(
            key=key,
            value=value,
            headers=headers,
            partition=self._partition_of(key, self.partitions),
        )


def alert_payload(alert: Alert) -> dict[str, Any]:
    """The JSON data of a published alert change (and of the REST representation)."""
    return {
        "alert_id": alert.alert_id,
        "type": alert.type.value,
        "subject": alert.subject,
        "severity": alert.severity.value,
        "raised_at": alert.raised_at.isoformat(),
        "cleared_at": None if alert.cleared_at is None else alert.cleared_at.isoformat(),
        "active": alert.active,
        "details": dict(alert.details),
        "as_of": alert.as_of.isoformat(),
    }


def _domain_event(envelope: EventEnvelope, kind: type[E]) -> E | None:
    """The domain event of ``envelope`` if it is a ``kind``; None for other types.

    Validated against the very class the aggregate records (pydantic, through the
    kernel's serialization): a payload that does not fit raises ``ValidationError``,
    which dead-letters the message. Unknown fields are ignored.
    """
    cls = _EVENT_CLASSES.get(envelope.type)
    if cls is None or not issubclass(cls, kind):
        return None
    return event_from_json(cls, json.dumps(envelope.data))


S = TypeVar("S")


def _load(
    table: TableT[str, dict[str, Any]], key: str, parse: Callable[[Mapping[str, Any]], S]
) -> S | None:
    data = table.get(key)
    return None if data is None else parse(data)


class _KeyedLocks:
    """One ``asyncio.Lock`` per key, alive while someone holds or waits for it.

    Two agents write the same table keys (SKU registrations and stock movements of
    one SKU; receipts and profiles of one supplier). Each holds the key's lock from
    reading the state to storing it, across its awaits, so neither works on a state
    the other is about to replace.
    """

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def __call__(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock
