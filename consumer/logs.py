"""Logging as one JSON object a line (SPEC section 8).

Owns: the formatter (timestamp, level, logger, message, and the ``extra`` fields such as event id,
topic, partition, offset) and its installation on the root logger. Every string is passed through
``dlq.scrub`` so that e-mail addresses and tokens never reach the log in clear.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from typing import Any

import orjson

from consumer.dlq import scrub

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return scrub(str(value))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": scrub(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = _clean(value)
        if record.exc_info:
            out["exc"] = scrub(self.formatException(record.exc_info), None)[-4000:]
        return orjson.dumps(out).decode()


def setup(level: str = "INFO") -> None:
    """Install the JSON formatter on stderr; quiets chatty libraries to WARNING."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("aiokafka", "kafka", "aiohttp.access"):
        logging.getLogger(name).setLevel(logging.WARNING)
