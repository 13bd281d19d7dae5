"""Which source offsets a worker may commit: only those whose every effect is durable.

faust commits the highest offset it has *acknowledged* per partition, and it takes
offsets it never delivered for "gaps" (compacted or transactional logs) that it may
commit past. After a rebalance or a seek it can also drop records it had fetched
before. Each of these loses records for good once the offset is committed: the
crash tests of the supply chain worker found unbroken offset ranges of an internal
topic that no agent ever saw.

:class:`OffsetProgress` is the worker's own account, kept by ``process_events``:

- a record is *done* when everything it produced is durable: its state and product
  rows committed in the read store, the records it forwarded or published
  acknowledged by the broker, or its dead letter acknowledged;
- per partition, records are done one after another (agents run with concurrency 1),
  so the account is one number, the next offset expected;
- the consumer commits ``min(what faust wants, next expected)``, never more;
- a record whose offset is past the next expected one: the broker is asked for the
  first record from the expected offset. If that is the record in hand, the log has a
  hole there (compaction, transaction markers, a batch the broker numbered but did not
  keep) and nothing was skipped. Otherwise the consumer skipped records: the partition
  is rewound to them, and records are ignored until they arrive (a rewind that does not
  complete within ``REWIND_DEADLINE_S`` crashes the worker, whose restart resumes from
  the last durable commit);
- a record below the next expected one is a redelivery of a done record: skipped.

So a crash at any instruction resumes at or before the first record not yet done,
and the read store's per-aggregate versions make any redelivery harmless.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

__all__ = ["OffsetProgress", "RecordsSkipped", "Verdict"]

logger = logging.getLogger(__name__)

#: How long a partition may wait for the records it was rewound to.
REWIND_DEADLINE_S = 120.0

TP = TypeVar("TP", bound=tuple[str, int])


class Verdict(StrEnum):
    PROCESS = "process"
    #: A redelivery of a record already done.
    DONE_BEFORE = "done_before"
    #: The consumer skipped records; the partition must be rewound to ``expected``.
    REWIND = "rewind"
    #: A record fetched before a rewind, on its way out: ignore it, it comes again.
    STALE = "stale"


class RecordsSkipped(RuntimeError):
    """A partition was rewound and the skipped records never came back."""


@dataclass(slots=True)
class _Partition:
    #: The next offset expected from the consumer (all before it were handled).
    next_offset: int | None = None
    rewinding_since: float | None = None
    committed: int | None = None
    #: Handled records whose effect is still on its way (a forward not yet acknowledged).
    pending: set[int] = field(default_factory=set)

    @property
    def durable(self) -> int | None:
        """The offset to commit: before it, every record's effect is durable."""
        return min(self.pending) if self.pending else self.next_offset


class OffsetProgress:
    """Per partition of the tracked topics: the next offset not yet durably done."""

    def __init__(self, *, rewind_deadline_s: float = REWIND_DEADLINE_S) -> None:
        self._partitions: dict[tuple[str, int], _Partition] = {}
        #: Topics whose records are reported here; others are committed as faust wants.
        self._tracked: set[str] = set()
        self._rewind_deadline_s = rewind_deadline_s
        self.rewinds = 0

    def resume_from(self, committed: Mapping[TP, int | None]) -> None:
        """The group's committed offsets, as the consumer seeks to them on assignment."""
        for tp, offset in committed.items():
            if offset is not None and offset >= 0:
                part = self._partitions.setdefault(_key(tp), _Partition())
                part.next_offset = offset
                part.committed = offset
                part.rewinding_since = None

    def forget(self, tps: Iterable[TP]) -> None:
        """Partitions revoked: another worker resumes them from the last commit."""
        for tp in tps:
            self._partitions.pop(_key(tp), None)

    def check(self, tp: TP, offset: int) -> Verdict:
        """What to do with the record at ``offset`` of ``tp``."""
        self._tracked.add(str(tp[0]))
        part = self._partitions.setdefault(_key(tp), _Partition())
        expected = part.next_offset
        if expected is None or offset == expected:
            # Without a committed offset, the first record is the start (new group:
            # the earliest offset).
            part.rewinding_since = None
            return Verdict.PROCESS
        if offset < expected:
            return Verdict.DONE_BEFORE
        if part.rewinding_since is None:
            part.rewinding_since = time.monotonic()
            self.rewinds += 1
            logger.error(
                "records %s..%s of %s[%s] were skipped by the consumer; rewinding to %s",
                expected,
                offset - 1,
                tp[0],
                tp[1],
                expected,
            )
            return Verdict.REWIND
        if time.monotonic() - part.rewinding_since > self._rewind_deadline_s:
            raise RecordsSkipped(
                f"{tp[0]}[{tp[1]}] was rewound to offset {expected}, but the records from "
                f"there did not come back within {self._rewind_deadline_s:.0f} s"
            )
        return Verdict.STALE

    def rewind_to(self, tp: TP, offset: int) -> None:
        """The first record after the done ones is at ``offset`` (the log may have a
        hole before it): wait for that one."""
        part = self._partitions.setdefault(_key(tp), _Partition())
        part.next_offset = offset

    def hole(self, tp: TP, offset: int) -> None:
        """The broker has no records between the next expected offset and ``offset``:
        nothing was skipped, the record at ``offset`` is the next to process."""
        part = self._partitions.setdefault(_key(tp), _Partition())
        logger.info(
            "%s[%s] has no records %s..%s (a hole in the log); going on at %s",
            tp[0],
            tp[1],
            part.next_offset,
            offset - 1,
            offset,
        )
        part.next_offset = offset
        part.rewinding_since = None
        self.rewinds -= 1

    def expected(self, tp: TP) -> int | None:
        part = self._partitions.get(_key(tp))
        return None if part is None else part.next_offset

    def done(self, tp: TP, offset: int) -> None:
        """Everything the record at ``offset`` produced is durable."""
        part = self._partitions.setdefault(_key(tp), _Partition())
        part.next_offset = offset + 1

    def handled(self, tp: TP, offset: int) -> None:
        """The record at ``offset`` is handled, but its effect is still on its way
        (:meth:`settled` says when it arrives): the next record may go, the commit waits."""
        part = self._partitions.setdefault(_key(tp), _Partition())
        part.next_offset = offset + 1
        part.pending.add(offset)

    def settled(self, tp: TP, offset: int) -> None:
        """The effect of a :meth:`handled` record is durable (a revoked partition's is
        ignored: its next owner starts from the last commit)."""
        part = self._partitions.get(_key(tp))
        if part is not None:
            part.pending.discard(offset)

    def clamp(self, offsets: Mapping[TP, int]) -> dict[TP, int]:
        """``offsets`` to commit, lowered to what is done; partitions with nothing new
        done since the last commit are left out."""
        result: dict[TP, int] = {}
        for tp, offset in offsets.items():
            if str(tp[0]) not in self._tracked:
                result[tp] = offset
                continue
            part = self._partitions.get(_key(tp))
            durable = None if part is None else part.durable
            if part is None or durable is None:
                continue  # nothing done here by this worker: nothing to commit
            target = min(offset, durable)
            if part.committed is None or target > part.committed:
                result[tp] = target
        return result

    def uncommitted(self, assigned: Iterable[TP]) -> dict[TP, int]:
        """Done offsets not yet committed, for the assigned partitions."""
        result: dict[TP, int] = {}
        for tp in assigned:
            if str(tp[0]) not in self._tracked:
                continue
            part = self._partitions.get(_key(tp))
            durable = None if part is None else part.durable
            if part is None or durable is None:
                continue
            if part.committed is None or durable > part.committed:
                result[tp] = durable
        return result

    def committed(self, offsets: Mapping[TP, int]) -> None:
        for tp, offset in offsets.items():
            part = self._partitions.setdefault(_key(tp), _Partition())
            part.committed = max(part.committed or 0, offset)


def _key(tp: tuple[str, int]) -> tuple[str, int]:
    return (str(tp[0]), int(tp[1]))
