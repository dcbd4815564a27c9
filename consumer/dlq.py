"""Dead-letter records (SPEC section 7): the headers that explain a failure, and the reasons.

Owns: building the DLQ record for a failed source record (original key, value and headers plus
``x-source-*`` and ``x-error-*``), keeping secrets, e-mail addresses and the event's personal
values out of the message (``redact``). Pure; ``intake`` sends what this builds. The original
value is kept as it came: the DLQ topic holds personal data (docs/security.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from consumer.redact import MAX_MESSAGE, mask, scrub, values_pattern

# the headers the DLQ adds to a source record (SPEC section 10); replay-dlq strips exactly these
DLQ_HEADERS = frozenset(
    {
        "x-source-topic",
        "x-source-partition",
        "x-source-offset",
        "x-error-class",
        "x-error-reason",
        "x-error-message",
        "x-failed-at",
    }
)

__all__ = ["DLQ_HEADERS", "MAX_MESSAGE", "DeadLetter", "dead_letter", "scrub"]


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
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes]],
    error_class: str,
    reason: str,
    message: str,
    now: dt.datetime,
    personal: Iterable[str | None] = (),
) -> DeadLetter:
    """The DLQ record for one failed source record.

    ``personal`` holds the event's personal values (names, phone, ...); the message shows
    digests in their place, as the logs do.
    """
    kept = [(k, v) for k, v in headers if k not in DLQ_HEADERS]
    extra = [
        ("x-source-topic", topic.encode()),
        ("x-source-partition", str(partition).encode()),
        ("x-source-offset", str(offset).encode()),
        ("x-error-class", error_class.encode()),
        ("x-error-reason", reason.encode()),
        ("x-error-message", mask(message, None, values_pattern(personal)).encode()),
        ("x-failed-at", now.astimezone(dt.UTC).isoformat(timespec="milliseconds").encode()),
    ]
    return DeadLetter(key=key, value=value, headers=kept + extra)
