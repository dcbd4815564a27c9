"""Dead-letter records (SPEC section 7): the headers that explain a failure, and the reasons.

Owns: building the DLQ record for a failed source record (original key, value and headers plus
``x-source-*`` and ``x-error-*``), keeping secrets and e-mail addresses out of the message.
Pure; ``intake`` sends what this builds.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

# the local part takes every character RFC 5322 allows unquoted ("a=b@x.org" is an address)
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(\.[\w-]+)+")
# What is left with an "@" is an address too, only malformed: HubSpot's INVALID_EMAIL message
# quotes the very address it refused ("Email address maria@example is invalid").
_AT_WORD = re.compile(r"[^\s\"'<>()\[\]{},;:]*@[^\s\"'<>()\[\]{},;:]*")
_BEARER = re.compile(r"(pat-[a-z0-9]+-[\w-]+|Bearer\s+\S+)", re.IGNORECASE)
MAX_MESSAGE = 300


def scrub(text: str, limit: int | None = MAX_MESSAGE) -> str:
    """Mask e-mail addresses (well-formed or not: no "@" survives) and anything shaped like a
    HubSpot token; cut to ``limit``."""
    clean = _BEARER.sub("[redacted]", _AT_WORD.sub("[email]", _EMAIL.sub("[email]", text)))
    return clean if limit is None else clean[:limit]


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
) -> DeadLetter:
    """The DLQ record for one failed source record."""
    ours = {
        "x-source-topic",
        "x-source-partition",
        "x-source-offset",
        "x-error-class",
        "x-error-reason",
        "x-error-message",
        "x-failed-at",
    }
    kept = [(k, v) for k, v in headers if k not in ours]
    extra = [
        ("x-source-topic", topic.encode()),
        ("x-source-partition", str(partition).encode()),
        ("x-source-offset", str(offset).encode()),
        ("x-error-class", error_class.encode()),
        ("x-error-reason", reason.encode()),
        ("x-error-message", scrub(message).encode()),
        ("x-failed-at", now.astimezone(dt.UTC).isoformat(timespec="milliseconds").encode()),
    ]
    return DeadLetter(key=key, value=value, headers=kept + extra)
