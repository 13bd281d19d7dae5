"""Stock set aside for an order until it ships or is released."""

from __future__ import annotations

from datetime import datetime

from contexts.supply_chain.domain.ids import ReservationRef
from shared_kernel.domain import Quantity


class Reservation:
    """An open reservation inside an inventory item, identified by its reference.

    ``quantity`` is what remains reserved: shipping or releasing part of it lowers
    it, and the item drops the reservation when it reaches zero.
    """

    reference: ReservationRef
    quantity: Quantity
    reserved_at: datetime

    def __init__(
        self, reference: ReservationRef, quantity: Quantity, reserved_at: datetime
    ) -> None:
        self.reference = reference
        self.quantity = quantity
        self.reserved_at = reserved_at

    def __repr__(self) -> str:
        return f"Reservation({self.reference!s}, {self.quantity})"
