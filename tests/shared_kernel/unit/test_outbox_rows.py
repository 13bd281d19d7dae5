"""What the outbox writer puts in a row, checked without a database."""

from __future__ import annotations

import contextvars
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import MetaData

from shared_kernel.domain import DomainEvent
from shared_kernel.infrastructure.logging import bind_correlation_id
from shared_kernel.infrastructure.persistence.outbox import (
    OutboxWriter,
    default_topic,
    outbox_table,
)
from shared_kernel.infrastructure.serialization import event_to_json
from tests.shared_kernel.sample_domain import Counter, CounterId, Incremented


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceChanged(DomainEvent):
    context = "supply_chain"
    aggregate_type = "sku"
    schema_version = 2


def writer() -> OutboxWriter:
    return OutboxWriter(outbox_table(MetaData()))


def recorded_events() -> list[DomainEvent]:
    counter = Counter.open(CounterId("c-7"))
    counter.increment(2)
    counter.increment(5)
    return counter.pull_events()


def rows_in_fresh_context(
    events: list[DomainEvent], correlation_id: str | None = None
) -> list[dict[str, Any]]:
    """Rows built where no correlation id leaks in from other tests."""

    def build() -> list[dict[str, Any]]:
        if correlation_id is not None:
            bind_correlation_id(correlation_id)
        return writer().rows(events)

    return contextvars.Context().run(build)


def test_default_topic_is_context_aggregate_and_major_version() -> None:
    assert default_topic(PriceChanged()) == "supply_chain.sku.v2"
    assert default_topic(Incremented(by=1, total=1)) == "testing.counter.v1"


def test_one_row_per_event_in_order_keyed_by_the_aggregate() -> None:
    events = recorded_events()

    rows = rows_in_fresh_context(events)

    assert [row["event_id"] for row in rows] == [str(e.event_id) for e in events]
    assert [row["event_type"] for row in rows] == [
        "testing.CounterOpened",
        "testing.Incremented",
        "testing.Incremented",
    ]
    assert {row["topic"] for row in rows} == {"testing.counter.v1"}
    assert {row["message_key"] for row in rows} == {"c-7"}
    assert [row["aggregate_version"] for row in rows] == [1, 2, 3]
    assert {row["schema_version"] for row in rows} == {1}
    assert {row["attempts"] for row in rows} == {0}


def test_payload_is_the_event_json() -> None:
    events = recorded_events()

    rows = rows_in_fresh_context(events)

    for row, event in zip(rows, events, strict=True):
        assert row["payload"] == event_to_json(event).decode()
    assert json.loads(rows[2]["payload"])["total"] == 7


def test_row_fields_match_the_table_columns() -> None:
    table = outbox_table(MetaData())
    [row] = rows_in_fresh_context(recorded_events()[:1])

    assert set(row) <= set(table.c.keys())
    required = {c.name for c in table.c if not c.nullable and c.default is None}
    assert required - {"seq"} <= set(row)


def test_timestamps_are_aware_and_in_utc() -> None:
    paris = timezone(timedelta(hours=2))
    event = PriceChanged(occurred_at=datetime(2024, 5, 1, 14, 0, tzinfo=paris))

    [row] = rows_in_fresh_context([event])

    assert row["occurred_at"] == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    # In UTC itself, so a column that drops the offset (SQLite) still holds the right time.
    assert row["occurred_at"].utcoffset() == timedelta(0)
    assert row["recorded_at"].utcoffset() == timedelta(0)


def test_the_correlation_id_travels_in_the_headers() -> None:
    rows = rows_in_fresh_context(recorded_events(), correlation_id="req-42")

    assert {row["headers"] for row in rows} == {json.dumps({"correlation_id": "req-42"})}


def test_without_a_correlation_id_the_headers_are_empty() -> None:
    rows = rows_in_fresh_context(recorded_events())

    assert {row["headers"] for row in rows} == {"{}"}


def test_a_custom_router_chooses_the_topic() -> None:
    routed = OutboxWriter(outbox_table(MetaData()), topic_for=lambda e: f"custom.{e.aggregate_id}")

    rows = contextvars.Context().run(routed.rows, recorded_events())

    assert {row["topic"] for row in rows} == {"custom.c-7"}


def test_no_events_no_rows() -> None:
    assert writer().rows([]) == []
