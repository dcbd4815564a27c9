"""Logging as one JSON object a line (SPEC section 8), with secrets and personal data masked.

Owns: the formatter (timestamp, level, logger, message, and the ``extra`` fields such as event id,
topic, partition, offset) and its installation on the root logger; and what a line may not show:
the configured secrets (the HubSpot token, the Kafka password) are redacted wherever they appear,
e-mail addresses and token-shaped strings are masked (``redact.scrub``), extras under personal
keys (``email``, ``surname``, ``student`` ...) and the personal values of the event being handled
(``personal_data``) are replaced by short keyed digests; and the rate limit on the Kafka client
libraries' lines (``RateLimit``: a broker down makes aiokafka log the same error many times a
second). Must not: write anywhere but stderr.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

import orjson

from consumer.redact import digest, mask, values_pattern

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# extras under these keys (lower case, without "_" and "-") are personal data: digests only
PERSONAL_KEYS = frozenset(
    {
        "email",
        "emails",
        "name",
        "names",
        "firstname",
        "lastname",
        "givenname",
        "middlename",
        "surname",
        "phone",
        "mobilephone",
        "dateofbirth",
        "student",
        "contact",
        "properties",
    }
)
_PERSONAL: ContextVar[tuple[str, ...]] = ContextVar("classter_hubspot_personal", default=())


@contextlib.contextmanager
def personal_data(values: Iterable[str | None]) -> Iterator[None]:
    """Mask ``values`` (one student's names, e-mail, phone ...) in every line logged inside.

    A context variable: it covers the current task and tasks it starts, nothing else.
    """
    token = _PERSONAL.set(_PERSONAL.get() + tuple(v for v in values if v))
    try:
        yield
    finally:
        _PERSONAL.reset(token)


def _is_personal(key: str) -> bool:
    return key.lower().replace("_", "").replace("-", "") in PERSONAL_KEYS


def _digest_all(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [_digest_all(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _digest_all(v) for k, v in value.items()}
    return digest(str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object a line; ``secrets`` are redacted wherever they appear."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self._secrets = values_pattern(secrets)

    def _text(self, text: str, personal: re.Pattern[str] | None, limit: int | None) -> str:
        return mask(text, self._secrets, personal, limit)

    def _clean(self, value: Any, personal: re.Pattern[str] | None) -> Any:
        if isinstance(value, str):
            return self._text(value, personal, 300)
        if isinstance(value, bool | int | float) or value is None:
            return value
        if isinstance(value, list | tuple):
            return [self._clean(v, personal) for v in value]
        if isinstance(value, Mapping):
            return {
                str(k): _digest_all(v) if _is_personal(str(k)) else self._clean(v, personal)
                for k, v in value.items()
            }
        return self._text(str(value), personal, 300)

    def format(self, record: logging.LogRecord) -> str:
        personal = values_pattern(_PERSONAL.get())
        out: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": self._text(record.getMessage(), personal, 300),
        }
        for key, value in vars(record).items():
            if key in _STANDARD or key.startswith("_"):
                continue
            out[key] = _digest_all(value) if _is_personal(key) else self._clean(value, personal)
        if record.exc_info:
            out["exc"] = self._text(self.formatException(record.exc_info), personal, None)[-4000:]
        return orjson.dumps(out).decode()


class RateLimit(logging.Filter):
    """Lets at most one identical line (same logger, level and text) of the loggers under
    ``prefixes`` through per ``interval_s``; the next one to pass carries ``suppressed``, how
    many were held back since. Other loggers' lines always pass. ``clock`` is a seam for tests.

    Held-back lines of a message that never recurs are not reported: the first line said it.
    """

    def __init__(
        self,
        prefixes: Iterable[str] = ("aiokafka", "kafka"),
        *,
        interval_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 1_000,
    ) -> None:
        super().__init__()
        self._prefixes = tuple(prefixes)
        self._interval = interval_s
        self._clock = clock
        self._max_keys = max_keys
        # (logger, level, text) -> (when it last passed, lines held back since)
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}

    @property
    def tracked(self) -> int:
        """How many distinct lines it remembers (bounded by ``max_keys``)."""
        return len(self._seen)

    def _limited(self, name: str) -> bool:
        return any(name == p or name.startswith(p + ".") for p in self._prefixes)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._limited(record.name):
            return True
        now = self._clock()
        key = (record.name, record.levelno, record.getMessage())
        last = self._seen.get(key)
        if last is not None and now - last[0] < self._interval:
            self._seen[key] = (last[0], last[1] + 1)
            return False
        if last is not None and last[1]:
            record.suppressed = last[1]
        if len(self._seen) >= self._max_keys:
            self._seen = {
                k: v for k, v in self._seen.items() if now - v[0] < self._interval and v[1]
            }
        self._seen[key] = (now, 0)
        return True


def setup(level: str = "INFO", secrets: Iterable[str | None] = ()) -> None:
    """Install the JSON formatter on stderr; quiets chatty libraries to WARNING, and repeats of
    one Kafka client line to one per 10 s (``RateLimit``).

    ``secrets`` (the token, the Kafka password) are redacted from every line, whoever logs it.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(secrets))
    handler.addFilter(RateLimit())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("aiokafka", "kafka", "aiohttp.access"):
        logging.getLogger(name).setLevel(logging.WARNING)
