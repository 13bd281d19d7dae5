"""Value objects and guards shared by the supply chain's aggregates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from shared_kernel.domain import InvalidValue, Quantity, ValueObject

NAME_MAX_LENGTH = 200


def exact_decimal(field: str, value: object) -> Decimal:
    """``value`` as a finite Decimal; floats are refused, as everywhere in dpmesh."""
    if isinstance(value, bool | float) or not isinstance(value, Decimal | int | str):
        raise InvalidValue(field, f"{value!r} must be an exact number (Decimal, int or str)")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise InvalidValue(field, f"{value!r} is not a number") from None
    if not number.is_finite():
        raise InvalidValue(field, f"{value!r} is not a finite number")
    return number


def required_text(field: str, text: str, max_length: int = NAME_MAX_LENGTH) -> str:
    """``text`` without surrounding blanks; refused when empty or too long."""
    stripped = text.strip() if isinstance(text, str) else ""
    if not stripped:
        raise InvalidValue(field, "must not be blank")
    if len(stripped) > max_length:
        raise InvalidValue(field, f"must be at most {max_length} characters long")
    return stripped


def positive(field: str, quantity: Quantity) -> Quantity:
    """Movements move something: a zero quantity is a client mistake, not a no-op."""
    if quantity.is_zero():
        raise InvalidValue(field, "must be greater than zero")
    return quantity


def aware(field: str, moment: datetime) -> datetime:
    """Business moments are compared across time zones, so they must carry one."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidValue(field, f"{moment.isoformat()} must be timezone-aware")
    return moment


def business_day(moment: datetime) -> date:
    """The calendar day a moment falls on; business days are UTC days."""
    return aware("at", moment).astimezone(UTC).date()


@dataclass(frozen=True, slots=True)
class GeoLocation(ValueObject):
    """WGS 84 coordinates in decimal degrees, as on a map of delivery routes."""

    latitude: Decimal
    longitude: Decimal

    def __post_init__(self) -> None:
        latitude = exact_decimal("latitude", self.latitude)
        longitude = exact_decimal("longitude", self.longitude)
        if not Decimal(-90) <= latitude <= Decimal(90):
            raise InvalidValue("latitude", f"{latitude} must be between -90 and 90")
        if not Decimal(-180) <= longitude <= Decimal(180):
            raise InvalidValue("longitude", f"{longitude} must be between -180 and 180")
        object.__setattr__(self, "latitude", latitude)
        object.__setattr__(self, "longitude", longitude)
