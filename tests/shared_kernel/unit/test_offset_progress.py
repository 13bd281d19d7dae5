"""OffsetProgress: the offsets a stream worker may commit, and skipped records found."""

from __future__ import annotations

import pytest

from shared_kernel.infrastructure.streams.progress import OffsetProgress, RecordsSkipped, Verdict

TP = ("orders", 0)
OTHER = ("orders", 1)


def test_records_in_order_are_processed_and_committed_up_to_the_last_done() -> None:
    progress = OffsetProgress()
    progress.resume_from({TP: 10})
    assert progress.check(TP, 10) is Verdict.PROCESS
    progress.done(TP, 10)
    assert progress.check(TP, 11) is Verdict.PROCESS
    # faust wants to commit 14 (it acknowledged more than is done): only 11 is.
    assert progress.clamp({TP: 14}) == {TP: 11}
    progress.committed({TP: 11})
    # Nothing new done since: nothing to commit.
    assert progress.clamp({TP: 14}) == {}


def test_a_redelivered_record_is_done_before() -> None:
    progress = OffsetProgress()
    progress.resume_from({TP: 5})
    progress.done(TP, 5)
    assert progress.check(TP, 3) is Verdict.DONE_BEFORE


def test_a_jump_asks_for_a_rewind_then_stale_records_are_ignored_until_the_target() -> None:
    progress = OffsetProgress()
    progress.resume_from({TP: 0})
    progress.done(TP, 0)
    assert progress.check(TP, 5) is Verdict.REWIND
    assert progress.expected(TP) == 1
    progress.rewind_to(TP, 1)
    assert progress.check(TP, 6) is Verdict.STALE  # fetched before the seek
    assert progress.check(TP, 1) is Verdict.PROCESS
    assert progress.rewinds == 1


def test_a_hole_in_the_log_is_not_a_skip() -> None:
    progress = OffsetProgress()
    progress.resume_from({TP: 0})
    progress.done(TP, 0)
    assert progress.check(TP, 5) is Verdict.REWIND
    progress.hole(TP, 5)
    assert progress.expected(TP) == 5
    assert progress.check(TP, 5) is Verdict.PROCESS
    assert progress.rewinds == 0


def test_a_rewind_that_never_completes_stops_the_worker() -> None:
    progress = OffsetProgress(rewind_deadline_s=0.0)
    progress.resume_from({TP: 0})
    assert progress.check(TP, 3) is Verdict.REWIND
    with pytest.raises(RecordsSkipped, match="did not come back"):
        progress.check(TP, 4)


def test_without_a_committed_offset_the_first_record_is_the_start() -> None:
    progress = OffsetProgress()
    assert progress.check(TP, 42) is Verdict.PROCESS
    progress.done(TP, 42)
    assert progress.uncommitted([TP, OTHER]) == {TP: 43}


def test_topics_not_reported_here_are_committed_as_faust_wants() -> None:
    progress = OffsetProgress()
    progress.check(TP, 0)
    assert progress.clamp({("changelog", 0): 9}) == {("changelog", 0): 9}


def test_revoked_partitions_are_forgotten() -> None:
    progress = OffsetProgress()
    progress.resume_from({TP: 7, OTHER: 3})
    progress.check(TP, 7)
    progress.done(TP, 7)
    progress.forget([TP])
    assert progress.expected(TP) is None
    assert progress.uncommitted([TP, OTHER]) == {}


def test_a_handled_record_whose_effect_is_on_its_way_holds_the_commit_back() -> None:
    progress = OffsetProgress()
    progress.resume_from({TP: 0})
    progress.handled(TP, 0)  # a forward sent, not yet acknowledged
    assert progress.check(TP, 1) is Verdict.PROCESS  # the next record may go
    progress.handled(TP, 1)
    progress.settled(TP, 1)  # acknowledgements may come in any order
    assert progress.clamp({TP: 2}) == {}  # offset 0's effect is still on its way
    progress.settled(TP, 0)
    assert progress.clamp({TP: 2}) == {TP: 2}


def test_the_effect_of_a_revoked_partition_is_ignored() -> None:
    progress = OffsetProgress()
    progress.resume_from({TP: 0})
    progress.handled(TP, 0)
    progress.forget([TP])
    progress.settled(TP, 0)
    assert progress.expected(TP) is None
