"""Builders of contract-v1 events and Kafka records for integration tests.

Every value is invented (example.org addresses). Defaults give a valid, syncable event; keyword
arguments override single fields, and ``None`` removes a field from the JSON.
"""

from __future__ import annotations

import itertools
from typing import Any

import orjson

from sandbox.kafka_ops import Record

TENANT = "northwind"
_ids = itertools.count(1)


def _prune(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if v is not None}


def student(sid: int, **fields: Any) -> dict[str, Any]:
    """A student object (also used as a registration's snapshot)."""
    base: dict[str, Any] = {
        "id": sid,
        "email": f"student{sid}@example.org",
        "givenName": f"Given{sid}",
        "surname": f"Surname{sid}",
        "status": {"id": 1, "description": "Registered"},
    }
    base.update(fields)
    return _prune(base)


def student_changed(
    sid: int, *, tenant: str = TENANT, occurred_at: str = "2026-11-01T09:00:00+02:00", **fields: Any
) -> dict[str, Any]:
    return {
        "schemaVersion": 1,
        "eventId": f"s-{sid}-{next(_ids)}",
        "eventType": "student.changed",
        "occurredAt": occurred_at,
        "tenant": tenant,
        "student": student(sid, **fields),
    }


def registration(
    rid: int, sid: int, *, snapshot: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": rid,
        "globalCode": 5000 + rid,
        "code": f"NW-{rid}",
        "student": snapshot if snapshot is not None else student(sid),
        "program": {"id": 40, "description": "Grade 10"},
        "stream": {"id": 77, "description": "Science"},
        "academicPeriod": {"id": 12, "description": "2026-2027"},
        "location": {"id": 2, "description": "Main Campus"},
        "registrationStatus": {"id": 14, "description": "Registered"},
        "startDate": "2026-09-10",
        "endDate": "2027-06-20",
        "semesters": [{"id": 301, "description": "Semester A", "startDate": "2026-09-10"}],
        "fromReRegistration": False,
    }
    base.update(fields)
    return _prune(base)


def registration_changed(
    rid: int,
    sid: int,
    *,
    tenant: str = TENANT,
    occurred_at: str = "2026-11-01T09:05:00+02:00",
    snapshot: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    return {
        "schemaVersion": 1,
        "eventId": f"r-{rid}-{next(_ids)}",
        "eventType": "registration.changed",
        "occurredAt": occurred_at,
        "tenant": tenant,
        "registration": registration(rid, sid, snapshot=snapshot, **fields),
    }


def record(topic: str, event: dict[str, Any], *, key: str | None = "auto") -> Record:
    """A Kafka record of ``event`` keyed by its student id (``key=None``: no key)."""
    if key == "auto":
        body = event.get("student") or event["registration"]["student"]
        key = str(body["id"])
    return Record(topic, key.encode() if key is not None else None, orjson.dumps(event))


def raw(topic: str, value: bytes | None, key: bytes | None = b"1") -> Record:
    """A record with exactly these bytes (bad input)."""
    return Record(topic, key, value)
