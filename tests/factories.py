"""Builders shared by the unit tests: sample events (SPEC section 2), settings trees, specs.

Every builder returns a fresh object, so a test may change what it gets without touching others.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import orjson
from hypothesis import HealthCheck, settings

from consumer.config import Settings
from consumer.events import Event, Registration, decode_record

# Property-based tests stay fast and leave no example database behind in the work tree.
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

STUDENT_EVENT: dict[str, Any] = {
    "schemaVersion": 1,
    "eventId": "e-1",
    "eventType": "student.changed",
    "occurredAt": "2026-09-01T08:00:00+03:00",
    "tenant": "northwind",
    "student": {
        "id": 2637,
        "email": "maria.example@example.org",
        "givenName": "Maria",
        "middleName": "Eleni",
        "surname": "Example",
        "gender": "Female",
        "dateOfBirth": "2008-04-12",
        "mobilePhone": "+30 690 000 0000",
        "status": {"id": 1, "description": "Registered"},
        "externalId": "SIS-991",
        "customFields": {"customFieldTxt1": "Scholarship"},
    },
}

REGISTRATION_EVENT: dict[str, Any] = {
    "schemaVersion": 1,
    "eventId": "e-2",
    "eventType": "registration.changed",
    "occurredAt": "2026-09-01T08:05:00+03:00",
    "tenant": "northwind",
    "registration": {
        "id": 51877,
        "globalCode": 51877,
        "code": "NW-G10-2026-015",
        "student": {
            "id": 2637,
            "email": "maria.example@example.org",
            "givenName": "Maria",
            "surname": "Example",
            "status": {"id": 1, "description": "Registered"},
        },
        "program": {"id": 40, "description": "Grade 10"},
        "stream": {"id": 77, "description": "Science"},
        "academicPeriod": {"id": 12, "description": "2026-2027"},
        "location": {"id": 2, "description": "Main Campus"},
        "registrationStatus": {"id": 14, "description": "Registered"},
        "startDate": "2026-09-10",
        "endDate": "2027-06-20",
        "semesters": [{"id": 301, "description": "Semester A", "startDate": "2026-09-10"}],
        "fromReRegistration": False,
        "previousRegistrationId": None,
        "firstRegistrationId": None,
    },
}

KEY = b"2637"


def student_event(**student: Any) -> dict[str, Any]:
    """The SPEC's ``student.changed`` sample; keyword arguments replace student fields."""
    obj = copy.deepcopy(STUDENT_EVENT)
    obj["student"].update(student)
    return obj


def registration_event(**registration: Any) -> dict[str, Any]:
    """The SPEC's ``registration.changed`` sample; keyword arguments replace registration fields."""
    obj = copy.deepcopy(REGISTRATION_EVENT)
    obj["registration"].update(registration)
    return obj


def encode(obj: object) -> bytes:
    return orjson.dumps(obj)


def decoded(obj: dict[str, Any], key: bytes = KEY) -> Event:
    return decode_record(key, encode(obj))


def registration(**fields: Any) -> Registration:
    """A registration model built from the SPEC sample with ``fields`` replaced."""
    raw = registration_event(**fields)["registration"]
    return Registration.model_validate_json(encode(raw))


def make_settings(**tree: Any) -> Settings:
    """Settings from a config tree, as the YAML file would give it (lax, like the loader)."""
    return Settings.model_validate(tree)


def days_before(today: dt.date, days: int) -> dt.date:
    return today - dt.timedelta(days=days)
