"""Supplier performance from goods receipts: rolling window and all time.

Each ``GoodsReceived`` is one delivery of one purchase order, numbered from 1 within
the order, with its timeliness (``on_time``), its lead time and the inspected
quantities. State per supplier:

- the receipts of the rolling window (``received_on`` within the ``window_days``
  days ending on the supplier's newest receipt day);
- all-time totals, with lead times as a histogram (one counter per whole day), so
  the all-time 90th percentile is exact in bounded memory;
- the receipts applied, per purchase order the highest receipt number. A purchase
  order's receipts arrive in number order (one aggregate, one partition), so a
  number at or below it is a redelivery. Entries older than the dedupe horizon
  (event time) are forgotten: redeliveries happen within minutes, not months.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from contexts.supply_chain.application.analytics._codec import (
    dec,
    moment,
    to_dec,
    to_moment,
    to_opt_day,
    to_opt_moment,
)
from contexts.supply_chain.application.analytics.errors import UnusableFact
from contexts.supply_chain.application.analytics.products import (
    PerformanceFigures,
    SupplierPerformance,
)
from contexts.supply_chain.application.analytics.stats import (
    mean_days,
    nearest_rank_of_histogram,
    ratio,
)
from contexts.supply_chain.domain.catalog.events import SupplierRegistered
from contexts.supply_chain.domain.purchasing.events import GoodsReceived

DEFAULT_WINDOW_DAYS = 30
DEFAULT_DEDUPE_HORIZON_DAYS = 90
LEAD_TIME_PERCENTILE = 90


@dataclass(frozen=True, slots=True)
class Receipt:
    purchase_order_id: str
    receipt_number: int
    received_on: date
    on_time: bool
    lead_time_days: int
    accepted: Decimal
    rejected: Decimal

    @classmethod
    def of(cls, event: GoodsReceived) -> Receipt:
        if event.receipt_number < 1 or event.lead_time_days < 0:
            raise UnusableFact(
                f"receipt {event.receipt_number} of {event.purchase_order_id} has a "
                f"receipt number below 1 or a negative lead time ({event.lead_time_days})"
            )
        accepted = sum((line.accepted for line in event.lines), Decimal(0))
        rejected = sum((line.rejected for line in event.lines), Decimal(0))
        if accepted < 0 or rejected < 0:
            raise UnusableFact(f"receipt of {event.purchase_order_id} has negative quantities")
        return cls(
            purchase_order_id=event.purchase_order_id,
            receipt_number=event.receipt_number,
            received_on=event.received_on,
            on_time=event.on_time,
            lead_time_days=event.lead_time_days,
            accepted=accepted,
            rejected=rejected,
        )

    def to_json(self) -> list[Any]:
        return [
            self.purchase_order_id,
            self.receipt_number,
            self.received_on.isoformat(),
            self.on_time,
            self.lead_time_days,
            dec(self.accepted),
            dec(self.rejected),
        ]

    @classmethod
    def from_json(cls, data: list[Any]) -> Receipt:
        po, number, received_on, on_time, lead_time, accepted, rejected = data
        return cls(
            str(po),
            int(number),
            date.fromisoformat(received_on),
            bool(on_time),
            int(lead_time),
            to_dec(accepted),
            to_dec(rejected),
        )


@dataclass(frozen=True, slots=True)
class Totals:
    """Running sums over receipts; ``lead_times`` is ``((days, count), ...)``."""

    receipts: int = 0
    on_time: int = 0
    accepted: Decimal = Decimal(0)
    rejected: Decimal = Decimal(0)
    lead_time_days_sum: int = 0
    lead_times: tuple[tuple[int, int], ...] = ()

    def add(self, receipt: Receipt) -> Totals:
        histogram = dict(self.lead_times)
        histogram[receipt.lead_time_days] = histogram.get(receipt.lead_time_days, 0) + 1
        return Totals(
            receipts=self.receipts + 1,
            on_time=self.on_time + (1 if receipt.on_time else 0),
            accepted=self.accepted + receipt.accepted,
            rejected=self.rejected + receipt.rejected,
            lead_time_days_sum=self.lead_time_days_sum + receipt.lead_time_days,
            lead_times=tuple(sorted(histogram.items())),
        )

    def figures(self) -> PerformanceFigures:
        return PerformanceFigures(
            receipts=self.receipts,
            on_time=self.on_time,
            on_time_rate=ratio(self.on_time, self.receipts),
            accepted=self.accepted,
            rejected=self.rejected,
            quality_score=ratio(self.accepted, self.accepted + self.rejected),
            lead_time_mean_days=mean_days(self.lead_time_days_sum, self.receipts),
            lead_time_p90_days=nearest_rank_of_histogram(
                dict(self.lead_times), LEAD_TIME_PERCENTILE
            ),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "receipts": self.receipts,
            "on_time": self.on_time,
            "accepted": dec(self.accepted),
            "rejected": dec(self.rejected),
            "lead_time_days_sum": self.lead_time_days_sum,
            "lead_times": [[days, count] for days, count in self.lead_times],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Totals:
        return cls(
            receipts=int(data["receipts"]),
            on_time=int(data["on_time"]),
            accepted=to_dec(data["accepted"]),
            rejected=to_dec(data["rejected"]),
            lead_time_days_sum=int(data["lead_time_days_sum"]),
            lead_times=tuple((int(d), int(c)) for d, c in data["lead_times"]),
        )


def window_figures(receipts: tuple[Receipt, ...]) -> PerformanceFigures:
    totals = Totals()
    for receipt in receipts:
        totals = totals.add(receipt)
    return totals.figures()


@dataclass(frozen=True, slots=True)
class SupplierState:
    supplier: str
    name: str | None = None
    country: str | None = None
    profile_version: int = 0
    window: tuple[Receipt, ...] = ()
    window_end: date | None = None
    all_time: Totals = Totals()
    #: ``((purchase order, highest receipt number, when applied), ...)``
    applied: tuple[tuple[str, int, datetime], ...] = ()
    as_of: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "supplier": self.supplier,
            "name": self.name,
            "country": self.country,
            "profile_version": self.profile_version,
            "window": [receipt.to_json() for receipt in self.window],
            "window_end": None if self.window_end is None else self.window_end.isoformat(),
            "all_time": self.all_time.to_json(),
            "applied": [[po, number, moment(at)] for po, number, at in self.applied],
            "as_of": moment(self.as_of),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SupplierState:
        return cls(
            supplier=str(data["supplier"]),
            name=data.get("name"),
            country=data.get("country"),
            profile_version=int(data.get("profile_version", 0)),
            window=tuple(Receipt.from_json(r) for r in data.get("window", ())),
            window_end=to_opt_day(data.get("window_end")),
            all_time=Totals.from_json(data["all_time"]) if "all_time" in data else Totals(),
            applied=tuple(
                (str(po), int(n), to_moment(at)) for po, n, at in data.get("applied", ())
            ),
            as_of=to_opt_moment(data.get("as_of")),
        )


@dataclass(frozen=True, slots=True)
class SupplierUpdate:
    state: SupplierState
    row: SupplierPerformance


class SupplierAnalytics:
    """Pure computations of the ``supplier-performance`` product."""

    def __init__(
        self,
        window_days: int = DEFAULT_WINDOW_DAYS,
        dedupe_horizon_days: int = DEFAULT_DEDUPE_HORIZON_DAYS,
    ) -> None:
        if window_days < 1 or dedupe_horizon_days < 1:
            raise ValueError("the window and the dedupe horizon span at least one day")
        self.window_days = window_days
        self.dedupe_horizon = timedelta(days=dedupe_horizon_days)

    def apply_receipt(
        self, state: SupplierState | None, event: GoodsReceived, at: datetime
    ) -> SupplierUpdate | None:
        """Count one delivery; None for a redelivery."""
        receipt = Receipt.of(event)
        state = state or SupplierState(event.supplier)
        applied = {po: (number, when) for po, number, when in state.applied}
        last = applied.get(receipt.purchase_order_id)
        if last is not None and receipt.receipt_number <= last[0]:
            return None
        as_of = at if state.as_of is None else max(state.as_of, at)
        applied[receipt.purchase_order_id] = (receipt.receipt_number, at)
        horizon = as_of - self.dedupe_horizon
        window_end = (
            receipt.received_on
            if state.window_end is None
            else max(state.window_end, receipt.received_on)
        )
        window_start = self.window_start(window_end)
        window = tuple(
            r for r in (*state.window, receipt) if window_start <= r.received_on <= window_end
        )
        new = replace(
            state,
            window=tuple(sorted(window, key=lambda r: (r.received_on, r.purchase_order_id))),
            window_end=window_end,
            all_time=state.all_time.add(receipt),
            applied=tuple(
                sorted((po, n, when) for po, (n, when) in applied.items() if when >= horizon)
            ),
            as_of=as_of,
        )
        return SupplierUpdate(new, self.performance(new))

    def apply_registration(
        self, state: SupplierState | None, event: SupplierRegistered, at: datetime
    ) -> SupplierUpdate | None:
        """Name the supplier; None for a redelivery."""
        state = state or SupplierState(event.supplier)
        if event.aggregate_version <= state.profile_version:
            return None
        new = replace(
            state,
            name=event.name,
            country=event.country,
            profile_version=event.aggregate_version,
            as_of=at if state.as_of is None else max(state.as_of, at),
        )
        return SupplierUpdate(new, self.performance(new))

    def window_start(self, window_end: date) -> date:
        return window_end - timedelta(days=self.window_days - 1)

    def performance(self, state: SupplierState) -> SupplierPerformance:
        if state.as_of is None:
            raise ValueError("a supplier without any fact has no performance row")
        return SupplierPerformance(
            supplier=state.supplier,
            name=state.name,
            country=state.country,
            window_days=self.window_days,
            window_start=None if state.window_end is None else self.window_start(state.window_end),
            window_end=state.window_end,
            window=window_figures(state.window),
            all_time=state.all_time.figures(),
            as_of=state.as_of,
        )
