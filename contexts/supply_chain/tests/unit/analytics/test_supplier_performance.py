"""Supplier performance: a hand-computed example, the window, redeliveries, p90."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from contexts.supply_chain.application.analytics import (
    PerformanceFigures,
    SupplierAnalytics,
    SupplierState,
)
from contexts.supply_chain.application.analytics.stats import (
    nearest_rank,
    nearest_rank_of_histogram,
    ratio,
)
from contexts.supply_chain.domain.purchasing.events import GoodsReceived
from contexts.supply_chain.tests.unit.analytics.builders import (
    at,
    goods_received,
    supplier_registered,
)

# (purchase order, receipt number, received on, on time, lead time, accepted, rejected)
RECEIPTS = [
    ("PO-1", 1, date(2025, 1, 10), True, 25, 100, 0),
    ("PO-2", 1, date(2025, 2, 20), True, 7, 50, 0),
    ("PO-3", 1, date(2025, 3, 1), False, 12, 40, 10),
    ("PO-2", 2, date(2025, 3, 5), False, 20, 45, 5),
    ("PO-4", 1, date(2025, 3, 10), True, 6, 30, 0),
]


def receipts() -> list[GoodsReceived]:
    return [
        goods_received(
            po, n, received_on=on, on_time=ok, lead_time_days=lead, accepted=a, rejected=r
        )
        for po, n, on, ok, lead, a, r in RECEIPTS
    ]


def run(events: list[GoodsReceived], analytics: SupplierAnalytics | None = None):
    analytics = analytics or SupplierAnalytics()
    state: SupplierState | None = None
    update = None
    for event in events:
        result = analytics.apply_receipt(state, event, event.occurred_at)
        if result is not None:
            state, update = result.state, result
    assert update is not None
    return update


def test_rolling_window_and_all_time_figures_by_hand():
    row = run(receipts()).row

    # The window ends on the newest receipt day, 10 March, and spans 30 days: from
    # 9 February. The January receipt of PO-1 is outside.
    assert (row.window_start, row.window_end) == (date(2025, 2, 9), date(2025, 3, 10))
    assert row.window == PerformanceFigures(
        receipts=4,
        on_time=2,
        on_time_rate=Decimal("0.5000"),
        accepted=Decimal(165),  # 50 + 40 + 45 + 30
        rejected=Decimal(15),  # 10 + 5
        quality_score=Decimal("0.9167"),  # 165 / 180 = 0.91666...
        lead_time_mean_days=Decimal("11.25"),  # (7 + 12 + 20 + 6) / 4
        lead_time_p90_days=20,  # rank ceil(0.9 * 4) = 4 of [6, 7, 12, 20]
    )
    assert row.all_time == PerformanceFigures(
        receipts=5,
        on_time=3,
        on_time_rate=Decimal("0.6000"),
        accepted=Decimal(265),
        rejected=Decimal(15),
        quality_score=Decimal("0.9464"),  # 265 / 280 = 0.946428...
        lead_time_mean_days=Decimal("14.00"),  # 70 / 5
        lead_time_p90_days=25,  # rank ceil(0.9 * 5) = 5 of [6, 7, 12, 20, 25]
    )
    assert row.as_of == max(event.occurred_at for event in receipts())


def test_a_redelivered_receipt_is_recognised_and_counts_once():
    events = receipts()
    analytics = SupplierAnalytics()
    once = run(events, analytics)
    assert analytics.apply_receipt(once.state, events[3], events[3].occurred_at) is None
    assert analytics.apply_receipt(once.state, events[0], events[0].occurred_at) is None
    # In any order, duplicates interleaved: the same figures.
    assert run([*events[:3], events[1], *events[3:], events[2]], analytics).row == once.row


def test_a_later_receipt_moves_the_window_and_drops_old_receipts():
    later = goods_received(
        "PO-5", 1, received_on=date(2025, 3, 31), on_time=True, lead_time_days=3, accepted=10
    )
    row = run([*receipts(), later]).row

    # The window now runs from 2 March: the receipts of 5, 10 and 31 March.
    assert (row.window_start, row.window_end) == (date(2025, 3, 2), date(2025, 3, 31))
    assert (row.window.receipts, row.window.on_time) == (3, 2)
    assert row.window.lead_time_mean_days == Decimal("9.67")  # 29 / 3
    assert row.all_time.receipts == 6


def test_a_backdated_receipt_counts_for_all_time_only():
    old = goods_received(
        "PO-0", 1, received_on=date(2024, 12, 1), on_time=False, lead_time_days=40, accepted=5
    )
    with_old = run([*receipts(), old]).row
    without = run(receipts()).row

    assert with_old.window == without.window
    assert with_old.all_time.receipts == without.all_time.receipts + 1
    assert with_old.all_time.lead_time_p90_days == 40


def test_registration_names_the_supplier_before_or_after_receipts():
    analytics = SupplierAnalytics()
    registered = supplier_registered(when=at(-30))
    named_first = analytics.apply_registration(None, registered, registered.occurred_at)
    assert named_first is not None
    assert (named_first.row.name, named_first.row.country) == ("Acme Components", "DE")
    assert named_first.row.window.receipts == 0
    assert named_first.row.window.on_time_rate is None
    assert named_first.row.window_end is None

    counted = run(receipts())
    named_later = analytics.apply_registration(counted.state, registered, registered.occurred_at)
    assert named_later is not None
    assert named_later.row == replace(counted.row, name="Acme Components", country="DE")
    assert analytics.apply_registration(named_later.state, registered, at()) is None


def test_state_survives_the_changelog_round_trip():
    update = run(receipts())
    assert SupplierState.from_json(update.state.to_json()) == update.state


def test_nearest_rank_p90_by_hand():
    assert nearest_rank([3, 5, 7, 9, 10, 12, 14, 20, 30, 40], 90) == 30  # rank 9 of 10
    assert nearest_rank([40, 3, 30, 5], 90) == 40  # rank 4 of 4
    assert nearest_rank(range(1, 21), 90) == 18  # rank 18 of 20
    assert nearest_rank([7], 90) == 7
    assert nearest_rank([], 90) is None


@given(st.lists(st.integers(min_value=0, max_value=365), max_size=60), st.integers(1, 100))
def test_histogram_percentile_equals_the_percentile_of_the_values(values, percentile):
    counts: dict[int, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    assert nearest_rank_of_histogram(counts, percentile) == nearest_rank(values, percentile)


@given(st.lists(st.integers(min_value=0, max_value=365), min_size=1, max_size=40))
def test_the_p90_has_at_least_90_percent_of_the_values_at_or_below_it(values):
    p90 = nearest_rank(values, 90)
    assert p90 is not None
    assert sum(v <= p90 for v in values) * 10 >= len(values) * 9
    assert sum(v < p90 for v in values) * 10 < len(values) * 9


receipt_strategy = st.tuples(
    st.integers(0, 90),  # day offset
    st.booleans(),
    st.integers(0, 60),  # lead time
    st.integers(0, 500),  # accepted
    st.integers(0, 50),  # rejected
)


@given(st.lists(receipt_strategy, min_size=1, max_size=30))
def test_window_figures_equal_a_recount_of_the_receipts_in_the_window(specs):
    events = [
        goods_received(
            f"PO-{i}",
            1,
            received_on=date(2025, 1, 1).fromordinal(date(2025, 1, 1).toordinal() + offset),
            on_time=ok,
            lead_time_days=lead,
            accepted=a,
            rejected=r,
        )
        for i, (offset, ok, lead, a, r) in enumerate(specs)
    ]
    row = run(events).row
    assert row.window_end is not None
    assert row.window_start is not None
    inside = [e for e in events if row.window_start <= e.received_on <= row.window_end]
    accepted = sum(e.lines[0].accepted for e in inside)
    rejected = sum(e.lines[0].rejected for e in inside)
    assert row.window.receipts == len(inside)
    assert row.window.on_time_rate == ratio(sum(e.on_time for e in inside), len(inside))
    assert row.window.quality_score == ratio(accepted, accepted + rejected)
    assert row.window.lead_time_p90_days == nearest_rank([e.lead_time_days for e in inside], 90)
    assert row.all_time.receipts == len(events)
