"""Stock keeping units and the policy their stock is managed by."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from contexts.supply_chain.domain.catalog.events import SkuRegistered
from contexts.supply_chain.domain.ids import SkuCode, SupplierId
from contexts.supply_chain.domain.planning.policy import ReplenishmentPolicy
from contexts.supply_chain.domain.values import exact_decimal, required_text
from shared_kernel.domain import AggregateRoot, InvalidValue, Money, Quantity


class Sku(AggregateRoot[SkuCode]):
    """A product as the warehouse counts it, in one unit.

    Every quantity of this SKU anywhere in the context (stock, orders, shipments) is
    in ``unit``. The preferred supplier and standard cost are what an automatic
    replenishment proposal orders from and at; without them a buyer drafts by hand.
    """

    name: str
    unit: str
    reorder_point: Quantity
    safety_stock: Quantity
    lead_time_days: int
    preferred_supplier: SupplierId | None
    standard_cost: Money | None

    def __init__(
        self,
        code: SkuCode,
        name: str,
        policy: ReplenishmentPolicy,
        preferred_supplier: SupplierId | None = None,
        standard_cost: Money | None = None,
        version: int = 0,
    ) -> None:
        super().__init__(code, version)
        self.name = required_text("name", name)
        self.unit = policy.unit
        self.reorder_point = policy.reorder_point
        self.safety_stock = policy.safety_stock
        self.lead_time_days = policy.lead_time_days
        self.preferred_supplier = preferred_supplier
        if standard_cost is not None and standard_cost.amount <= 0:
            raise InvalidValue("standard_cost", "must be greater than zero")
        self.standard_cost = standard_cost

    @classmethod
    def register(
        cls,
        code: SkuCode,
        name: str,
        policy: ReplenishmentPolicy,
        *,
        preferred_supplier: SupplierId | None = None,
        standard_cost: Money | None = None,
        at: datetime,
    ) -> Sku:
        sku = cls(code, name, policy, preferred_supplier, standard_cost)
        sku._record(
            SkuRegistered(
                occurred_at=at,
                sku=str(code),
                name=sku.name,
                unit=sku.unit,
                reorder_point=policy.reorder_point.amount,
                safety_stock=policy.safety_stock.amount,
                lead_time_days=policy.lead_time_days,
                preferred_supplier=str(preferred_supplier) if preferred_supplier else None,
                standard_cost=standard_cost,
            )
        )
        return sku

    @property
    def code(self) -> SkuCode:
        return self.id

    @property
    def policy(self) -> ReplenishmentPolicy:
        return ReplenishmentPolicy(self.reorder_point, self.safety_stock, self.lead_time_days)

    def quantity(self, amount: Decimal | int | str) -> Quantity:
        """``amount`` of this SKU, in its unit."""
        return Quantity(exact_decimal("quantity", amount), self.unit)
