"""Column types that keep the domain's values exact on SQLite and PostgreSQL alike.

- ``TypedId``: a typed id (``WarehouseCode``) in a text column, rebuilt on load.
- ``ExactDecimal``: decimals without floating point. PostgreSQL has ``NUMERIC``;
  SQLite has no exact decimal type (SQLAlchemy would go through ``float``), so there
  the value is an integer count of ``10**-scale`` (12.5 at scale 6 is 12500000).
  Sums and comparisons stay exact and numeric on both. A value with more decimals
  than the column's scale is refused rather than rounded; the API's DTOs enforce the
  same limits, so only a programming error reaches that refusal.
- ``UtcDateTime``: aware datetimes in, aware UTC datetimes out. SQLite keeps no
  offset, so the UTC wall time is stored and UTC is re-attached on load.
- ``StrEnumType``: a ``StrEnum`` stored by value in a short text column.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import BigInteger, DateTime, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from shared_kernel.domain import EntityId

IdT = TypeVar("IdT", bound=EntityId)
E = TypeVar("E", bound=StrEnum)

ID_LENGTH = 128


def _is_sqlite(dialect: Dialect) -> bool:
    return dialect.name == "sqlite"


class TypedId(TypeDecorator[IdT], Generic[IdT]):
    """Plain text accepted on the way in as well, for filters written with strings."""

    impl = String(ID_LENGTH)
    cache_ok = True

    def __init__(self, id_type: type[IdT]) -> None:
        super().__init__()
        self.id_type = id_type

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, EntityId):
            return value.value
        return str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> IdT | None:
        return None if value is None else self.id_type(value)

    @property
    def python_type(self) -> type[IdT]:
        return self.id_type


def plain(number: Decimal) -> Decimal:
    """``number`` without trailing zeros and never in exponent form (1200, not 1.2E+3)."""
    reduced = number.normalize()
    exponent = reduced.as_tuple().exponent
    return reduced.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else reduced


class ExactDecimal(TypeDecorator[Decimal]):
    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int, scale: int) -> None:
        super().__init__(precision, scale, asdecimal=True)
        self.precision = precision
        self.scale = scale

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if _is_sqlite(dialect):
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Decimal | int | None:
        if value is None:
            return None
        exact = Decimal(value)
        try:
            held = exact.quantize(Decimal(1).scaleb(-self.scale))
        except InvalidOperation:
            raise ValueError(f"{value} is too large for this column") from None
        if held != exact:
            raise ValueError(f"{value} has more than {self.scale} decimal places")
        if len(held.as_tuple().digits) > self.precision:
            raise ValueError(f"{value} has more than {self.precision} digits")
        return int(held.scaleb(self.scale)) if _is_sqlite(dialect) else held

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        number = Decimal(value).scaleb(-self.scale) if _is_sqlite(dialect) else Decimal(value)
        return plain(number)

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal


class UtcDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise ValueError(f"{value!r} must be a timezone-aware datetime")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if _is_sqlite(dialect) else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @property
    def python_type(self) -> type[datetime]:
        return datetime


class StrEnumType(TypeDecorator[E], Generic[E]):
    """Stored by value (``partially_received``), which is also what events carry."""

    impl = String(32)
    cache_ok = True

    def __init__(self, enum_type: type[E]) -> None:
        super().__init__()
        self.enum_type = enum_type

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else self.enum_type(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> E | None:
        return None if value is None else self.enum_type(value)

    @property
    def python_type(self) -> type[E]:
        return self.enum_type


#: Quantities of stock: up to 12 integer digits and 6 decimals (a milligram in kg).
QUANTITY = ExactDecimal(18, 6)
#: Prices: up to 14 integer digits and 4 decimals (more than any currency's minor unit).
PRICE = ExactDecimal(18, 4)
#: WGS 84 degrees to 7 decimals (about a centimetre).
DEGREES = ExactDecimal(10, 7)
