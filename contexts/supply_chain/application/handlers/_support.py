"""Small helpers every handler uses: lookups that fail in the domain's language."""

from __future__ import annotations

from typing import Any, TypeVar

from shared_kernel.domain import AggregateRoot, ConcurrencyConflict, NotFound

T = TypeVar("T")


def found(aggregate: T | None, kind: str, identifier: object) -> T:
    if aggregate is None:
        raise NotFound(kind, identifier)
    return aggregate


def check_version(kind: str, aggregate: AggregateRoot[Any], expected: int | None) -> None:
    """Optimistic concurrency for a caller that read version ``expected`` (If-Match)."""
    if expected is not None and expected != aggregate.version:
        raise ConcurrencyConflict(kind, aggregate.id, expected, aggregate.version)
