"""The purchase order life cycle, as one table of allowed transitions.

::

    Draft -> Placed -> Confirmed -> PartiallyReceived -> Received
      \\         \\          \\              ^      |
       +---------+----------+-> Cancelled   +------+

An order can be cancelled until goods start arriving; after that only the rest of the
delivery can come.
"""

from __future__ import annotations

from enum import StrEnum

from shared_kernel.domain import BusinessRuleViolation


class PurchaseOrderStatus(StrEnum):
    DRAFT = "draft"
    PLACED = "placed"
    CONFIRMED = "confirmed"
    PARTIALLY_RECEIVED = "partially_received"
    RECEIVED = "received"
    CANCELLED = "cancelled"

    @property
    def is_open(self) -> bool:
        """Still expected to bring stock in (counts as "on order")."""
        return self not in (PurchaseOrderStatus.RECEIVED, PurchaseOrderStatus.CANCELLED)


_S = PurchaseOrderStatus

TRANSITIONS: dict[PurchaseOrderStatus, frozenset[PurchaseOrderStatus]] = {
    _S.DRAFT: frozenset({_S.PLACED, _S.CANCELLED}),
    _S.PLACED: frozenset({_S.CONFIRMED, _S.CANCELLED}),
    _S.CONFIRMED: frozenset({_S.PARTIALLY_RECEIVED, _S.RECEIVED, _S.CANCELLED}),
    _S.PARTIALLY_RECEIVED: frozenset({_S.PARTIALLY_RECEIVED, _S.RECEIVED}),
    _S.RECEIVED: frozenset(),
    _S.CANCELLED: frozenset(),
}


def check_transition(
    order: str, current: PurchaseOrderStatus, target: PurchaseOrderStatus, action: str
) -> None:
    """Refuse ``action`` unless ``current`` may move to ``target``.

    Receiving goods is checked against PartiallyReceived, which every status that
    accepts deliveries may move to (the last delivery then makes it Received).
    """
    if target not in TRANSITIONS[current]:
        raise BusinessRuleViolation(
            "illegal_transition", f"purchase order {order} is {current}: cannot {action}"
        )
