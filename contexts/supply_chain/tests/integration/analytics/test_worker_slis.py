"""The stream worker measures its products' SLIs as it runs.

Real components: the inventory aggregate records the events, the outbox relay
publishes them, the worker (re-keying inventory events through its internal topic)
writes the read store, and a real ``SliMonitor`` is handed to ``build_analytics``.
Then a message that is no event, and an event that skips two versions, go straight to
the topic.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry
from sqlalchemy import MetaData

from contexts.supply_chain.application.analytics import ALERTS, INVENTORY_LEVELS, PRODUCTS
from contexts.supply_chain.infrastructure.analytics import AnalyticsReadStore
from contexts.supply_chain.interfaces.streams import AnalyticsTopics, build_analytics
from contexts.supply_chain.tests.unit.analytics.builders import Stock
from shared_kernel.domain import DomainEvent
from shared_kernel.infrastructure.database import create_engine, create_session_factory
from shared_kernel.infrastructure.messaging.cloudevents import encode
from shared_kernel.infrastructure.messaging.relay import OutboxRelay
from shared_kernel.infrastructure.messaging.topics import ensure_topics
from shared_kernel.infrastructure.persistence.outbox import OutboxWriter, outbox_table
from shared_kernel.infrastructure.settings import KafkaSettings
from shared_kernel.infrastructure.slo import SliMonitor, SliSnapshot
from shared_kernel.infrastructure.streams import create_stream_app, stream_worker

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARTITIONS = 2
LIVENESS_S = 60.0
ITEM = "LYS-1:KD-HUB-200"

outbox_metadata = MetaData()
outbox = outbox_table(outbox_metadata)


@dataclass
class Worker:
    settings: KafkaSettings
    topics: AnalyticsTopics
    monitor: SliMonitor
    record: Callable[..., Awaitable[None]]


async def eventually(condition: Callable[[], bool], *, what: str) -> None:
    """A liveness bound, generous on purpose, not a timing check."""
    deadline = time.monotonic() + LIVENESS_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not reached within {LIVENESS_S} s: {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def worker(
    database_url: str, kafka_endpoint: Any, unique_topic: Callable[[str], str], tmp_path: Path
) -> AsyncIterator[Worker]:
    short = kafka_endpoint.embedded is not None
    settings = KafkaSettings(
        bootstrap_servers=kafka_endpoint.bootstrap_servers,
        idempotent_producer=kafka_endpoint.supports_idempotence,
        exactly_once=kafka_endpoint.supports_idempotence,
        session_timeout_ms=2_000 if short else 6_000,
        rebalance_timeout_ms=2_000 if short else 3_000,
        heartbeat_interval_ms=500,
        topic_partitions=PARTITIONS,
    )
    defaults = AnalyticsTopics()
    topics = AnalyticsTopics(
        **{name: unique_topic(topic) for name, topic in vars_of(defaults).items()}
    )
    domain_topics = [topics.sku, topics.supplier, topics.inventory, topics.purchase_order,
                     topics.shipment, topics.warehouse]  # fmt: skip
    await ensure_topics(settings.bootstrap_servers, dict.fromkeys(domain_topics, PARTITIONS))

    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(outbox_metadata.create_all)
    read_store = AnalyticsReadStore(engine)
    await read_store.create_all()
    relay = OutboxRelay(
        engine=engine,
        table=outbox,
        kafka=settings,
        context="supply_chain",
        registry=CollectorRegistry(),
        poll_interval_s=0.05,
        backoff_initial_s=0.05,
        backoff_max_s=0.5,
    )
    writer = OutboxWriter(outbox, topic_for=lambda event: topics.inventory)

    async def record(*events: DomainEvent) -> None:
        async with create_session_factory(engine)() as session, session.begin():
            await writer.write(session, list(events))
        relay.wake()

    monitor = SliMonitor(products=PRODUCTS)
    app = create_stream_app(unique_topic("supply_chain-analytics"), settings, datadir=tmp_path)

    async def propose(request: Any) -> None:
        return None

    streams = build_analytics(app, read_store, propose, topics=topics, sli=monitor)
    await streams.declare_output_topics(settings)
    await relay.start()
    try:
        async with stream_worker(app, settings):
            yield Worker(settings, topics, monitor, record)
    finally:
        await relay.stop()
        await engine.dispose()


def vars_of(topics: AnalyticsTopics) -> dict[str, str]:
    return {name: getattr(topics, name) for name in topics.__dataclass_fields__}


async def send(settings: KafkaSettings, topic: str, key: bytes, value: bytes, headers: Any) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(topic, key=key, value=value, headers=headers)
    finally:
        await producer.stop()


async def test_the_worker_measures_freshness_completeness_and_dead_letters(
    worker: Worker,
) -> None:
    stock = Stock()
    started = datetime.now(UTC)
    # Versions 1 to 3 of the item: a receipt, then a reservation and its shipment.
    await worker.record(*stock.receive(100, started), *stock.ship(10, started))

    def inventory() -> SliSnapshot:
        return worker.monitor.snapshot(INVENTORY_LEVELS)

    await eventually(
        lambda: inventory().events_received == 3 and inventory().freshness_samples == 3,
        what="three movements counted and materialized",
    )
    applied = inventory()
    assert applied.events_missing == 0
    assert applied.completeness == 1.0
    # Each movement's row was visible after its event time, and within the bound.
    assert applied.freshness_p99_ms is not None
    assert 0 <= applied.freshness_p99_ms < LIVENESS_S * 1000
    assert worker.monitor.snapshot(ALERTS).events_received == 3

    # Version 6 of the same item, of a type no product uses (it carries the topic's
    # routing fields, as every inventory event does): versions 4 and 5 missing.
    key, value, headers = encode(
        event_id=str(uuid.uuid4()),
        source="urn:dpmesh:supply_chain",
        event_type="supply_chain.SomethingNew",
        time=datetime.now(UTC),
        subject=ITEM,
        payload=json.dumps(
            {"aggregate_version": 6, "warehouse": "LYS-1", "sku": "KD-HUB-200"}
        ).encode(),
    )
    await send(worker.settings, worker.topics.inventory, key, value, headers)
    await send(worker.settings, worker.topics.inventory, ITEM.encode(), b"{}", [])  # no event

    await eventually(
        lambda: inventory().events_missing == 2 and inventory().window_dead_letters == 1,
        what="the gap and the dead letter counted",
    )
    measured = inventory()
    assert measured.events_received == 4
    assert measured.completeness == pytest.approx(4 / 6)
    assert measured.dead_letter_rate == pytest.approx(1 / 5)  # 4 applied, 1 dead letter
    assert measured.freshness_samples == 3  # the ignored event wrote no row
