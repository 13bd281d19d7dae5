"""JSON-safe encoding of the computation state kept in the stream worker's tables.

Table values travel through a changelog topic as JSON, so state is stored as plain
dicts of strings, numbers and lists: decimals as strings (exact), days and moments in
ISO 8601. Every state class round-trips through ``to_json`` / ``from_json``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

JsonDict = dict[str, Any]


def dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def to_dec(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"expected a decimal string, got {value!r}")
    return Decimal(value)


def to_opt_dec(value: Any) -> Decimal | None:
    return None if value is None else to_dec(value)


def moment(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def to_moment(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return parsed.astimezone(UTC)


def to_opt_moment(value: Any) -> datetime | None:
    return None if value is None else to_moment(value)


def day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def to_day(value: Any) -> date:
    return date.fromisoformat(str(value))


def to_opt_day(value: Any) -> date | None:
    return None if value is None else to_day(value)


def utc_day(value: datetime) -> date:
    """The business day of a moment: business days are UTC days."""
    return value.astimezone(UTC).date()
