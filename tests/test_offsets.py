"""Per-partition completion tracking and the safe commit point (SPEC section 6)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from consumer.offsets import OffsetTracker, PartitionOffsets
from tests.factories import PROPERTY


def partition(*offsets: int) -> PartitionOffsets:
    state = PartitionOffsets()
    for offset in offsets:
        state.add(offset)
    return state


# -- one partition --------------------------------------------------------------------------------


def test_nothing_seen_means_nothing_to_commit() -> None:
    state = PartitionOffsets()

    assert state.commit_point() is None
    assert state.pending_commit() is None
    assert (state.unfinished, state.span) == (0, 0)


def test_the_commit_point_is_the_lowest_unfinished_offset() -> None:
    state = partition(10, 11, 12)

    assert state.commit_point() == 10
    state.complete(11)
    assert state.commit_point() == 10
    state.complete(10)
    assert state.commit_point() == 12


def test_when_all_are_finished_the_commit_point_is_one_past_the_newest() -> None:
    state = partition(10, 11)

    state.complete(11)
    state.complete(10)

    assert state.commit_point() == 12
    assert (state.unfinished, state.span) == (0, 0)


def test_out_of_order_completion_commits_only_the_contiguous_prefix() -> None:
    state = partition(0, 1, 2, 3, 4)

    for offset, point in [(4, 0), (2, 0), (0, 1), (1, 3), (3, 5)]:
        state.complete(offset)
        assert state.commit_point() == point


def test_gaps_between_offsets_do_not_hold_the_commit_back() -> None:
    # compaction and transaction markers leave offsets that are never delivered
    state = partition(3, 7, 20)

    state.complete(3)
    assert state.commit_point() == 7
    state.complete(7)
    assert state.commit_point() == 20
    state.complete(20)
    assert state.commit_point() == 21


def test_offsets_must_arrive_increasing() -> None:
    state = partition(5)

    with pytest.raises(ValueError, match="not increasing"):
        state.add(5)
    with pytest.raises(ValueError, match="not increasing"):
        state.add(4)


def test_completing_an_offset_twice_or_one_already_passed_changes_nothing() -> None:
    state = partition(1, 2, 3)
    state.complete(1)

    state.complete(1)
    state.complete(0)

    assert (state.commit_point(), state.unfinished) == (2, 2)


def test_completing_an_offset_in_a_gap_or_not_yet_added_is_ignored() -> None:
    state = partition(5, 7)

    state.complete(6)
    state.complete(8)

    assert state.unfinished == 2
    state.add(8)
    state.complete(5)
    state.complete(7)
    assert state.commit_point() == 8, "offset 8 finished before it was added"
    assert state.unfinished == 1


def test_a_new_offset_after_everything_finished_becomes_the_commit_point() -> None:
    state = partition(1)
    state.complete(1)

    state.add(9)

    assert state.commit_point() == 9
    assert state.span == 1


def test_pending_commit_is_only_ahead_of_the_last_commit() -> None:
    state = partition(1, 2)
    state.complete(1)
    assert state.pending_commit() == 2

    state.committed = 2
    assert state.pending_commit() is None

    state.complete(2)
    assert state.pending_commit() == 3


def test_span_measures_from_the_commit_point_to_the_newest_offset() -> None:
    state = partition(100, 101, 150)

    assert state.span == 51
    state.complete(100)
    assert state.span == 50
    assert state.unfinished == 2


# -- a reference model ----------------------------------------------------------------------------


class PartitionModel(RuleBasedStateMachine):
    """Random adds, completions (known and unknown offsets) and commits against a set model."""

    def __init__(self) -> None:
        super().__init__()
        self.state = PartitionOffsets()
        self.seen: list[int] = []
        self.done: set[int] = set()
        self.committed: int | None = None
        self.next = 0

    @rule(gap=st.integers(min_value=0, max_value=3))
    def add(self, gap: int) -> None:
        offset = self.next + gap
        self.state.add(offset)
        self.seen.append(offset)
        self.next = offset + 1

    @precondition(lambda self: bool(self.seen))
    @rule(data=st.data())
    def complete_a_seen_offset(self, data: st.DataObject) -> None:
        offset = data.draw(st.sampled_from(self.seen))
        self.state.complete(offset)
        self.done.add(offset)

    @rule(offset=st.integers(min_value=-2, max_value=60))
    def complete_any_offset(self, offset: int) -> None:
        self.state.complete(offset)
        if offset in self.seen:
            self.done.add(offset)

    @rule()
    def commit(self) -> None:
        point = self.state.pending_commit()
        if point is not None:
            self.state.committed = point
            self.committed = point

    def expected_point(self) -> int | None:
        open_offsets = [o for o in self.seen if o not in self.done]
        if open_offsets:
            return min(open_offsets)
        return max(self.seen) + 1 if self.seen else None

    @invariant()
    def commit_point_is_the_lowest_open_offset(self) -> None:
        assert self.state.commit_point() == self.expected_point()

    @invariant()
    def everything_before_the_commit_point_is_finished(self) -> None:
        point = self.state.commit_point()
        if point is not None:
            assert all(o in self.done for o in self.seen if o < point)

    @invariant()
    def counts_match(self) -> None:
        open_offsets = [o for o in self.seen if o not in self.done]
        assert self.state.unfinished == len(open_offsets)
        expected_span = self.seen[-1] - min(open_offsets) + 1 if open_offsets else 0
        assert self.state.span == expected_span

    @invariant()
    def the_distance_to_the_last_commit_is_measured_from_it(self) -> None:
        if not self.seen:
            assert (self.state.uncommitted, self.state.newest) == (0, None)
            return
        base = self.committed if self.committed is not None else self.seen[0]
        assert self.state.newest == self.seen[-1]
        assert self.state.uncommitted == self.seen[-1] + 1 - base
        assert self.state.distance >= self.state.span

    @invariant()
    def commits_never_go_backwards(self) -> None:
        point = self.state.pending_commit()
        if point is not None and self.committed is not None:
            assert point > self.committed


TestPartitionOffsetsMatchASetModel = PartitionModel.TestCase
TestPartitionOffsetsMatchASetModel.settings = PROPERTY


# -- the tracker ----------------------------------------------------------------------------------


def test_each_assignment_and_revocation_starts_a_new_generation() -> None:
    tracker = OffsetTracker()

    first = tracker.assign(["a", "b"])
    tracker.revoke(["a", "b"])
    second = tracker.assign(["a"])

    assert first < second
    assert tracker.generation == second


def test_a_result_of_an_old_assignment_is_ignored() -> None:
    tracker = OffsetTracker()
    old = tracker.assign(["p0"])
    tracker.add("p0", 5)
    tracker.revoke(["p0"])
    new = tracker.assign(["p0"])
    tracker.add("p0", 5)

    assert tracker.complete("p0", 5, old) is False
    assert tracker.ready() == {"p0": 5}
    assert tracker.complete("p0", 5, new) is True
    assert tracker.ready() == {"p0": 6}


def test_a_result_for_a_partition_not_assigned_is_ignored() -> None:
    tracker = OffsetTracker()
    generation = tracker.assign(["p0"])

    assert tracker.complete("p1", 0, generation) is False


def test_revoking_returns_the_ready_points_of_those_partitions_only() -> None:
    tracker = OffsetTracker()
    generation = tracker.assign(["p0", "p1", "p2"])
    for tp in ("p0", "p1", "p2"):
        tracker.add(tp, 0)
        tracker.add(tp, 1)
    tracker.complete("p0", 0, generation)
    tracker.complete("p1", 0, generation)
    tracker.mark_committed({"p1": 1})

    ready = tracker.revoke(["p0", "p1", "p2", "never-assigned"])

    # p1 was committed already; p2 finished nothing, so it may only commit its first offset
    assert ready == {"p0": 1, "p2": 0}
    assert tracker.partitions == []


def test_ready_lists_only_partitions_that_moved_since_the_last_commit() -> None:
    tracker = OffsetTracker()
    generation = tracker.assign(["p0", "p1"])
    tracker.add("p0", 0)
    tracker.add("p1", 0)
    tracker.complete("p0", 0, generation)

    assert tracker.ready() == {"p0": 1, "p1": 0}
    tracker.mark_committed({"p0": 1, "p1": 0, "gone": 4})
    assert tracker.ready() == {}


def test_the_tracker_counts_unfinished_offsets_across_partitions() -> None:
    tracker = OffsetTracker()
    generation = tracker.assign(["p0", "p1"])
    for offset in range(3):
        tracker.add("p0", offset)
    tracker.add("p1", 10)
    tracker.complete("p0", 1, generation)

    assert tracker.unfinished == 3
    state = tracker.get("p0")
    assert state is not None
    assert state.commit_point() == 0
    assert tracker.get("unknown") is None


def test_assigning_again_keeps_the_state_of_partitions_still_owned() -> None:
    tracker = OffsetTracker()
    tracker.assign(["p0"])
    tracker.add("p0", 3)

    tracker.assign(["p0", "p1"])

    state = tracker.get("p0")
    assert state is not None
    assert state.commit_point() == 3
    assert sorted(str(p) for p in tracker.partitions) == ["p0", "p1"]


# -- exhaustive: every completion order of small partitions ----------------------------------------


@pytest.mark.parametrize("offsets", [(0, 1, 2, 3), (0, 2, 5, 6), (10, 11, 13, 20, 21)])
def test_in_every_completion_order_the_commit_never_passes_an_unfinished_offset(
    offsets: tuple[int, ...],
) -> None:
    for order in itertools.permutations(offsets):
        state = partition(*offsets)
        done: set[int] = set()
        points = []
        for offset in order:
            state.complete(offset)
            done.add(offset)
            point = state.commit_point()
            assert point is not None
            assert all(o in done for o in offsets if o < point), (order, point)
            unfinished = [o for o in offsets if o not in done]
            assert point == (min(unfinished) if unfinished else offsets[-1] + 1)
            points.append(point)
        assert points == sorted(points), f"the commit point went back in {order}"
        assert points[-1] == offsets[-1] + 1


@given(
    gaps=st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=40),
    data=st.data(),
)
@PROPERTY
def test_a_stuck_offset_holds_the_commit_and_the_distance_grows_past_any_bound(
    gaps: list[int], data: st.DataObject
) -> None:
    offsets = list(itertools.accumulate(gaps))
    state = partition(*offsets)
    stuck = data.draw(st.sampled_from(offsets))
    for offset in offsets:
        if offset != stuck:
            state.complete(offset)

    assert state.commit_point() == stuck
    assert state.unfinished == 1
    assert state.span == offsets[-1] - stuck + 1
    # what backpressure compares with max_uncommitted_per_partition
    assert state.distance == offsets[-1] + 1 - offsets[0]
    state.complete(stuck)
    assert state.commit_point() == offsets[-1] + 1
    assert state.span == 0


def test_the_distance_counts_from_the_last_commit_while_commits_fail() -> None:
    state = partition(0, 1, 2, 3)
    for offset in range(4):
        state.complete(offset)
    assert (state.span, state.uncommitted) == (0, 4)

    state.committed = 4
    assert state.distance == 0
    state.add(4)
    state.add(5)
    state.complete(4)
    state.complete(5)
    # the commit of 6 failed: nothing is open, but 2 finished offsets are not committed
    assert (state.span, state.uncommitted, state.distance) == (0, 2, 2)


def test_newest_tells_a_record_fetched_again_from_a_new_one() -> None:
    state = partition(3, 4)

    assert state.newest == 4
    state.complete(3)
    assert state.newest == 4
    assert PartitionOffsets().newest is None
