"""Dead-letter records (SPEC sections 7 and 10): headers, and no secret or e-mail in them."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer.dlq import (
    DLQ_HEADERS,
    MAX_MESSAGE,
    REDUCED_PREFIX,
    DeadLetter,
    dead_letter,
    reduced,
    scrub,
)
from tests.factories import PROPERTY

NOW = dt.datetime(2026, 9, 1, 8, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=3)))
TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
OURS = (
    "x-source-topic",
    "x-source-partition",
    "x-source-offset",
    "x-source-group",
    "x-error-class",
    "x-error-reason",
    "x-error-message",
    "x-failed-at",
)

tokens = st.builds(
    lambda region, body: f"pat-{region}-{body}",
    st.sampled_from(["na1", "eu1", "na2", "ap1"]),
    st.uuids().map(str),
)
filler = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="@"), max_size=40)


def letter(
    message: str = "boom", headers: list[tuple[str, bytes]] | None = None
) -> dict[str, bytes]:
    record = dead_letter(
        topic="classter.registrations",
        partition=3,
        offset=1234,
        group="classter-hubspot",
        key=b"2637",
        value=b'{"eventType": "registration.changed"}',
        headers=headers or [],
        error_class="rejected",
        reason="invalid_option",
        message=message,
        now=NOW,
    )
    return dict(record.headers)


# -- scrub ----------------------------------------------------------------------------------------


@given(email=st.emails(), before=filler, after=filler)
@PROPERTY
def test_no_email_address_survives_scrubbing(email: str, before: str, after: str) -> None:
    text = scrub(f"{before} {email} {after}")

    assert email not in text
    assert email.lower() not in text.lower()


@given(token=tokens, before=filler, after=filler, bearer=st.booleans())
@PROPERTY
def test_no_hubspot_token_survives_scrubbing(
    token: str, before: str, after: str, bearer: bool
) -> None:
    shown = f"Bearer {token}" if bearer else token

    text = scrub(f"{before} {shown} {after}")

    assert token not in text
    assert token[-12:] not in text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("contact maria.example@example.org exists", "contact [email] exists"),
        ("a=b@example.org and MARIA@EXAMPLE.ORG", "[email] and [email]"),
        (f"Authorization: Bearer {TOKEN}", "Authorization: [redacted]"),
        (f"token {TOKEN.upper()} refused", "token [redacted] refused"),
        ("HTTP 400 INVALID_OPTION on gender", "HTTP 400 INVALID_OPTION on gender"),
    ],
)
def test_scrub_examples(raw: str, clean: str) -> None:
    assert scrub(raw) == clean


@pytest.mark.parametrize(
    "address",
    [
        "maria.example@example",  # no top-level domain: HubSpot's INVALID_EMAIL
        "maria@@example.org",
        "maria.example@example.",
        "maria.example@",
        "@example.org",
        "maria.example@localhost:8080",
    ],
)
def test_a_malformed_address_hubspot_quotes_back_is_masked_too(address: str) -> None:
    message = (
        'Property values were not valid: [{"isValid":false,"message":"Email address '
        f'{address} is invalid","error":"INVALID_EMAIL","name":"email"}}]'
    )

    text = scrub(message, None)

    assert "@" not in text
    assert "maria" not in text
    assert "INVALID_EMAIL" in text


@given(text=st.text(max_size=200))
@PROPERTY
def test_no_at_sign_survives_scrubbing(text: str) -> None:
    assert "@" not in scrub(text, None)


def test_a_scrubbed_message_is_short() -> None:
    assert len(scrub("x" * 10_000)) == MAX_MESSAGE


def test_an_email_at_the_cut_is_masked_before_cutting() -> None:
    text = scrub("x" * (MAX_MESSAGE - 10) + " maria.example@example.org")

    assert "maria" not in text
    assert "@" not in text


# -- the record -----------------------------------------------------------------------------------


def test_the_original_key_value_and_headers_are_kept() -> None:
    record = dead_letter(
        topic="t",
        partition=0,
        offset=7,
        group="classter-hubspot",
        key=b"2637",
        value=b"not json",
        headers=[("traceparent", b"00-abc"), ("source", b"classter")],
        error_class="bad_input",
        reason="invalid_json",
        message="value is not UTF-8 JSON",
        now=NOW,
    )

    assert (record.key, record.value) == (b"2637", b"not json")
    assert record.headers[:2] == [("traceparent", b"00-abc"), ("source", b"classter")]
    assert [name for name, _ in record.headers[2:]] == list(OURS)


def test_a_tombstone_keeps_its_null_value_and_a_keyless_record_its_null_key() -> None:
    record = dead_letter(
        topic="t",
        partition=0,
        offset=0,
        group="classter-hubspot",
        key=None,
        value=None,
        headers=[],
        error_class="bad_input",
        reason="tombstone",
        message="record value is null (tombstone)",
        now=NOW,
    )

    assert (record.key, record.value) == (None, None)


def test_the_headers_name_source_error_and_time() -> None:
    headers = letter("HubSpot says no")

    assert headers == {
        "x-source-topic": b"classter.registrations",
        "x-source-partition": b"3",
        "x-source-offset": b"1234",
        "x-source-group": b"classter-hubspot",
        "x-error-class": b"rejected",
        "x-error-reason": b"invalid_option",
        "x-error-message": b"HubSpot says no",
        "x-failed-at": b"2026-09-01T05:00:00.123+00:00",
    }


def test_the_failure_time_is_rfc3339_in_utc() -> None:
    failed_at = dt.datetime.fromisoformat(letter()["x-failed-at"].decode())

    assert failed_at.utcoffset() == dt.timedelta(0)
    assert failed_at == NOW.replace(microsecond=123000)


def test_a_record_dead_lettered_twice_carries_only_the_newest_explanation() -> None:
    earlier = [(name, b"old") for name in OURS] + [("traceparent", b"00-abc")]

    record = dead_letter(
        topic="t2",
        partition=1,
        offset=2,
        group="classter-hubspot",
        key=b"k",
        value=b"v",
        headers=earlier,
        error_class="rejected",
        reason="invalid_date",
        message="new",
        now=NOW,
    )

    names = [name for name, _ in record.headers]
    assert names == ["traceparent", *OURS]
    assert b"old" not in [value for _, value in record.headers]


@given(email=st.emails(), token=tokens, message=filler)
@PROPERTY
def test_no_header_reveals_an_email_or_the_token(email: str, token: str, message: str) -> None:
    headers = letter(f"{message} {email} Bearer {token}")

    for value in headers.values():
        assert email.encode() not in value
        assert token.encode() not in value
    assert len(headers["x-error-message"].decode()) <= MAX_MESSAGE


# -- the reduced letter (a record too large for the DLQ) -----------------------------------------


def big_letter(value: bytes | None, headers: list[tuple[str, bytes]]) -> DeadLetter:
    return dead_letter(
        topic="classter.registrations",
        partition=0,
        offset=7,
        group="classter-hubspot",
        key=b"2637",
        value=value,
        headers=headers,
        error_class="bad_input",
        reason="invalid_json",
        message="not JSON",
        now=NOW,
    )


def test_a_reduced_letter_keeps_a_prefix_and_says_what_was_cut() -> None:
    value = b"{" + b"x" * 1_048_399
    trace = ("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    full = big_letter(value, [trace])

    small = reduced(full)

    assert small.key == b"2637"
    assert small.value == value[:REDUCED_PREFIX]
    headers = dict(small.headers)
    assert headers["x-value-truncated"] == b"true"
    assert headers["x-value-size"] == str(len(value)).encode()
    assert headers["x-value-sha256"] == hashlib.sha256(value).hexdigest().encode()
    assert headers["traceparent"] == trace[1]
    for name in OURS:  # where the whole record is, and why it failed, stay
        assert headers[name] == dict(full.headers)[name], name
    assert "x-headers-dropped" not in headers
    assert {k for k, _ in small.headers} - {"traceparent"} <= DLQ_HEADERS
    size = len(small.value or b"") + sum(len(k) + len(v) for k, v in small.headers)
    assert size < 3 * REDUCED_PREFIX


def test_a_reduced_letter_drops_source_headers_too_big_to_keep_and_counts_them() -> None:
    huge = [("h1", b"y" * REDUCED_PREFIX), ("h2", b"z")]

    small = reduced(big_letter(b"short", huge), prefix=REDUCED_PREFIX)

    headers = dict(small.headers)
    assert "h1" not in headers
    assert "h2" not in headers
    assert headers["x-headers-dropped"] == b"2"
    assert headers["x-value-size"] == b"5"
    assert small.value == b"short"


def test_a_reduced_tombstone_stays_a_tombstone() -> None:
    small = reduced(big_letter(None, []))

    assert small.value is None
    assert dict(small.headers)["x-value-size"] == b"0"
