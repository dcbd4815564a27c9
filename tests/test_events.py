"""The event contract (SPEC sections 2, 7, 10): what decodes, and the reason of what does not."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer.errors import BadInputError
from consumer.events import Event, decode_record
from tests.factories import (
    KEY,
    PROPERTY,
    decoded,
    encode,
    registration_event,
    student_event,
)


def reason_of(key: bytes | None, value: bytes | None) -> str:
    with pytest.raises(BadInputError) as caught:
        decode_record(key, value)
    return caught.value.reason


def without(obj: dict[str, Any], *path: str) -> dict[str, Any]:
    """``obj`` with the field at ``path`` removed."""
    node = obj
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]
    return obj


# -- valid events --------------------------------------------------------------------------------


def test_the_spec_student_sample_decodes_into_an_event() -> None:
    event = decoded(student_event())

    assert event.event_id == "e-1"
    assert event.event_type == "student.changed"
    assert event.tenant == "northwind"
    assert event.occurred_at == dt.datetime(2026, 9, 1, 5, 0, tzinfo=dt.UTC)
    assert event.registration is None
    assert event.student.id == 2637
    assert event.student.email == "maria.example@example.org"
    assert event.student.dateOfBirth == dt.date(2008, 4, 12)
    assert event.student.status is not None
    assert event.student.status.description == "Registered"
    assert event.student_key == "northwind:2637"
    assert event.student_source["customFields"] == {"customFieldTxt1": "Scholarship"}


def test_the_spec_registration_sample_decodes_with_its_student_snapshot() -> None:
    event = decoded(registration_event())

    assert event.event_type == "registration.changed"
    assert event.registration is not None
    assert event.registration.globalCode == 51877
    assert event.registration.startDate == dt.date(2026, 9, 10)
    assert event.registration.semesters is not None
    assert event.registration.semesters[0].startDate == dt.date(2026, 9, 10)
    assert event.student.id == 2637
    assert event.student is event.registration.student
    assert event.student_key == "northwind:2637"
    assert event.source["program"] == {"id": 40, "description": "Grade 10"}
    assert event.student_source["surname"] == "Example"


def test_a_student_with_only_an_id_is_valid() -> None:
    obj = student_event()
    obj["student"] = {"id": 2637}

    event = decoded(obj)

    assert event.student.email is None
    assert event.student.status is None


def test_a_registration_with_only_its_required_fields_is_valid() -> None:
    obj = registration_event()
    obj["registration"] = {
        "id": 1,
        "globalCode": 1000,
        "student": {"id": 2637},
        "registrationStatus": {"id": 14},
    }

    event = decoded(obj)

    assert event.registration is not None
    assert event.registration.startDate is None
    assert event.registration.semesters is None
    assert event.registration.program is None


def test_optional_fields_may_be_null() -> None:
    nulls = dict.fromkeys(
        ("code", "program", "stream", "academicPeriod", "location", "startDate", "endDate"),
    )
    obj = registration_event(**nulls, semesters=None, fromReRegistration=None)
    obj["registration"]["student"] = {"id": 2637, "email": None, "status": None}

    event = decoded(obj)

    assert event.registration is not None
    assert event.registration.program is None
    assert event.student.email is None


def test_unknown_extra_fields_are_ignored_at_every_level() -> None:
    obj = registration_event(futureField={"x": 1})
    obj["traceparent"] = "00-abc"
    obj["registration"]["student"]["nickname"] = "Mari"
    obj["registration"]["program"]["colour"] = "blue"
    obj["registration"]["semesters"][0]["weeks"] = 16

    event = decoded(obj)

    assert event.event_id == "e-2"
    # the raw source keeps them, so that a custom mapping can still read them
    assert event.source["futureField"] == {"x": 1}
    assert event.student_source["nickname"] == "Mari"


def test_a_utc_z_timestamp_is_an_offset() -> None:
    event = decoded(dict(student_event(), occurredAt="2026-09-01T05:00:00Z"))

    assert event.occurred_at.utcoffset() == dt.timedelta(0)


def test_the_event_is_a_plain_frozen_value() -> None:
    event = decoded(student_event())

    assert isinstance(event, Event)
    with pytest.raises(AttributeError):
        event.tenant = "other"  # type: ignore[misc]


# -- tombstone, JSON ------------------------------------------------------------------------------


def test_a_null_value_is_a_tombstone() -> None:
    assert reason_of(KEY, None) == "tombstone"


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"{",
        b"not json",
        b'{"eventType": "student.changed",}',
        b"\xff\xfe{}",
        # a record cut in the middle of a two-byte UTF-8 sequence
        '{"schemaVersion": 1, "tenant": "\u00e9"}'.encode()[:-3],
        '{"tenant": "\u00e9\u00e9"}'.encode()[:-3] + b'"}',
        b'{"tenant": "\xed\xa0\x80"}',  # an encoded surrogate is not UTF-8
        b"NaN",
    ],
    ids=[
        "empty",
        "unclosed",
        "text",
        "trailing-comma",
        "utf16-bom",
        "truncated-utf8",
        "truncated-utf8-inside-string",
        "surrogate",
        "nan",
    ],
)
def test_bytes_that_are_not_utf8_json_are_invalid_json(value: bytes) -> None:
    assert reason_of(KEY, value) == "invalid_json"


@given(st.binary(max_size=64).filter(lambda b: b.strip()[:1] not in (b"{", b"[", b'"')))
@PROPERTY
def test_random_bytes_never_escape_as_anything_but_bad_input(value: bytes) -> None:
    try:
        decode_record(KEY, value)
    except BadInputError as exc:
        assert exc.reason in ("invalid_json", "schema_invalid")
    else:  # pragma: no cover - random bytes are never a valid event
        pytest.fail("random bytes decoded as an event")


@pytest.mark.parametrize("value", [b"[]", b"[1, 2]", b'"text"', b"12", b"true", b"null"])
def test_json_that_is_not_an_object_is_schema_invalid(value: bytes) -> None:
    assert reason_of(KEY, value) == "schema_invalid"


# -- schema ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "where"),
    [
        (without(student_event(), "eventId"), "eventId"),
        (without(student_event(), "occurredAt"), "occurredAt"),
        (without(student_event(), "tenant"), "tenant"),
        (without(student_event(), "schemaVersion"), "schemaVersion"),
        (without(student_event(), "eventType"), "eventType"),
        (without(student_event(), "student"), "student"),
        (without(student_event(), "student", "id"), "student.id"),
        (without(registration_event(), "registration"), "registration"),
        (without(registration_event(), "registration", "id"), "registration.id"),
        (without(registration_event(), "registration", "globalCode"), "registration.globalCode"),
        (without(registration_event(), "registration", "student"), "registration.student"),
        (
            without(registration_event(), "registration", "student", "id"),
            "registration.student.id",
        ),
        (
            without(registration_event(), "registration", "registrationStatus"),
            "registration.registrationStatus",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_missing_required_field_is_schema_invalid_and_named(
    obj: dict[str, Any], where: str
) -> None:
    with pytest.raises(BadInputError) as caught:
        decode_record(KEY, encode(obj))

    assert caught.value.reason == "schema_invalid"
    assert str(caught.value).startswith(where)


@pytest.mark.parametrize(
    ("obj", "where"),
    [
        (student_event(id="2637"), "student.id"),
        (student_event(id=2637.0), "student.id"),
        (student_event(id=True), "student.id"),
        (student_event(email=12), "student.email"),
        (student_event(status={"id": "1", "description": "Registered"}), "student.status.id"),
        (student_event(status="Registered"), "student.status"),
        (student_event(dateOfBirth=20080412), "student.dateOfBirth"),
        (student_event(dateOfBirth="12/04/2008"), "student.dateOfBirth"),
        (student_event(dateOfBirth="2008-04-12T00:00:00"), "student.dateOfBirth"),
        (student_event(dateOfBirth="2008-02-30"), "student.dateOfBirth"),
        (student_event(customFields=["a"]), "student.customFields"),
        (registration_event(globalCode="12"), "registration.globalCode"),
        (registration_event(globalCode=None), "registration.globalCode"),
        (registration_event(fromReRegistration="false"), "registration.fromReRegistration"),
        (registration_event(fromReRegistration=0), "registration.fromReRegistration"),
        (registration_event(previousRegistrationId="51000"), "registration.previousRegistrationId"),
        (registration_event(semesters={"id": 1}), "registration.semesters"),
        (registration_event(semesters=[{"startDate": "2026-13-01"}]), "registration.semesters"),
        (registration_event(startDate="10.09.2026"), "registration.startDate"),
        (dict(student_event(), eventId=7), "eventId"),
        (dict(student_event(), eventId=""), "eventId"),
        (dict(student_event(), tenant=""), "tenant"),
        (dict(student_event(), tenant=["northwind"]), "tenant"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_wrong_json_type_is_schema_invalid_without_coercion(
    obj: dict[str, Any], where: str
) -> None:
    with pytest.raises(BadInputError) as caught:
        decode_record(KEY, encode(obj))

    assert caught.value.reason == "schema_invalid"
    assert str(caught.value).startswith(where)


@pytest.mark.parametrize(
    "tenant", ["north:wind", ":", "northwind:", " ", "\t\n", " northwind", "northwind\n"]
)
def test_a_tenant_that_would_make_identity_keys_ambiguous_is_schema_invalid(tenant: str) -> None:
    # "north:wind" + student 8031 and "north" + a student "wind:8031" must never share a key
    obj = dict(student_event(), tenant=tenant)

    with pytest.raises(BadInputError) as caught:
        decode_record(KEY, encode(obj))

    assert caught.value.reason == "schema_invalid"
    assert str(caught.value).startswith("tenant: must be non-blank, without ':'")


@pytest.mark.parametrize("tenant", ["northwind", "n", "north-wind_2", "north wind", "\u00e9cole"])
def test_a_tenant_slug_without_a_colon_decodes_unchanged(tenant: str) -> None:
    event = decode_record(KEY, encode(dict(registration_event(), tenant=tenant)))

    assert event.tenant == tenant
    assert event.student_key == f"{tenant}:2637"


@pytest.mark.parametrize(
    "occurred_at",
    ["2026-09-01T08:00:00", "2026-09-01", "2026-09-01T08:00:00 +03:00", 1788238800, "yesterday"],
)
def test_a_timestamp_without_an_offset_is_schema_invalid(occurred_at: object) -> None:
    obj = dict(student_event(), occurredAt=occurred_at)

    with pytest.raises(BadInputError) as caught:
        decode_record(KEY, encode(obj))

    assert caught.value.reason == "schema_invalid"
    assert str(caught.value).startswith("occurredAt")


def test_an_event_type_that_does_not_match_its_body_is_schema_invalid() -> None:
    obj = dict(student_event(), eventType="registration.changed")

    assert reason_of(KEY, encode(obj)) == "schema_invalid"


@pytest.mark.parametrize(
    "event_type", ["student.deleted", "Student.Changed", "", "student.changed ", 3, ["x"], {}]
)
def test_an_unknown_event_type_is_named_as_such(event_type: object) -> None:
    obj = dict(student_event(), eventType=event_type)

    assert reason_of(KEY, encode(obj)) == "unknown_event_type"


def test_an_explicit_null_event_type_is_a_missing_field() -> None:
    obj = dict(student_event(), eventType=None)

    assert reason_of(KEY, encode(obj)) == "schema_invalid"


@pytest.mark.parametrize("version", [0, 2, 11, -1, "1", "v1", 1.0, 1.5, True, None, [1]])
def test_a_schema_version_other_than_the_integer_1_is_unsupported(version: object) -> None:
    obj = dict(student_event(), schemaVersion=version)

    assert reason_of(KEY, encode(obj)) == "unsupported_schema_version"


@pytest.mark.parametrize("version", [2, 3, 100])
def test_a_newer_schema_version_is_unsupported_even_with_an_unknown_shape(version: int) -> None:
    obj = {"schemaVersion": version, "eventType": "student.renamed", "whatever": []}

    assert reason_of(KEY, encode(obj)) == "unsupported_schema_version"


# -- the record key -------------------------------------------------------------------------------


@pytest.mark.parametrize("obj", [student_event(), registration_event()], ids=["student", "reg"])
def test_a_record_without_a_key_is_missing_key(obj: dict[str, Any]) -> None:
    assert reason_of(None, encode(obj)) == "missing_key"


@pytest.mark.parametrize("key", [b"2638", b"02637", b" 2637", b"2637 ", b"", b"2637.0", b"\xff"])
def test_a_key_other_than_the_decimal_student_id_is_key_mismatch(key: bytes) -> None:
    assert reason_of(key, encode(student_event())) == "key_mismatch"


def test_a_registration_is_keyed_by_its_student_not_by_itself() -> None:
    obj = registration_event()

    assert reason_of(b"51877", encode(obj)) == "key_mismatch"
    assert decode_record(b"2637", encode(obj)).student.id == 2637


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.integers(min_value=0))
@PROPERTY
def test_the_key_must_equal_the_student_id_exactly(student_id: int, other: int) -> None:
    obj = student_event(id=student_id)
    good = str(student_id).encode()

    assert decode_record(good, encode(obj)).student.id == student_id
    if other != student_id:
        assert reason_of(str(other).encode(), encode(obj)) == "key_mismatch"


# -- messages -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "obj",
    [
        student_event(email=["maria.example@example.org"]),
        student_event(givenName=12, email="maria.example@example.org"),
    ],
)
def test_error_messages_never_quote_field_values(obj: dict[str, Any]) -> None:
    with pytest.raises(BadInputError) as caught:
        decode_record(KEY, encode(obj))

    assert "maria" not in str(caught.value)


def test_a_reason_is_one_of_the_documented_codes() -> None:
    documented = {
        "tombstone",
        "invalid_json",
        "schema_invalid",
        "unknown_event_type",
        "unsupported_schema_version",
        "missing_key",
        "key_mismatch",
    }
    samples: list[tuple[bytes | None, bytes | None]] = [
        (KEY, None),
        (KEY, b"{"),
        (KEY, b"[]"),
        (KEY, encode(dict(student_event(), eventType="x"))),
        (KEY, encode(dict(student_event(), schemaVersion=2))),
        (None, encode(student_event())),
        (b"1", encode(student_event())),
    ]

    seen = {reason_of(key, value) for key, value in samples}

    assert seen == documented


# -- the eventId of a bad record ------------------------------------------------------------------


def error_of(key: bytes | None, value: bytes | None) -> BadInputError:
    with pytest.raises(BadInputError) as caught:
        decode_record(key, value)
    return caught.value


@pytest.mark.parametrize(
    ("key", "obj", "reason"),
    [
        (KEY, dict(student_event(), schemaVersion=2), "unsupported_schema_version"),
        (KEY, dict(student_event(), eventType="student.deleted"), "unknown_event_type"),
        (KEY, dict(student_event(), eventType=None), "schema_invalid"),
        (KEY, student_event(id="2637"), "schema_invalid"),
        (KEY, dict(student_event(), tenant="north:wind"), "schema_invalid"),
        (None, student_event(), "missing_key"),
        (b"2638", student_event(), "key_mismatch"),
        (b"\xff", student_event(), "key_mismatch"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_bad_record_that_names_its_event_id_carries_it(
    key: bytes | None, obj: dict[str, Any], reason: str
) -> None:
    error = error_of(key, encode(obj))

    assert error.reason == reason
    assert error.event_id == "e-1"


@pytest.mark.parametrize(
    "value",
    [
        None,
        b"{",
        b'["e-1"]',
        encode(without(student_event(), "eventId")),
        encode(dict(student_event(), eventId="")),
        encode(dict(student_event(), eventId=7)),
        encode(dict(student_event(), eventId=["e-1"])),
        encode(dict(student_event(), eventId="e" * 257, schemaVersion=2)),
    ],
    ids=["tombstone", "not-json", "array", "none", "empty", "number", "list", "too-long"],
)
def test_a_bad_record_without_a_usable_event_id_carries_none(value: bytes | None) -> None:
    assert error_of(KEY, value).event_id is None


def test_decoding_does_not_depend_on_key_order_or_whitespace() -> None:
    obj = registration_event()
    pretty = orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)

    assert decode_record(KEY, pretty) == decode_record(KEY, encode(obj))
