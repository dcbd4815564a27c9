"""The event contract, version 1 (SPEC sections 2, 7 and 10), re-implemented for the oracle.

Owns: ``classify``, which says whether one Kafka record is a valid event and, if not, which DLQ
reason the daemon must give it. Written independently of ``consumer.events`` (a test checks that
both agree on every record of the sample), with the same precedence when a record has several
faults: tombstone, not UTF-8 JSON, not an object, ``schemaVersion`` other than 1, missing or
unknown ``eventType``, any other field error, missing key, key other than the student id.
Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import orjson

TOMBSTONE = "tombstone"
INVALID_JSON = "invalid_json"
SCHEMA_INVALID = "schema_invalid"
UNKNOWN_EVENT_TYPE = "unknown_event_type"
UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"
MISSING_KEY = "missing_key"
KEY_MISMATCH = "key_mismatch"
STUDENT_CHANGED = "student.changed"
REGISTRATION_CHANGED = "registration.changed"

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_STUDENT_TEXT = (
    "email",
    "givenName",
    "middleName",
    "surname",
    "gender",
    "mobilePhone",
    "externalId",
)
_REGISTRATION_REFS = ("program", "stream", "academicPeriod", "location")


class _Invalid(Exception):
    """A field breaks the contract (DLQ reason ``schema_invalid``)."""


@dataclass(frozen=True, slots=True)
class Valid:
    """A record that satisfies the contract: the parsed event and its student object."""

    event: dict[str, Any]
    event_type: str
    tenant: str
    student: dict[str, Any]
    registration: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Bad:
    """A record the daemon dead-letters as bad input."""

    reason: str


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(obj: dict[str, Any], name: str, *, required: bool = False) -> None:
    value = obj.get(name)
    if value is None and not required:
        return
    if not isinstance(value, str):
        raise _Invalid(name)


def _int(obj: dict[str, Any], name: str, *, required: bool = False) -> None:
    value = obj.get(name)
    if value is None and not required:
        return
    if not _is_int(value):
        raise _Invalid(name)


def _date(obj: dict[str, Any], name: str) -> None:
    value = obj.get(name)
    if value is None:
        return
    if not isinstance(value, str) or not _DATE.match(value):
        raise _Invalid(name)
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise _Invalid(name) from None


def _ref(obj: dict[str, Any], name: str, *, required: bool = False) -> None:
    value = obj.get(name)
    if value is None and not required:
        return
    if not isinstance(value, dict):
        raise _Invalid(name)
    _int(value, "id")
    _text(value, "description")


def _student(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid("student")
    _int(value, "id", required=True)
    for name in _STUDENT_TEXT:
        _text(value, name)
    _date(value, "dateOfBirth")
    _ref(value, "status")
    custom = value.get("customFields")
    if custom is not None and not isinstance(custom, dict):
        raise _Invalid("customFields")
    return value


def _registration(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid("registration")
    _int(value, "id", required=True)
    _int(value, "globalCode", required=True)
    _text(value, "code")
    _student(value.get("student"))
    for name in _REGISTRATION_REFS:
        _ref(value, name)
    _ref(value, "registrationStatus", required=True)
    _date(value, "startDate")
    _date(value, "endDate")
    semesters = value.get("semesters")
    if semesters is not None:
        if not isinstance(semesters, list):
            raise _Invalid("semesters")
        for semester in semesters:
            if not isinstance(semester, dict):
                raise _Invalid("semesters")
            _int(semester, "id")
            _text(semester, "description")
            _date(semester, "startDate")
    flag = value.get("fromReRegistration")
    if flag is not None and not isinstance(flag, bool):
        raise _Invalid("fromReRegistration")
    _int(value, "previousRegistrationId")
    _int(value, "firstRegistrationId")
    return value


def _timestamp_with_offset(value: object) -> bool:
    if not isinstance(value, str) or "T" not in value.upper():
        return False
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return moment.tzinfo is not None


def _envelope(event: dict[str, Any]) -> None:
    if not _is_int(event.get("schemaVersion")):
        raise _Invalid("schemaVersion")
    for name in ("eventId", "tenant"):
        value = event.get(name)
        if not isinstance(value, str) or not value:
            raise _Invalid(name)
    if not _timestamp_with_offset(event.get("occurredAt")):
        raise _Invalid("occurredAt")


def classify(key: bytes | None, value: bytes | None) -> Valid | Bad:
    """Valid event, or the DLQ reason the daemon gives this record (SPEC sections 7, 10)."""
    if value is None:
        return Bad(TOMBSTONE)
    try:
        event = orjson.loads(value)
    except orjson.JSONDecodeError:
        return Bad(INVALID_JSON)
    if not isinstance(event, dict):
        return Bad(SCHEMA_INVALID)
    if "schemaVersion" in event:
        version = event["schemaVersion"]
        if isinstance(version, bool):
            return Bad(SCHEMA_INVALID)
        if version != 1:
            return Bad(UNSUPPORTED_SCHEMA_VERSION)
    event_type = event.get("eventType")
    if event_type is None:
        return Bad(SCHEMA_INVALID)
    if event_type not in (STUDENT_CHANGED, REGISTRATION_CHANGED):
        return Bad(UNKNOWN_EVENT_TYPE)
    try:
        _envelope(event)
        if event_type == STUDENT_CHANGED:
            registration = None
            student = _student(event.get("student"))
        else:
            registration = _registration(event.get("registration"))
            student = registration["student"]
    except _Invalid:
        return Bad(SCHEMA_INVALID)
    if key is None:
        return Bad(MISSING_KEY)
    if key != str(student["id"]).encode("utf-8"):
        return Bad(KEY_MISMATCH)
    return Valid(event, event_type, event["tenant"], student, registration)
