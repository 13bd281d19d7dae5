"""Replenishment proposal: how much to order so stock outlasts the supplier's lead time.

Definitions (all quantities in the SKU's unit):

- ``inventory_position = available + on_order``: stock we have, plus what open
  purchase orders (drafts included) still bring, so two alerts do not order twice;
- ``target = reorder_point + daily_demand * lead_time_days``: when the order arrives,
  the lead time's demand has been consumed and stock is back at the reorder point;
- ``quantity = target - inventory_position`` rounded up to a whole unit; nothing when
  the position already reaches the target.

Deciding *whether* to reorder is the stock-out forecast's job (its alert triggers a
proposal); this only sizes the order.

Worked example: reorder point 80, 10 a day, 7 days of lead time; 35 available and 20
on order. Target 80 + 70 = 150, position 55: propose 95.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from contexts.supply_chain.domain.planning.forecast import check_units
from contexts.supply_chain.domain.planning.policy import DemandRate, ReplenishmentPolicy
from shared_kernel.domain import Quantity


@dataclass(frozen=True, slots=True)
class ReplenishmentProposal:
    quantity: Quantity
    target: Quantity
    inventory_position: Quantity

    @property
    def needed(self) -> bool:
        return not self.quantity.is_zero()


def plan_replenishment(
    policy: ReplenishmentPolicy,
    demand: DemandRate,
    available: Quantity,
    on_order: Quantity,
) -> ReplenishmentProposal:
    """Size a purchase for one SKU and warehouse (see the module docstring)."""
    check_units(available, demand, policy)
    check_units(on_order, demand, policy)
    target = policy.reorder_point + demand.over(policy.lead_time_days)
    position = available + on_order
    missing = max(target.amount - position.amount, Decimal(0))
    quantity = Quantity(missing.to_integral_value(rounding=ROUND_CEILING), target.unit)
    return ReplenishmentProposal(quantity=quantity, target=target, inventory_position=position)
