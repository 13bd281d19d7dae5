from __future__ import annotations

import uuid
from dataclasses import FrozenInstanceError, dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared_kernel.domain import (
    BusinessRuleViolation,
    ConcurrencyConflict,
    Conflict,
    DomainError,
    DomainEvent,
    InvalidValue,
    NotFound,
)
from tests.shared_kernel.sample_domain import CounterId, Incremented


@dataclass(frozen=True, slots=True, kw_only=True)
class StockReceived(DomainEvent):
    context = "supply_chain"
    aggregate_type = "inventory"
    schema_version = 3

    quantity: int


class TestDomainEvent:
    def test_type_name_is_context_dot_class_name(self) -> None:
        assert StockReceived.type_name() == "supply_chain.StockReceived"
        assert Incremented.type_name() == "testing.Incremented"

    def test_event_type_matches_type_name(self) -> None:
        assert StockReceived(quantity=1).event_type == "supply_chain.StockReceived"

    def test_class_attributes_are_not_payload(self) -> None:
        event = StockReceived(quantity=1)

        assert event.context == "supply_chain"
        assert event.aggregate_type == "inventory"
        assert event.schema_version == 3
        with pytest.raises(TypeError):
            StockReceived(quantity=1, context="other")  # type: ignore[call-arg]

    def test_defaults_give_a_fresh_id_and_an_aware_utc_timestamp(self) -> None:
        first = StockReceived(quantity=1)
        second = StockReceived(quantity=1)

        assert isinstance(first.event_id, uuid.UUID)
        assert first.event_id != second.event_id
        assert first.occurred_at.utcoffset() == timedelta(0)
        assert first.aggregate_id == ""
        assert first.aggregate_version == 0

    def test_naive_occurred_at_is_refused(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            StockReceived(quantity=1, occurred_at=datetime(2024, 5, 1, 12, 0))

    def test_any_aware_occurred_at_is_accepted(self) -> None:
        paris = timezone(timedelta(hours=2))
        event = StockReceived(quantity=1, occurred_at=datetime(2024, 5, 1, 14, 0, tzinfo=paris))

        assert event.occurred_at == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

    def test_fields_are_keyword_only(self) -> None:
        with pytest.raises(TypeError):
            StockReceived(1)  # type: ignore[call-arg, arg-type]

    def test_events_are_immutable(self) -> None:
        event = StockReceived(quantity=1)

        with pytest.raises(FrozenInstanceError):
            event.quantity = 2  # type: ignore[misc]


class TestErrors:
    def test_domain_error_carries_its_detail(self) -> None:
        error = DomainError("something is off")

        assert error.detail == "something is off"
        assert str(error) == "something is off"
        assert error.title == "Domain error"

    def test_not_found_names_the_kind_and_the_identifier(self) -> None:
        error = NotFound("Warehouse", CounterId("W1"))

        assert isinstance(error, DomainError)
        assert (error.kind, error.identifier) == ("Warehouse", "W1")
        assert error.detail == "Warehouse W1 does not exist"
        assert error.title == "Not found"

    def test_conflict_is_a_domain_error(self) -> None:
        error = Conflict("SKU K-1 already exists")

        assert isinstance(error, DomainError)
        assert error.detail == "SKU K-1 already exists"
        assert error.title == "Conflict"

    def test_concurrency_conflict_carries_both_versions(self) -> None:
        error = ConcurrencyConflict("Warehouse", "W1", expected=3, actual=5)

        assert isinstance(error, Conflict)
        assert (error.kind, error.identifier, error.expected, error.actual) == (
            "Warehouse",
            "W1",
            3,
            5,
        )
        assert error.detail == (
            "Warehouse W1 was modified concurrently (expected version 3, current version 5)"
        )

    def test_concurrency_conflict_without_versions_says_so_briefly(self) -> None:
        error = ConcurrencyConflict("Warehouse", "W1", None, None)

        assert error.detail == "Warehouse W1 was modified concurrently"
        assert (error.expected, error.actual) == (None, None)

    def test_business_rule_violation_carries_a_stable_rule_name(self) -> None:
        error = BusinessRuleViolation("insufficient_stock", "only 3 left")

        assert isinstance(error, DomainError)
        assert error.rule == "insufficient_stock"
        assert error.detail == "only 3 left"

    def test_invalid_value_names_the_field_and_is_a_value_error(self) -> None:
        error = InvalidValue("quantity", "must not be negative")

        assert isinstance(error, DomainError)
        assert isinstance(error, ValueError)
        assert error.field == "quantity"
        assert error.reason == "must not be negative"
        assert error.detail == "quantity: must not be negative"

    @pytest.mark.parametrize(
        "error",
        [
            NotFound("A", "1"),
            Conflict("c"),
            ConcurrencyConflict("A", "1", None, None),
            BusinessRuleViolation("r", "d"),
            InvalidValue("f", "d"),
        ],
    )
    def test_every_error_has_its_own_title(self, error: DomainError) -> None:
        assert error.title != DomainError.title
