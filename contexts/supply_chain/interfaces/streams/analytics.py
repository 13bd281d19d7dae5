"""The supply chain's stream worker: faust agents that keep its data products current.

Thin agents: decode the CloudEvent into the context's own domain event, hand it with
the state it needs to the pure computations of ``application.analytics``, then write
the product rows and the new state in one read-store transaction, publish alert
changes on ``supply_chain.alerts.v1``, and ask the injected
:class:`ReplenishmentProposer` when a stock-out alert fires.

Topology (all topics with the same partition count, see ``build_analytics``)::

    supply_chain.inventory.v1 ──forward, key=sku──▶ <app>-inventory-by-sku ─┐
    supply_chain.sku.v1 ─────────────────────────────────────────────────────┴▶ inventory-items,
                                                                                sku-reference
    supply_chain.purchase_order.v1 ──forward, key=supplier──▶ <app>-receipts-by-supplier ─┐
    supply_chain.supplier.v1 ─────────────────────────────────────────────────────────────┴▶
                                                                                supplier-state
    supply_chain.shipment.v1 ────────────────────────────────────────────────▶ delivery-timelines

Why re-key. Inventory events are keyed ``<warehouse>:<sku>``, SKU events by SKU code,
and purchase order events by order, while the products join on the SKU and aggregate
per supplier. Forwarding each inventory event to an internal topic keyed by SKU (and
each purchase order event keyed by supplier), with the partition the relay would
choose for that key, puts a SKU's registration and all its stock movements in the
same partition number, which faust's assignor gives to one worker (co-partitioned
topics): one worker re-assesses every warehouse of a SKU when its registration
arrives, and each supplier's figures have one owner. The cost is one extra hop.

Why a crash can delay a product but never make it wrong (docs/stream-processing.md
has the argument per agent):

- state lives in the read store, not in faust tables: an event's state change, its
  product rows and the aggregate version it applied commit in one transaction
  (``shared_kernel.infrastructure.streams.state``);
- per aggregate, versions are applied in order: a redelivery is skipped, a version
  that skips ahead is held until the missing ones arrive, and an open gap is
  reported (:meth:`AnalyticsStreams.gaps`);
- forwards and alert changes are acknowledged by the broker before the record that
  produced them is done (forwards are pipelined: the next event goes while the
  delivery is on its way), and the consumer commits only done records
  (``shared_kernel.infrastructure.streams.progress``);
- an event the worker cannot process because the read store or the broker is away is
  retried, then the worker stops (exit non-zero) instead of dead-lettering it: the
  product is late, not wrong. Dead letters are for events that can never be applied.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, TypeVar, cast

import faust
from faust.types import TopicT
from sqlalchemy.ext.asyncio import AsyncConnection

from contexts.supply_chain.application.analytics import (
    ALERTS,
    DELIVERY_TIMELINES,
    INVENTORY_LEVELS,
    SUPPLIER_PERFORMANCE,
    Alert,
    AlertChange,
    InventoryAnalytics,
    InventoryUpdate,
    ItemState,
    ProductRow,
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
    agent_measure,
    observe_freshness,
)
from shared_kernel.domain import DomainError
from shared_kernel.infrastructure.messaging.cloudevents import EventEnvelope, encode
from shared_kernel.infrastructure.messaging.producer import KeyPartitioner, context_source
from shared_kernel.infrastructure.messaging.topics import ensure_topics
from shared_kernel.infrastructure.serialization import event_from_json
from shared_kernel.infrastructure.settings import KafkaSettings
from shared_kernel.infrastructure.slo import SliRecorder
from shared_kernel.infrastructure.streams import (
    PermanentEventError,
    event_topic,
)
from shared_kernel.infrastructure.streams.projection import (
    apply_in_order,
    report_open_gaps,
    safe_agent,
)
from shared_kernel.infrastructure.streams.state import (
    Gap,
    StateTransaction,
    StreamState,
)

__all__ = [
    "ALERT_CLEARED",
    "ALERT_RAISED",
    "AnalyticsStreams",
    "AnalyticsTopics",
    "ReadStoreSink",
    "alert_payload",
    "build_analytics",
]

logger = logging.getLogger(__name__)

ALERT_RAISED = f"{CONTEXT}.AlertRaised"
ALERT_CLEARED = f"{CONTEXT}.AlertCleared"
SOURCE = context_source(CONTEXT)

#: State stores of the worker (``stream_state.store``).
SKU_TABLE = "sku-reference"
ITEM_TABLE = "inventory-items"
SUPPLIER_TABLE = "supplier-state"
TIMELINE_TABLE = "delivery-timelines"

#: The products fed by the events of each domain topic (by its aggregate type).
ROLE_PRODUCTS: dict[str, tuple[str, ...]] = {
    "inventory": (INVENTORY_LEVELS, ALERTS),
    "sku": (INVENTORY_LEVELS, ALERTS),
    "purchase_order": (SUPPLIER_PERFORMANCE,),
    "supplier": (SUPPLIER_PERFORMANCE,),
    "shipment": (DELIVERY_TIMELINES, ALERTS),
}

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


class ReadStoreSink(Protocol):
    """The read store as the worker needs it: its state, and writes inside a transaction."""

    def stream_state(self, consumer: str) -> StreamState: ...

    async def write_in(self, conn: AsyncConnection, rows: Sequence[ProductRow]) -> None: ...


def build_analytics(
    app: faust.App,
    sink: ReadStoreSink,
    propose: ReplenishmentProposer,
    *,
    topics: AnalyticsTopics | None = None,
    partitions: int | None = None,
    demand_window_days: int = 7,
    supplier_window_days: int = 30,
    sli: SliRecorder | None = None,
) -> AnalyticsStreams:
    """Register the data products' topics and agents on ``app``.

    ``partitions`` (default: the app's ``topic_partitions``) is the partition count
    of every topic involved, the six domain topics included: the joins rely on it.
    Run the app with ``stream_worker``/``run_worker``, which create the source and
    internal topics; create the output topic with
    :meth:`AnalyticsStreams.declare_output_topics` first. The worker's state goes to
    ``sink``'s database (its ``stream_*`` tables must exist: the read store's
    ``create_all``).

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
    """The agents and topics of the supply chain's data products on one app."""

    def __init__(
        self,
        app: faust.App,
        sink: ReadStoreSink,
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
        self.sink = sink
        self.propose = propose
        self.topics = topics
        self.partitions = partitions
        self.inventory = inventory
        self.suppliers = suppliers
        self.timelines = timelines
        #: Events of types this worker does not know, per type: skipped, but counted.
        self.unknown_types: Counter[str] = Counter()
        self._locks = _KeyedLocks()
        self._partition_of = KeyPartitioner()

        app_id = str(app.conf.id)
        self.inventory_by_sku_topic = f"{app_id}-inventory-by-sku"
        self.receipts_by_supplier_topic = f"{app_id}-receipts-by-supplier"

        def topic(name: str) -> TopicT:
            return event_topic(app, name, partitions=partitions)

        self.alerts_topic = topic(topics.alerts)
        self._inventory_by_sku = topic(self.inventory_by_sku_topic)
        self._receipts_by_supplier = topic(self.receipts_by_supplier_topic)

        agents: list[tuple[str, str, Callable[[EventEnvelope], Awaitable[Any]]]] = [
            ("inventory-forward", topics.inventory, self.forward_inventory),
            ("inventory-levels", self.inventory_by_sku_topic, self.on_inventory),
            ("sku-reference", topics.sku, self.on_sku),
            ("receipts-forward", topics.purchase_order, self.forward_purchase_order),
            ("supplier-receipts", self.receipts_by_supplier_topic, self.on_purchase_order),
            ("supplier-profiles", topics.supplier, self.on_supplier),
            ("delivery-timelines", topics.shipment, self.on_shipment),
        ]
        for name, source, handler in agents:
            self._agent(name, topic(source), handler)

    @functools.cached_property
    def state(self) -> StreamState:
        """The worker's durable state, in the read store's database (made on first use,
        so that the topology can be inspected without a database)."""
        return self.sink.stream_state(str(self.app.conf.id))

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

    async def gaps(self) -> list[Gap]:
        """Aggregates whose events wait for missing versions (see ``streams.state``)."""
        return await self.state.gaps()

    def _agent(
        self, name: str, source: TopicT, handle: Callable[[EventEnvelope], Awaitable[Any]]
    ) -> None:
        async def apply(envelope: EventEnvelope) -> Any:
            try:
                return await handle(envelope)
            except (UnusableFact, DomainError) as exc:
                raise PermanentEventError(f"{type(exc).__name__}: {exc}") from exc

        safe_agent(
            self.app,
            source,
            f"{CONTEXT}.analytics.{name}",
            apply,
            sli=self.sli,
            measure=agent_measure(name, dataclasses.asdict(self.topics)),
        )

    async def _in_sequence(
        self,
        role: str,
        envelope: EventEnvelope,
        apply: Callable[[StateTransaction, EventEnvelope], Awaitable[None]],
    ) -> None:
        """Apply ``envelope`` in its aggregate's version order (module docstring)."""
        await apply_in_order(self.state, envelope, role, apply)

    def _known(self, envelope: EventEnvelope, role: str) -> bool:
        """Whether this worker knows the event's type; unknown ones are counted."""
        if envelope.type in _EVENT_CLASSES:
            return True
        self.unknown_types[envelope.type] += 1
        if self.unknown_types[envelope.type] == 1:
            logger.warning("events of unknown type %s are skipped (and counted)", envelope.type)
        if self.sli is not None:
            for product in ROLE_PRODUCTS[role]:
                self.sli.observe_unknown_type(product, envelope.type)
        return False

    async def report_gaps(self, alert_after: timedelta) -> list[Gap]:
        """Held events and their gaps into the SLIs and, past ``alert_after``, the log
        (``report_open_gaps``)."""
        return await report_open_gaps(
            await self.gaps(),
            alert_after,
            context=CONTEXT,
            products_of=lambda role: ROLE_PRODUCTS.get(role, ()),
            all_products={p for products in ROLE_PRODUCTS.values() for p in products},
            sli=self.sli,
        )

    # -- inventory levels and stock-out alerts ----------------------------------------

    async def forward_inventory(self, envelope: EventEnvelope) -> asyncio.Future[Any]:
        event = _domain_event(envelope, InventoryEvent)
        sku = event.sku if event is not None else _routing_field(envelope, "sku")
        return await self._forward(envelope, self._inventory_by_sku, sku)

    async def on_inventory(self, envelope: EventEnvelope) -> None:
        sku = _routing_field(envelope, "sku")
        async with self._locks(f"sku:{sku}"):
            await self._in_sequence("inventory", envelope, self._apply_inventory)

    async def _apply_inventory(self, tx: StateTransaction, envelope: EventEnvelope) -> None:
        if not self._known(envelope, "inventory"):
            return
        event = _domain_event(envelope, InventoryEvent)
        if event is None:
            return
        key = item_key(event.warehouse, event.sku)
        item = _parse(await tx.get(ITEM_TABLE, key), ItemState.from_json)
        sku = _parse(await tx.get(SKU_TABLE, event.sku), SkuReference.from_json)
        update = self.inventory.apply_movement(item, sku, event, envelope.time)
        if update is None:
            return
        (state,) = await self._emit_inventory(tx, [update])
        tx.put(ITEM_TABLE, key, state.to_json())
        reference = sku or SkuReference(event.sku)
        if event.warehouse not in reference.warehouses:
            tx.put(SKU_TABLE, event.sku, reference.with_warehouse(event.warehouse).to_json())

    async def on_sku(self, envelope: EventEnvelope) -> None:
        async with self._locks(f"sku:{envelope.subject or envelope.key}"):
            await self._in_sequence("sku", envelope, self._apply_sku)

    async def _apply_sku(self, tx: StateTransaction, envelope: EventEnvelope) -> None:
        if not self._known(envelope, "sku"):
            return
        event = _domain_event(envelope, SkuRegistered)
        if event is None:
            return
        sku = _parse(await tx.get(SKU_TABLE, event.sku), SkuReference.from_json)
        items = []
        for warehouse in sku.warehouses if sku is not None else ():
            item = _parse(
                await tx.get(ITEM_TABLE, item_key(warehouse, event.sku)), ItemState.from_json
            )
            if item is not None:
                items.append(item)
        update = self.inventory.apply_registration(sku, event, envelope.time, items)
        if update is None:
            return
        for state in await self._emit_inventory(tx, update.items):
            tx.put(ITEM_TABLE, state.key, state.to_json())
        tx.put(SKU_TABLE, event.sku, update.sku.to_json())

    async def _emit_inventory(
        self, tx: StateTransaction, updates: Sequence[InventoryUpdate]
    ) -> list[ItemState]:
        rows: list[ProductRow] = []
        for update in updates:
            rows.append(update.level)
            if update.alert is not None:
                rows.append(update.alert.alert)
        await self._write(tx, rows)
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

    async def forward_purchase_order(self, envelope: EventEnvelope) -> asyncio.Future[Any]:
        """Every purchase order event, not only receipts: the supplier agent follows each
        order's versions, and a hole would read as a gap."""
        event = _domain_event(envelope, PurchaseOrderEvent)
        supplier = event.supplier if event is not None else _routing_field(envelope, "supplier")
        return await self._forward(envelope, self._receipts_by_supplier, supplier)

    async def on_purchase_order(self, envelope: EventEnvelope) -> None:
        supplier = _routing_field(envelope, "supplier")
        async with self._locks(f"supplier:{supplier}"):
            await self._in_sequence("purchase_order", envelope, self._apply_receipt)

    async def _apply_receipt(self, tx: StateTransaction, envelope: EventEnvelope) -> None:
        if not self._known(envelope, "purchase_order"):
            return
        event = _domain_event(envelope, GoodsReceived)
        if event is None:
            return
        state = _parse(await tx.get(SUPPLIER_TABLE, event.supplier), SupplierState.from_json)
        update = self.suppliers.apply_receipt(state, event, envelope.time)
        if update is None:
            return
        await self._write(tx, [update.row])
        tx.put(SUPPLIER_TABLE, event.supplier, update.state.to_json())

    async def on_supplier(self, envelope: EventEnvelope) -> None:
        async with self._locks(f"supplier:{envelope.subject or envelope.key}"):
            await self._in_sequence("supplier", envelope, self._apply_supplier)

    async def _apply_supplier(self, tx: StateTransaction, envelope: EventEnvelope) -> None:
        if not self._known(envelope, "supplier"):
            return
        event = _domain_event(envelope, SupplierRegistered)
        if event is None:
            return
        state = _parse(await tx.get(SUPPLIER_TABLE, event.supplier), SupplierState.from_json)
        update = self.suppliers.apply_registration(state, event, envelope.time)
        if update is None:
            return
        await self._write(tx, [update.row])
        tx.put(SUPPLIER_TABLE, event.supplier, update.state.to_json())

    # -- delivery timelines and delay alerts -----------------------------------------

    async def on_shipment(self, envelope: EventEnvelope) -> None:
        await self._in_sequence("shipment", envelope, self._apply_shipment)

    async def _apply_shipment(self, tx: StateTransaction, envelope: EventEnvelope) -> None:
        if not self._known(envelope, "shipment"):
            return
        event = _domain_event(envelope, ShipmentEvent)
        if event is None:
            return
        key = event.shipment_id
        state = _parse(await tx.get(TIMELINE_TABLE, key), TimelineState.from_json)
        update = self.timelines.apply(state, event, envelope.time)
        if update is None:
            return
        rows: list[ProductRow] = [update.state.timeline]
        if update.alert is not None:
            rows.append(update.alert.alert)
        await self._write(tx, rows)
        if update.alert is not None and update.alert.published:
            await self._publish(update.alert)
        tx.put(TIMELINE_TABLE, key, update.state.to_json())

    # -- plumbing ---------------------------------------------------------------------

    async def _write(self, tx: StateTransaction, rows: Sequence[ProductRow]) -> None:
        """Product rows in the event's transaction; freshness is sampled once committed."""
        await self.sink.write_in(tx.connection, rows)
        if self.sli is not None and rows:
            recorder = self.sli
            tx.after_commit.append(lambda: observe_freshness(recorder, rows))

    async def _forward(
        self, envelope: EventEnvelope, topic: TopicT, key: str
    ) -> asyncio.Future[Any]:
        """Send ``envelope`` on ``topic`` keyed by ``key``, to the partition a producer
        of that key on any of the context's topics would pick. Returns the delivery:
        ``process_events`` commits the source offset only once the broker acknowledged
        it, while the next events are forwarded meanwhile (one broker round trip per
        batch of sends, not per event)."""
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
        delivery = await topic.send(
            key=raw_key,
            value=value,
            headers=headers,
            partition=self._partition_of(raw_key, self.partitions),
        )
        # faust's FutureMessage: an asyncio future, resolved by the broker's ack.
        return cast("asyncio.Future[Any]", delivery)

    async def _publish(self, change: AlertChange) -> None:
        """Publish an alert change; returns once the broker acknowledged it, so the
        event's transaction commits only after (a crash in between publishes it again,
        with the same event id)."""
        alert = change.alert
        key, value, headers = encode(
            event_id=change.event_id(),
            source=SOURCE,
            event_type=ALERT_RAISED if change.transition is Transition.RAISED else ALERT_CLEARED,
            time=alert.as_of,
            subject=alert.subject,
            payload=json.dumps(alert_payload(alert)).encode(),
        )
        delivery = await self.alerts_topic.send(
            key=key,
            value=value,
            headers=headers,
            partition=self._partition_of(key, self.partitions),
        )
        await delivery


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


def _parse(data: Mapping[str, Any] | None, parse: Callable[[Mapping[str, Any]], S]) -> S | None:
    return None if data is None else parse(data)


def _routing_field(envelope: EventEnvelope, name: str) -> str:
    """``name`` from the event's data, read tolerantly (types this worker may not know)."""
    value = envelope.data.get(name)
    if not isinstance(value, str) or not value:
        raise PermanentEventError(f"{envelope.type} {envelope.id} has no {name!r} to route it by")
    return value


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
