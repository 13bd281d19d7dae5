"""A product row defined once: the SQL table, the Arrow schema and the REST model derived
from it agree with the row, and a row the kernel cannot derive is refused early."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest
from sqlalchemy import BigInteger, Boolean, Date, Float, MetaData, String

from shared_kernel.application.products import ProductSpec, described
from shared_kernel.infrastructure.persistence.types import ExactDecimal, UtcDateTime
from shared_kernel.infrastructure.products import arrow_schema, product_table
from shared_kernel.interfaces.products import page_model, row_model


@dataclass(frozen=True, slots=True)
class Reading:
    site: str = described("The site.", key=True)
    day: date = described("The UTC day.", key=True)
    count: int = described("Readings that day.")
    mean: float | None = described("Their mean; null without readings.")
    total: Decimal = described("Their exact sum.")
    complete: bool = described("Whether every sensor reported.")
    as_of: datetime = described("Event time of the newest reading.")


SPEC = ProductSpec("site-readings", Reading, "Readings per site and day.")


def test_the_key_and_descriptions_come_from_the_fields() -> None:
    assert SPEC.key == ("site", "day")
    assert SPEC.describe("mean") == "Their mean; null without readings."
    assert SPEC.key_of(
        Reading("s", date(2026, 1, 1), 1, None, Decimal(1), True, datetime.now())
    ) == (
        "s",
        date(2026, 1, 1),
    )


def test_the_table_has_the_row_fields_keyed_by_the_key_fields() -> None:
    table = product_table(SPEC, MetaData())
    assert table.name == "product_site_readings"
    assert [c.name for c in table.primary_key] == ["site", "day"]
    kinds = {c.name: type(c.type) for c in table.columns}
    assert kinds == {
        "site": String,
        "day": Date,
        "count": BigInteger,
        "mean": Float,
        "total": ExactDecimal,
        "complete": Boolean,
        "as_of": UtcDateTime,
        "materialized_at": UtcDateTime,
    }
    assert table.c.mean.nullable
    assert not table.c.count.nullable


def test_the_arrow_schema_carries_types_nullability_and_descriptions() -> None:
    schema = arrow_schema(SPEC)
    assert schema.names == [*table_names(), "materialized_at"]
    assert schema.field("mean").type == pa.float64()
    assert schema.field("mean").nullable
    assert not schema.field("site").nullable
    assert schema.field("total").type == pa.decimal128(18, 6)
    assert schema.field("as_of").type == pa.timestamp("us", tz="UTC")
    assert schema.field("count").metadata == {b"description": b"Readings that day."}


def table_names() -> list[str]:
    return ["site", "day", "count", "mean", "total", "complete", "as_of"]


def test_the_rest_model_adds_freshness_and_keeps_descriptions() -> None:
    item = row_model(SPEC)
    fields = item.model_fields
    assert set(fields) == {*table_names(), "materialized_at", "freshness_ms"}
    assert fields["count"].description == "Readings that day."
    page = page_model(SPEC, item)
    assert page.__name__ == "SiteReadingsPage"
    assert {"product", "count", "items", "as_of", "materialized_at", "freshness_ms"} == set(
        page.model_fields
    )


def test_a_row_without_key_or_as_of_or_with_an_unknown_type_is_refused() -> None:
    @dataclass(frozen=True, slots=True)
    class NoKey:
        name: str = described("x")
        as_of: datetime = described("x")

    @dataclass(frozen=True, slots=True)
    class NoAsOf:
        name: str = described("x", key=True)

    @dataclass(frozen=True, slots=True)
    class Listy:
        name: str = described("x", key=True)
        tags: list[str] = described("x")
        as_of: datetime = described("x")

    with pytest.raises(TypeError, match="key"):
        ProductSpec("a", NoKey, "")
    with pytest.raises(TypeError, match="as_of"):
        ProductSpec("a", NoAsOf, "")
    with pytest.raises(TypeError, match="tags"):
        product_table(ProductSpec("a", Listy, ""), MetaData())
