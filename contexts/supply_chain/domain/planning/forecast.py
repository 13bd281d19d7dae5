"""Stock-out forecast: how long stock lasts, and whether it lasts until a reorder arrives.

Definitions (all quantities in the SKU's unit, demand per day):

- ``days_of_cover = available / daily_demand`` (unbounded, None, without demand);
- ``stock_out_on = today + floor(days_of_cover)``: the day stock runs out at that pace;
- ``risk_threshold = daily_demand * lead_time_days + safety_stock``;
- ``at_risk`` when ``available < risk_threshold``: an order placed today arrives after
  ``lead_time_days``, and by then the stock would already have eaten into the safety
  stock. ``shortfall`` is how far below the threshold the stock is.

Worked example: 120 available, 10 a day, 7 days of lead time, 50 of safety stock.
Cover is 12 days, so stock runs out on day 12; the threshold is 10 * 7 + 50 = 120 and
120 is not below it: not at risk yet. One more unit shipped and it is (shortfall 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal

from contexts.supply_chain.domain.planning.policy import DemandRate, ReplenishmentPolicy
from shared_kernel.domain import InvalidValue, Quantity

COVER_PLACES = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class StockOutForecast:
    available: Quantity
    days_of_cover: Decimal | None
    stock_out_on: date | None
    risk_threshold: Quantity
    at_risk: bool
    shortfall: Quantity


def check_units(available: Quantity, demand: DemandRate, policy: ReplenishmentPolicy) -> None:
    if not available.unit == demand.unit == policy.unit:
        raise InvalidValue(
            "unit",
            f"stock in {available.unit}, demand in {demand.unit} and policy in "
            f"{policy.unit} must agree",
        )


def forecast_stock_out(
    available: Quantity, demand: DemandRate, policy: ReplenishmentPolicy, today: date
) -> StockOutForecast:
    """Forecast the stock-out of one SKU in one warehouse (see the module docstring)."""
    check_units(available, demand, policy)
    threshold = demand.over(policy.lead_time_days) + policy.safety_stock
    at_risk = available < threshold
    if demand.per_day == 0:
        cover, stock_out_on = None, None
    else:
        exact = available.amount / demand.per_day
        cover = exact.quantize(COVER_PLACES, rounding=ROUND_FLOOR)
        stock_out_on = today + timedelta(days=int(exact))
    return StockOutForecast(
        available=available,
        days_of_cover=cover,
        stock_out_on=stock_out_on,
        risk_threshold=threshold,
        at_risk=at_risk,
        shortfall=threshold - available if at_risk else Quantity.zero(available.unit),
    )
