"""What counts as a breaking change of an event's schema, on synthetic events.

Each test builds two versions of one event from the same fields as the real code would
(a frozen, slotted, keyword-only dataclass), generates both published schemas and asks
the rules what breaks. Version 1 is ``a: int, b: str`` unless a test says otherwise.
"""

from dataclasses import Field, dataclass, field, make_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

import pytest
from pydantic import Field as Constraint

from dpmesh.governance.compatibility import (
    UnreadableSchemaError,
    breaking_changes,
)
from dpmesh.governance.event_contracts import generate_schema
from shared_kernel.domain.events import DomainEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderingEvent(DomainEvent):
    context: ClassVar[str] = "ordering"
    aggregate_type: ClassVar[str] = "order"


class Channel(StrEnum):
    WEB = "web"
    STORE = "store"


class ChannelWithPhone(StrEnum):
    WEB = "web"
    STORE = "store"
    PHONE = "phone"


class ChannelWebOnly(StrEnum):
    WEB = "web"


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class MoneyInCents:
    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class Amount:
    """Same content as ``Money`` under another name."""

    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    children: tuple["Category", ...] = ()


@dataclass(frozen=True, slots=True)
class CategoryWithCode:
    name: int
    children: tuple["CategoryWithCode", ...] = ()


def event_class(major: int = 1, **fields: Any) -> type[DomainEvent]:
    """An ``OrderPlaced`` event with these fields; ``(type, default)`` gives a default."""
    spec: list[tuple[str, Any] | tuple[str, Any, Field[Any]]] = []
    for name, declared in fields.items():
        if isinstance(declared, tuple):
            annotation, default = declared
            spec.append(
                (
                    name,
                    annotation,
                    default if isinstance(default, Field) else field(default=default),
                )
            )
        else:
            spec.append((name, declared))
    return make_dataclass(
        "OrderPlaced",
        spec,
        bases=(OrderingEvent,),
        namespace={"schema_version": major},
        frozen=True,
        slots=True,
        kw_only=True,
    )


def breaks(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str]]:
    """``(location, reason)`` of every breaking change from fields ``old`` to fields ``new``."""
    changes = breaking_changes(
        generate_schema(event_class(**old)), generate_schema(event_class(**new))
    )
    return [(change.location, change.reason) for change in changes]


V1: dict[str, Any] = {"a": int, "b": str}


def test_the_same_fields_are_compatible() -> None:
    assert breaks(V1, dict(V1)) == []


def test_removing_a_field_breaks() -> None:
    assert breaks(V1, {"a": int}) == [("b", "property removed")]


def test_removing_a_field_that_had_a_default_breaks_too() -> None:
    # The serializer always writes every field, so consumers may rely on it.
    assert breaks({"a": int, "b": (str, "")}, {"a": int}) == [("b", "property removed")]


def test_changing_a_field_type_breaks() -> None:
    assert breaks(V1, {"a": str, "b": str}) == [("a", "type changed from integer to string")]


def test_adding_a_field_with_a_default_is_compatible() -> None:
    assert breaks(V1, {**V1, "c": (int, 0)}) == []
    assert breaks(V1, {**V1, "c": (str | None, None)}) == []


def test_adding_a_required_field_breaks() -> None:
    [(location, reason)] = breaks(V1, {**V1, "c": int})
    assert location == "c"
    assert reason.startswith("new required property")


def test_giving_a_field_a_default_is_compatible() -> None:
    assert breaks(V1, {"a": int, "b": (str, "")}) == []


def test_taking_a_default_away_breaks() -> None:
    [(location, reason)] = breaks({"a": int, "b": (str, "")}, V1)
    assert location == "b"
    assert reason.startswith("property became required")


def test_removing_an_enum_value_breaks() -> None:
    assert breaks({"channel": Channel}, {"channel": ChannelWebOnly}) == [
        ("channel", 'enum values removed: ["store"]')
    ]


def test_adding_an_enum_value_is_compatible() -> None:
    assert breaks({"channel": Channel}, {"channel": ChannelWithPhone}) == []


def test_widening_a_literal_is_compatible_and_narrowing_it_breaks() -> None:
    single = {"kind": (Literal["retail"], "retail")}
    double = {"kind": (Literal["retail", "wholesale"], "retail")}
    assert breaks(single, double) == []
    assert breaks(double, single) == [("kind", 'enum values removed: ["wholesale"]')]
    assert breaks(single, {"kind": (Literal["wholesale"], "wholesale")}) == [
        ("kind", 'value changed from "retail" to ["wholesale"]')
    ]


def test_changing_a_field_of_a_nested_dataclass_breaks() -> None:
    assert breaks({"total": Money}, {"total": MoneyInCents}) == [
        ("total.amount", "type changed from string to integer")
    ]


def test_renaming_a_nested_dataclass_with_the_same_content_is_compatible() -> None:
    assert breaks({"total": Money}, {"total": Amount}) == []


def test_replacing_a_nested_dataclass_by_a_string_breaks() -> None:
    assert breaks({"total": Money}, {"total": str}) == [
        ("total", "type changed from object Money to string")
    ]


def test_changing_a_format_breaks() -> None:
    assert breaks({"due": datetime}, {"due": date}) == [
        ("due", "format changed from date-time to date")
    ]
    assert breaks({"due": str}, {"due": date}) == [("due", "format changed from none to date")]


def test_making_a_field_nullable_breaks() -> None:
    assert breaks(V1, {"a": (int | None, None), "b": str}) == [
        ("a", "may now also be null (type widened)")
    ]


def test_removing_a_union_option_breaks() -> None:
    assert breaks({"a": int | str}, {"a": int}) == [
        ("a", "no longer accepts string (type narrowed)")
    ]


def test_changing_the_type_inside_an_optional_field_names_the_change() -> None:
    assert breaks({"a": (int | None, None)}, {"a": (str | None, None)}) == [
        ("a", "type changed from integer to string")
    ]


def test_changing_list_items_breaks() -> None:
    assert breaks({"tags": list[int]}, {"tags": list[str]}) == [
        ("tags[]", "type changed from integer to string")
    ]


def test_changing_map_values_breaks() -> None:
    assert breaks({"totals": dict[str, int]}, {"totals": dict[str, Decimal]}) == [
        ("totals.*", "type changed from integer to string")
    ]


def test_changing_a_tuple_breaks() -> None:
    assert breaks({"pair": tuple[int, str]}, {"pair": tuple[int, int]}) == [
        ("pair[1]", "type changed from string to integer")
    ]
    assert breaks({"pair": tuple[int, str]}, {"pair": tuple[int, str, str]}) == [
        ("pair", "tuple length changed from 2 to 3")
    ]


def test_changing_a_constraint_breaks_in_either_direction() -> None:
    at_least_zero = {"a": Annotated[int, Constraint(ge=0)]}
    at_least_one = {"a": Annotated[int, Constraint(ge=1)]}
    assert breaks(at_least_zero, at_least_one) == [("a", "constraint minimum changed from 0 to 1")]
    assert breaks(at_least_one, at_least_zero) == [("a", "constraint minimum changed from 1 to 0")]
    assert breaks({"a": int}, at_least_zero) == [("a", "constraint minimum added (0)")]


def test_recursive_definitions_are_compared_to_the_end() -> None:
    assert breaks({"category": Category}, {"category": Category}) == []
    assert breaks({"category": Category}, {"category": CategoryWithCode}) == [
        ("category.name", "type changed from string to integer")
    ]


def test_recursive_definitions_inside_unions_are_compared_to_the_end() -> None:
    optional = {"category": (Category | None, None)}
    assert breaks(optional, optional) == []
    assert breaks(optional, {"category": (CategoryWithCode | None, None)}) == [
        ("category.name", "type changed from string to integer")
    ]
    assert breaks({"category": Category}, optional) == [
        ("category", "may now also be null (type widened)")
    ]


# Hand-written schemas, for what pydantic does not produce from our events by default.


def test_documentation_changes_are_compatible() -> None:
    old = {"type": "object", "title": "Old", "properties": {"a": {"type": "integer"}}}
    new = {
        "type": "object",
        "title": "New",
        "description": "Now documented.",
        "properties": {"a": {"type": "integer", "description": "The a.", "examples": [1]}},
    }
    assert breaking_changes(old, new) == []


def test_adding_a_property_to_a_closed_object_breaks() -> None:
    old = {
        "type": "object",
        "properties": {"a": {"type": "integer"}},
        "additionalProperties": False,
    }
    new = {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
        "additionalProperties": False,
    }
    [change] = breaking_changes(old, new)
    assert (change.location, change.reason) == (
        "b",
        "property added to an object that allowed no others",
    )


def test_closing_an_open_object_breaks() -> None:
    old = {"type": "object", "properties": {"a": {"type": "integer"}}}
    new = {**old, "additionalProperties": False}
    [change] = breaking_changes(old, new)
    assert str(change) == "(event): no longer allows other properties"


def test_an_unknown_keyword_that_changes_breaks() -> None:
    old = {"type": "string", "x-unit": "kg"}
    new = {"type": "string", "x-unit": "lb"}
    assert [str(c) for c in breaking_changes(old, new)] == [
        '(event): constraint x-unit changed from "kg" to "lb"'
    ]


def test_a_reference_outside_the_document_is_refused() -> None:
    schema = {"type": "object", "properties": {"a": {"$ref": "https://example.org/a.json"}}}
    with pytest.raises(UnreadableSchemaError, match="only local references"):
        breaking_changes(schema, schema)


def test_a_dangling_reference_is_refused() -> None:
    schema = {"type": "object", "properties": {"a": {"$ref": "#/$defs/Gone"}}}
    with pytest.raises(UnreadableSchemaError, match="unresolvable"):
        breaking_changes(schema, schema)


def test_a_reference_loop_is_refused() -> None:
    schema = {"$defs": {"A": {"$ref": "#/$defs/A"}}, "properties": {"a": {"$ref": "#/$defs/A"}}}
    with pytest.raises(UnreadableSchemaError, match="chain"):
        breaking_changes(schema, schema)


def test_the_old_pydantic_all_of_wrapping_is_read_like_a_plain_reference() -> None:
    defs = {"Channel": {"type": "string", "enum": ["web", "store"]}}
    old = {
        "$defs": defs,
        "properties": {"c": {"allOf": [{"$ref": "#/$defs/Channel"}], "default": "web"}},
    }
    new = {"$defs": defs, "properties": {"c": {"$ref": "#/$defs/Channel", "default": "web"}}}
    assert breaking_changes(old, new) == []


def test_the_helper_builds_what_the_rules_assume() -> None:
    # A bare type is a required field; ``(type, default)`` is not required.
    schema = generate_schema(event_class(a=int, b=(str, "")))
    assert schema["required"] == ["a"]
    assert schema["properties"]["b"]["default"] == ""
