"""How a SKU is replenished, and how fast it is consumed."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from contexts.supply_chain.domain.values import exact_decimal
from shared_kernel.domain import InvalidValue, Quantity, ValueObject

MAX_LEAD_TIME_DAYS = 365


@dataclass(frozen=True, slots=True)
class ReplenishmentPolicy(ValueObject):
    """The stock levels a buyer manages a SKU by.

    - ``safety_stock``: the buffer kept against demand and lead-time surprises;
    - ``reorder_point``: when available stock falls to it, it is time to reorder;
      it can never be below the safety stock;
    - ``lead_time_days``: the supplier's usual days from placing an order to receipt.
    """

    reorder_point: Quantity
    safety_stock: Quantity
    lead_time_days: int

    def __post_init__(self) -> None:
        if self.reorder_point.unit != self.safety_stock.unit:
            raise InvalidValue("safety_stock", "must be in the reorder point's unit")
        if self.safety_stock > self.reorder_point:
            raise InvalidValue(
                "reorder_point",
                f"{self.reorder_point} must not be below the safety stock {self.safety_stock}",
            )
        if (
            isinstance(self.lead_time_days, bool)
            or not isinstance(self.lead_time_days, int)
            or not 0 <= self.lead_time_days <= MAX_LEAD_TIME_DAYS
        ):
            raise InvalidValue(
                "lead_time_days", f"must be a whole number of days from 0 to {MAX_LEAD_TIME_DAYS}"
            )

    @property
    def unit(self) -> str:
        return self.reorder_point.unit


@dataclass(frozen=True, slots=True)
class DemandRate(ValueObject):
    """Units consumed per day, e.g. the average of recent shipments or a demand signal."""

    per_day: Decimal
    unit: str = "each"

    def __post_init__(self) -> None:
        per_day = exact_decimal("daily_demand", self.per_day)
        if per_day < 0:
            raise InvalidValue("daily_demand", f"{per_day} must not be negative")
        Quantity(per_day, self.unit)  # the unit follows the same rule as quantities
        object.__setattr__(self, "per_day", per_day)

    def over(self, days: int) -> Quantity:
        """Demand expected in ``days`` days."""
        return Quantity(self.per_day * days, self.unit)
