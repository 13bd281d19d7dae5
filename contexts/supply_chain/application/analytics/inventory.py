"""Inventory levels with a stock-out forecast, and the stock-out risk alert.

State, kept per SKU partition by the stream worker:

- :class:`SkuReference` per SKU: its replenishment policy (from ``SkuRegistered``)
  and the warehouses that hold it, so a late registration can re-assess them all;
- :class:`ItemState` per ``<warehouse>:<sku>``: the newest stock figures, the
  quantities shipped per day over the demand window, the active stock-out alert and
  the last replenishment proposal.

Demand is measured in event time: ``daily_demand`` is the quantity shipped on the
``demand_window_days`` days ending on the day of the item's newest fact, divided by
that number of days, rounded half-even to 4 decimals. The forecast itself is the
domain's :func:`forecast_stock_out`, with that day as "today".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from contexts.supply_chain.application.analytics._codec import (
    day,
    dec,
    moment,
    to_dec,
    to_moment,
    to_opt_day,
    to_opt_dec,
    utc_day,
)
from contexts.supply_chain.application.analytics.alerts import AlertChange, AlertState, track
from contexts.supply_chain.application.analytics.errors import UnusableFact
from contexts.supply_chain.application.analytics.ports import ReplenishmentRequest
from contexts.supply_chain.application.analytics.products import (
    AlertType,
    DetailValue,
    InventoryLevel,
    Severity,
)
from contexts.supply_chain.domain.catalog.events import SkuRegistered
from contexts.supply_chain.domain.inventory.events import InventoryEvent, StockShipped
from contexts.supply_chain.domain.planning.forecast import forecast_stock_out
from contexts.supply_chain.domain.planning.policy import DemandRate, ReplenishmentPolicy
from shared_kernel.domain import DomainError, Quantity

DEFAULT_DEMAND_WINDOW_DAYS = 7
DEMAND_PLACES = Decimal("0.0001")


def item_key(warehouse: str, sku: str) -> str:
    """``<warehouse>:<sku>``, the inventory item's id and the alert subject."""
    return f"{warehouse}:{sku}"


@dataclass(frozen=True, slots=True)
class SkuReference:
    """What the inventory computations know of a SKU."""

    sku: str
    version: int = 0
    unit: str | None = None
    reorder_point: Decimal | None = None
    safety_stock: Decimal | None = None
    lead_time_days: int | None = None
    warehouses: tuple[str, ...] = ()

    def policy(self) -> ReplenishmentPolicy | None:
        """The replenishment policy, None until registered (or if unusable)."""
        if (
            self.unit is None
            or self.reorder_point is None
            or self.safety_stock is None
            or self.lead_time_days is None
        ):
            return None
        try:
            return ReplenishmentPolicy(
                reorder_point=Quantity(self.reorder_point, self.unit),
                safety_stock=Quantity(self.safety_stock, self.unit),
                lead_time_days=self.lead_time_days,
            )
        except DomainError:
            return None

    def with_warehouse(self, warehouse: str) -> SkuReference:
        if warehouse in self.warehouses:
            return self
        return replace(self, warehouses=tuple(sorted((*self.warehouses, warehouse))))

    def registered(self, event: SkuRegistered) -> SkuReference:
        return replace(
            self,
            version=event.aggregate_version,
            unit=event.unit,
            reorder_point=event.reorder_point,
            safety_stock=event.safety_stock,
            lead_time_days=event.lead_time_days,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "version": self.version,
            "unit": self.unit,
            "reorder_point": dec(self.reorder_point),
            "safety_stock": dec(self.safety_stock),
            "lead_time_days": self.lead_time_days,
            "warehouses": list(self.warehouses),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SkuReference:
        return cls(
            sku=str(data["sku"]),
            version=int(data["version"]),
            unit=data.get("unit"),
            reorder_point=to_opt_dec(data.get("reorder_point")),
            safety_stock=to_opt_dec(data.get("safety_stock")),
            lead_time_days=data.get("lead_time_days"),
            warehouses=tuple(str(w) for w in data.get("warehouses", ())),
        )


@dataclass(frozen=True, slots=True)
class ItemState:
    """The computation state of one inventory item.

    ``version`` is the aggregate version of the newest movement applied: the item's
    events are applied in version order, so an event at or below it is a redelivery.
    ``proposed_on`` is the day a replenishment was last asked for (successfully or
    not), ``proposed_alert`` the alert it was successfully asked for.
    """

    warehouse: str
    sku: str
    unit: str
    on_hand: Decimal
    reserved: Decimal
    available: Decimal
    version: int
    as_of: datetime
    shipped: tuple[tuple[date, Decimal], ...] = ()
    alert: AlertState | None = None
    proposed_on: date | None = None
    proposed_alert: str | None = None

    @property
    def key(self) -> str:
        return item_key(self.warehouse, self.sku)

    def to_json(self) -> dict[str, Any]:
        return {
            "warehouse": self.warehouse,
            "sku": self.sku,
            "unit": self.unit,
            "on_hand": dec(self.on_hand),
            "reserved": dec(self.reserved),
            "available": dec(self.available),
            "version": self.version,
            "as_of": moment(self.as_of),
            "shipped": [[day(d), dec(q)] for d, q in self.shipped],
            "alert": None if self.alert is None else self.alert.to_json(),
            "proposed_on": day(self.proposed_on),
            "proposed_alert": self.proposed_alert,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ItemState:
        return cls(
            warehouse=str(data["warehouse"]),
            sku=str(data["sku"]),
            unit=str(data["unit"]),
            on_hand=to_dec(data["on_hand"]),
            reserved=to_dec(data["reserved"]),
            available=to_dec(data["available"]),
            version=int(data["version"]),
            as_of=to_moment(data["as_of"]),
            shipped=tuple((date.fromisoformat(d), to_dec(q)) for d, q in data.get("shipped", ())),
            alert=AlertState.from_json(data.get("alert")),
            proposed_on=to_opt_day(data.get("proposed_on")),
            proposed_alert=data.get("proposed_alert"),
        )


@dataclass(frozen=True, slots=True)
class InventoryUpdate:
    """An item's next state, its product row, and what else the change causes."""

    item: ItemState
    level: InventoryLevel
    alert: AlertChange | None = None
    proposal: ReplenishmentRequest | None = None


@dataclass(frozen=True, slots=True)
class SkuUpdate:
    """A SKU's next reference state and the re-assessment of every item holding it."""

    sku: SkuReference
    items: tuple[InventoryUpdate, ...] = field(default=())


class InventoryAnalytics:
    """Pure computations of the ``inventory-levels`` product and stock-out alerts."""

    def __init__(self, demand_window_days: int = DEFAULT_DEMAND_WINDOW_DAYS) -> None:
        if demand_window_days < 1:
            raise ValueError("the demand window spans at least one day")
        self.demand_window_days = demand_window_days

    def apply_movement(
        self,
        item: ItemState | None,
        sku: SkuReference | None,
        event: InventoryEvent,
        at: datetime,
    ) -> InventoryUpdate | None:
        """Apply a stock movement of ``event``'s item; None for a redelivery."""
        if event.aggregate_version < 1:
            raise UnusableFact(f"{event.event_type} of {event.aggregate_id} carries no version")
        if item is not None and event.aggregate_version <= item.version:
            return None
        if min(event.on_hand, event.reserved, event.available) < 0:
            raise UnusableFact(f"{event.event_type} reports negative stock figures")
        as_of = at if item is None else max(item.as_of, at)
        shipped = () if item is None else item.shipped
        if isinstance(event, StockShipped):
            shipped = _add(shipped, utc_day(at), event.quantity)
        state = ItemState(
            warehouse=event.warehouse,
            sku=event.sku,
            unit=event.unit,
            on_hand=event.on_hand,
            reserved=event.reserved,
            available=event.available,
            version=event.aggregate_version,
            as_of=as_of,
            shipped=shipped,
            alert=None if item is None else item.alert,
            proposed_on=None if item is None else item.proposed_on,
            proposed_alert=None if item is None else item.proposed_alert,
        )
        return self.assess(state, sku)

    def apply_registration(
        self,
        sku: SkuReference | None,
        event: SkuRegistered,
        at: datetime,
        items: Sequence[ItemState],
    ) -> SkuUpdate | None:
        """Learn a SKU's policy and re-assess the ``items`` holding it; None for a
        redelivery. ``items`` are those of ``sku.warehouses``."""
        if sku is not None and event.aggregate_version <= sku.version:
            return None
        reference = (sku or SkuReference(event.sku)).registered(event)
        return SkuUpdate(
            reference,
            tuple(
                self.assess(replace(item, as_of=max(item.as_of, at)), reference) for item in items
            ),
        )

    def assess(self, item: ItemState, sku: SkuReference | None) -> InventoryUpdate:
        """The product row of ``item``, its stock-out alert, and a proposal if due."""
        today = utc_day(item.as_of)
        item = replace(item, shipped=_within(item.shipped, today, self.demand_window_days))
        level = self.level(item, sku)
        state, change = track(
            AlertType.STOCK_OUT_RISK,
            item.key,
            item.alert,
            stock_out_severity(level),
            stock_out_details(level),
            item.as_of,
        )
        item = replace(item, alert=state)
        proposal = None
        if (
            state is not None
            and item.proposed_alert != state.alert_id
            and item.proposed_on != today
        ):
            proposal = ReplenishmentRequest(
                warehouse=item.warehouse,
                sku=item.sku,
                daily_demand=level.daily_demand,
                day=today,
                alert_id=state.alert_id,
            )
        return InventoryUpdate(item, level, change, proposal)

    @staticmethod
    def proposal_made(
        item: ItemState, request: ReplenishmentRequest, *, succeeded: bool
    ) -> ItemState:
        """Remember a proposal asked for ``request``: done for its alert when it
        succeeded, else tried today (asked again on a later day)."""
        return replace(
            item,
            proposed_on=request.day,
            proposed_alert=request.alert_id if succeeded else item.proposed_alert,
        )

    def level(self, item: ItemState, sku: SkuReference | None) -> InventoryLevel:
        today = utc_day(item.as_of)
        demand = daily_demand(item.shipped, today, self.demand_window_days)
        policy = sku.policy() if sku is not None else None
        if policy is not None and policy.unit != item.unit:
            policy = None  # a policy in another unit cannot be compared with the stock
        level = InventoryLevel(
            warehouse=item.warehouse,
            sku=item.sku,
            unit=item.unit,
            on_hand=item.on_hand,
            reserved=item.reserved,
            available=item.available,
            daily_demand=demand,
            demand_window_days=self.demand_window_days,
            lead_time_days=None,
            safety_stock=None,
            reorder_point=None,
            risk_threshold=None,
            days_of_cover=None,
            stock_out_on=None,
            at_risk=None,
            shortfall=None,
            as_of=item.as_of,
        )
        if policy is None:
            return level
        forecast = forecast_stock_out(
            Quantity(item.available, item.unit), DemandRate(demand, item.unit), policy, today
        )
        return replace(
            level,
            lead_time_days=policy.lead_time_days,
            safety_stock=policy.safety_stock.amount,
            reorder_point=policy.reorder_point.amount,
            risk_threshold=forecast.risk_threshold.amount,
            days_of_cover=forecast.days_of_cover,
            stock_out_on=forecast.stock_out_on,
            at_risk=forecast.at_risk,
            shortfall=forecast.shortfall.amount,
        )


def daily_demand(shipped: Sequence[tuple[date, Decimal]], today: date, window_days: int) -> Decimal:
    """Quantity shipped on the ``window_days`` days ending ``today``, per day."""
    first = today - timedelta(days=window_days - 1)
    total = sum((q for d, q in shipped if first <= d <= today), Decimal(0))
    return (total / window_days).quantize(DEMAND_PLACES, rounding=ROUND_HALF_EVEN)


def stock_out_severity(level: InventoryLevel) -> Severity | None:
    """None when not at risk; critical when the shelf is empty or the stock runs out
    before an order placed today can arrive; otherwise a warning (the stock is
    eating into the safety stock)."""
    if not level.at_risk:
        return None
    if level.available == 0:
        return Severity.CRITICAL
    if level.stock_out_on is not None and level.lead_time_days is not None:
        arrival = utc_day(level.as_of) + timedelta(days=level.lead_time_days)
        if level.stock_out_on < arrival:
            return Severity.CRITICAL
    return Severity.WARNING


def stock_out_details(level: InventoryLevel) -> dict[str, DetailValue]:
    return {
        "warehouse": level.warehouse,
        "sku": level.sku,
        "unit": level.unit,
        "available": dec(level.available),
        "daily_demand": dec(level.daily_demand),
        "days_of_cover": dec(level.days_of_cover),
        "stock_out_on": day(level.stock_out_on),
        "risk_threshold": dec(level.risk_threshold),
        "shortfall": dec(level.shortfall),
        "lead_time_days": level.lead_time_days,
    }


def _add(
    shipped: tuple[tuple[date, Decimal], ...], on: date, quantity: Decimal
) -> tuple[tuple[date, Decimal], ...]:
    totals = dict(shipped)
    totals[on] = totals.get(on, Decimal(0)) + quantity
    return tuple(sorted(totals.items()))


def _within(
    shipped: tuple[tuple[date, Decimal], ...], today: date, window_days: int
) -> tuple[tuple[date, Decimal], ...]:
    """Drops the days before the window; later days (clock skew) are kept."""
    first = today - timedelta(days=window_days - 1)
    return tuple((d, q) for d, q in shipped if d >= first)
