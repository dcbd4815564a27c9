"""Each bad record dead-lettered once, across crashes and rebalances (SPEC sections 6 and 7).

A record is dead-lettered before its offset is committed past, so after a crash (or a revocation
whose commit failed) it is fetched again and would be dead-lettered again. To see that it is
already in the DLQ, every commit of a source partition carries in its metadata a *mark*: for
each DLQ partition, a DLQ offset at or before every letter for that source partition's records
at or after the committed offset. Whoever owns the partition next reads the DLQ from the mark to
its end, finds those letters by their ``x-source-*`` headers, and does not write them again.

Owns: ``Ledger`` (the letters of each assigned source partition, the DLQ positions any later
letter must come after, and the mark to commit), and encoding and decoding the mark. Pure: the
intake reads and writes Kafka. Must not: decide what is dead-lettered.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

MARK_PREFIX = "classter-hubspot/dlq-v1"
# Kafka refuses commit metadata above offset.metadata.max.bytes (4096 by default); a mark longer
# than this is not sent (the commit goes without it, and a repeat after a crash is possible)
MAX_MARK = 3000

Positions = dict[int, int]


def encode_mark(dlq_topic: str, positions: Mapping[int, int]) -> str:
    """``classter-hubspot/dlq-v1 <topic> 0:12,1:40``; empty when too long to commit."""
    body = ",".join(f"{p}:{o}" for p, o in sorted(positions.items()))
    mark = f"{MARK_PREFIX} {dlq_topic} {body}"
    return mark if len(mark) <= MAX_MARK else ""


def decode_mark(metadata: str | None, dlq_topic: str) -> Positions | None:
    """The positions of a mark for ``dlq_topic``; None for no mark, another DLQ or a foreign or
    malformed one (commit metadata is free text: other tools write it too)."""
    parts = (metadata or "").split(" ")
    if len(parts) != 3 or parts[0] != MARK_PREFIX or parts[1] != dlq_topic:
        return None
    positions: Positions = {}
    for pair in filter(None, parts[2].split(",")):
        partition, sep, offset = pair.partition(":")
        if not sep or not partition.isdigit() or not offset.isdigit():
            return None
        positions[int(partition)] = int(offset)
    return positions


@dataclass(frozen=True, slots=True)
class LetterSource:
    """What a DLQ record's ``x-source-*`` headers say it was written for, and by which group."""

    topic: str
    partition: int
    offset: int
    group: str | None


def letter_source(headers: Iterable[tuple[str, bytes]]) -> LetterSource | None:
    """The source a DLQ record names in its ``x-source-*`` headers; None when they are missing
    or malformed (a record someone else put on the DLQ)."""
    found = {k: v for k, v in headers if k.startswith("x-source-")}
    try:
        topic = found["x-source-topic"].decode()
        partition = int(found["x-source-partition"])
        offset = int(found["x-source-offset"])
        group = found["x-source-group"].decode() if "x-source-group" in found else None
    except (KeyError, UnicodeDecodeError, ValueError):
        return None
    return LetterSource(topic, partition, offset, group)


def read_back_from(marks: Iterable[Mapping[int, int]]) -> Positions:
    """Where to start reading each DLQ partition to see every letter the marks cover."""
    start: Positions = {}
    for positions in marks:
        for partition, offset in positions.items():
            start[partition] = min(start.get(partition, offset), offset)
    return start


def is_repeat(
    letter: LetterSource,
    *,
    group: str,
    mark: Mapping[int, int] | None,
    committed: int | None,
    dlq_partition: int,
    dlq_offset: int,
) -> bool:
    """Whether the DLQ record at ``dlq_partition``/``dlq_offset`` is this group's letter for a
    record that comes again: written by ``group`` (another deployment sharing the DLQ topic, or
    any other writer, never stands in for ours), for a record at or after the offset its source
    partition was committed at, and at or after that commit's own mark (a letter from before an
    offset reset is older than the mark committed since, and does not count)."""
    if letter.group != group or mark is None or committed is None:
        return False
    floor = mark.get(dlq_partition)
    return letter.offset >= committed and floor is not None and dlq_offset >= floor


class Ledger:
    """The DLQ as far as this process knows it.

    ``floor`` is, per DLQ partition, an offset no later than that of any letter not yet known:
    the DLQ's end when the process started, raised past each acknowledged letter (a letter sent
    later is appended after it). A letter on its way holds the floor as it was when it was sent,
    which is no later than wherever it lands.
    """

    def __init__(self) -> None:
        self._floor: Positions = {}
        self._letters: dict[Hashable, dict[int, tuple[int, int]]] = {}
        self._sending: dict[Hashable, dict[int, Positions]] = {}

    def seed(self, ends: Mapping[int, int]) -> None:
        """The DLQ's end offsets, read at start."""
        for partition, offset in ends.items():
            self._floor[partition] = max(self._floor.get(partition, offset), offset)

    @property
    def seeded(self) -> bool:
        return bool(self._floor)

    def written(self, source: Hashable, offset: int) -> bool:
        """Whether the DLQ holds a letter for record ``offset`` of ``source`` already."""
        return offset in self._letters.get(source, {})

    def sending(self, source: Hashable, offset: int) -> None:
        self._sending.setdefault(source, {})[offset] = dict(self._floor)

    def acknowledged(self, source: Hashable, offset: int, partition: int, dlq_offset: int) -> None:
        """The DLQ acknowledged the letter for ``offset`` at ``partition``/``dlq_offset``."""
        self._sending.get(source, {}).pop(offset, None)
        self._letters.setdefault(source, {})[offset] = (partition, dlq_offset)
        self._floor[partition] = max(self._floor.get(partition, 0), dlq_offset + 1)

    def abandoned(self, source: Hashable, offset: int) -> None:
        """A letter's send was given up (its partition was revoked): it may have landed or not."""
        self._sending.get(source, {}).pop(offset, None)

    def found(self, source: Hashable, offset: int, partition: int, dlq_offset: int) -> None:
        """A letter read back from the DLQ (written before a crash or by a previous owner)."""
        self._letters.setdefault(source, {}).setdefault(offset, (partition, dlq_offset))

    def mark(self, source: Hashable, committed: int) -> Positions:
        """What to commit with offset ``committed`` of ``source``: per DLQ partition, the lowest
        offset among its letters for records at or after ``committed`` (sent or on their way),
        else the floor. Forgets the letters of records before ``committed``."""
        letters = self._letters.get(source, {})
        for offset in [o for o in letters if o < committed]:
            del letters[offset]
        positions = dict(self._floor)
        for partition, dlq_offset in letters.values():
            positions[partition] = min(positions.get(partition, dlq_offset), dlq_offset)
        for offset, floor in self._sending.get(source, {}).items():
            if offset >= committed:
                for partition, dlq_offset in floor.items():
                    positions[partition] = min(positions.get(partition, dlq_offset), dlq_offset)
        return positions

    def forget(self, sources: Iterable[Hashable]) -> None:
        """Partitions revoked: their next owner reads their letters back from the DLQ."""
        for source in sources:
            self._letters.pop(source, None)
            self._sending.pop(source, None)
