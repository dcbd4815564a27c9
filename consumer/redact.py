"""Masking of secrets and personal data in text that leaves the daemon (logs, DLQ headers).

Owns: the patterns of e-mail addresses and HubSpot tokens, the masking of known values (the
configured secrets, the personal data of the event being handled) and their short keyed digests
(``[pii:1a2b3c4d]``, stable within one process so that lines can be correlated, not reversible
by looking names up). Pure: no I/O, no logging; ``logs`` and ``dlq`` call it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable

# the local part takes every character RFC 5322 allows unquoted ("a=b@x.org" is an address)
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(\.[\w-]+)+")
# What is left with an "@" is an address too, only malformed: HubSpot's INVALID_EMAIL message
# quotes the very address it refused ("Email address maria@example is invalid").
_AT_WORD = re.compile(r"[^\s\"'<>()\[\]{},;:]*@[^\s\"'<>()\[\]{},;:]*")
_BEARER = re.compile(r"(pat-[a-z0-9]+-[\w-]+|Bearer\s+\S+)", re.IGNORECASE)
MAX_MESSAGE = 300
# Values shorter than this are not masked by value (an initial would mask every such letter).
MIN_VALUE_LENGTH = 2
REDACTED = "[redacted]"
_KEY = secrets.token_bytes(16)  # per process: digests correlate lines, not people across runs


def scrub(text: str, limit: int | None = MAX_MESSAGE) -> str:
    """Mask e-mail addresses (well-formed or not: no "@" survives) and anything shaped like a
    HubSpot token; cut to ``limit``."""
    clean = _BEARER.sub(REDACTED, _AT_WORD.sub("[email]", _EMAIL.sub("[email]", text)))
    return clean if limit is None else clean[:limit]


def digest(value: str) -> str:
    """A short keyed digest of one personal value, as written in place of it."""
    mac = hmac.new(_KEY, value.strip().lower().encode(), hashlib.sha256).hexdigest()
    return f"[pii:{mac[:8]}]"


def values_pattern(values: Iterable[str | None]) -> re.Pattern[str] | None:
    """One case-insensitive pattern matching any of ``values`` (longest first), or None."""
    kept = sorted(
        {v.strip() for v in values if v and len(v.strip()) >= MIN_VALUE_LENGTH},
        key=len,
        reverse=True,
    )
    if not kept:
        return None
    return re.compile("|".join(re.escape(v) for v in kept), re.IGNORECASE)


def mask(
    text: str,
    secret: re.Pattern[str] | None,
    personal: re.Pattern[str] | None,
    limit: int | None = MAX_MESSAGE,
) -> str:
    """``text`` with known secrets redacted, addresses and tokens masked (``scrub``) and known
    personal values replaced by digests, in that order; cut to ``limit``."""
    if secret is not None:
        text = secret.sub(REDACTED, text)
    text = scrub(text, None)
    if personal is not None:
        text = personal.sub(lambda m: digest(m.group(0)), text)
    return text if limit is None else text[:limit]
