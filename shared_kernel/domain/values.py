"""Shared value types with real invariants.

Convention for every value object in dpmesh: ``@dataclass(frozen=True, slots=True)``,
validating (and normalising) in ``__post_init__``, so an instance that exists is valid.
Arithmetic returns new instances and re-checks the invariants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext

from shared_kernel.domain.errors import InvalidValue

Number = Decimal | int | str


class ValueObject:
    """Marker base for value objects (equal by value, immutable)."""

    __slots__ = ()


def _to_decimal(field: str, value: object) -> Decimal:
    """Exact conversion only: floats are refused because 0.1 is not exactly 0.1."""
    if isinstance(value, bool | float):
        raise InvalidValue(field, f"{value!r} must be an exact number (Decimal, int or str)")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | str):
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise InvalidValue(field, f"{value!r} is not a number") from None
    else:
        raise InvalidValue(field, f"{value!r} is not a number")
    if not result.is_finite():
        raise InvalidValue(field, f"{value!r} is not a finite number")
    return result


def _quantize(field: str, value: Decimal, places: int, rounding: str | None = None) -> Decimal:
    """``value`` at ``places`` decimals; a result too long to hold exactly is refused.

    ``Decimal.quantize`` signals ``InvalidOperation`` when the result needs more digits
    than the context's precision (28), which would otherwise escape as a bare
    ``decimal`` error instead of a refusal the API can report.
    """
    try:
        return value.quantize(Decimal(1).scaleb(-places), rounding=rounding)
    except InvalidOperation:
        raise InvalidValue(field, f"{value} is too large to hold exactly") from None


_UNIT = re.compile(r"^[a-z][a-z0-9_]{0,15}$")


@dataclass(frozen=True, slots=True)
class Quantity(ValueObject):
    """A non-negative amount of something in a unit (``each``, ``kg``, ``box``).

    Subtraction below zero raises ``InvalidValue``: callers that must refuse a
    business action (ship more than available) check before subtracting.
    """

    amount: Decimal
    unit: str = "each"

    def __post_init__(self) -> None:
        amount = _to_decimal("quantity", self.amount)
        if amount < 0:
            raise InvalidValue("quantity", f"{amount} must not be negative")
        if not _UNIT.fullmatch(self.unit):
            raise InvalidValue("unit", f"{self.unit!r} must be a short lowercase unit name")
        object.__setattr__(self, "amount", amount)

    @classmethod
    def zero(cls, unit: str = "each") -> Quantity:
        return cls(Decimal(0), unit)

    def _same_unit(self, other: Quantity) -> None:
        if other.unit != self.unit:
            raise InvalidValue("unit", f"cannot combine {self.unit} with {other.unit}")

    def __add__(self, other: Quantity) -> Quantity:
        self._same_unit(other)
        return Quantity(self.amount + other.amount, self.unit)

    def __sub__(self, other: Quantity) -> Quantity:
        self._same_unit(other)
        return Quantity(self.amount - other.amount, self.unit)

    def __lt__(self, other: Quantity) -> bool:
        self._same_unit(other)
        return self.amount < other.amount

    def __le__(self, other: Quantity) -> bool:
        self._same_unit(other)
        return self.amount <= other.amount

    def __gt__(self, other: Quantity) -> bool:
        self._same_unit(other)
        return self.amount > other.amount

    def __ge__(self, other: Quantity) -> bool:
        self._same_unit(other)
        return self.amount >= other.amount

    def is_zero(self) -> bool:
        return self.amount == 0

    def __str__(self) -> str:
        return f"{self.amount} {self.unit}"


# ISO 4217 minor units for the currencies where it is not 2.
_MINOR_UNITS: dict[str, int] = {"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "BHD": 3, "KWD": 3}
_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True, slots=True)
class Money(ValueObject):
    """An exact amount in one currency, held at the currency's minor unit.

    Amounts with more decimals than the currency has are refused rather than
    silently rounded; multiplication rounds half-even (banker's rounding), the only
    place rounding happens. Currencies never mix.
    """

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not _CURRENCY.fullmatch(self.currency):
            raise InvalidValue("currency", f"{self.currency!r} is not an ISO 4217 code")
        amount = _to_decimal("amount", self.amount)
        held = _quantize("amount", amount, self.minor_units)
        if amount != held:
            raise InvalidValue(
                "amount",
                f"{amount} has more than {self.minor_units} decimals for {self.currency}",
            )
        object.__setattr__(self, "amount", held)

    @property
    def minor_units(self) -> int:
        return _MINOR_UNITS.get(self.currency, 2)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise InvalidValue("currency", f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: Number) -> Money:
        multiplier = _to_decimal("factor", factor)
        # The product gets all the digits it needs, so the half-even rounding below is
        # the only rounding (a product first cut to the context's 28 digits could turn
        # 0.01499... into 0.01500 and then round the wrong way).
        with localcontext() as exact_context:
            exact_context.prec = max(
                exact_context.prec,
                len(self.amount.as_tuple().digits) + len(multiplier.as_tuple().digits),
            )
            exact = self.amount * multiplier
        return Money(_quantize("amount", exact, self.minor_units, ROUND_HALF_EVEN), self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount <= other.amount

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


@dataclass(frozen=True, slots=True)
class Percentage(ValueObject):
    """A share between 0 and 100 inclusive (on-time rate, quality score, coverage)."""

    value: Decimal

    def __post_init__(self) -> None:
        value = _to_decimal("percentage", self.value)
        if not Decimal(0) <= value <= Decimal(100):
            raise InvalidValue("percentage", f"{value} must be between 0 and 100")
        object.__setattr__(self, "value", value)

    @classmethod
    def from_ratio(cls, part: Number, whole: Number, places: int = 2) -> Percentage:
        """``part / whole`` as a percentage rounded half-even to ``places`` decimals."""
        whole_d = _to_decimal("whole", whole)
        if whole_d <= 0:
            raise InvalidValue("whole", "a ratio needs a positive whole")
        share = _to_decimal("part", part) * 100 / whole_d
        return cls(_quantize("percentage", share, places, ROUND_HALF_EVEN))

    def as_ratio(self) -> Decimal:
        return self.value / 100

    def __str__(self) -> str:
        return f"{self.value}%"


@dataclass(frozen=True, slots=True)
class DateRange(ValueObject):
    """Calendar days from ``start`` to ``end``, both included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise InvalidValue("end", f"{self.end} is before {self.start}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end

    def overlaps(self, other: DateRange) -> bool:
        return self.start <= other.end and other.start <= self.end

    def shifted(self, days: int) -> DateRange:
        return DateRange(self.start + timedelta(days=days), self.end + timedelta(days=days))
