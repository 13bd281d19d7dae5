from __future__ import annotations

import pytest

from shared_kernel.domain import EntityId, InvalidValue, Urn
from tests.shared_kernel.sample_domain import CounterId, TallyId


class TestEntityId:
    def test_same_type_and_text_are_equal(self) -> None:
        assert CounterId("c-1") == CounterId("c-1")
        assert hash(CounterId("c-1")) == hash(CounterId("c-1"))

    def test_different_id_types_with_equal_text_are_not_equal(self) -> None:
        # mypy refuses these comparisons statically; at run time they are simply False.
        assert CounterId("42") != TallyId("42")  # type: ignore[comparison-overlap]
        assert TallyId("42") != CounterId("42")  # type: ignore[comparison-overlap]
        assert len({CounterId("42"), TallyId("42")}) == 2

    def test_an_id_is_not_equal_to_its_text(self) -> None:
        assert CounterId("42") != "42"  # type: ignore[comparison-overlap]

    def test_ids_of_one_type_sort_by_text(self) -> None:
        # The ORM sorts the rows of a flush by primary key.
        assert sorted([CounterId("b"), CounterId("a"), CounterId("c")]) == [
            CounterId("a"),
            CounterId("b"),
            CounterId("c"),
        ]
        assert CounterId("a") < CounterId("b")
        assert CounterId("b") >= CounterId("b")

    def test_ids_of_different_types_do_not_compare(self) -> None:
        with pytest.raises(TypeError):
            _ = CounterId("a") < TallyId("b")  # type: ignore[operator]

    def test_str_is_the_text(self) -> None:
        assert str(CounterId("W-01.a_b:c")) == "W-01.a_b:c"

    def test_new_ids_are_unique_valid_and_typed(self) -> None:
        first, second = CounterId.new(), CounterId.new()

        assert type(first) is CounterId
        assert first != second
        assert CounterId(first.value) == first

    @pytest.mark.parametrize(
        "text",
        ["", " ", "-leading-dash", ".hidden", "has space", "slash/inside", "é", "a\n", "x?y=1"],
    )
    def test_unsafe_or_empty_text_is_refused(self, text: str) -> None:
        with pytest.raises(InvalidValue) as caught:
            CounterId(text)
        assert caught.value.field == "id"

    def test_non_text_is_refused(self) -> None:
        with pytest.raises(InvalidValue):
            CounterId(42)  # type: ignore[arg-type]

    def test_length_limit(self) -> None:
        assert CounterId("a" * 128).value == "a" * 128
        with pytest.raises(InvalidValue, match="128"):
            CounterId("a" * 129)

    def test_ids_are_immutable(self) -> None:
        identifier = EntityId("a")

        with pytest.raises(AttributeError):
            identifier.value = "b"  # type: ignore[misc]


class TestUrn:
    def test_str_has_the_dpmesh_shape(self) -> None:
        urn = Urn("supply_chain", "warehouse", "W1")

        assert str(urn) == "urn:dpmesh:supply_chain:warehouse:W1"

    def test_parse_reads_the_three_parts(self) -> None:
        urn = Urn.parse("urn:dpmesh:consultant_skills:consultant:c-42")

        assert (urn.context, urn.entity, urn.id) == ("consultant_skills", "consultant", "c-42")

    def test_the_id_keeps_its_colons(self) -> None:
        urn = Urn.parse("urn:dpmesh:product_usage:event:2024:05:01:e-1")

        assert urn.id == "2024:05:01:e-1"
        assert str(urn) == "urn:dpmesh:product_usage:event:2024:05:01:e-1"

    def test_parse_then_str_round_trips(self) -> None:
        text = "urn:dpmesh:supply_chain:sku:K.001"

        assert str(Urn.parse(text)) == text
        assert Urn.parse(str(Urn("a", "b", "c"))) == Urn("a", "b", "c")

    @pytest.mark.parametrize(
        ("text", "field"),
        [
            ("urn:other:supply_chain:sku:K1", "urn"),
            ("dpmesh:supply_chain:sku:K1", "urn"),
            ("urn:dpmesh:supply_chain:sku", "urn"),
            ("urn:dpmesh:Supply:sku:K1", "context"),
            ("urn:dpmesh:supply_chain:Sku:K1", "entity"),
            ("urn:dpmesh:supply_chain:sku:", "id"),
            ("urn:dpmesh:supply_chain:sku:K 1", "id"),
        ],
    )
    def test_malformed_urns_are_refused_naming_the_part(self, text: str, field: str) -> None:
        with pytest.raises(InvalidValue) as caught:
            Urn.parse(text)
        assert caught.value.field == field

    def test_constructor_validates_too(self) -> None:
        with pytest.raises(InvalidValue) as caught:
            Urn("supply_chain", "sku", "")
        assert caught.value.field == "id"
