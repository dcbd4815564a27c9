"""A deterministic hostile-input corpus: bad Kafka records interleaved with valid ones.

Owns: at least 200 records that break the event contract in the ways SPEC sections 2, 7 and 10
name (not JSON, truncated or invalid UTF-8, wrong JSON types, missing fields, huge values, null
keys, tombstones, unknown event types, unsupported schema versions, keys that disagree with the
student id, values HubSpot rejects), each with the DLQ error class and reason the daemon must
give it, and valid ``student.changed`` records between them on the same partitions (each valid
student has one event, so an explicit partition never breaks a student's order). The expected
reasons are written here from the contract, not computed by the daemon's decoder. Pure and
seeded: the same ``seed`` gives the same bytes. Must not: be imported by ``consumer/``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

TENANT = "northwind"
FIRST_ID = 70_001
BAD_INPUT = "bad_input"


@dataclass(frozen=True, slots=True)
class HostileRecord:
    """One record to publish on ``partition``; ``reason`` None means it must be synced."""

    partition: int
    key: bytes | None
    value: bytes | None
    error_class: str | None = None
    reason: str | None = None
    label: str = ""
    student_id: int | None = None  # valid records: whose contact must exist afterwards


def _event(sid: int, **student: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": sid,
        "email": f"hostile{sid}@example.org",
        "givenName": f"Given{sid}",
        "surname": f"Surname{sid}",
        "status": {"id": 1, "description": "Registered"},
    }
    body.update(student)
    return {
        "schemaVersion": 1,
        "eventId": f"hostile-{sid}",
        "eventType": "student.changed",
        "occurredAt": "2026-11-01T09:00:00+02:00",
        "tenant": TENANT,
        "student": body,
    }


def _registration(sid: int, **fields: Any) -> dict[str, Any]:
    registration: dict[str, Any] = {
        "id": 900_000 + sid,
        "globalCode": 5000,
        "student": {"id": sid, "email": f"hostile{sid}@example.org"},
        "registrationStatus": {"id": 14, "description": "Registered"},
    }
    registration.update(fields)
    return {
        "schemaVersion": 1,
        "eventId": f"hostile-r-{sid}",
        "eventType": "registration.changed",
        "occurredAt": "2026-11-01T09:05:00+02:00",
        "tenant": TENANT,
        "registration": registration,
    }


def _without(obj: dict[str, Any], *path: str) -> dict[str, Any]:
    out = orjson.loads(orjson.dumps(obj))
    node = out
    for part in path[:-1]:
        node = node[part]
    node.pop(path[-1])
    return out  # type: ignore[no-any-return]


def _with(obj: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    out = orjson.loads(orjson.dumps(obj))
    node = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return out  # type: ignore[no-any-return]


Bad = tuple[str, bytes | None, bytes | None, str, str]  # label, key, value, class, reason
Maker = Callable[[int, random.Random], list[Bad]]


def _not_json(sid: int, rng: random.Random) -> list[Bad]:
    good = orjson.dumps(_event(sid))
    key = str(sid).encode()
    cut = rng.randrange(5, len(good) - 2)
    garbage = bytes(rng.randrange(256) for _ in range(rng.randrange(8, 64)))
    return [
        ("truncated json", key, good[:cut], BAD_INPUT, "invalid_json"),
        ("empty value", key, b"", BAD_INPUT, "invalid_json"),
        ("whitespace only", key, b"  \n\t ", BAD_INPUT, "invalid_json"),
        ("trailing garbage", key, good + b"}", BAD_INPUT, "invalid_json"),
        # 0xFF never occurs in UTF-8, so random garbage with it is never valid JSON
        ("random bytes", key, b"\xff" + garbage, BAD_INPUT, "invalid_json"),
        ("byte order mark", key, b"\xef\xbb\xbf" + good, BAD_INPUT, "invalid_json"),
        ("single quotes", key, good.replace(b'"', b"'"), BAD_INPUT, "invalid_json"),
        ("NaN", key, b"NaN", BAD_INPUT, "invalid_json"),
        ("infinite number", key, b'{"schemaVersion": 1e400}', BAD_INPUT, "invalid_json"),
        ("nested too deep", key, b"[" * 2048 + b"]" * 2048, BAD_INPUT, "invalid_json"),
    ]


def _bad_utf8(sid: int, rng: random.Random) -> list[Bad]:
    key = str(sid).encode()
    text = orjson.dumps(_event(sid, givenName="Ελένη"))
    start = text.index("Ελένη".encode())
    cut = start + 1 + 2 * rng.randrange(0, 4)  # inside a two-byte Greek letter
    return [
        ("utf-8 cut inside a character", key, text[:cut], BAD_INPUT, "invalid_json"),
        (
            "utf-8 cut inside a character, then closed",
            key,
            text[:cut] + b'"}}',
            BAD_INPUT,
            "invalid_json",
        ),
        (
            "latin-1 bytes in a string",
            key,
            text.replace("Ελένη".encode(), b"\xe9l\xe8ne"),
            BAD_INPUT,
            "invalid_json",
        ),
        (
            "lone surrogate escape",
            key,
            text.replace("Ελένη".encode(), b"\\ud800"),
            BAD_INPUT,
            "invalid_json",
        ),
    ]


def _wrong_types(sid: int, _: random.Random) -> list[Bad]:
    key = str(sid).encode()
    e = _event(sid)
    cases: list[tuple[str, Any, tuple[str, ...]]] = [
        ("student id as a string", str(sid), ("student", "id")),
        ("student id as a float", float(sid), ("student", "id")),
        ("student id as a bool", True, ("student", "id")),
        ("student id null", None, ("student", "id")),
        ("email as a number", 42, ("student", "email")),
        ("givenName as a list", ["a"], ("student", "givenName")),
        ("status as a string", "Registered", ("student", "status")),
        ("status id as a string", "1", ("student", "status", "id")),
        ("dateOfBirth not a date", "2008-13-45", ("student", "dateOfBirth")),
        ("dateOfBirth as a number", 20080412, ("student", "dateOfBirth")),
        ("customFields as a list", [1, 2], ("student", "customFields")),
        ("student as a string", "2637", ("student",)),
        ("student null", None, ("student",)),
        ("eventId as a number", 7, ("eventId",)),
        ("eventId empty", "", ("eventId",)),
        ("tenant as a number", 3, ("tenant",)),
        ("tenant empty", "", ("tenant",)),
        ("occurredAt without offset", "2026-11-01T09:00:00", ("occurredAt",)),
        ("occurredAt not a time", "yesterday", ("occurredAt",)),
        ("occurredAt as a number", 1_700_000_000, ("occurredAt",)),
    ]
    out: list[Bad] = [
        (label, key, orjson.dumps(_with(e, value, *path)), BAD_INPUT, "schema_invalid")
        for label, value, path in cases
    ]
    r = _registration(sid)
    reg_cases: list[tuple[str, Any, tuple[str, ...]]] = [
        ("globalCode as a string", "5000", ("registration", "globalCode")),
        ("registration id as a string", "1", ("registration", "id")),
        ("semesters not a list", {"id": 1}, ("registration", "semesters")),
        ("semester startDate not a date", [{"startDate": "soon"}], ("registration", "semesters")),
        ("startDate as a number", 20260910, ("registration", "startDate")),
        ("fromReRegistration as a string", "false", ("registration", "fromReRegistration")),
        ("registrationStatus as a string", "Registered", ("registration", "registrationStatus")),
        ("registration as a list", [], ("registration",)),
    ]
    out += [
        (label, key, orjson.dumps(_with(r, value, *path)), BAD_INPUT, "schema_invalid")
        for label, value, path in reg_cases
    ]
    out += [
        ("value is a JSON array", key, b"[1, 2, 3]", BAD_INPUT, "schema_invalid"),
        ("value is a JSON string", key, b'"student.changed"', BAD_INPUT, "schema_invalid"),
        ("value is a JSON number", key, b"2637", BAD_INPUT, "schema_invalid"),
        ("value is JSON null", key, b"null", BAD_INPUT, "schema_invalid"),
    ]
    return out


def _missing(sid: int, _: random.Random) -> list[Bad]:
    key = str(sid).encode()
    e, r = _event(sid), _registration(sid)
    out: list[Bad] = [
        (f"missing {'.'.join(path)}", key, orjson.dumps(_without(e, *path)), BAD_INPUT, reason)
        for path, reason in [
            (("schemaVersion",), "schema_invalid"),
            (("eventId",), "schema_invalid"),
            (("eventType",), "schema_invalid"),
            (("occurredAt",), "schema_invalid"),
            (("tenant",), "schema_invalid"),
            (("student",), "schema_invalid"),
            (("student", "id"), "schema_invalid"),
        ]
    ]
    out += [
        (f"missing {'.'.join(path)}", key, orjson.dumps(_without(r, *path)), BAD_INPUT, reason)
        for path, reason in [
            (("registration",), "schema_invalid"),
            (("registration", "id"), "schema_invalid"),
            (("registration", "globalCode"), "schema_invalid"),
            (("registration", "student"), "schema_invalid"),
            (("registration", "student", "id"), "schema_invalid"),
            (("registration", "registrationStatus"), "schema_invalid"),
        ]
    ]
    out.append(("empty object", key, b"{}", BAD_INPUT, "schema_invalid"))
    return out


def _envelope(sid: int, _: random.Random) -> list[Bad]:
    key = str(sid).encode()
    e = _event(sid)
    out: list[Bad] = [
        (
            f"eventType {value!r}",
            key,
            orjson.dumps({**e, "eventType": value}),
            BAD_INPUT,
            "unknown_event_type",
        )
        for value in ["student.deleted", "STUDENT.CHANGED", "", "registration.created", 42, ["x"]]
    ]
    out += [
        (
            f"schemaVersion {value!r}",
            key,
            orjson.dumps({**e, "schemaVersion": value}),
            BAD_INPUT,
            "unsupported_schema_version",
        )
        for value in [2, 0, -1, "1", 1.0, True, None, 999]
    ]
    return out


def _keys(sid: int, _: random.Random) -> list[Bad]:
    value = orjson.dumps(_event(sid))
    reg = orjson.dumps(_registration(sid))
    huge_id = orjson.dumps(_event(sid)).replace(
        f'"id":{sid}'.encode(), f'"id":{sid}000000000000000000000'.encode()
    )
    return [
        ("null key", None, value, BAD_INPUT, "missing_key"),
        ("null key on a registration", None, reg, BAD_INPUT, "missing_key"),
        ("key of another student", str(sid + 1).encode(), value, BAD_INPUT, "key_mismatch"),
        ("key with a leading zero", f"0{sid}".encode(), value, BAD_INPUT, "key_mismatch"),
        ("key with a space", f" {sid}".encode(), value, BAD_INPUT, "key_mismatch"),
        ("key with the tenant", f"{TENANT}:{sid}".encode(), value, BAD_INPUT, "key_mismatch"),
        ("empty key", b"", value, BAD_INPUT, "key_mismatch"),
        ("key not UTF-8", b"\xff\xfe", value, BAD_INPUT, "key_mismatch"),
        (
            "registration key of another student",
            str(sid + 1).encode(),
            reg,
            BAD_INPUT,
            "key_mismatch",
        ),
        ("huge student id, short key", str(sid).encode(), huge_id, BAD_INPUT, "key_mismatch"),
    ]


def _tombstones(sid: int, _: random.Random) -> list[Bad]:
    return [
        ("tombstone", str(sid).encode(), None, BAD_INPUT, "tombstone"),
        # a record with neither key nor value cannot be produced (Kafka clients refuse it)
        ("tombstone with an empty key", b"", None, BAD_INPUT, "tombstone"),
    ]


def _huge(sid: int, rng: random.Random) -> list[Bad]:
    key = str(sid).encode()
    blob = bytes(rng.randrange(32, 127) for _ in range(600_000)).replace(b"\\", b"/")
    return [
        ("600 kB of text", key, blob, BAD_INPUT, "invalid_json"),
        (
            "600 kB string in a wrong-typed field",
            key,
            orjson.dumps(_with(_event(sid), blob.decode().replace('"', "'"), "student", "id")),
            BAD_INPUT,
            "schema_invalid",
        ),
    ]


def _rejected(sid: int, _: random.Random) -> list[Bad]:
    # valid by the contract, refused by HubSpot's validation: per-event, not a crash
    key = str(sid).encode()
    return [
        (
            "e-mail HubSpot refuses",
            key,
            orjson.dumps(_event(sid, email=f"not an address {sid}")),
            "rejected",
            "invalid_email",
        ),
    ]


MAKERS: tuple[Maker, ...] = (
    _not_json,
    _bad_utf8,
    _wrong_types,
    _missing,
    _envelope,
    _keys,
    _tombstones,
    _huge,
    _rejected,
)


def corpus(seed: int = 4, partitions: int = 6, rounds: int = 3) -> list[HostileRecord]:
    """The corpus in publish order: valid, bad, valid, bad, ... on each partition.

    Every bad record has a valid record of another student just before and just after it on its
    partition. ``rounds`` repeats the makers with other student ids and other random bytes.
    """
    rng = random.Random(seed)
    bad: list[Bad] = []
    sid = FIRST_ID
    for _ in range(rounds):
        for make in MAKERS:
            bad.extend(make(sid, rng))
            sid += 10
    out: list[HostileRecord] = []
    valid_id = FIRST_ID + 50_000
    huge_name = "Ω" * 70_000  # over HubSpot's 65,536-character limit: cut, not refused

    def valid(partition: int) -> None:
        nonlocal valid_id
        extra = {"middleName": huge_name} if valid_id % 17 == 0 else {}
        event = _event(valid_id, **extra)
        out.append(
            HostileRecord(
                partition,
                str(valid_id).encode(),
                orjson.dumps(event),
                label="valid",
                student_id=valid_id,
            )
        )
        valid_id += 1

    for n, (label, key, value, error_class, reason) in enumerate(bad):
        partition = n % partitions
        valid(partition)
        out.append(HostileRecord(partition, key, value, error_class, reason, label))
    for partition in range(partitions):
        valid(partition)
    return out
