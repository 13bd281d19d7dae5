"""Decoding: the direct path agrees with the SDK on every message it accepts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from shared_kernel.infrastructure.messaging.cloudevents import (
    MalformedEvent,
    _decode_with_sdk,
    decode,
    encode,
)

TIME = datetime(2025, 6, 7, 8, 9, 10, 111213, tzinfo=UTC)


def relay_message(**overrides: Any) -> tuple[list[tuple[str, bytes]], bytes, bytes]:
    fields: dict[str, Any] = {
        "event_id": "6f1c",
        "source": "urn:dpmesh:ledger",
        "event_type": "ledger.Deposited",
        "time": TIME,
        "subject": "acc-1",
        "payload": json.dumps({"amount": 5, "aggregate_id": "acc-1"}).encode(),
        "dataschema": "urn:dpmesh:ledger:event:Deposited.v1",
        "traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01",
        "extensions": {"correlationid": "abc"},
    }
    fields.update(overrides)
    key, value, headers = encode(**fields)
    return headers, key, value


def without(headers: list[tuple[str, bytes]], *names: str) -> list[tuple[str, bytes]]:
    return [(n, v) for n, v in headers if n not in names]


def replaced(headers: list[tuple[str, bytes]], name: str, value: bytes) -> list[tuple[str, bytes]]:
    return [(n, value if n == name else v) for n, v in headers]


def sdk(headers: list[tuple[str, bytes]], key: bytes | None, value: bytes | None) -> Any:
    header_map = dict(headers)
    traceparent = header_map.pop("traceparent", None)
    return _decode_with_sdk(header_map, key, value, traceparent)


def valid_messages() -> list[tuple[list[tuple[str, bytes]], bytes | None, bytes]]:
    headers, key, value = relay_message()
    plain, _, _ = relay_message(dataschema=None, traceparent=None, extensions=None)
    return [
        (headers, key, value),
        (plain, key, value),
        (without(headers, "ce_subject", "content-type", "ce_dataschema"), None, value),
        (replaced(headers, "ce_specversion", b"0.3"), key, value),
        (replaced(headers, "ce_time", b"2025-06-07T10:09:10+02:00"), key, value),
        (replaced(headers, "ce_time", b"2025-06-07T08:09:10Z"), key, value),
        ([*headers, ("x-other", b"ignored")], key, value),
    ]


@pytest.mark.parametrize("message", valid_messages())
def test_the_direct_path_returns_what_the_sdk_returns(message: Any) -> None:
    headers, key, value = message
    assert decode(headers, key, value) == sdk(headers, key, value)


def invalid_messages() -> list[tuple[list[tuple[str, bytes]], bytes | None, bytes | None]]:
    headers, key, value = relay_message()
    return [
        ([], key, b"\x00\xff"),
        (without(headers, "ce_source"), key, value),
        (replaced(headers, "ce_id", b""), key, value),
        (replaced(headers, "ce_time", b"yesterday"), key, value),
        (replaced(headers, "ce_subject", b""), key, value),
        (headers, key, b"{not json"),
        (headers, key, b"[1, 2]"),
        (headers, key, b""),
        (headers, key, None),
        ([*headers, ("ce_Bad-Name", b"x")], key, value),
    ]


@pytest.mark.parametrize("message", invalid_messages())
def test_what_is_not_plainly_valid_is_left_to_the_sdk(message: Any) -> None:
    headers, key, value = message
    with pytest.raises(MalformedEvent) as ours:
        decode(headers, key, value)
    with pytest.raises(MalformedEvent) as theirs:
        sdk(headers, key, value)
    assert ours.value.reason == theirs.value.reason


def test_relay_output_round_trips() -> None:
    headers, key, value = relay_message()
    envelope = decode(headers, key, value)
    assert (envelope.id, envelope.type, envelope.subject, envelope.key) == (
        "6f1c",
        "ledger.Deposited",
        "acc-1",
        "acc-1",
    )
    assert envelope.time == TIME
    assert envelope.data == {"amount": 5, "aggregate_id": "acc-1"}
    assert envelope.extensions == {"correlationid": "abc"}
    assert envelope.traceparent == "00-" + "1" * 32 + "-" + "2" * 16 + "-01"
