"""The stock of one SKU in one warehouse."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contexts.supply_chain.domain.ids import (
    InventoryItemId,
    ReservationRef,
    SkuCode,
    TransferId,
    WarehouseCode,
)
from contexts.supply_chain.domain.inventory.events import (
    AdjustmentReason,
    InventoryEvent,
    ReservationReleased,
    StockAdjusted,
    StockReceived,
    StockReserved,
    StockShipped,
    StockTransferred,
)
from contexts.supply_chain.domain.inventory.reservation import Reservation
from contexts.supply_chain.domain.values import aware, positive
from shared_kernel.domain import AggregateRoot, BusinessRuleViolation, InvalidValue, Quantity


class InventoryItem(AggregateRoot[InventoryItemId]):
    """On hand, reserved and available stock of a SKU in a warehouse.

    Invariants, whatever the sequence of commands:
    - ``0 <= reserved <= on_hand``, hence ``available = on_hand - reserved >= 0``;
    - ``reserved`` is the sum of the open reservations (stored so reads need no join);
    - ``on_hand`` is receipts - shipments - transfers out +/- count adjustments.

    Shipping takes stock from a reservation: an order first reserves, then ships what
    it reserved. This keeps promised stock from being shipped to someone else, and it
    is why ``ship`` and ``release`` name the reservation they act on. Transfers move
    available stock only.
    """

    warehouse: WarehouseCode
    sku: SkuCode
    unit: str
    on_hand: Quantity
    reserved: Quantity
    reservations: list[Reservation]

    def __init__(self, warehouse: WarehouseCode, sku: SkuCode, unit: str, version: int = 0) -> None:
        super().__init__(InventoryItemId.of(warehouse, sku), version)
        self.warehouse = warehouse
        self.sku = sku
        self.unit = unit
        self.on_hand = Quantity.zero(unit)
        self.reserved = Quantity.zero(unit)
        self.reservations = []

    @property
    def available(self) -> Quantity:
        return self.on_hand - self.reserved

    def reservation(self, reference: ReservationRef) -> Reservation | None:
        return next((r for r in self.reservations if r.reference == reference), None)

    def receive(
        self,
        quantity: Quantity,
        *,
        at: datetime,
        reference: str | None = None,
        source_warehouse: WarehouseCode | None = None,
    ) -> None:
        """Book incoming stock. Warehouse capacity is checked by the caller, who knows
        the warehouse's total (see ``Warehouse.ensure_room_for``)."""
        aware("at", at)
        self._movement(quantity)
        self.on_hand += quantity
        self._emit(
            StockReceived,
            at,
            quantity=quantity.amount,
            reference=reference,
            source_warehouse=str(source_warehouse) if source_warehouse else None,
        )

    def reserve(self, reference: ReservationRef, quantity: Quantity, *, at: datetime) -> None:
        aware("at", at)
        self._movement(quantity)
        if self.reservation(reference) is not None:
            raise BusinessRuleViolation(
                "duplicate_reservation", f"{self.id} already holds reservation {reference}"
            )
        if quantity > self.available:
            raise BusinessRuleViolation(
                "insufficient_stock",
                f"cannot reserve {quantity} of {self.id}: only {self.available} available",
            )
        self.reservations.append(Reservation(reference, quantity, at))
        self.reserved += quantity
        self._emit(StockReserved, at, quantity=quantity.amount, reference=str(reference))

    def release(
        self, reference: ReservationRef, quantity: Quantity | None = None, *, at: datetime
    ) -> None:
        """Give reserved stock back to available; all that remains when no quantity."""
        aware("at", at)
        released = self._take_from_reservation(reference, quantity)
        self._emit(ReservationReleased, at, quantity=released.amount, reference=str(reference))

    def ship(
        self, reference: ReservationRef, quantity: Quantity | None = None, *, at: datetime
    ) -> None:
        """Ship reserved stock; all that remains reserved when no quantity."""
        aware("at", at)
        shipped = self._take_from_reservation(reference, quantity)
        self.on_hand -= shipped
        self._emit(StockShipped, at, quantity=shipped.amount, reference=str(reference))

    def adjust(self, counted: Quantity, reason: AdjustmentReason, *, at: datetime) -> None:
        """Set on hand to what a count found; recorded even when nothing changed,
        because confirmed counts measure record accuracy.

        A count below the reserved stock is refused: the reservations that can no
        longer be honoured must be released first, deliberately, by someone who
        decides which orders wait.
        """
        aware("at", at)
        self._same_unit(counted)
        if counted < self.reserved:
            raise BusinessRuleViolation(
                "count_below_reserved",
                f"counted {counted} of {self.id} but {self.reserved} is reserved; "
                "release reservations first",
            )
        difference = counted.amount - self.on_hand.amount
        self.on_hand = counted
        self._emit(StockAdjusted, at, counted=counted.amount, difference=difference, reason=reason)

    def transfer_out(
        self,
        quantity: Quantity,
        destination: WarehouseCode,
        transfer_id: TransferId,
        *,
        at: datetime,
    ) -> None:
        """Send available stock to ``destination``; the receiving item books it in."""
        aware("at", at)
        self._movement(quantity)
        if destination == self.warehouse:
            raise BusinessRuleViolation(
                "same_warehouse", f"cannot transfer {self.id} to its own warehouse"
            )
        if quantity > self.available:
            raise BusinessRuleViolation(
                "insufficient_stock",
                f"cannot transfer {quantity} of {self.id}: only {self.available} available",
            )
        self.on_hand -= quantity
        self._emit(
            StockTransferred,
            at,
            quantity=quantity.amount,
            transfer_id=str(transfer_id),
            destination_warehouse=str(destination),
        )

    def _take_from_reservation(
        self, reference: ReservationRef, quantity: Quantity | None
    ) -> Quantity:
        reservation = self.reservation(reference)
        if reservation is None:
            raise BusinessRuleViolation(
                "unknown_reservation", f"{self.id} holds no reservation {reference}"
            )
        taken = reservation.quantity if quantity is None else self._movement(quantity)
        if taken > reservation.quantity:
            raise BusinessRuleViolation(
                "exceeds_reservation",
                f"reservation {reference} on {self.id} holds {reservation.quantity}, not {taken}",
            )
        reservation.quantity -= taken
        if reservation.quantity.is_zero():
            self.reservations.remove(reservation)
        self.reserved -= taken
        return taken

    def _same_unit(self, quantity: Quantity) -> Quantity:
        if quantity.unit != self.unit:
            raise InvalidValue("unit", f"{self.sku} is counted in {self.unit}, not {quantity.unit}")
        return quantity

    def _movement(self, quantity: Quantity) -> Quantity:
        return positive("quantity", self._same_unit(quantity))

    def _emit(self, event_type: type[InventoryEvent], at: datetime, **facts: Any) -> None:
        self._record(
            event_type(
                occurred_at=at,
                warehouse=str(self.warehouse),
                sku=str(self.sku),
                unit=self.unit,
                on_hand=self.on_hand.amount,
                reserved=self.reserved.amount,
                available=self.available.amount,
                **facts,
            )
        )
