"""The shipment life cycle.

::

    Planned -> Dispatched -> InTransit -> Delivered
                    \\          ^   \\        ^
                     +-> Delayed <---+-------+

Delayed is entered when the carrier's ETA slips past the planned delivery; it returns
to InTransit when the ETA is back within plan (the carrier has the goods by then), or
ends with the delivery.
"""

from __future__ import annotations

from enum import StrEnum

from shared_kernel.domain import BusinessRuleViolation


class ShipmentStatus(StrEnum):
    PLANNED = "planned"
    DISPATCHED = "dispatched"
    IN_TRANSIT = "in_transit"
    DELAYED = "delayed"
    DELIVERED = "delivered"

    @property
    def on_the_way(self) -> bool:
        """Handed to a carrier and not delivered yet: tracking updates apply."""
        return self in (
            ShipmentStatus.DISPATCHED,
            ShipmentStatus.IN_TRANSIT,
            ShipmentStatus.DELAYED,
        )


_S = ShipmentStatus

TRANSITIONS: dict[ShipmentStatus, frozenset[ShipmentStatus]] = {
    _S.PLANNED: frozenset({_S.DISPATCHED}),
    _S.DISPATCHED: frozenset({_S.IN_TRANSIT, _S.DELAYED}),
    _S.IN_TRANSIT: frozenset({_S.DELAYED, _S.DELIVERED}),
    _S.DELAYED: frozenset({_S.IN_TRANSIT, _S.DELIVERED}),
    _S.DELIVERED: frozenset(),
}


def check_transition(
    shipment: str, current: ShipmentStatus, target: ShipmentStatus, action: str
) -> None:
    if target not in TRANSITIONS[current]:
        raise BusinessRuleViolation(
            "illegal_transition", f"shipment {shipment} is {current}: cannot {action}"
        )


def check_on_the_way(shipment: str, current: ShipmentStatus, action: str) -> None:
    """Tracking facts (legs, ETAs) only make sense between dispatch and delivery."""
    if not current.on_the_way:
        raise BusinessRuleViolation(
            "illegal_transition", f"shipment {shipment} is {current}: cannot {action}"
        )
