"""Live service level indicators of data products, and their objectives.

A stream worker measures, per product (:class:`SliMonitor`):

- **freshness lag**: from a fact's event time to the moment its row is visible in the
  read store (``observe_freshness``). Reported as p50 and p99 (nearest rank) over the
  last ``window`` and as the last value; also a cumulative histogram for Prometheus.
- **completeness**: the share of the source events that were applied, judged by
  sequence. Every event carries its aggregate's version, which grows by exactly 1 per
  event of one aggregate. Per aggregate key, the versions seen so far must be
  contiguous: a jump from 4 to 7 counts versions 5 and 6 as *missing* until they arrive
  (then they count as received); a version seen before is a *duplicate* (a redelivery),
  not a gap. An event dead-lettered with a known version counts as *lost*. So

      completeness = (received - lost) / (received + missing)

  The first version a monitor sees of a key is its baseline: a gap before it cannot be
  seen (a restarted worker does not know what its predecessor applied).
- **processing error rate**: failed handler attempts / all handler attempts (applied
  events + failed attempts), over the window. A retried event that finally succeeds
  still counts its failed attempts.
- **dead-letter rate**: dead-lettered events / events processed (applied +
  dead-lettered), over the window.

A read side (the API) measures the **error rate** of a product's REST reads
(:class:`ReadMeter`): reads answered with a server error / reads, over the window.

Everything here is pure and clock-injected: the computations are tested with scripted
streams, and the same code runs in the worker. :func:`export_slis` publishes them to a
Prometheus registry.

Objectives (:class:`Objective`) come from the products' ODPS files
(``customProperties: serviceLevelObjectives``, see :func:`objectives_from_odps`). An
SLI is **met**, **at risk** when it is within the last 10 % of its allowance before the
target (for "at most 5000 ms": above 4500 ms; for "at least 0.999" of a ratio: below
0.9991, 10 % of the error budget of 0.001 left), or **breached**; **unknown** without a
measurement.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final, Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

__all__ = [
    "AT_RISK_SHARE",
    "LAG_BUCKETS_S",
    "Comparison",
    "Evaluation",
    "Objective",
    "ReadMeter",
    "SequenceTracker",
    "SliMonitor",
    "SliRecorder",
    "SliSnapshot",
    "SloStatus",
    "evaluate",
    "export_slis",
    "merge_snapshots",
    "nearest_rank",
    "objectives_from_odps",
    "worst",
]

Clock = Callable[[], datetime]

#: An SLI within this share of its allowance from the target is "at risk".
AT_RISK_SHARE: Final = 0.1
#: Buckets of the freshness-lag histogram, in seconds.
LAG_BUCKETS_S: Final = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    3600.0,
)
DEFAULT_WINDOW: Final = timedelta(minutes=5)
#: Counters over the window are kept in this many time buckets.
WINDOW_BUCKETS: Final = 30

FRESHNESS_MS: Final = "freshness_ms"
COMPLETENESS: Final = "completeness"
ERROR_RATE: Final = "error_rate"
PROCESSING_ERROR_RATE: Final = "processing_error_rate"
DEAD_LETTER_RATE: Final = "dead_letter_rate"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def nearest_rank(ordered: Sequence[float], quantile: float) -> float | None:
    """The nearest-rank quantile of ``ordered`` (ascending): ``ordered[ceil(q n) - 1]``."""
    if not ordered:
        return None
    if not 0 < quantile <= 1:
        raise ValueError("quantile must be in (0, 1]")
    return ordered[max(math.ceil(quantile * len(ordered)) - 1, 0)]


# -- objectives --------------------------------------------------------------------------


class Comparison(StrEnum):
    AT_MOST = "<="
    BELOW = "<"
    AT_LEAST = ">="
    ABOVE = ">"

    def holds(self, value: float, target: float) -> bool:
        if self is Comparison.AT_MOST:
            return value <= target
        if self is Comparison.BELOW:
            return value < target
        if self is Comparison.AT_LEAST:
            return value >= target
        return value > target

    @property
    def upper_bound(self) -> bool:
        return self in (Comparison.AT_MOST, Comparison.BELOW)


#: ODPS/ODCS operator names (as in ODCS data quality rules) and their comparison.
ODPS_OPERATORS: Final[Mapping[str, Comparison]] = {
    "mustBeLessOrEqualTo": Comparison.AT_MOST,
    "mustBeLessThan": Comparison.BELOW,
    "mustBeGreaterOrEqualTo": Comparison.AT_LEAST,
    "mustBeGreaterThan": Comparison.ABOVE,
}


class SloStatus(StrEnum):
    MET = "met"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    UNKNOWN = "unknown"


_SEVERITY: Final = {
    SloStatus.MET: 0,
    SloStatus.UNKNOWN: 1,
    SloStatus.AT_RISK: 2,
    SloStatus.BREACHED: 3,
}


def worst(statuses: Iterable[SloStatus]) -> SloStatus:
    """The most severe status (breached > at risk > unknown > met); unknown if none."""
    found = list(statuses)
    return max(found, key=_SEVERITY.__getitem__) if found else SloStatus.UNKNOWN


@dataclass(frozen=True, slots=True)
class Objective:
    """``sli <comparison> target``, e.g. ``freshness_ms <= 5000``.

    ``best`` is the best value the SLI can take: 0 for lags and error rates (the
    default for upper bounds), 1 for ratios that must stay high (the default for lower
    bounds with a target in [0, 1]). The allowance is the distance from ``best`` to the
    target; the last :data:`AT_RISK_SHARE` of it is "at risk".
    """

    sli: str
    comparison: Comparison
    target: float
    description: str | None = None
    best: float | None = None

    @property
    def text(self) -> str:
        return f"{self.comparison.value} {self.target:g}"

    def _best(self) -> float | None:
        if self.best is not None:
            return self.best
        if self.comparison.upper_bound:
            return 0.0
        return 1.0 if 0.0 <= self.target <= 1.0 else None

    def status(self, value: float | None) -> SloStatus:
        if value is None or math.isnan(value):
            return SloStatus.UNKNOWN
        if not self.comparison.holds(value, self.target):
            return SloStatus.BREACHED
        best = self._best()
        allowance = abs(self.target - best) if best is not None else abs(self.target)
        margin = AT_RISK_SHARE * allowance
        if self.comparison.upper_bound:
            return SloStatus.AT_RISK if value > self.target - margin else SloStatus.MET
        return SloStatus.AT_RISK if value < self.target + margin else SloStatus.MET


@dataclass(frozen=True, slots=True)
class Evaluation:
    objective: Objective
    value: float | None
    status: SloStatus


def evaluate(objectives: Iterable[Objective], slis: Mapping[str, float | None]) -> list[Evaluation]:
    """Each objective against the measured ``slis`` (a missing SLI is unknown)."""
    return [
        Evaluation(objective, slis.get(objective.sli), objective.status(slis.get(objective.sli)))
        for objective in objectives
    ]


def objectives_from_odps(product: Mapping[str, Any]) -> list[Objective]:
    """The objectives of an ODPS product document, from its ``serviceLevelObjectives``
    custom property: ``[{"sli": "freshness_ms", "mustBeLessOrEqualTo": 5000}, ...]``."""
    found: list[Objective] = []
    for prop in product.get("customProperties") or []:
        if not isinstance(prop, Mapping) or prop.get("property") != "serviceLevelObjectives":
            continue
        for entry in prop.get("value") or []:
            if not isinstance(entry, Mapping) or "sli" not in entry:
                continue
            for key, comparison in ODPS_OPERATORS.items():
                if key in entry:
                    found.append(
                        Objective(
                            sli=str(entry["sli"]),
                            comparison=comparison,
                            target=float(entry[key]),
                            description=entry.get("description"),
                        )
                    )
    return found


# -- completeness by sequence ------------------------------------------------------------


class SequenceOutcome(StrEnum):
    FIRST = "first"
    NEXT = "next"
    GAP = "gap"
    FILLED = "filled"
    DUPLICATE = "duplicate"


@dataclass(slots=True)
class _KeySequence:
    low: int
    high: int
    #: Missing versions as inclusive ranges, ascending and disjoint.
    gaps: list[tuple[int, int]] = field(default_factory=list)
    lost: set[int] = field(default_factory=set)

    def missing(self) -> int:
        return sum(last - first + 1 for first, last in self.gaps)

    def has(self, version: int) -> bool:
        """Whether ``version`` was received."""
        if not self.low <= version <= self.high:
            return False
        return not any(first <= version <= last for first, last in self.gaps)

    def take(self, version: int) -> bool:
        """Remove ``version`` from the gaps; True if it was missing."""
        index = bisect_left(self.gaps, (version, version + 1)) - 1
        for at in (index, index + 1):
            if 0 <= at < len(self.gaps):
                first, last = self.gaps[at]
                if first <= version <= last:
                    replacement = [
                        span
                        for span in ((first, version - 1), (version + 1, last))
                        if span[0] <= span[1]
                    ]
                    self.gaps[at : at + 1] = replacement
                    return True
        return False


class SequenceTracker:
    """Received, missing, duplicate and lost events per aggregate key (module docstring).

    Memory stays bounded: beyond ``max_keys`` keys, the least recently seen key
    without an open gap is forgotten (if it shows up again, it starts a new baseline).
    """

    def __init__(self, max_keys: int = 100_000) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._keys: OrderedDict[str, _KeySequence] = OrderedDict()
        self._max_keys = max_keys
        self.received = 0
        self.duplicates = 0
        self.lost = 0
        self._missing = 0

    @property
    def missing(self) -> int:
        return self._missing

    def completeness(self) -> float | None:
        expected = self.received + self._missing
        if expected == 0:
            return None
        return max(self.received - self.lost, 0) / expected

    def observe(self, key: str, version: int) -> SequenceOutcome:
        """Version ``version`` of ``key`` was received."""
        sequence = self._keys.get(key)
        if sequence is None:
            self._make_room()
            self._keys[key] = _KeySequence(low=version, high=version)
            self.received += 1
            return SequenceOutcome.FIRST
        self._keys.move_to_end(key)
        if version == sequence.high + 1:
            sequence.high = version
            self.received += 1
            return SequenceOutcome.NEXT
        if version > sequence.high:
            sequence.gaps.append((sequence.high + 1, version - 1))
            self._missing += version - sequence.high - 1
            sequence.high = version
            self.received += 1
            return SequenceOutcome.GAP
        if version < sequence.low:
            # An older event arriving after newer ones: it extends the known range down.
            if version < sequence.low - 1:
                sequence.gaps.insert(0, (version + 1, sequence.low - 1))
                self._missing += sequence.low - 1 - version
            sequence.low = version
            self.received += 1
            return SequenceOutcome.FILLED
        if sequence.take(version):
            self._missing -= 1
            self.received += 1
            return SequenceOutcome.FILLED
        self.duplicates += 1
        return SequenceOutcome.DUPLICATE

    def lose(self, key: str, version: int) -> None:
        """Version ``version`` of ``key`` was dead-lettered: received, never applied.

        A version received before (by the agent reading the source topic, then
        dead-lettered further down the pipeline) is only marked lost; a new one is
        received and lost at once. Losing the same version twice counts once.
        """
        sequence = self._keys.get(key)
        if sequence is None or not sequence.has(version):
            self.observe(key, version)
            sequence = self._keys[key]
        if version not in sequence.lost:
            sequence.lost.add(version)
            self.lost += 1

    def _make_room(self) -> None:
        while len(self._keys) >= self._max_keys:
            quiet = next((key for key, seq in self._keys.items() if not seq.gaps), None)
            if quiet is not None:
                del self._keys[quiet]
                continue
            # Every key has an open gap: forget the oldest one, and its gaps.
            _, sequence = self._keys.popitem(last=False)
            self._missing -= sequence.missing()


# -- counters and samples over a window --------------------------------------------------


class _WindowedCount:
    """A count over the last ``window``, kept in :data:`WINDOW_BUCKETS` time buckets:
    memory stays constant whatever the rate, and an event leaves the count between
    ``window`` and ``window`` plus one bucket (a thirtieth of it) after it happened."""

    def __init__(self, window: timedelta) -> None:
        self._width = window.total_seconds() / WINDOW_BUCKETS
        self._window = window.total_seconds()
        self._buckets: deque[tuple[float, int]] = deque()
        self.total = 0

    def add(self, at: datetime, amount: int = 1) -> None:
        start = math.floor(at.timestamp() / self._width) * self._width
        if self._buckets and self._buckets[-1][0] == start:
            self._buckets[-1] = (start, self._buckets[-1][1] + amount)
        else:
            self._buckets.append((start, amount))
        self.total += amount

    def over_window(self, now: datetime) -> int:
        horizon = now.timestamp() - self._window
        while self._buckets and self._buckets[0][0] + self._width <= horizon:
            self._buckets.popleft()
        return sum(count for start, count in self._buckets if start + self._width > horizon)


class _LagSamples:
    """Freshness lags observed over the last ``window`` (at most ``max_samples``)."""

    def __init__(self, window: timedelta, max_samples: int) -> None:
        self._window = window
        self._samples: deque[tuple[datetime, float]] = deque(maxlen=max_samples)
        self.last: float | None = None
        self.last_at: datetime | None = None
        self.last_event_time: datetime | None = None
        self.buckets = [0] * (len(LAG_BUCKETS_S) + 1)
        self.count = 0
        self.sum = 0.0

    def add(self, observed_at: datetime, event_time: datetime, lag_s: float) -> None:
        self._samples.append((observed_at, lag_s))
        self.last, self.last_at = lag_s, observed_at
        if self.last_event_time is None or event_time > self.last_event_time:
            self.last_event_time = event_time
        self.buckets[bisect_left(LAG_BUCKETS_S, lag_s)] += 1
        self.count += 1
        self.sum += lag_s

    def recent(self, now: datetime) -> list[float]:
        horizon = now - self._window
        while self._samples and self._samples[0][0] < horizon:
            self._samples.popleft()
        return sorted(lag for _, lag in self._samples)


class _ProductMeter:
    def __init__(self, window: timedelta, max_samples: int, max_keys: int) -> None:
        self.lags = _LagSamples(window, max_samples)
        self.sequence = SequenceTracker(max_keys)
        self.applied = _WindowedCount(window)
        self.errors = _WindowedCount(window)
        self.dead_letters = _WindowedCount(window)
        self.last_event_time: datetime | None = None
        #: Versions missing before events the worker holds durably (reported by it).
        self.held_missing = 0
        self.unknown_types: dict[str, int] = {}


# -- the worker's monitor ----------------------------------------------------------------


class SliRecorder(Protocol):
    """What a stream worker calls as it processes events (see :class:`SliMonitor`)."""

    def now(self) -> datetime: ...

    def observe(
        self,
        product: str,
        event_time: datetime,
        aggregate_key: str | None = None,
        aggregate_version: int | None = None,
        materialized_at: datetime | None = None,
    ) -> None: ...

    def observe_freshness(
        self, product: str, event_time: datetime, materialized_at: datetime
    ) -> None: ...

    def observe_error(self, product: str) -> None: ...

    def observe_dead_letter(
        self,
        product: str,
        aggregate_key: str | None = None,
        aggregate_version: int | None = None,
    ) -> None: ...

    def observe_unknown_type(self, product: str, event_type: str) -> None: ...

    def observe_held(self, product: str, missing: int) -> None: ...


@dataclass(frozen=True, slots=True)
class SliSnapshot:
    """A product's SLIs as measured at ``measured_at`` by one worker.

    Lags are in milliseconds; ``window_*`` counts cover the last ``window_s`` seconds,
    ``*_total`` and the sequence counts everything since the monitor started.
    """

    product: str
    measured_at: datetime
    window_s: float
    freshness_p50_ms: float | None = None
    freshness_p99_ms: float | None = None
    freshness_last_ms: float | None = None
    freshness_samples: int = 0
    last_event_time: datetime | None = None
    last_materialized_at: datetime | None = None
    events_received: int = 0
    events_missing: int = 0
    events_duplicate: int = 0
    events_lost: int = 0
    window_applied: int = 0
    window_errors: int = 0
    window_dead_letters: int = 0
    applied_total: int = 0
    errors_total: int = 0
    dead_letters_total: int = 0
    #: Events of types the worker does not know, per type (skipped by a tolerant
    #: reader, but counted so that a new producer version does not go unnoticed).
    unknown_types: tuple[tuple[str, int], ...] = ()

    @property
    def completeness(self) -> float | None:
        expected = self.events_received + self.events_missing
        if expected == 0:
            return None
        return max(self.events_received - self.events_lost, 0) / expected

    @property
    def processing_error_rate(self) -> float | None:
        attempts = self.window_applied + self.window_errors
        return self.window_errors / attempts if attempts else None

    @property
    def dead_letter_rate(self) -> float | None:
        processed = self.window_applied + self.window_dead_letters
        return self.window_dead_letters / processed if processed else None

    def slis(self) -> dict[str, float]:
        """The indicators by name (``freshness_ms`` is the window's p99), without the
        ones that have no measurement yet: the body of a catalog heartbeat."""
        values = {
            FRESHNESS_MS: self.freshness_p99_ms,
            "freshness_p50_ms": self.freshness_p50_ms,
            "freshness_last_ms": self.freshness_last_ms,
            COMPLETENESS: self.completeness,
            PROCESSING_ERROR_RATE: self.processing_error_rate,
            DEAD_LETTER_RATE: self.dead_letter_rate,
        }
        return {name: value for name, value in values.items() if value is not None}


class SliMonitor:
    """Measures the SLIs of the products one worker writes (module docstring).

    The hook the agents call, one call per event and product:

    - ``observe(product, event_time, aggregate_key, aggregate_version)`` when the agent
      reading the product's source topic applied an event (pass ``materialized_at`` too
      if the agent knows when the rows became visible);
    - ``observe_freshness(product, event_time, materialized_at)`` when rows are written
      (the worker's product sink does it, one sample per product and write);
    - ``observe_error(product)`` for each failed attempt to handle an event;
    - ``observe_dead_letter(product, aggregate_key, aggregate_version)`` when an event
      is dead-lettered (key and version unknown for a message that is no event at all).
    """

    def __init__(
        self,
        clock: Clock = _utc_now,
        *,
        window: timedelta = DEFAULT_WINDOW,
        max_samples: int = 10_000,
        max_keys: int = 100_000,
        products: Iterable[str] = (),
    ) -> None:
        if window <= timedelta(0):
            raise ValueError("window must be positive")
        self._clock = clock
        self.window = window
        self._max_samples = max_samples
        self._max_keys = max_keys
        self._products: dict[str, _ProductMeter] = {}
        for product in products:
            self._meter(product)

    def now(self) -> datetime:
        return self._clock()

    @property
    def products(self) -> tuple[str, ...]:
        return tuple(self._products)

    def _meter(self, product: str) -> _ProductMeter:
        meter = self._products.get(product)
        if meter is None:
            meter = self._products[product] = _ProductMeter(
                self.window, self._max_samples, self._max_keys
            )
        return meter

    def observe(
        self,
        product: str,
        event_time: datetime,
        aggregate_key: str | None = None,
        aggregate_version: int | None = None,
        materialized_at: datetime | None = None,
    ) -> None:
        meter = self._meter(product)
        now = self._clock()
        if aggregate_key is not None and aggregate_version is not None:
            outcome = meter.sequence.observe(aggregate_key, aggregate_version)
            if outcome is SequenceOutcome.DUPLICATE:
                return  # a redelivery: neither applied again nor fresh
        meter.applied.add(now)
        if meter.last_event_time is None or event_time > meter.last_event_time:
            meter.last_event_time = event_time
        if materialized_at is not None:
            self.observe_freshness(product, event_time, materialized_at)

    def observe_freshness(
        self, product: str, event_time: datetime, materialized_at: datetime
    ) -> None:
        lag_s = max((materialized_at - event_time).total_seconds(), 0.0)
        self._meter(product).lags.add(materialized_at, event_time, lag_s)

    def observe_error(self, product: str) -> None:
        self._meter(product).errors.add(self._clock())

    def observe_dead_letter(
        self,
        product: str,
        aggregate_key: str | None = None,
        aggregate_version: int | None = None,
    ) -> None:
        meter = self._meter(product)
        meter.dead_letters.add(self._clock())
        if aggregate_key is not None and aggregate_version is not None:
            meter.sequence.lose(aggregate_key, aggregate_version)

    def observe_unknown_type(self, product: str, event_type: str) -> None:
        """An event of a type the worker does not know was skipped."""
        counts = self._meter(product).unknown_types
        counts[event_type] = counts.get(event_type, 0) + 1

    def observe_held(self, product: str, missing: int) -> None:
        """How many versions are missing before the events the worker holds, as its
        durable state says (survives restarts, unlike the in-memory sequence, whose
        baseline is the first version a new worker sees)."""
        self._meter(product).held_missing = missing

    def snapshot(self, product: str) -> SliSnapshot:
        meter = self._meter(product)
        now = self._clock()
        recent = meter.lags.recent(now)
        p50, p99 = nearest_rank(recent, 0.5), nearest_rank(recent, 0.99)
        return SliSnapshot(
            product=product,
            measured_at=now,
            window_s=self.window.total_seconds(),
            freshness_p50_ms=None if p50 is None else p50 * 1000,
            freshness_p99_ms=None if p99 is None else p99 * 1000,
            freshness_last_ms=None if meter.lags.last is None else meter.lags.last * 1000,
            freshness_samples=len(recent),
            last_event_time=meter.last_event_time or meter.lags.last_event_time,
            last_materialized_at=meter.lags.last_at,
            events_received=meter.sequence.received,
            events_missing=max(meter.sequence.missing, meter.held_missing),
            events_duplicate=meter.sequence.duplicates,
            events_lost=meter.sequence.lost,
            window_applied=meter.applied.over_window(now),
            window_errors=meter.errors.over_window(now),
            window_dead_letters=meter.dead_letters.over_window(now),
            applied_total=meter.applied.total,
            errors_total=meter.errors.total,
            dead_letters_total=meter.dead_letters.total,
            unknown_types=tuple(sorted(meter.unknown_types.items())),
        )

    def snapshots(self) -> list[SliSnapshot]:
        return [self.snapshot(product) for product in self._products]

    def histogram(self, product: str) -> tuple[list[int], int, float]:
        """Cumulative freshness-lag buckets (per :data:`LAG_BUCKETS_S` and +Inf), count
        and sum in seconds, since the monitor started."""
        lags = self._meter(product).lags
        cumulative, running = [], 0
        for count in lags.buckets:
            running += count
            cumulative.append(running)
        return cumulative, lags.count, lags.sum


def merge_snapshots(snapshots: Sequence[SliSnapshot]) -> SliSnapshot:
    """One product's snapshots from several workers (each owns some partitions) as one.

    Counts add up. Quantiles of separate workers cannot be merged exactly, so the
    merged p50 and p99 are the highest of the workers': an upper bound, never better
    than the truth. The last lag is the one written most recently.
    """
    if not snapshots:
        raise ValueError("nothing to merge")
    first = snapshots[0]
    if any(snapshot.product != first.product for snapshot in snapshots):
        raise ValueError("snapshots of different products")
    if len(snapshots) == 1:
        return first

    def highest(values: Iterator[float | None]) -> float | None:
        present = [value for value in values if value is not None]
        return max(present) if present else None

    def newest(values: Iterator[datetime | None]) -> datetime | None:
        present = [value for value in values if value is not None]
        return max(present) if present else None

    latest = max(
        (s for s in snapshots if s.last_materialized_at is not None),
        key=lambda s: s.last_materialized_at or s.measured_at,
        default=None,
    )
    return SliSnapshot(
        product=first.product,
        measured_at=max(s.measured_at for s in snapshots),
        window_s=max(s.window_s for s in snapshots),
        freshness_p50_ms=highest(s.freshness_p50_ms for s in snapshots),
        freshness_p99_ms=highest(s.freshness_p99_ms for s in snapshots),
        freshness_last_ms=None if latest is None else latest.freshness_last_ms,
        freshness_samples=sum(s.freshness_samples for s in snapshots),
        last_event_time=newest(s.last_event_time for s in snapshots),
        last_materialized_at=newest(s.last_materialized_at for s in snapshots),
        events_received=sum(s.events_received for s in snapshots),
        events_missing=sum(s.events_missing for s in snapshots),
        events_duplicate=sum(s.events_duplicate for s in snapshots),
        events_lost=sum(s.events_lost for s in snapshots),
        window_applied=sum(s.window_applied for s in snapshots),
        window_errors=sum(s.window_errors for s in snapshots),
        window_dead_letters=sum(s.window_dead_letters for s in snapshots),
        applied_total=sum(s.applied_total for s in snapshots),
        errors_total=sum(s.errors_total for s in snapshots),
        dead_letters_total=sum(s.dead_letters_total for s in snapshots),
        unknown_types=_summed(s.unknown_types for s in snapshots),
    )


def _summed(counts: Iterable[tuple[tuple[str, int], ...]]) -> tuple[tuple[str, int], ...]:
    total: dict[str, int] = {}
    for pairs in counts:
        for name, count in pairs:
            total[name] = total.get(name, 0) + count
    return tuple(sorted(total.items()))


# -- the read side -----------------------------------------------------------------------


class ReadMeter:
    """Reads of each product's REST port, and those answered with a server error,
    over the last ``window``, as seen by one API process."""

    def __init__(self, clock: Clock = _utc_now, *, window: timedelta = DEFAULT_WINDOW) -> None:
        self._clock = clock
        self.window = window
        self._reads: dict[str, tuple[_WindowedCount, _WindowedCount]] = {}

    def _counts(self, product: str) -> tuple[_WindowedCount, _WindowedCount]:
        counts = self._reads.get(product)
        if counts is None:
            counts = self._reads[product] = (
                _WindowedCount(self.window),
                _WindowedCount(self.window),
            )
        return counts

    def record(self, product: str, *, server_error: bool) -> None:
        reads, errors = self._counts(product)
        now = self._clock()
        reads.add(now)
        if server_error:
            errors.add(now)

    def counts(self, product: str) -> tuple[int, int]:
        """``(reads, server errors)`` over the window."""
        reads, errors = self._counts(product)
        now = self._clock()
        return reads.over_window(now), errors.over_window(now)

    def totals(self, product: str) -> tuple[int, int]:
        reads, errors = self._counts(product)
        return reads.total, errors.total

    def error_rate(self, product: str) -> float | None:
        reads, errors = self.counts(product)
        return errors / reads if reads else None

    @property
    def products(self) -> tuple[str, ...]:
        return tuple(self._reads)


# -- Prometheus --------------------------------------------------------------------------

_STATUS_VALUE: Final = {
    SloStatus.MET: 0.0,
    SloStatus.AT_RISK: 1.0,
    SloStatus.BREACHED: 2.0,
    SloStatus.UNKNOWN: -1.0,
}


class _SliCollector(Collector):
    def __init__(
        self,
        monitor: SliMonitor | None,
        meter: ReadMeter | None,
        objectives: Mapping[str, Sequence[Objective]],
    ) -> None:
        self._monitor = monitor
        self._meter = meter
        self._objectives = objectives

    def describe(self) -> Iterable[Metric]:
        return []  # families vary with the products seen; no duplicate check needed

    def collect(self) -> Iterable[Metric]:
        yield from self._worker_metrics()
        yield from self._read_metrics()

    def _worker_metrics(self) -> Iterator[Metric]:
        if self._monitor is None:
            return
        monitor = self._monitor
        lag = HistogramMetricFamily(
            "dpmesh_product_freshness_lag_seconds",
            "Event time to visible in the read store, per product.",
            labels=["product"],
        )
        quantiles = GaugeMetricFamily(
            "dpmesh_product_freshness_lag_window_seconds",
            "Freshness lag over the SLI window: p50, p99 and the last value.",
            labels=["product", "statistic"],
        )
        completeness = GaugeMetricFamily(
            "dpmesh_product_completeness_ratio",
            "Events applied / events expected by aggregate version sequence.",
            labels=["product"],
        )
        missing = GaugeMetricFamily(
            "dpmesh_product_missing_events",
            "Versions skipped by the sequence and not arrived yet.",
            labels=["product"],
        )
        unknown = CounterMetricFamily(
            "dpmesh_product_unknown_type_events",
            "Events of a type the worker does not know, skipped, per product and type.",
            labels=["product", "type"],
        )
        events = CounterMetricFamily(
            "dpmesh_product_events",
            "Events per product by outcome: applied, error (failed attempt), dead_letter, "
            "duplicate.",
            labels=["product", "outcome"],
        )
        rates = GaugeMetricFamily(
            "dpmesh_product_event_ratio",
            "Processing error rate and dead-letter rate over the SLI window.",
            labels=["product", "rate"],
        )
        status = GaugeMetricFamily(
            "dpmesh_product_slo_status",
            "Per objective: 0 met, 1 at risk, 2 breached, -1 unknown.",
            labels=["product", "sli"],
        )
        for product in monitor.products:
            snapshot = monitor.snapshot(product)
            cumulative, _, total = monitor.histogram(product)
            bounds = [*(f"{b:g}" for b in LAG_BUCKETS_S), "+Inf"]
            lag.add_metric(
                [product], list(zip(bounds, (float(c) for c in cumulative), strict=True)), total
            )
            for name, value in (
                ("p50", snapshot.freshness_p50_ms),
                ("p99", snapshot.freshness_p99_ms),
                ("last", snapshot.freshness_last_ms),
            ):
                if value is not None:
                    quantiles.add_metric([product, name], value / 1000)
            if snapshot.completeness is not None:
                completeness.add_metric([product], snapshot.completeness)
            missing.add_metric([product], snapshot.events_missing)
            for outcome, value in (
                ("applied", snapshot.applied_total),
                ("error", snapshot.errors_total),
                ("dead_letter", snapshot.dead_letters_total),
                ("duplicate", snapshot.events_duplicate),
            ):
                events.add_metric([product, outcome], value)
            for event_type, count in snapshot.unknown_types:
                unknown.add_metric([product, event_type], count)
            for rate, ratio in (
                (PROCESSING_ERROR_RATE, snapshot.processing_error_rate),
                (DEAD_LETTER_RATE, snapshot.dead_letter_rate),
            ):
                if ratio is not None:
                    rates.add_metric([product, rate], ratio)
            slis = snapshot.slis()
            for evaluation in evaluate(self._objectives.get(product, ()), slis):
                if evaluation.objective.sli in slis:
                    status.add_metric(
                        [product, evaluation.objective.sli], _STATUS_VALUE[evaluation.status]
                    )
        yield from (lag, quantiles, completeness, missing, events, unknown, rates, status)

    def _read_metrics(self) -> Iterator[Metric]:
        if self._meter is None:
            return
        reads = CounterMetricFamily(
            "dpmesh_product_reads",
            "Reads of each product's REST port by outcome (ok, server_error).",
            labels=["product", "outcome"],
        )
        for product in self._meter.products:
            total, errors = self._meter.totals(product)
            reads.add_metric([product, "ok"], total - errors)
            reads.add_metric([product, "server_error"], errors)
        yield reads


def export_slis(
    registry: CollectorRegistry,
    *,
    monitor: SliMonitor | None = None,
    meter: ReadMeter | None = None,
    objectives: Mapping[str, Sequence[Objective]] | None = None,
) -> Collector:
    """Publish the SLIs of ``monitor`` (a worker) and/or ``meter`` (an API) on
    ``registry``, computed at each scrape; the collector is returned for unregistering."""
    collector = _SliCollector(monitor, meter, objectives or {})
    registry.register(collector)
    return collector
