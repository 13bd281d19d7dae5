"""Warehouses: where stock lives, and how much of it fits."""

from __future__ import annotations

from datetime import datetime

from contexts.supply_chain.domain.catalog.events import WarehouseRegistered
from contexts.supply_chain.domain.ids import WarehouseCode
from contexts.supply_chain.domain.values import GeoLocation, positive, required_text
from shared_kernel.domain import AggregateRoot, BusinessRuleViolation, Quantity


class Warehouse(AggregateRoot[WarehouseCode]):
    """A stocking location with a storage capacity.

    Capacity is measured in one unit (``each``, ``pallet``, ``kg``). Only stock held
    in that unit counts against it: a warehouse that counts devices does not limit
    the kilograms of packaging it keeps in bulk. The application asks the inventory
    for the total on hand before stock comes in and lets the warehouse decide.
    """

    name: str
    location: GeoLocation
    capacity: Quantity

    def __init__(
        self,
        code: WarehouseCode,
        name: str,
        location: GeoLocation,
        capacity: Quantity,
        version: int = 0,
    ) -> None:
        super().__init__(code, version)
        self.name = required_text("name", name)
        self.location = location
        self.capacity = positive("capacity", capacity)

    @classmethod
    def register(
        cls,
        code: WarehouseCode,
        name: str,
        location: GeoLocation,
        capacity: Quantity,
        *,
        at: datetime,
    ) -> Warehouse:
        warehouse = cls(code, name, location, capacity)
        warehouse._record(
            WarehouseRegistered(
                occurred_at=at,
                warehouse=str(code),
                name=warehouse.name,
                latitude=location.latitude,
                longitude=location.longitude,
                capacity=capacity.amount,
                capacity_unit=capacity.unit,
            )
        )
        return warehouse

    @property
    def code(self) -> WarehouseCode:
        return self.id

    def room_left(self, stored: Quantity) -> Quantity | None:
        """Free capacity given ``stored`` in the capacity's unit; None if not measured."""
        if stored.unit != self.capacity.unit:
            return None
        if stored >= self.capacity:
            return Quantity.zero(self.capacity.unit)
        return self.capacity - stored

    def ensure_room_for(self, incoming: Quantity, *, stored: Quantity) -> None:
        """Refuse ``incoming`` stock that would overfill the warehouse.

        ``stored`` is the warehouse's current total on hand in ``incoming``'s unit.
        """
        room = self.room_left(stored)
        if room is not None and incoming > room:
            raise BusinessRuleViolation(
                "warehouse_capacity_exceeded",
                f"warehouse {self.code} has room for {room}, not {incoming} "
                f"({stored} stored of {self.capacity})",
            )
