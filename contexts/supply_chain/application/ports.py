"""What the use cases need from the outside: a clock and a unit of work."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Protocol

from contexts.supply_chain.domain.repositories import (
    InventoryRepository,
    PurchaseOrderRepository,
    ShipmentRepository,
    SkuRepository,
    SupplierRepository,
    WarehouseRepository,
)
from contexts.supply_chain.domain.values import business_day
from shared_kernel.application import UnitOfWork


class Clock(Protocol):
    """The time of recording. Aggregates never read the time themselves: handlers pass
    ``clock.now()`` to them, so tests can pin it."""

    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


SYSTEM_CLOCK: Clock = SystemClock()


def today(clock: Clock) -> date:
    """The current business day (a UTC calendar day)."""
    return business_day(clock.now())


class SupplyChainUnitOfWork(UnitOfWork, Protocol):
    """One transaction over the supply chain's repositories.

    Repositories are read-only properties so that implementations may expose their
    own repository classes.
    """

    @property
    def warehouses(self) -> WarehouseRepository: ...

    @property
    def skus(self) -> SkuRepository: ...

    @property
    def suppliers(self) -> SupplierRepository: ...

    @property
    def inventory(self) -> InventoryRepository: ...

    @property
    def purchase_orders(self) -> PurchaseOrderRepository: ...

    @property
    def shipments(self) -> ShipmentRepository: ...
