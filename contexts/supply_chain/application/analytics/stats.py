"""Small exact statistics used by the products (no floating point)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal

RATIO_PLACES = Decimal("0.0001")
DAYS_PLACES = Decimal("0.01")


def ratio(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    """``part / whole`` rounded half-even to 4 decimals; None when ``whole`` is 0."""
    if whole == 0:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(RATIO_PLACES, rounding=ROUND_HALF_EVEN)


def mean_days(total: int, count: int) -> Decimal | None:
    if count == 0:
        return None
    return (Decimal(total) / count).quantize(DAYS_PLACES, rounding=ROUND_HALF_EVEN)


def nearest_rank(values: Iterable[int], percentile: int) -> int | None:
    """The nearest-rank percentile: the smallest value with at least ``percentile``
    percent of the values at or below it (``sorted[ceil(p/100 * n) - 1]``)."""
    ordered = sorted(values)
    if not ordered:
        return None
    if not 0 < percentile <= 100:
        raise ValueError("percentile must be in (0, 100]")
    rank = -(-percentile * len(ordered) // 100)
    return ordered[rank - 1]


def nearest_rank_of_histogram(counts: Mapping[int, int], percentile: int) -> int | None:
    """:func:`nearest_rank` over ``{value: how many times}``, in memory bounded by the
    number of distinct values."""
    total = sum(counts.values())
    if total == 0:
        return None
    if not 0 < percentile <= 100:
        raise ValueError("percentile must be in (0, 100]")
    rank = -(-percentile * total // 100)
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            return value
    raise AssertionError("unreachable: the ranks add up to the total")
