"""What the analytics computations need from the outside, and what they offer.

- :class:`ProductSink`: where the stream worker upserts product rows (the read store).
- :class:`ProductReader`: how the API and the snapshots read them back.
- :class:`ReplenishmentProposer`: the operational command a stock-out alert drives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from contexts.supply_chain.application.analytics.products import (
    Alert,
    AlertType,
    DeliveryTimeline,
    InventoryLevel,
    Materialized,
    ProductRow,
    SupplierPerformance,
)
from contexts.supply_chain.application.commands.purchasing import ProposeReplenishment

DEFAULT_LIMIT = 1000


class ProductSink(Protocol):
    async def write(self, rows: Sequence[ProductRow]) -> None:
        """Upsert ``rows`` in one transaction, stamping ``materialized_at``.

        Idempotent: writing the same rows again leaves the same figures. A row never
        replaces one with a newer ``as_of``, so a late writer cannot roll a product back.
        """
        ...


class ProductReader(Protocol):
    """Queries over the materialized products, ordered by their natural key."""

    async def inventory_levels(
        self,
        *,
        warehouse: str | None = None,
        sku: str | None = None,
        at_risk: bool | None = None,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
    ) -> list[Materialized[InventoryLevel]]: ...

    async def inventory_level(
        self, warehouse: str, sku: str
    ) -> Materialized[InventoryLevel] | None: ...

    async def supplier_performances(
        self, *, limit: int = DEFAULT_LIMIT, offset: int = 0
    ) -> list[Materialized[SupplierPerformance]]: ...

    async def supplier_performance(
        self, supplier: str
    ) -> Materialized[SupplierPerformance] | None: ...

    async def alerts(
        self,
        *,
        active: bool | None = None,
        type: AlertType | None = None,
        subject: str | None = None,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
    ) -> list[Materialized[Alert]]:
        """Newest raised first."""
        ...

    async def alert(self, alert_id: str) -> Materialized[Alert] | None: ...

    async def delivery_timelines(
        self,
        *,
        status: str | None = None,
        warehouse: str | None = None,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
    ) -> list[Materialized[DeliveryTimeline]]: ...

    async def delivery_timeline(
        self, shipment_id: str
    ) -> Materialized[DeliveryTimeline] | None: ...


@dataclass(frozen=True, slots=True)
class ReplenishmentRequest:
    """A stock-out alert asking for a replenishment order.

    ``day`` is the business day of the fact that raised the alert (event time), so a
    replay asks for the same day and the operational side's per-day idempotency
    holds. ``daily_demand`` is the alert's demand rate.
    """

    warehouse: str
    sku: str
    daily_demand: Decimal
    day: date
    alert_id: str

    def as_command(self) -> ProposeReplenishment:
        return ProposeReplenishment(
            warehouse=self.warehouse,
            sku=self.sku,
            daily_demand=self.daily_demand,
            on=self.day,
        )


class ReplenishmentProposer(Protocol):
    """Proposes a replenishment purchase order; idempotent per warehouse, SKU and day.

    Wired to the ``propose_replenishment`` use case, e.g.
    ``lambda request: bus.handle(request.as_command())``. The worker asks at most
    once per alert occurrence and day. An exception is logged and the request is
    asked again on a later day while the alert is still active: analytics never stall
    on an operational refusal (a SKU without a preferred supplier, say).
    """

    async def __call__(self, request: ReplenishmentRequest) -> object: ...
