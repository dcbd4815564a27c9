"""Masking (SPEC sections 7 and 8): no secret, no e-mail and no student's name in logs in clear.

The JSON formatter is exercised through a logger of its own; the DLQ message through
``dead_letter``. Personal values come from the sample event of ``tests.factories``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
from collections.abc import Iterator

import orjson
import pytest

from consumer import logs
from consumer.dlq import dead_letter
from consumer.events import decode_record
from consumer.redact import digest, scrub, values_pattern
from tests.factories import STUDENT_EVENT

SECRET_TOKEN = "sentinel-token-0f9e8d7c"  # not token-shaped: only the exact-value redaction helps
SECRET_PASSWORD = "sentinel-kafka-6b5a4c3d"
STUDENT = decode_record(b"2637", orjson.dumps(STUDENT_EVENT)).student
CLEAR = ("Maria", "Eleni", "Example", "+30 690 000 0000", "2008-04-12", "SIS-991")


def fail(error: Exception) -> None:
    raise error


class Captured:
    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.logger = logging.getLogger(f"tests.redact.{id(self)}")
        self.logger.propagate = False
        self.logger.setLevel(logging.DEBUG)
        handler = logging.StreamHandler(self.buffer)
        handler.setFormatter(logs.JsonFormatter(secrets=(SECRET_TOKEN, SECRET_PASSWORD, None)))
        self.logger.handlers[:] = [handler]

    @property
    def text(self) -> str:
        return self.buffer.getvalue()

    def last(self) -> dict[str, object]:
        line: dict[str, object] = orjson.loads(self.text.splitlines()[-1])
        return line


@pytest.fixture
def captured() -> Iterator[Captured]:
    log = Captured()
    yield log
    log.logger.handlers.clear()


def assert_no_personal_data(text: str) -> None:
    lowered = text.lower()
    for value in (*CLEAR, "maria.example@example.org"):
        assert value.lower() not in lowered, value


def test_the_configured_secrets_are_redacted_wherever_they_appear(captured: Captured) -> None:
    captured.logger.warning(
        "connect failed with %s",
        SECRET_PASSWORD,
        extra={"error": RuntimeError(f"auth {SECRET_TOKEN}"), "headers": [SECRET_TOKEN]},
    )
    try:
        fail(ValueError(SECRET_PASSWORD.upper()))
    except ValueError:
        captured.logger.exception("boom")

    assert SECRET_TOKEN not in captured.text
    assert SECRET_PASSWORD not in captured.text.lower()
    assert "[redacted]" in captured.text


def test_the_personal_values_of_the_event_at_hand_become_digests(captured: Captured) -> None:
    with logs.personal_data(STUDENT.personal_values()):
        captured.logger.info(
            "HubSpot said: Maria Eleni EXAMPLE (+30 690 000 0000) is not valid",
            extra={"error": "born 2008-04-12, external id SIS-991", "parts": ["maria"]},
        )
        try:
            fail(KeyError("Example"))
        except KeyError:
            captured.logger.exception("unexpected")

    assert_no_personal_data(captured.text)
    assert digest("Maria") in captured.text
    assert digest("maria") == digest(" MARIA ")  # one person, one digest within a process


def test_masking_ends_with_the_event(captured: Captured) -> None:
    with logs.personal_data(["Maria"]):
        captured.logger.info("Maria inside")
    captured.logger.info("Maria outside")

    inside, outside = (orjson.loads(line)["msg"] for line in captured.text.splitlines())
    assert "Maria" not in inside
    assert outside == "Maria outside"


async def test_concurrent_events_mask_only_their_own_values(captured: Captured) -> None:
    async def one(name: str, other: str) -> None:
        with logs.personal_data([name]):
            await asyncio.sleep(0.01)
            captured.logger.info(f"{name} and {other}")

    await asyncio.gather(one("Alexandros", "Beatrix"), one("Beatrix", "Alexandros"))

    lines = [orjson.loads(line)["msg"] for line in captured.text.splitlines()]
    assert sorted(lines) == sorted(
        [f"{digest('Alexandros')} and Beatrix", f"{digest('Beatrix')} and Alexandros"]
    )


def test_extras_under_personal_keys_are_digested_whatever_the_event(captured: Captured) -> None:
    captured.logger.info(
        "contact adopted",
        extra={
            "surname": "Example",
            "given_name": "Maria",
            "student": {"id": 2637, "givenName": "Maria", "mobilePhone": "+30 690 000 0000"},
            "properties": {"firstname": "Maria", "lastname": "Example"},
            "event_id": "e-1",
        },
    )

    line = captured.last()
    assert_no_personal_data(captured.text)
    assert line["surname"] == digest("Example")
    assert line["event_id"] == "e-1"
    assert line["student"] == {
        "id": 2637,
        "givenName": digest("Maria"),
        "mobilePhone": digest("+30 690 000 0000"),
    }


def test_an_address_without_a_dot_in_its_domain_is_masked_too() -> None:
    assert scrub("Email address maria@example is invalid") == "Email address [email] is invalid"


def test_short_values_are_not_masked_by_value() -> None:
    pattern = values_pattern(["M", "", None, "Eleni"])

    assert pattern is not None
    assert pattern.sub("*", "M. Eleni") == "M. *"
    assert values_pattern(["", None, "x"]) is None


def test_a_dead_letter_message_shows_digests_for_the_events_personal_values() -> None:
    letter = dead_letter(
        topic="t",
        partition=0,
        offset=1,
        group="classter-hubspot",
        key=b"2637",
        value=b"{}",
        headers=[],
        error_class="rejected",
        reason="invalid_option",
        message="'Maria Example' was not one of the allowed options for maria@example",
        now=dt.datetime(2026, 9, 1, tzinfo=dt.UTC),
        personal=STUDENT.personal_values(),
    )

    message = dict(letter.headers)["x-error-message"].decode()
    assert_no_personal_data(message)
    assert (
        message
        == f"'{digest('Maria')} {digest('Example')}' was not one of the allowed options for [email]"
    )
