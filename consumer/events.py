"""The event contract, version 1 (SPEC section 2), and the decoding of one Kafka record.

Owns: the pydantic models of ``student.changed`` and ``registration.changed``, and
``decode_record``, which turns a record's raw key and value into an ``Event`` or raises
``BadInputError`` with the DLQ reason code. Tolerant of unknown fields, strict about types (no
coercion of ``"12"`` to ``12``). Pure: no I/O, no Kafka types; ``intake`` passes plain bytes in.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from consumer.errors import BadInputError

SCHEMA_VERSION = 1
STUDENT_CHANGED = "student.changed"
REGISTRATION_CHANGED = "registration.changed"
EVENT_TYPES = (STUDENT_CHANGED, REGISTRATION_CHANGED)
# The tenant is the first part of every identity key (``tenant:id``): a ':' in it would make
# ``north:wind:8031`` ambiguous, and blank or padded slugs would split one institute in two.
TENANT_PATTERN = r"^[^:\s](?:[^:]*[^:\s])?$"
_TENANT = re.compile(TENANT_PATTERN)
_MAX_EVENT_ID = 256


class _Model(BaseModel):
    # strict: JSON types must match the contract; extra="ignore": forward compatible.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class Ref(_Model):
    """A Classter lookup value: ``{"id": 40, "description": "Grade 10"}``."""

    id: int | None = None
    description: str | None = None


class Student(_Model):
    """A student, or a registration's snapshot of one. Only ``id`` is required."""

    id: int
    email: str | None = None
    givenName: str | None = None
    middleName: str | None = None
    surname: str | None = None
    gender: str | None = None
    dateOfBirth: dt.date | None = None
    mobilePhone: str | None = None
    status: Ref | None = None
    externalId: str | None = None
    customFields: dict[str, Any] | None = None

    def personal_values(self) -> tuple[str, ...]:
        """The values that identify the student (masked in logs and DLQ messages)."""
        born = self.dateOfBirth.isoformat() if self.dateOfBirth else None
        values = (
            self.email,
            self.givenName,
            self.middleName,
            self.surname,
            self.mobilePhone,
            self.externalId,
            born,
        )
        return tuple(v for v in values if v)


class Semester(_Model):
    id: int | None = None
    description: str | None = None
    startDate: dt.date | None = None


class Registration(_Model):
    """One student's registration in one educational program."""

    id: int
    globalCode: int
    code: str | None = None
    student: Student
    program: Ref | None = None
    stream: Ref | None = None
    academicPeriod: Ref | None = None
    location: Ref | None = None
    registrationStatus: Ref
    startDate: dt.date | None = None
    endDate: dt.date | None = None
    semesters: list[Semester] | None = None
    fromReRegistration: bool | None = None
    previousRegistrationId: int | None = None
    firstRegistrationId: int | None = None


class _Envelope(_Model):
    schemaVersion: Literal[1]
    eventId: str = Field(min_length=1)
    occurredAt: AwareDatetime
    tenant: str = Field(min_length=1, json_schema_extra={"pattern": TENANT_PATTERN})

    @field_validator("tenant")
    @classmethod
    def _tenant_is_a_slug(cls, tenant: str) -> str:
        if not _TENANT.fullmatch(tenant):  # fullmatch: '$' alone lets a final newline in
            # the value is not quoted: messages never carry field values
            raise PydanticCustomError(
                "tenant_invalid",
                "must be non-blank, without ':' and without leading or trailing whitespace "
                "(it is the first part of every identity key)",
            )
        return tenant


class StudentChanged(_Envelope):
    eventType: Literal["student.changed"]
    student: Student


class RegistrationChanged(_Envelope):
    eventType: Literal["registration.changed"]
    registration: Registration


@dataclass(frozen=True, slots=True)
class Event:
    """A decoded, valid event.

    ``source`` is the raw JSON object of the student (for ``student.changed``) or of the
    registration, kept so that custom mappings can read fields the models do not name.
    """

    event_id: str
    event_type: str
    occurred_at: dt.datetime
    tenant: str
    student: Student
    registration: Registration | None
    source: dict[str, Any]

    @property
    def student_key(self) -> str:
        """``tenant:id``, the value of ``classter_student_id``."""
        return f"{self.tenant}:{self.student.id}"

    @property
    def student_source(self) -> dict[str, Any]:
        """The raw student object (a registration's snapshot for registrations)."""
        if self.registration is None:
            return self.source
        snapshot = self.source.get("student")
        return snapshot if isinstance(snapshot, dict) else {}


def _first_error(exc: ValidationError) -> str:
    err = exc.errors(include_url=False, include_input=False)[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(root)"
    return f"{loc}: {err['msg']}"


def _event_id(obj: dict[str, Any]) -> str | None:
    """The ``eventId`` of an object that may not decode, for logs: a non-empty string of at most
    ``_MAX_EVENT_ID`` characters (a longer one is more likely garbage than an id), else None."""
    event_id = obj.get("eventId")
    if isinstance(event_id, str) and 0 < len(event_id) <= _MAX_EVENT_ID:
        return event_id
    return None


def decode_record(key: bytes | None, value: bytes | None) -> Event:
    """Decode one Kafka record into an ``Event``.

    Raises ``BadInputError`` with reason ``tombstone``, ``invalid_json``, ``schema_invalid``,
    ``unknown_event_type``, ``unsupported_schema_version``, ``missing_key`` or ``key_mismatch``.
    Messages never quote field values (they may be personal data). Once the value is a JSON
    object, the error carries its ``eventId`` when that is a usable string (see ``_event_id``).
    """
    if value is None:
        raise BadInputError("tombstone", "record value is null (tombstone)")
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise BadInputError("invalid_json", f"value is not UTF-8 JSON: {exc.msg}") from None
    if not isinstance(obj, dict):
        raise BadInputError("schema_invalid", "value is not a JSON object")
    event_id = _event_id(obj)
    event_type = obj.get("eventType")
    version = obj.get("schemaVersion", SCHEMA_VERSION)
    # type() and not ==: true and 1.0 equal 1 in Python but are not the contract's integer
    if type(version) is not int or version != SCHEMA_VERSION:
        raise BadInputError(
            "unsupported_schema_version",
            f"schemaVersion {obj['schemaVersion']!r} is not supported (expected 1)",
            event_id=event_id,
        )
    if event_type is None:
        raise BadInputError("schema_invalid", "eventType: Field required", event_id=event_id)
    if event_type not in EVENT_TYPES:
        shown = event_type if isinstance(event_type, str) else type(event_type).__name__
        raise BadInputError(
            "unknown_event_type", f"unknown eventType {shown[:64]!r}", event_id=event_id
        )
    model: type[StudentChanged] | type[RegistrationChanged] = (
        StudentChanged if event_type == STUDENT_CHANGED else RegistrationChanged
    )
    try:
        parsed = model.model_validate_json(value)
    except ValidationError as exc:
        raise BadInputError("schema_invalid", _first_error(exc), event_id=event_id) from None
    if isinstance(parsed, StudentChanged):
        student, registration, source = parsed.student, None, obj["student"]
    else:
        student, registration, source = (
            parsed.registration.student,
            parsed.registration,
            obj["registration"],
        )
    if key is None:
        raise BadInputError(
            "missing_key", "record has no key (expected the student id)", event_id=event_id
        )
    try:
        key_text = key.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInputError("key_mismatch", "record key is not UTF-8", event_id=event_id) from None
    if key_text != str(student.id):
        raise BadInputError(
            "key_mismatch", "record key differs from the student id", event_id=event_id
        )
    return Event(
        event_id=parsed.eventId,
        event_type=event_type,
        occurred_at=parsed.occurredAt,
        tenant=parsed.tenant,
        student=student,
        registration=registration,
        source=source,
    )


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the event contract v1 (committed as ``schemas/event.v1.json``)."""
    from pydantic.json_schema import models_json_schema  # noqa: PLC0415 - only for `schema`

    _, defs = models_json_schema(
        [(StudentChanged, "validation"), (RegistrationChanged, "validation")],
        ref_template="#/$defs/{model}",
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/classter-hubspot/schemas/event.v1.json",
        "title": "Classter change event, version 1",
        "description": "One Kafka record value. Unknown fields are ignored; the record key is the "
        "student id as a decimal string.",
        "oneOf": [{"$ref": "#/$defs/StudentChanged"}, {"$ref": "#/$defs/RegistrationChanged"}],
        **defs,
    }
