"""Replenishment proposals: a stock-out alert asking for a draft purchase order."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from contexts.supply_chain.application.commands.purchasing import ProposeReplenishment
from contexts.supply_chain.application.results import ReplenishmentOutcome
from contexts.supply_chain.interfaces.api.dto.common import Amount, Code, Day, Input


class ProposeReplenishmentIn(Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"warehouse": "LYS-1", "sku": "KD-HUB-200", "daily_demand": "12.5"}]
        }
    )

    warehouse: Code
    sku: Code = Field(examples=["KD-HUB-200"])
    daily_demand: Amount = Field(description="Units consumed per day, in the SKU's unit.")
    on: Day | None = Field(
        default=None, description="The alert's day (today when omitted): one proposal per day."
    )

    def to_command(self) -> ProposeReplenishment:
        return ProposeReplenishment(
            warehouse=self.warehouse, sku=self.sku, daily_demand=self.daily_demand, on=self.on
        )


class ReplenishmentOut(BaseModel):
    purchase_order_id: str | None = Field(
        description="The draft proposed for the day; null when stock and open orders suffice."
    )
    quantity: Decimal = Field(description="What the draft orders (or would have ordered).")
    created: bool = Field(description="False when the day's draft already existed.")

    @classmethod
    def of(cls, outcome: ReplenishmentOutcome) -> ReplenishmentOut:
        return cls(
            purchase_order_id=outcome.purchase_order_id,
            quantity=outcome.quantity,
            created=outcome.created,
        )
