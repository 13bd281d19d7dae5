"""Domain events <-> JSON, through pydantic, without pydantic in the domain.

Domain events are stdlib dataclasses; pydantic's ``TypeAdapter`` understands them, so
the JSON written to the outbox and the JSON Schema of the published contract come from
the very class the aggregate records. Events therefore carry primitives, Decimal,
dates, UUIDs, enums and nested frozen dataclasses (e.g. ``Money``), not typed ids.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import TypeAdapter

from shared_kernel.domain.events import DomainEvent

E = TypeVar("E", bound=DomainEvent)


_adapters: dict[type[DomainEvent], TypeAdapter[Any]] = {}


def _adapter(event_type: type[DomainEvent]) -> TypeAdapter[Any]:
    """Building an adapter compiles a validator: do it once per event class."""
    adapter = _adapters.get(event_type)
    if adapter is None:
        adapter = _adapters[event_type] = TypeAdapter(event_type)
    return adapter


def event_to_json(event: DomainEvent) -> bytes:
    return _adapter(type(event)).dump_json(event)


def event_to_dict(event: DomainEvent) -> dict[str, Any]:
    """JSON-compatible dict (Decimal as string, datetimes ISO 8601)."""
    data: dict[str, Any] = _adapter(type(event)).dump_python(event, mode="json")
    return data


def event_from_json(event_type: type[E], data: bytes | str) -> E:
    """Validate ``data`` against the event class; raises ``pydantic.ValidationError``."""
    event: E = _adapter(event_type).validate_json(data)
    return event


def event_json_schema(event_type: type[DomainEvent]) -> dict[str, Any]:
    """The published JSON Schema of an event type (what consumers may rely on)."""
    schema: dict[str, Any] = _adapter(event_type).json_schema(mode="serialization")
    schema["$id"] = (
        f"urn:dpmesh:{event_type.context}:event:{event_type.__name__}.v{event_type.schema_version}"
    )
    schema["title"] = event_type.type_name()
    return schema
