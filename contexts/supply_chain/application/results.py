"""What command handlers return."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shared_kernel.domain import AggregateRoot


@dataclass(frozen=True, slots=True)
class AggregateRef:
    """The changed aggregate's id and new version (the HTTP ``ETag``)."""

    id: str
    version: int

    @classmethod
    def of(cls, aggregate: AggregateRoot[Any]) -> AggregateRef:
        return cls(str(aggregate.id), aggregate.version)


@dataclass(frozen=True, slots=True)
class ReplenishmentOutcome:
    """The answer to a stock-out alert.

    ``purchase_order_id`` is the draft proposed for the alert's day, None when stock
    and open orders already cover the need; ``created`` is False when the draft
    already existed (a repeated alert), in which case nothing changed.
    """

    purchase_order_id: str | None
    quantity: Decimal
    created: bool
