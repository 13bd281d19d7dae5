"""CloudEvents 1.0 in Kafka binary content mode.

Attributes travel as ``ce_*`` headers and the JSON payload as the message value, so a
consumer can route and deduplicate on headers without parsing the body. The W3C
``traceparent`` header travels beside them, as tracing instrumentations expect it.
Decoding goes through the ``cloudevents`` SDK, which validates what arrives from
outside; encoding writes the SDK's headers directly (see ``encode``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cloudevents.core.bindings import kafka as ce_kafka

CONTENT_TYPE = "application/json"
_CONTENT_TYPE_BYTES = CONTENT_TYPE.encode()
_EXTENSION_NAME = re.compile(r"^[a-z0-9]{1,20}$")
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
    """Message ``(key, value, headers)``; the key is the subject (the aggregate id).

    Writes the same headers, in the same order, as the SDK's
    ``to_binary_event(CloudEvent(...))`` (a test pins this) and applies the same
    attribute rules, raising ``ValueError``. Building and validating an SDK event
    object per message took about a third of the outbox relay's CPU time.
    """
    for name, text in (("id", event_id), ("source", source), ("type", event_type)):
        if not isinstance(text, str) or not text:
            raise ValueError(f"CloudEvent attribute {name!r} must be a non-empty string")
    if not isinstance(subject, str) or not subject:
        raise ValueError("CloudEvent attribute 'subject' must be a non-empty string")
    if not isinstance(time, datetime) or time.tzinfo is None:
        raise ValueError("CloudEvent attribute 'time' must be a timezone-aware datetime")
    if dataschema is not None and not isinstance(dataschema, str):
        raise ValueError("CloudEvent attribute 'dataschema' must be a string")
    stamp = time.isoformat()
    if stamp.endswith("+00:00"):
        stamp = stamp[:-6] + "Z"
    headers: Headers = [
        ("ce_id", event_id.encode()),
        ("ce_source", source.encode()),
        ("ce_type", event_type.encode()),
        ("ce_time", stamp.encode()),
        ("ce_subject", subject.encode()),
        ("content-type", _CONTENT_TYPE_BYTES),
    ]
    for name, value in (extensions or {}).items():
        if not _EXTENSION_NAME.fullmatch(name) or name in _KNOWN or name == "data":
            raise ValueError(f"invalid CloudEvent extension attribute name {name!r}")
        headers.append((f"ce_{name}", str(value).encode()))
    if dataschema:
        headers.append(("ce_dataschema", dataschema.encode()))
    headers.append(("ce_specversion", b"1.0"))
    if traceparent:
        headers.append((TRACEPARENT, traceparent.encode()))
    return subject.encode(), payload, headers


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


_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


def decode(headers: Any, key: bytes | None, value: bytes | None) -> EventEnvelope:
    """Parse a binary-mode message; raise ``MalformedEvent`` with a readable reason.

    Well-formed messages of the usual shape take a direct path (the SDK's date
    parser and event validation cost more than the rest of a consumer's work per
    event); anything else goes through the SDK, which decides and words the error.
    A test pins both paths to the same result.
    """
    try:
        header_map = {name: bytes(raw) for name, raw in (headers or ()) if raw is not None}
    except (TypeError, ValueError) as exc:
        raise MalformedEvent(f"unreadable headers: {exc}") from None
    traceparent = header_map.pop(TRACEPARENT, None)
    envelope = _decode_common_shape(header_map, key, value, traceparent)
    if envelope is not None:
        return envelope
    return _decode_with_sdk(header_map, key, value, traceparent)


def _decode_common_shape(
    header_map: dict[str, bytes],
    key: bytes | None,
    value: bytes | None,
    traceparent: bytes | None,
) -> EventEnvelope | None:
    """The envelope of a plainly valid JSON CloudEvent 1.0; None when in any doubt."""
    if header_map.get("ce_specversion") != b"1.0" or not value:
        return None
    if header_map.get("content-type", _CONTENT_TYPE_BYTES) != _CONTENT_TYPE_BYTES:
        return None
    attributes: dict[str, str] = {}
    try:
        for name, raw in header_map.items():
            if name.startswith("ce_"):
                attributes[name[3:]] = raw.decode("utf-8")
            elif name != name.lower():
                return None  # the SDK folds header case; let it decide
        data = json.loads(value)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    event_id, source, event_type = (attributes.get(n) for n in ("id", "source", "type"))
    if not event_id or not source or not event_type:
        return None
    subject = attributes.get("subject")
    dataschema = attributes.get("dataschema")
    if subject == "" or dataschema == "":
        return None
    if "time" not in attributes:
        return None  # the SDK fills in a default
    try:
        time = datetime.fromisoformat(attributes["time"])
    except ValueError:
        return None
    if time.tzinfo is None:
        return None
    extensions = {n: v for n, v in attributes.items() if n not in _KNOWN}
    if any(not _EXTENSION_NAME.fullmatch(n) or n == "data" for n in extensions):
        return None
    return EventEnvelope(
        id=event_id,
        source=source,
        type=event_type,
        time=time,
        subject=subject,
        data=data,
        dataschema=dataschema,
        key=key.decode("utf-8", "replace") if key is not None else None,
        traceparent=traceparent.decode("utf-8", "replace") if traceparent else None,
        extensions=extensions,
    )


def _decode_with_sdk(
    header_map: dict[str, bytes],
    key: bytes | None,
    value: bytes | None,
    traceparent: bytes | None,
) -> EventEnvelope:
    missing = [
        h for h in ("ce_id", "ce_source", "ce_type", "ce_specversion") if h not in header_map
    ]
    if missing:
        raise MalformedEvent(f"not a CloudEvent: missing header(s) {', '.join(missing)}")
    if value is None:
        raise MalformedEvent("empty message value")
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
        time=attributes.get("time") or _EPOCH,
        subject=attributes.get("subject"),
        data=data,
        dataschema=attributes.get("dataschema"),
        key=key.decode("utf-8", "replace") if key is not None else None,
        traceparent=traceparent.decode("utf-8", "replace") if traceparent else None,
        extensions={k: str(v) for k, v in attributes.items() if k not in _KNOWN},
    )
