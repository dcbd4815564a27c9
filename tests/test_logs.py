"""JSON logs (SPEC sections 7 and 8): one object a line, no e-mail address or token in clear."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer import logs
from consumer.logs import JsonFormatter
from tests.factories import PROPERTY

EMAIL = "maria.example@example.org"
TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"


def fail(message: str) -> None:
    raise ValueError(message)


def raise_deep(depth: int) -> None:
    if depth == 0:
        raise RuntimeError("the real cause is at the bottom of the traceback")
    raise_deep(depth - 1)


class Captured:
    """A logger of its own whose records are formatted by ``JsonFormatter`` into a buffer."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.logger = logging.getLogger(f"tests.logs.{id(self)}")
        self.logger.propagate = False
        self.logger.setLevel(logging.DEBUG)
        handler = logging.StreamHandler(self.buffer)
        handler.setFormatter(JsonFormatter())
        self.logger.handlers[:] = [handler]

    def lines(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.buffer.getvalue().splitlines()]

    def last(self) -> dict[str, Any]:
        return self.lines()[-1]


@pytest.fixture
def captured() -> Iterator[Captured]:
    log = Captured()
    yield log
    log.logger.handlers.clear()


def test_each_record_is_one_json_object_on_one_line(captured: Captured) -> None:
    captured.logger.info("first\nsecond")
    captured.logger.warning("third")

    text = captured.buffer.getvalue()
    assert text.count("\n") == 2
    first, second = captured.lines()
    assert first["msg"] == "first\nsecond"
    assert (first["level"], second["level"]) == ("info", "warning")


def test_a_record_carries_time_level_logger_and_message(captured: Captured) -> None:
    captured.logger.error("partition %s paused", 3)

    line = captured.last()
    assert line["msg"] == "partition 3 paused"
    assert line["level"] == "error"
    assert line["logger"] == captured.logger.name
    assert line["ts"].endswith("+00:00")


def test_extra_fields_are_kept_with_their_json_types(captured: Captured) -> None:
    captured.logger.info(
        "event synced",
        extra={
            "event_id": "e-1",
            "topic": "classter.students",
            "partition": 2,
            "offset": 12345,
            "delay_s": 0.5,
            "retry": False,
            "missing": None,
            "rules": ("no_email", "status_not_mapped"),
        },
    )

    line = captured.last()
    assert line["event_id"] == "e-1"
    assert line["topic"] == "classter.students"
    assert (line["partition"], line["offset"], line["delay_s"]) == (2, 12345, 0.5)
    assert line["retry"] is False
    assert line["missing"] is None
    assert line["rules"] == ["no_email", "status_not_mapped"]


def test_no_email_address_is_printed_from_message_arguments_or_extras(captured: Captured) -> None:
    captured.logger.info(
        f"contact {EMAIL} adopted for %s",
        EMAIL.upper(),
        extra={
            "email": EMAIL,
            "emails": [EMAIL, "other@example.org"],
            "student": {"email": EMAIL},
            "error": ValueError(f"duplicate {EMAIL}"),
        },
    )

    text = captured.buffer.getvalue()
    assert "@" not in text
    assert "maria" not in text.lower()
    assert "[email]" in captured.last()["msg"]


def test_no_token_is_printed(captured: Captured) -> None:
    captured.logger.warning(
        "request failed: Authorization: Bearer %s", TOKEN, extra={"token": TOKEN}
    )

    assert TOKEN not in captured.buffer.getvalue()
    assert "11111111" not in captured.buffer.getvalue()


def test_an_exception_is_logged_without_emails(captured: Captured) -> None:
    try:
        fail(f"HubSpot says {EMAIL} exists")
    except ValueError:
        captured.logger.exception("write failed")

    line = captured.last()
    assert "ValueError" in line["exc"]
    assert EMAIL not in line["exc"]


@given(email=st.emails(), words=st.text(max_size=30))
@PROPERTY
def test_no_generated_email_is_ever_printed(email: str, words: str) -> None:
    log = Captured()

    log.logger.info("%s %s", words, email, extra={"who": email, "why": [words, email]})

    assert email not in log.buffer.getvalue()
    log.logger.handlers.clear()


def test_a_long_traceback_keeps_its_last_line(captured: Captured) -> None:
    try:
        raise_deep(8)
    except RuntimeError:
        captured.logger.exception("failed")

    assert "RuntimeError: the real cause" in captured.last()["exc"]


def test_setup_installs_the_json_formatter_on_stderr() -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("aiokafka").level)
    try:
        logs.setup("DEBUG")

        (handler,) = root.handlers
        assert isinstance(handler, logging.StreamHandler)
        assert handler.stream is sys.stderr
        assert isinstance(handler.formatter, JsonFormatter)
        assert any(isinstance(f, logs.RateLimit) for f in handler.filters)
        assert root.level == logging.DEBUG
        assert logging.getLogger("aiokafka").level == logging.WARNING
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger("aiokafka").setLevel(saved[2])


# -- the rate limit on the Kafka clients' lines ---------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def limited(name: str) -> tuple[logging.Logger, io.StringIO, Clock]:
    """A logger called ``name`` whose handler formats JSON through a ``RateLimit`` of 10 s."""
    buffer, clock = io.StringIO(), Clock()
    logger = logging.getLogger(name)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(logs.RateLimit(("aiokafka",), interval_s=10, clock=clock))
    logger.handlers[:] = [handler]
    return logger, buffer, clock


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in buffer.getvalue().splitlines()]


def test_repeats_of_a_kafka_client_line_pass_once_per_interval_with_a_count() -> None:
    logger, buffer, clock = limited("aiokafka.conn")
    try:
        for _ in range(50):
            logger.error("Unable connect to node with id %s: %s", 1, "refused")
            clock.now += 0.1  # 50 lines in 5 s
        logger.error("Unable connect to node with id %s: %s", 2, "refused")  # another text
        clock.now += 5.1
        logger.error("Unable connect to node with id %s: %s", 1, "refused")

        out = lines(buffer)
        assert [line["msg"] for line in out] == [
            "Unable connect to node with id 1: refused",
            "Unable connect to node with id 2: refused",
            "Unable connect to node with id 1: refused",
        ]
        assert "suppressed" not in out[0]
        assert out[2]["suppressed"] == 49
    finally:
        logger.handlers.clear()


def test_other_loggers_are_never_rate_limited() -> None:
    logger, buffer, _ = limited("consumer.intake")
    try:
        for _ in range(5):
            logger.warning("DLQ write failed; retrying")

        assert len(lines(buffer)) == 5
    finally:
        logger.handlers.clear()


def test_the_rate_limit_forgets_quiet_messages_to_stay_bounded() -> None:
    clock = Clock()
    limit = logs.RateLimit(interval_s=10, clock=clock, max_keys=10)

    def record(text: str) -> logging.LogRecord:
        return logging.LogRecord("aiokafka.conn", logging.ERROR, "", 0, text, None, None)

    for n in range(100):
        clock.now += 11  # each earlier one quiet since
        assert limit.filter(record(f"node {n} unreachable"))
    assert limit.tracked <= 10
    assert not limit.filter(record("node 99 unreachable")), "a recent one is still held back"
