"""The sample's JSONL line format, and where each record lands in Kafka.

Owns: ``SampleRecord`` (one Kafka record exactly as it is published: topic, key, value bytes),
the encoding of a record as one JSONL line and back, and the Kafka placement of a list of
records (Java's murmur2 partitioner, so offsets can be predicted on fresh topics). Pure: no
Kafka client, no file I/O beyond ``read_jsonl``/``write_jsonl``.

Line format (one JSON object a line, in publish order)::

    {"topic": "classter.students", "key": "2637", "value": {...}, "case": "C01"}

- ``topic``: the topic name; ``key``: the record key as text (UTF-8), or ``null`` for a record
  without a key (bad input: ``missing_key``).
- exactly one of ``value``, ``raw`` and ``raw_b64`` gives the record value:
  ``value`` is a JSON object published as its compact JSON bytes (``orjson.dumps``, key order as
  written), or ``null`` for a tombstone; ``raw`` is text published as its UTF-8 bytes, unparsed
  (invalid JSON, JSON that is not an object); ``raw_b64`` is base64 of bytes that are not UTF-8.
- ``case`` (optional) names the scenario case of ``CASES.md`` the record belongs to; the
  publisher and the oracle ignore it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

STUDENTS_TOPIC = "classter.students"
REGISTRATIONS_TOPIC = "classter.registrations"
DEFAULT_PARTITIONS = 6
_MASK32 = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class SampleRecord:
    """One Kafka record: ``value`` None is a tombstone, ``key`` None a record without a key."""

    topic: str
    key: str | None
    value: bytes | None
    case: str | None = None

    @property
    def key_bytes(self) -> bytes | None:
        return None if self.key is None else self.key.encode("utf-8")

    def json(self) -> dict[str, Any] | None:
        """The value as a JSON object, or None when it is not one (or is a tombstone)."""
        if self.value is None:
            return None
        try:
            obj = orjson.loads(self.value)
        except orjson.JSONDecodeError:
            return None
        return obj if isinstance(obj, dict) else None


def event_record(
    topic: str, key: str | None, event: dict[str, Any], case: str | None = None
) -> SampleRecord:
    """A record whose value is ``event`` as compact JSON."""
    return SampleRecord(topic, key, orjson.dumps(event), case)


def to_line(record: SampleRecord) -> bytes:
    """One JSONL line (without the newline); ``from_line`` gives the same record back."""
    line: dict[str, Any] = {"topic": record.topic, "key": record.key}
    obj = record.json()
    if record.value is None:
        line["value"] = None
    elif obj is not None and orjson.dumps(obj) == record.value:
        line["value"] = obj
    else:
        try:
            line["raw"] = record.value.decode("utf-8")
        except UnicodeDecodeError:
            line["raw_b64"] = base64.b64encode(record.value).decode("ascii")
    if record.case is not None:
        line["case"] = record.case
    return orjson.dumps(line)


def from_line(line: bytes | str) -> SampleRecord:
    """Parse one JSONL line; raise ``ValueError`` when it does not follow the format."""
    obj = orjson.loads(line)
    if not isinstance(obj, dict) or not isinstance(obj.get("topic"), str):
        raise ValueError("a line must be an object with a string 'topic'")  # noqa: TRY004 - a malformed file, not a caller's type error
    key = obj.get("key")
    if key is not None and not isinstance(key, str):
        raise ValueError("'key' must be a string or null")
    given = [name for name in ("value", "raw", "raw_b64") if name in obj]
    if len(given) != 1:
        raise ValueError("a line needs exactly one of 'value', 'raw' and 'raw_b64'")
    value: bytes | None
    if given[0] == "value":
        if obj["value"] is not None and not isinstance(obj["value"], dict):
            raise ValueError("'value' must be a JSON object or null (use 'raw' otherwise)")
        value = None if obj["value"] is None else orjson.dumps(obj["value"])
    elif given[0] == "raw":
        value = str(obj["raw"]).encode("utf-8")
    else:
        value = base64.b64decode(str(obj["raw_b64"]), validate=True)
    case = obj.get("case")
    return SampleRecord(obj["topic"], key, value, case if isinstance(case, str) else None)


def dumps_jsonl(records: Iterable[SampleRecord]) -> bytes:
    """The whole file: one line per record, each ending in a newline."""
    return b"".join(to_line(r) + b"\n" for r in records)


def loads_jsonl(data: bytes) -> list[SampleRecord]:
    """Every non-empty line of ``data`` as a record."""
    return [from_line(line) for line in data.splitlines() if line.strip()]


def read_jsonl(path: Path) -> list[SampleRecord]:
    return loads_jsonl(path.read_bytes())


def write_jsonl(path: Path, records: Iterable[SampleRecord]) -> None:
    path.write_bytes(dumps_jsonl(records))


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (``org.apache.kafka.common.utils.Utils.murmur2``) as an unsigned int."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK32
    for i in range(length // 4):
        k = int.from_bytes(data[i * 4 : i * 4 + 4], "little")
        k = (k * m) & _MASK32
        k ^= k >> r
        k = (k * m) & _MASK32
        h = (h * m) & _MASK32
        h ^= k
    tail = data[length & ~3 :]
    if len(tail) >= 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h ^= tail[0]
        h = (h * m) & _MASK32
    h ^= h >> 13
    h = (h * m) & _MASK32
    h ^= h >> 15
    return h


def partition_for(key: str | None, partitions: int = DEFAULT_PARTITIONS) -> int:
    """The Java client's default partition of a key; a record without a key goes to 0.

    The same key gets the same partition number on every topic with this partition count.
    """
    if key is None:
        return 0
    return (murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % partitions


@dataclass(frozen=True, slots=True)
class Position:
    topic: str
    partition: int
    offset: int


def positions(
    records: Sequence[SampleRecord], partitions: int = DEFAULT_PARTITIONS
) -> list[Position]:
    """Where each record lands when published in order to fresh (empty) topics."""
    next_offset: dict[tuple[str, int], int] = {}
    out: list[Position] = []
    for record in records:
        part = partition_for(record.key, partitions)
        offset = next_offset.get((record.topic, part), 0)
        next_offset[(record.topic, part)] = offset + 1
        out.append(Position(record.topic, part, offset))
    return out
