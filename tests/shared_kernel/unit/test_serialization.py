from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum

import pytest
from pydantic import ValidationError

from shared_kernel.domain import DomainEvent, Money, Quantity
from shared_kernel.infrastructure.serialization import (
    event_from_json,
    event_json_schema,
    event_to_dict,
    event_to_json,
)


class Carrier(StrEnum):
    ROAD = "road"
    AIR = "air"


@dataclass(frozen=True, slots=True, kw_only=True)
class ShipmentPriced(DomainEvent):
    context = "supply_chain"
    aggregate_type = "shipment"
    schema_version = 2

    price: Money
    weight: Quantity
    rate: Decimal
    carrier: Carrier
    departs_at: datetime
    delivery_day: date
    legs: tuple[str, ...] = ()
    note: str | None = None


def sample() -> ShipmentPriced:
    return ShipmentPriced(
        event_id=uuid.UUID("6f1c2f7e-0a43-4c5e-9a9e-5d7f0b1f2a3b"),
        occurred_at=datetime(2024, 5, 1, 12, 30, 15, 250_000, tzinfo=UTC),
        aggregate_id="S-1",
        aggregate_version=7,
        price=Money(Decimal("1234.50"), "EUR"),
        weight=Quantity(Decimal("12.750"), "kg"),
        rate=Decimal("0.0725"),
        carrier=Carrier.AIR,
        departs_at=datetime(2024, 5, 2, 8, 0, tzinfo=timezone(timedelta(hours=2))),
        delivery_day=date(2024, 5, 4),
        legs=("FRA", "JFK"),
    )


class TestRoundTrip:
    def test_json_round_trip_gives_an_equal_event(self) -> None:
        event = sample()

        back = event_from_json(ShipmentPriced, event_to_json(event))

        assert back == event
        assert type(back) is ShipmentPriced
        assert isinstance(back.price, Money)
        assert back.price.amount == Decimal("1234.50")
        assert back.carrier is Carrier.AIR
        assert back.departs_at.utcoffset() == timedelta(hours=2)

    def test_round_trip_from_text_too(self) -> None:
        event = sample()

        assert event_from_json(ShipmentPriced, event_to_json(event).decode()) == event

    def test_json_is_exact_and_readable(self) -> None:
        data = json.loads(event_to_json(sample()))

        assert data["price"] == {"amount": "1234.50", "currency": "EUR"}
        assert data["weight"] == {"amount": "12.750", "unit": "kg"}
        assert data["rate"] == "0.0725"  # a string: no float ever touches the amount
        assert data["carrier"] == "air"
        assert data["event_id"] == "6f1c2f7e-0a43-4c5e-9a9e-5d7f0b1f2a3b"
        assert data["aggregate_id"] == "S-1"
        assert data["aggregate_version"] == 7
        assert data["delivery_day"] == "2024-05-04"
        assert data["legs"] == ["FRA", "JFK"]
        assert data["note"] is None
        assert datetime.fromisoformat(data["occurred_at"]) == datetime(
            2024, 5, 1, 12, 30, 15, 250_000, tzinfo=UTC
        )

    def test_class_attributes_are_not_serialised(self) -> None:
        data = json.loads(event_to_json(sample()))

        assert not {"context", "aggregate_type", "schema_version"} & data.keys()

    def test_to_dict_is_the_parsed_json(self) -> None:
        event = sample()

        assert event_to_dict(event) == json.loads(event_to_json(event))

    def test_value_object_invariants_hold_on_the_way_in(self) -> None:
        data = json.loads(event_to_json(sample()))
        data["price"]["amount"] = "1.999"  # more decimals than EUR has

        with pytest.raises(ValidationError, match="amount"):
            event_from_json(ShipmentPriced, json.dumps(data))

    def test_a_naive_timestamp_is_refused_on_the_way_in(self) -> None:
        data = json.loads(event_to_json(sample()))
        data["occurred_at"] = "2024-05-01T12:30:15"

        with pytest.raises(ValidationError, match="timezone-aware"):
            event_from_json(ShipmentPriced, json.dumps(data))

    def test_missing_or_unknown_enum_values_are_refused(self) -> None:
        data = json.loads(event_to_json(sample()))
        del data["rate"]
        data["carrier"] = "sea"

        with pytest.raises(ValidationError) as caught:
            event_from_json(ShipmentPriced, json.dumps(data))
        assert {error["loc"][0] for error in caught.value.errors()} == {"rate", "carrier"}


class TestJsonSchema:
    def test_identity_and_title(self) -> None:
        schema = event_json_schema(ShipmentPriced)

        assert schema["$id"] == "urn:dpmesh:supply_chain:event:ShipmentPriced.v2"
        assert schema["title"] == "supply_chain.ShipmentPriced"
        assert schema["type"] == "object"

    def test_properties_are_the_payload_fields(self) -> None:
        schema = event_json_schema(ShipmentPriced)

        assert list(schema["properties"]) == [
            "event_id",
            "occurred_at",
            "aggregate_id",
            "aggregate_version",
            "price",
            "weight",
            "rate",
            "carrier",
            "departs_at",
            "delivery_day",
            "legs",
            "note",
        ]
        assert {"price", "weight", "rate", "carrier", "departs_at", "delivery_day"} <= set(
            schema["required"]
        )

    def test_types_match_what_is_written(self) -> None:
        schema = event_json_schema(ShipmentPriced)
        properties = schema["properties"]
        definitions = schema["$defs"]

        assert properties["event_id"] == {"format": "uuid", "title": "Event Id", "type": "string"}
        assert properties["occurred_at"]["format"] == "date-time"
        assert properties["delivery_day"]["format"] == "date"
        assert properties["rate"]["type"] == "string"  # Decimal is written as a string
        money = definitions[properties["price"]["$ref"].split("/")[-1]]
        assert money["properties"]["amount"]["type"] == "string"
        assert money["required"] == ["amount", "currency"]
        carrier = definitions[properties["carrier"]["$ref"].split("/")[-1]]
        assert carrier["enum"] == ["road", "air"]

    def test_schema_is_plain_json(self) -> None:
        schema = event_json_schema(ShipmentPriced)

        assert json.loads(json.dumps(schema)) == schema

    def test_each_call_returns_an_independent_schema(self) -> None:
        first = event_json_schema(ShipmentPriced)
        first["title"] = "changed"

        assert event_json_schema(ShipmentPriced)["title"] == "supply_chain.ShipmentPriced"
