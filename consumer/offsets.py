"""Per-partition completion tracking -> the offset that is safe to commit (SPEC section 6).

Owns: which offsets of a partition were handed out and which are finished (synced, skipped, or
acknowledged by the DLQ), and from that the commit point: the lowest unfinished offset, or one
past the newest seen when all are finished. Offsets may have gaps (compaction, transaction
markers). Pure: no Kafka types; partitions are keyed by any hashable value and an assignment
generation guards against late results of an old assignment.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field


@dataclass
class PartitionOffsets:
    """Completion state of one partition within one assignment generation."""

    committed: int | None = None
    _seen: deque[int] = field(default_factory=deque)
    _done: set[int] = field(default_factory=set)
    _open: set[int] = field(default_factory=set)
    _last_seen: int | None = None
    _first_seen: int | None = None

    def add(self, offset: int) -> None:
        """Record an offset handed to processing; offsets of a partition arrive increasing."""
        if self._last_seen is not None and offset <= self._last_seen:
            raise ValueError(f"offset {offset} after {self._last_seen}: not increasing")
        self._seen.append(offset)
        self._open.add(offset)
        self._last_seen = offset
        if self._first_seen is None:
            self._first_seen = offset

    @property
    def newest(self) -> int | None:
        """The newest offset added, if any (a re-fetched record at or below it is a repeat)."""
        return self._last_seen

    def complete(self, offset: int) -> None:
        """Mark an offset finished; unknown offsets (never added, or already passed) are ignored."""
        # only open offsets: a gap's offset or one not yet added must not count as finished
        if offset in self._open:
            self._open.discard(offset)
            self._done.add(offset)
            while self._seen and self._seen[0] in self._done:
                self._done.discard(self._seen.popleft())

    def commit_point(self) -> int | None:
        """The next offset to commit (Kafka commits the next offset to read), if any is known."""
        if self._seen:
            return self._seen[0]
        return None if self._last_seen is None else self._last_seen + 1

    def pending_commit(self) -> int | None:
        """The commit point when it is ahead of what was committed, else None."""
        point = self.commit_point()
        if point is None or (self.committed is not None and point <= self.committed):
            return None
        return point

    @property
    def unfinished(self) -> int:
        """How many seen offsets are not finished yet."""
        return len(self._open)

    @property
    def span(self) -> int:
        """Distance from the commit point to the newest seen offset (0 when all are finished)."""
        if not self._seen or self._last_seen is None:
            return 0
        return self._last_seen - self._seen[0] + 1

    @property
    def uncommitted(self) -> int:
        """Distance from the last commit (or the first offset of this assignment when nothing
        was committed yet) to the newest seen offset; grows while commits fail."""
        if self._last_seen is None:
            return 0
        base = self.committed if self.committed is not None else self._first_seen
        assert base is not None  # noqa: S101 - set together with _last_seen
        return max(0, self._last_seen + 1 - base)

    @property
    def distance(self) -> int:
        """What backpressure bounds: the larger of ``span`` and ``uncommitted``."""
        return max(self.span, self.uncommitted)


class OffsetTracker:
    """Completion state of every assigned partition, tagged with an assignment generation."""

    def __init__(self) -> None:
        self.generation = 0
        self._partitions: dict[Hashable, PartitionOffsets] = {}

    def assign(self, partitions: Iterable[Hashable]) -> int:
        """Start tracking newly assigned partitions; returns the new generation."""
        self.generation += 1
        for tp in partitions:
            self._partitions.setdefault(tp, PartitionOffsets())
        return self.generation

    def revoke(self, partitions: Iterable[Hashable]) -> dict[Hashable, int]:
        """Stop tracking; returns the commit points that were still ready for them."""
        ready = {}
        for tp in partitions:
            state = self._partitions.pop(tp, None)
            if state is not None and (point := state.pending_commit()) is not None:
                ready[tp] = point
        self.generation += 1
        return ready

    def add(self, tp: Hashable, offset: int) -> None:
        self._partitions.setdefault(tp, PartitionOffsets()).add(offset)

    def complete(self, tp: Hashable, offset: int, generation: int) -> bool:
        """Mark done; False (and nothing changes) when the result is from an old assignment."""
        state = self._partitions.get(tp)
        if state is None or generation != self.generation:
            return False
        state.complete(offset)
        return True

    def ready(self) -> dict[Hashable, int]:
        """Commit points ahead of the last commit, per partition."""
        out = {}
        for tp, state in self._partitions.items():
            point = state.pending_commit()
            if point is not None:
                out[tp] = point
        return out

    def mark_committed(self, offsets: dict[Hashable, int]) -> None:
        for tp, offset in offsets.items():
            state = self._partitions.get(tp)
            if state is not None:
                state.committed = offset

    def get(self, tp: Hashable) -> PartitionOffsets | None:
        return self._partitions.get(tp)

    @property
    def partitions(self) -> list[Hashable]:
        return list(self._partitions)

    @property
    def unfinished(self) -> int:
        return sum(s.unfinished for s in self._partitions.values())
