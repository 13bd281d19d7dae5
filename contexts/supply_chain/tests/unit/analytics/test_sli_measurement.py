"""How the stream worker feeds the SLI monitor: the measured sink and the agent hooks.

A real ``SliMonitor`` with a hand-moved clock; the sink behind the measured one is an
in-memory list, the handlers are plain coroutines.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import MetaData

from contexts.supply_chain.application.analytics import (
    ALERTS,
    DELIVERY_TIMELINES,
    INVENTORY_LEVELS,
    Alert,
    AlertType,
    DeliveryTimeline,
    ProductRow,
    Severity,
)
from contexts.supply_chain.interfaces.streams.analytics import AnalyticsTopics, build_analytics
from contexts.supply_chain.interfaces.streams.slis import (
    AGENT_PRODUCTS,
    AgentMeasure,
    agent_measure,
    dead_letter_hook,
    measured_handler,
    observe_freshness,
    product_of,
)
from shared_kernel.infrastructure.database import create_engine
from shared_kernel.infrastructure.messaging.cloudevents import EventEnvelope
from shared_kernel.infrastructure.settings import KafkaSettings
from shared_kernel.infrastructure.slo import SliMonitor
from shared_kernel.infrastructure.streams import create_stream_app
from shared_kernel.infrastructure.streams.state import StreamState, stream_state_tables

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class ListSink:
    """A sink that keeps what it is given; its engine is never connected here."""

    def __init__(self) -> None:
        self.writes: list[Sequence[ProductRow]] = []

    def stream_state(self, consumer: str) -> StreamState:
        return StreamState(
            create_engine("sqlite+aiosqlite://"), stream_state_tables(MetaData()), consumer
        )

    async def write_in(self, conn: object, rows: Sequence[ProductRow]) -> None:
        self.writes.append(rows)


def timeline(shipment: str, as_of: datetime) -> DeliveryTimeline:
    return DeliveryTimeline(
        shipment_id=shipment,
        account="ACC-1",
        warehouse="LYS-1",
        destination=None,
        status="planned",
        planned_delivery=None,
        eta=None,
        dispatched_at=None,
        delivered_at=None,
        delay_minutes=0,
        on_time=None,
        legs=(),
        as_of=as_of,
    )


def alert(as_of: datetime) -> Alert:
    return Alert("a-1", AlertType.DELIVERY_DELAY, "SH-1", Severity.WARNING, as_of, None, {}, as_of)


def envelope(subject: str, version: int | None, time: datetime) -> EventEnvelope:
    data = {} if version is None else {"aggregate_version": version}
    return EventEnvelope(
        id=f"{subject}-{version}",
        source="urn:test",
        type="t",
        time=time,
        subject=subject,
        data=data,
        key=subject,
    )


def test_freshness_is_sampled_once_per_product_written() -> None:
    clock = Clock()
    monitor = SliMonitor(clock)
    clock.now = at(10)

    observe_freshness(monitor, [timeline("SH-1", at(7)), timeline("SH-2", at(9)), alert(at(8))])

    timelines = monitor.snapshot(DELIVERY_TIMELINES)
    # One sample for the timelines, from the newest as_of (9 s): 1 s; alerts: 2 s.
    assert (timelines.freshness_samples, timelines.freshness_last_ms) == (1, 1000)
    assert monitor.snapshot(ALERTS).freshness_last_ms == 2000


async def test_the_source_agent_counts_events_by_sequence_and_failed_attempts() -> None:
    monitor = SliMonitor(Clock())
    measure = AgentMeasure((DELIVERY_TIMELINES, ALERTS), "supply_chain.shipment.v1", True)
    failures = {("SH-1", 2): 1}  # the second event fails once, then succeeds

    async def handle(event: EventEnvelope) -> None:
        left = failures.get((event.subject or "", int(event.data["aggregate_version"])), 0)
        if left:
            failures[(event.subject or "", int(event.data["aggregate_version"]))] = left - 1
            raise ConnectionError("transient")

    measured = measured_handler(handle, monitor, measure)
    await measured(envelope("SH-1", 1, at(0)))
    with pytest.raises(ConnectionError):
        await measured(envelope("SH-1", 2, at(1)))
    await measured(envelope("SH-1", 2, at(1)))  # the retry
    await measured(envelope("SH-1", 4, at(3)))  # version 3 never came

    for product in (DELIVERY_TIMELINES, ALERTS):
        snapshot = monitor.snapshot(product)
        assert (snapshot.events_received, snapshot.events_missing) == (3, 1)
        assert snapshot.processing_error_rate == pytest.approx(1 / 4)


async def test_a_downstream_agent_reports_failures_but_counts_no_events() -> None:
    monitor = SliMonitor(Clock())
    measure = AgentMeasure((INVENTORY_LEVELS,), "supply_chain.inventory.v1", False)

    async def handle(event: EventEnvelope) -> None:
        return None

    await measured_handler(handle, monitor, measure)(envelope("LYS-1:KD", 1, T0))

    assert monitor.snapshot(INVENTORY_LEVELS).window_applied == 0


def test_dead_letters_mark_the_version_lost_in_the_source_sequence() -> None:
    monitor = SliMonitor(Clock())
    source = AgentMeasure((INVENTORY_LEVELS,), "supply_chain.inventory.v1", True)
    downstream = AgentMeasure((INVENTORY_LEVELS,), "supply_chain.inventory.v1", False)
    monitor.observe(INVENTORY_LEVELS, T0, "supply_chain.inventory.v1/LYS-1:KD", 1)
    monitor.observe(INVENTORY_LEVELS, T0, "supply_chain.inventory.v1/LYS-1:KD", 2)

    # Version 2 was forwarded, then failed for good further down; a garbage message too.
    dead_letter_hook(monitor, downstream)(envelope("LYS-1:KD", 2, T0), "permanent: bad")
    dead_letter_hook(monitor, source)(None, "malformed: no ce_id")

    snapshot = monitor.snapshot(INVENTORY_LEVELS)
    assert (snapshot.events_received, snapshot.events_lost) == (2, 1)
    assert snapshot.completeness == pytest.approx(1 / 2)
    assert snapshot.window_dead_letters == 2


def test_rows_map_to_their_products() -> None:
    assert product_of(timeline("SH-1", T0)) == DELIVERY_TIMELINES
    assert product_of(alert(T0)) == ALERTS


def test_every_agent_of_the_worker_has_a_measure() -> None:
    topics = AnalyticsTopics()
    app = create_stream_app("sli-measure-check", KafkaSettings())
    streams = build_analytics(app, ListSink(), lambda request: None, sli=SliMonitor())  # type: ignore[arg-type, return-value]

    names = {name.rsplit(".", 1)[-1] for name in app.agents}
    assert names == set(AGENT_PRODUCTS)
    assert streams.sli is not None
    forward = agent_measure("receipts-forward", {"purchase_order": topics.purchase_order})
    assert forward == AgentMeasure(("supplier-performance",), topics.purchase_order, True)
    with pytest.raises(ValueError, match="no SLI measure"):
        agent_measure("unknown-agent", {})
