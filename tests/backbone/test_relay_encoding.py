"""What the relay writes on a message, checked without a broker."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.v1.event import CloudEvent

from shared_kernel.infrastructure.messaging.cloudevents import encode
from shared_kernel.infrastructure.messaging.dead_letter import DeadLetter, dead_letter_headers
from shared_kernel.infrastructure.messaging.producer import (
    KeyPartitioner,
    event_dataschema,
    traceparent_for,
)

CASES: list[dict[str, Any]] = [
    {
        "event_id": "0b1c",
        "source": "urn:dpmesh:ledger",
        "event_type": "ledger.Deposited",
        "time": datetime(2025, 3, 4, 5, 6, 7, 891011, tzinfo=UTC),
        "subject": "acc-1",
        "payload": b'{"amount": 3}',
    },
    {
        "event_id": "e-2",
        "source": "urn:dpmesh:supply_chain",
        "event_type": "supply_chain.StockReserved",
        "time": datetime(2025, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=2))),
        "subject": "sku:W1:42",
        "payload": b"{}",
        "dataschema": "urn:dpmesh:supply_chain:event:StockReserved.v2",
        "extensions": {"correlationid": "c0ffee", "tenant7": "k"},
        "traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01",
    },
]


def sdk_encode(case: dict[str, Any]) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    attributes: dict[str, Any] = {
        "id": case["event_id"],
        "source": case["source"],
        "type": case["event_type"],
        "time": case["time"],
        "subject": case["subject"],
        "datacontenttype": "application/json",
        **case.get("extensions", {}),
    }
    if case.get("dataschema"):
        attributes["dataschema"] = case["dataschema"]
    message = ce_kafka.to_binary_event(CloudEvent(attributes, data=case["payload"]))
    headers = list(message.headers.items())
    if case.get("traceparent"):
        headers.append(("traceparent", case["traceparent"].encode()))
    return case["subject"].encode(), message.value, headers


@pytest.mark.parametrize("case", CASES)
def test_encode_writes_exactly_what_the_sdk_writes(case: dict[str, Any]) -> None:
    assert encode(**case) == sdk_encode(case)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"event_id": ""}, "'id'"),
        ({"source": ""}, "'source'"),
        ({"event_type": ""}, "'type'"),
        ({"subject": ""}, "'subject'"),
        ({"time": datetime(2025, 1, 1)}, "'time'"),
        ({"extensions": {"Bad-Name": "x"}}, "extension"),
        ({"extensions": {"data": "x"}}, "extension"),
    ],
)
def test_encode_refuses_what_the_sdk_refuses(change: dict[str, Any], problem: str) -> None:
    case = {**CASES[0], **change}
    with pytest.raises(ValueError, match=problem):
        encode(**case)
    with pytest.raises(Exception):  # noqa: B017 - the SDK's own error types
        sdk_encode(case)


def test_an_extension_cannot_shadow_an_attribute() -> None:
    with pytest.raises(ValueError, match="extension"):
        encode(**{**CASES[0], "extensions": {"subject": "other"}})


def test_traceparent_reuses_a_hex_correlation_id_and_is_stable_per_event() -> None:
    correlation = "4bf92f3577b34da6a3ce929d0e0e4736"
    first = traceparent_for("event-1", correlation)
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", first)
    assert first.split("-")[1] == correlation
    assert traceparent_for("event-1", correlation) == first
    assert traceparent_for("event-2", correlation).split("-")[2] != first.split("-")[2]
    hashed = traceparent_for("event-1", "req-123")
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", hashed)
    assert hashed.split("-")[1] == traceparent_for("event-9", "req-123").split("-")[1]
    assert traceparent_for("event-1", None) != traceparent_for("event-2", None)


def test_dataschema_names_the_event_schema_urn() -> None:
    assert event_dataschema("ledger.Deposited", 1) == "urn:dpmesh:ledger:event:Deposited.v1"
    assert (
        event_dataschema("supply_chain.StockReserved", 3)
        == "urn:dpmesh:supply_chain:event:StockReserved.v3"
    )


@pytest.mark.parametrize("partitions", [1, 3, 4, 12])
def test_partitions_agree_with_the_kafka_default_partitioner(partitions: int) -> None:
    ours = KeyPartitioner()
    theirs = DefaultPartitioner()
    everything = list(range(partitions))
    for i in range(500):
        key = f"acc-{i}".encode()
        assert ours(key, partitions) == theirs(key, everything, everything)
        assert ours(key, partitions) == theirs(key, everything, everything)  # memoised


def test_dead_letter_headers_keep_the_originals_and_replace_stale_reasons() -> None:
    letter = DeadLetter(
        topic="ledger.account.v1",
        partition=2,
        offset=41,
        key=b"acc-1",
        value=b"\x00",
        headers=[("ce_id", b"e1"), ("dlq_reason", b"an older failure")],
        reason="not a CloudEvent",
        consumer="balances",
    )
    failed_at = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert dead_letter_headers(letter, failed_at) == [
        ("ce_id", b"e1"),
        ("dlq_reason", b"not a CloudEvent"),
        ("dlq_origin_topic", b"ledger.account.v1"),
        ("dlq_origin_partition", b"2"),
        ("dlq_origin_offset", b"41"),
        ("dlq_consumer", b"balances"),
        ("dlq_failed_at", b"2025-01-02T03:04:05+00:00"),
    ]
