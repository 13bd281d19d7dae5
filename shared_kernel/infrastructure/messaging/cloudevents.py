"""CloudEvents 1.0 in Kafka binary content mode, through the ``cloudevents`` SDK.

Attributes travel as ``ce_*`` headers and the JSON payload as the message value, so a
consumer can route and deduplicate on headers without parsing the body. The W3C
``traceparent`` header travels beside them, as tracing instrumentations expect it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.v1.event import CloudEvent

CONTENT_TYPE = "application/json"
TRACEPARENT = "traceparent"
Headers = list[tuple[str, bytes]]


class MalformedEvent(ValueError):
    """A message that is not a valid CloudEvent; ``reason`` goes to the dead-letter topic."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class EventEnvelope:
    """A decoded event: the CloudEvents attributes dpmesh relies on, and the JSON data."""

    id: str
    source: str
    type: str
    time: datetime
    subject: str | None
    data: dict[str, Any]
    dataschema: str | None = None
    key: str | None = None
    traceparent: str | None = None
    extensions: dict[str, str] = field(default_factory=dict)


def encode(
    *,
    event_id: str,
    source: str,
    event_type: str,
    time: datetime,
    subject: str,
    payload: bytes,
    dataschema: str | None = None,
    traceparent: str | None = None,
    extensions: dict[str, str] | None = None,
) -> tuple[bytes, bytes, Headers]:
    """Message ``(key, value, headers)``; the key is the subject (the aggregate id)."""
    attributes: dict[str, Any] = {
        "id": event_id,
        "source": source,
        "type": event_type,
        "time": time,
        "subject": subject,
        "datacontenttype": CONTENT_TYPE,
        **(extensions or {}),
    }
    if dataschema:
        attributes["dataschema"] = dataschema
    message = ce_kafka.to_binary_event(CloudEvent(attributes, data=payload))
    headers = [(name, value) for name, value in message.headers.items()]
    if traceparent:
        headers.append((TRACEPARENT, traceparent.encode()))
    return subject.encode(), message.value, headers


_KNOWN = {
    "id",
    "source",
    "type",
    "time",
    "subject",
    "specversion",
    "datacontenttype",
    "dataschema",
    "partitionkey",
}


def decode(headers: Any, key: bytes | None, value: bytes | None) -> EventEnvelope:
    """Parse a binary-mode message; raise ``MalformedEvent`` with a readable reason."""
    try:
        header_map = {name: bytes(raw) for name, raw in (headers or ()) if raw is not None}
    except (TypeError, ValueError) as exc:
        raise MalformedEvent(f"unreadable headers: {exc}") from None
    missing = [
        h for h in ("ce_id", "ce_source", "ce_type", "ce_specversion") if h not in header_map
    ]
    if missing:
        raise MalformedEvent(f"not a CloudEvent: missing header(s) {', '.join(missing)}")
    if value is None:
        raise MalformedEvent("empty message value")
    traceparent = header_map.pop(TRACEPARENT, None)
    try:
        event = ce_kafka.from_binary_event(
            ce_kafka.KafkaMessage(headers=header_map, key=key, value=value)
        )
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise MalformedEvent(f"invalid CloudEvent: {exc}") from None
    except Exception as exc:  # the SDK raises its own validation error types
        raise MalformedEvent(f"invalid CloudEvent: {type(exc).__name__}: {exc}") from None
    data = event.get_data()
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise MalformedEvent(f"data is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedEvent("data must be a JSON object")
    attributes = event.get_attributes()
    return EventEnvelope(
        id=str(attributes["id"]),
        source=str(attributes["source"]),
        type=str(attributes["type"]),
        time=attributes.get("time") or datetime.fromisoformat("1970-01-01T00:00:00+00:00"),
        subject=attributes.get("subject"),
        data=data,
        dataschema=attributes.get("dataschema"),
        key=key.decode("utf-8", "replace") if key is not None else None,
        traceparent=traceparent.decode("utf-8", "replace") if traceparent else None,
        extensions={k: str(v) for k, v in attributes.items() if k not in _KNOWN},
    )
