"""Live SLIs on scripted streams whose figures are worked out by hand, and SLO status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from shared_kernel.infrastructure.metrics import render
from shared_kernel.infrastructure.slo import (
    Comparison,
    Objective,
    ReadMeter,
    SequenceTracker,
    SliMonitor,
    SliSnapshot,
    SloStatus,
    evaluate,
    export_slis,
    merge_snapshots,
    nearest_rank,
    objectives_from_odps,
    worst,
)

T0 = datetime(2025, 3, 9, 11, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# -- a scripted stream ---------------------------------------------------------------------


def play_script(monitor: SliMonitor, clock: Clock) -> None:
    """Seven events of two orders, each visible a known time after its event time.

    | # | key | version | event time | visible at | lag |
    |---|-----|---------|-----------|------------|-----|
    | 1 | A   | 1       | 0 s       | 0.2 s      | 0.2 |
    | 2 | A   | 2       | 1 s       | 1.4 s      | 0.4 |
    | 3 | A   | 4       | 2 s       | 3.0 s      | 1.0 |  version 3 is skipped: a gap
    | 4 | B   | 1       | 3 s       | 6.0 s      | 3.0 |
    | 5 | B   | 2       | 4 s       | 6.1 s      | 2.1 |
    | 6 | B   | 2       | 4 s       | 6.2 s      |  -  |  redelivered: a duplicate, no sample
    | 7 | A   | 5       | 7 s       | 7.1 s      | 0.1 |
    """
    script = [
        ("A", 1, 0.0, 0.2),
        ("A", 2, 1.0, 1.4),
        ("A", 4, 2.0, 3.0),
        ("B", 1, 3.0, 6.0),
        ("B", 2, 4.0, 6.1),
        ("B", 2, 4.0, 6.2),
        ("A", 5, 7.0, 7.1),
    ]
    for key, version, event_s, visible_s in script:
        clock.now = at(visible_s)
        monitor.observe("orders", at(event_s), key, version, materialized_at=at(visible_s))


def test_freshness_and_completeness_of_a_scripted_stream() -> None:
    clock = Clock()
    monitor = SliMonitor(clock, window=timedelta(minutes=5))
    play_script(monitor, clock)

    snapshot = monitor.snapshot("orders")

    # Lags, sorted: 0.1, 0.2, 0.4, 1.0, 2.1, 3.0 (the duplicate adds none).
    # p50 = rank ceil(0.5 * 6) = 3 -> 0.4 s; p99 = rank ceil(0.99 * 6) = 6 -> 3.0 s.
    assert snapshot.freshness_samples == 6
    assert snapshot.freshness_p50_ms == pytest.approx(400)
    assert snapshot.freshness_p99_ms == pytest.approx(3000)
    assert snapshot.freshness_last_ms == pytest.approx(100)
    # A: 1, 2, 4, 5 received, 3 missing; B: 1, 2 received, 2 once more (duplicate).
    assert (snapshot.events_received, snapshot.events_missing) == (6, 1)
    assert snapshot.events_duplicate == 1
    assert snapshot.completeness == pytest.approx(6 / 7)
    assert snapshot.last_event_time == at(7)
    assert snapshot.slis()["freshness_ms"] == pytest.approx(3000)
    assert snapshot.slis()["completeness"] == pytest.approx(6 / 7)


def test_a_late_event_fills_its_gap() -> None:
    clock = Clock()
    monitor = SliMonitor(clock)
    play_script(monitor, clock)

    clock.now = at(9)
    monitor.observe("orders", at(1.5), "A", 3, materialized_at=at(9))

    snapshot = monitor.snapshot("orders")
    assert (snapshot.events_received, snapshot.events_missing) == (7, 0)
    assert snapshot.completeness == 1.0
    # The late event is a sample of 7.5 s, the last one, and the new p99.
    assert snapshot.freshness_last_ms == pytest.approx(7500)
    assert snapshot.freshness_p99_ms == pytest.approx(7500)


def test_samples_leave_the_window_but_the_last_value_stays() -> None:
    clock = Clock()
    monitor = SliMonitor(clock, window=timedelta(seconds=60))
    play_script(monitor, clock)

    clock.now = at(60 + 6.05)  # samples visible before 6.05 s are out of the window
    snapshot = monitor.snapshot("orders")

    assert snapshot.freshness_samples == 2  # 6.1 s (2.1) and 7.1 s (0.1)
    assert snapshot.freshness_p50_ms == pytest.approx(100)
    assert snapshot.freshness_p99_ms == pytest.approx(2100)
    assert snapshot.freshness_last_ms == pytest.approx(100)
    clock.now = at(600)
    assert monitor.snapshot("orders").freshness_p99_ms is None
    assert monitor.snapshot("orders").freshness_last_ms == pytest.approx(100)


def test_dead_letters_count_as_lost_and_in_the_dead_letter_rate() -> None:
    clock = Clock()
    monitor = SliMonitor(clock)
    play_script(monitor, clock)  # 6 applied

    monitor.observe_dead_letter("orders", "A", 6)  # a new version, never applied
    monitor.observe_dead_letter("orders", "B", 2)  # applied upstream, lost downstream
    monitor.observe_dead_letter("orders", "B", 2)  # the same loss reported twice
    monitor.observe_dead_letter("orders")  # not even an event: no version known

    snapshot = monitor.snapshot("orders")
    # Received: 6 + A6 = 7; missing A3; lost A6 and B2: (7 - 2) / (7 + 1).
    assert snapshot.completeness == pytest.approx(5 / 8)
    assert snapshot.events_lost == 2
    # Processed = 6 applied + 4 dead letters.
    assert snapshot.window_dead_letters == 4
    assert snapshot.dead_letter_rate == pytest.approx(4 / 10)


def test_processing_error_rate_counts_failed_attempts() -> None:
    clock = Clock()
    monitor = SliMonitor(clock)
    for version in range(1, 9):
        monitor.observe("orders", at(0), "A", version)
    monitor.observe_error("orders")
    monitor.observe_error("orders")

    snapshot = monitor.snapshot("orders")
    assert snapshot.processing_error_rate == pytest.approx(2 / 10)  # 2 of 8 + 2 attempts
    assert snapshot.dead_letter_rate == 0.0

    clock.advance(310)  # out of the 5 minute window (counted in 10 s buckets)
    later = monitor.snapshot("orders")
    assert later.processing_error_rate is None
    assert (later.applied_total, later.errors_total) == (8, 2)


def test_a_product_without_events_has_no_figures() -> None:
    monitor = SliMonitor(Clock(), products=["quiet"])
    snapshot = monitor.snapshot("quiet")

    assert monitor.products == ("quiet",)
    assert snapshot.completeness is None
    assert snapshot.freshness_p99_ms is None
    assert snapshot.slis() == {}


def test_events_without_a_version_still_count_as_applied() -> None:
    monitor = SliMonitor(Clock())
    monitor.observe("orders", at(0))
    snapshot = monitor.snapshot("orders")
    assert snapshot.window_applied == 1
    assert snapshot.events_received == 0


# -- the sequence tracker ------------------------------------------------------------------


def test_an_older_version_than_the_first_seen_extends_the_range_down() -> None:
    tracker = SequenceTracker()
    tracker.observe("k", 5)
    tracker.observe("k", 2)  # 3 and 4 must exist too

    assert (tracker.received, tracker.missing) == (2, 2)
    tracker.observe("k", 4)
    tracker.observe("k", 3)
    assert (tracker.received, tracker.missing, tracker.duplicates) == (4, 0, 0)
    tracker.observe("k", 3)
    assert tracker.duplicates == 1


def test_filling_the_middle_of_a_gap_splits_it() -> None:
    tracker = SequenceTracker()
    tracker.observe("k", 1)
    tracker.observe("k", 10)  # 2..9 missing
    tracker.observe("k", 5)

    assert tracker.missing == 7
    for version in (2, 3, 4, 6, 7, 8, 9):
        tracker.observe("k", version)
    assert tracker.missing == 0
    assert tracker.completeness() == 1.0


def test_the_tracker_forgets_quiet_keys_first_when_full() -> None:
    tracker = SequenceTracker(max_keys=2)
    tracker.observe("gappy", 1)
    tracker.observe("gappy", 3)  # version 2 missing
    tracker.observe("quiet", 1)
    tracker.observe("new", 1)  # full: "quiet" (no gap) is forgotten, "gappy" kept

    assert tracker.missing == 1
    tracker.observe("quiet", 7)  # seen afresh: a new baseline, not versions 2 to 6 missing
    assert tracker.missing == 1
    tracker.observe("gappy", 2)  # the gap was kept, so it is filled now
    assert (tracker.missing, tracker.completeness()) == (0, 1.0)


def test_when_every_key_has_a_gap_the_oldest_is_forgotten_with_its_gap() -> None:
    tracker = SequenceTracker(max_keys=1)
    tracker.observe("a", 1)
    tracker.observe("a", 4)
    assert tracker.missing == 2
    tracker.observe("b", 1)
    assert tracker.missing == 0


# -- objectives ----------------------------------------------------------------------------

FRESHNESS = Objective("freshness_ms", Comparison.AT_MOST, 5000)
COMPLETENESS = Objective("completeness", Comparison.AT_LEAST, 0.999)


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (120.0, SloStatus.MET),
        (4500.0, SloStatus.MET),
        (4500.5, SloStatus.AT_RISK),
        (5000.0, SloStatus.AT_RISK),
        (5000.1, SloStatus.BREACHED),
        (None, SloStatus.UNKNOWN),
    ],
)
def test_an_upper_bound_is_at_risk_in_its_last_tenth(
    value: float | None, status: SloStatus
) -> None:
    assert FRESHNESS.status(value) is status


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (1.0, SloStatus.MET),
        (0.9995, SloStatus.MET),
        (0.99905, SloStatus.AT_RISK),  # under 0.9991: 10 % of the budget of 0.001 left
        (0.999, SloStatus.AT_RISK),
        (0.998, SloStatus.BREACHED),
    ],
)
def test_a_ratio_lower_bound_is_at_risk_in_the_last_tenth_of_its_budget(
    value: float, status: SloStatus
) -> None:
    assert COMPLETENESS.status(value) is status


def test_a_lower_bound_above_one_is_at_risk_within_ten_percent() -> None:
    throughput = Objective("events_per_s", Comparison.AT_LEAST, 100)
    assert throughput.status(111) is SloStatus.MET
    assert throughput.status(109) is SloStatus.AT_RISK
    assert throughput.status(99) is SloStatus.BREACHED


def test_objectives_are_read_from_an_odps_document() -> None:
    product = {
        "customProperties": [
            {"property": "other", "value": 1},
            {
                "property": "serviceLevelObjectives",
                "value": [
                    {"sli": "freshness_ms", "mustBeLessOrEqualTo": 5000, "description": "lag"},
                    {"sli": "completeness", "mustBeGreaterOrEqualTo": 0.999},
                    {"sli": "error_rate", "mustBeLessThan": 0.01},
                    {"no": "sli"},
                ],
            },
        ]
    }
    objectives = objectives_from_odps(product)

    assert objectives == [
        Objective("freshness_ms", Comparison.AT_MOST, 5000, "lag"),
        Objective("completeness", Comparison.AT_LEAST, 0.999),
        Objective("error_rate", Comparison.BELOW, 0.01),
    ]
    assert [objective.text for objective in objectives] == ["<= 5000", ">= 0.999", "< 0.01"]
    assert objectives_from_odps({}) == []


def test_evaluation_and_the_worst_status() -> None:
    evaluations = evaluate([FRESHNESS, COMPLETENESS], {"freshness_ms": 4800.0})

    assert [(e.value, e.status) for e in evaluations] == [
        (4800.0, SloStatus.AT_RISK),
        (None, SloStatus.UNKNOWN),
    ]
    assert worst(e.status for e in evaluations) is SloStatus.AT_RISK
    assert worst([SloStatus.MET, SloStatus.BREACHED]) is SloStatus.BREACHED
    assert worst([SloStatus.MET, SloStatus.UNKNOWN]) is SloStatus.UNKNOWN
    assert worst([]) is SloStatus.UNKNOWN


def test_nearest_rank() -> None:
    assert nearest_rank([], 0.5) is None
    assert nearest_rank([1.0], 0.99) == 1.0
    assert nearest_rank([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert nearest_rank([float(i) for i in range(1, 101)], 0.99) == 99.0
    with pytest.raises(ValueError, match="quantile"):
        nearest_rank([1.0], 0)


# -- several workers -----------------------------------------------------------------------


def test_snapshots_of_several_workers_merge_into_one() -> None:
    one = SliSnapshot(
        "orders", at(10), 300, freshness_p50_ms=100.0, freshness_p99_ms=900.0,
        freshness_last_ms=50.0, freshness_samples=10, last_event_time=at(8),
        last_materialized_at=at(9), events_received=10, events_missing=1,
        window_applied=10, window_errors=1,
    )  # fmt: skip
    two = SliSnapshot(
        "orders", at(12), 300, freshness_p50_ms=300.0, freshness_p99_ms=600.0,
        freshness_last_ms=70.0, freshness_samples=5, last_event_time=at(11),
        last_materialized_at=at(11.5), events_received=5, events_duplicate=2, events_lost=1,
        window_applied=5, window_dead_letters=1,
    )  # fmt: skip
    merged = merge_snapshots([one, two])

    assert merged.measured_at == at(12)
    assert (merged.freshness_p50_ms, merged.freshness_p99_ms) == (300.0, 900.0)  # highest
    assert merged.freshness_last_ms == 70.0  # the one written last
    assert merged.completeness == pytest.approx((15 - 1) / 16)
    assert merged.processing_error_rate == pytest.approx(1 / 16)
    assert merged.dead_letter_rate == pytest.approx(1 / 16)
    with pytest.raises(ValueError, match="different products"):
        merge_snapshots([one, SliSnapshot("other", at(1), 300)])


# -- the read side -------------------------------------------------------------------------


def test_the_read_meter_counts_server_errors_over_its_window() -> None:
    clock = Clock()
    meter = ReadMeter(clock, window=timedelta(seconds=60))
    for _ in range(9):
        meter.record("orders", server_error=False)
    meter.record("orders", server_error=True)

    assert meter.counts("orders") == (10, 1)
    assert meter.error_rate("orders") == pytest.approx(0.1)
    clock.advance(59)
    assert meter.counts("orders") == (10, 1)
    clock.advance(3)  # past 60 s and one 2 s bucket
    assert meter.error_rate("orders") is None
    assert meter.totals("orders") == (10, 1)


# -- Prometheus ----------------------------------------------------------------------------


def _samples(registry: CollectorRegistry) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    body, _ = render(registry)
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def test_the_slis_are_exported_to_a_registry() -> None:
    clock = Clock()
    monitor = SliMonitor(clock)
    play_script(monitor, clock)
    meter = ReadMeter(clock)
    meter.record("orders", server_error=True)
    registry = CollectorRegistry()
    export_slis(registry, monitor=monitor, meter=meter, objectives={"orders": [FRESHNESS]})
    samples = _samples(registry)

    def sample(name: str, **labels: str) -> float:
        return samples[(name, frozenset({"product": "orders", **labels}.items()))]

    assert sample("dpmesh_product_freshness_lag_seconds_count") == 6
    assert sample("dpmesh_product_freshness_lag_seconds_sum") == pytest.approx(6.8)
    # Lags 0.1 and 0.2 are at most 0.25 s; 0.4 is not.
    assert sample("dpmesh_product_freshness_lag_seconds_bucket", le="0.25") == 2
    assert sample("dpmesh_product_freshness_lag_window_seconds", statistic="p99") == 3.0
    assert sample("dpmesh_product_completeness_ratio") == pytest.approx(6 / 7)
    assert sample("dpmesh_product_missing_events") == 1
    assert sample("dpmesh_product_events_total", outcome="duplicate") == 1
    # A p99 of 3000 ms against <= 5000: met (0).
    assert sample("dpmesh_product_slo_status", sli="freshness_ms") == 0
    assert sample("dpmesh_product_reads_total", outcome="server_error") == 1
