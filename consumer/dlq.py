"""Dead-letter records (SPEC section 7): the headers that explain a failure, and the reasons.

Owns: building the DLQ record for a failed source record (original key, value and headers plus
``x-source-*`` and ``x-error-*``), the reduced letter written when that record is too big for
Kafka (``reduced``: the value cut to a prefix, with its size and sha256), keeping secrets,
e-mail addresses and the event's personal values out of the message (``redact``). Pure;
``intake`` sends what this builds. The original value is kept as it came: the DLQ topic holds
personal data (docs/security.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from consumer.redact import MAX_MESSAGE, mask, scrub, values_pattern

# the headers a reduced letter adds (``reduced``)
REDUCED_HEADERS = frozenset(
    {"x-value-truncated", "x-value-size", "x-value-sha256", "x-headers-dropped"}
)
# the headers the DLQ adds to a source record (SPEC section 10); replay-dlq strips exactly these
DLQ_HEADERS = REDUCED_HEADERS | frozenset(
    {
        "x-source-topic",
        "x-source-partition",
        "x-source-offset",
        "x-source-group",
        "x-error-class",
        "x-error-reason",
        "x-error-message",
        "x-failed-at",
    }
)
# what a reduced letter keeps of a too-big record's value (and of its key and headers): far below
# any Kafka record limit, enough to see what the record was; the whole record stays in the source
# topic at x-source-offset while retention keeps it
REDUCED_PREFIX = 16 * 1024

__all__ = [
    "DLQ_HEADERS",
    "MAX_MESSAGE",
    "REDUCED_HEADERS",
    "REDUCED_PREFIX",
    "DeadLetter",
    "dead_letter",
    "reduced",
    "scrub",
]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


def dead_letter(
    *,
    topic: str,
    partition: int,
    offset: int,
    group: str,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes]],
    error_class: str,
    reason: str,
    message: str,
    now: dt.datetime,
    personal: Iterable[str | None] = (),
) -> DeadLetter:
    """The DLQ record for one failed source record, dead-lettered by consumer group ``group``.

    ``personal`` holds the event's personal values (names, phone, ...); the message shows
    digests in their place, as the logs do.
    """
    kept = [(k, v) for k, v in headers if k not in DLQ_HEADERS]
    extra = [
        ("x-source-topic", topic.encode()),
        ("x-source-partition", str(partition).encode()),
        ("x-source-offset", str(offset).encode()),
        ("x-source-group", group.encode()),
        ("x-error-class", error_class.encode()),
        ("x-error-reason", reason.encode()),
        ("x-error-message", mask(message, None, values_pattern(personal)).encode()),
        ("x-failed-at", now.astimezone(dt.UTC).isoformat(timespec="milliseconds").encode()),
    ]
    return DeadLetter(key=key, value=value, headers=kept + extra)


def reduced(letter: DeadLetter, *, prefix: int = REDUCED_PREFIX) -> DeadLetter:
    """``letter`` cut down to fit in a Kafka record, for when Kafka refused it as too large.

    The value keeps its first ``prefix`` bytes, and ``x-value-truncated: true``,
    ``x-value-size`` (bytes of the original value) and ``x-value-sha256`` (hex) say what was
    cut; the source record itself can be fetched at ``x-source-topic/partition/offset``. The
    DLQ's own headers stay; the source record's headers stay unless together they exceed
    ``prefix`` bytes (then ``x-headers-dropped`` counts them); a key longer than ``prefix`` is
    cut to it. ``replay-dlq`` passes a reduced letter over rather than republish a cut value.
    """
    value = letter.value or b""
    ours = [(k, v) for k, v in letter.headers if k in DLQ_HEADERS]
    theirs = [(k, v) for k, v in letter.headers if k not in DLQ_HEADERS]
    extra = [
        ("x-value-truncated", b"true"),
        ("x-value-size", str(len(value)).encode()),
        ("x-value-sha256", hashlib.sha256(value).hexdigest().encode()),
    ]
    if sum(len(k) + len(v) for k, v in theirs) > prefix:
        extra.append(("x-headers-dropped", str(len(theirs)).encode()))
        theirs = []
    key = letter.key[:prefix] if letter.key is not None else None
    cut = letter.value[:prefix] if letter.value is not None else None
    return DeadLetter(key=key, value=cut, headers=theirs + ours + extra)
