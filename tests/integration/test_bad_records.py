"""Bad input (SPEC sections 7 and 10): every kind of bad record is dead-lettered, and the
partition it sits on moves on.

All records go to partition 0 of the registrations topic (both event types may share a topic),
so the valid records after the bad ones are on the same partition; the group's committed offset
must reach that partition's end.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import orjson
import pytest

from sandbox.kafka_ops import Record
from tests.integration import builders as b
from tests.integration.harness import Stack

pytestmark = pytest.mark.integration

SID = 40
KEY = str(SID).encode()
TRACE = ("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
FINISHED = "classter_hubspot_events_finished_total"


def _registration(**fields: Any) -> dict[str, Any]:
    return b.registration_changed(
        140, SID, snapshot=b.student(SID, email="zoe.oneill@example.org", givenName="Zoë"), **fields
    )


def _with(event: dict[str, Any], path: str, value: Any) -> bytes:
    """``event`` as JSON with the dotted ``path`` set to ``value`` (``...`` removes it)."""
    copy: dict[str, Any] = orjson.loads(orjson.dumps(event))
    node = copy
    *parents, last = path.split(".")
    for part in parents:
        node = node[part]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return orjson.dumps(copy)


def _bad_records(topic: str) -> list[tuple[str, Record]]:
    """(expected x-error-reason, record) for each kind of bad record."""
    valid = orjson.dumps(_registration())
    cut_at = valid.index("ë".encode()) + 1  # inside the two bytes of "ë"

    def bad(value: bytes | None, key: bytes | None = KEY) -> Record:
        return Record(topic, key, value, headers=(TRACE,), partition=0)

    return [
        ("invalid_json", bad(b"this is not JSON")),
        ("invalid_json", bad(valid[:cut_at])),  # truncated in the middle of a character
        ("invalid_json", bad(valid.replace("ë".encode(), "ë".encode()[:1]))),  # a lone lead byte
        ("schema_invalid", bad(b'["a JSON array, not an object"]')),
        ("schema_invalid", bad(_with(_registration(), "registration.globalCode", "5140"))),
        ("schema_invalid", bad(_with(_registration(), "registration.student.id", str(SID)))),
        ("schema_invalid", bad(_with(_registration(), "registration.registrationStatus", ...))),
        ("unknown_event_type", bad(_with(_registration(), "eventType", "student.deleted"))),
        ("unsupported_schema_version", bad(_with(_registration(), "schemaVersion", 2))),
        ("schema_invalid", bad(_with(_registration(), "occurredAt", "2026-11-01T09:05:00"))),
        ("tombstone", bad(None)),
        ("missing_key", bad(valid, key=None)),
        ("key_mismatch", bad(valid, key=b"41")),
    ]


async def test_each_kind_of_bad_record_is_dead_lettered_and_its_partition_moves_on(
    stack: Stack,
) -> None:
    topic = stack.registrations
    first = Record(
        topic,
        KEY,
        orjson.dumps(b.student_changed(SID, email="zoe.oneill@example.org", givenName="Zoë")),
        partition=0,
    )
    bad = _bad_records(topic)
    last = Record(topic, KEY, orjson.dumps(_registration()), partition=0)
    await stack.publish([first, *(record for _, record in bad), last])
    run = await stack.run()
    assert run.code == 0

    # the valid records before and after the bad ones were synced
    crm = await stack.crm()
    assert crm["contacts"]["northwind:40"]["firstname"] == "Zoë"
    assert crm["deals"]["northwind:140"]["contact"] == "northwind:40"

    letters = await stack.dead_letters()
    assert len(letters) == len(bad)
    by_offset = {int(r.headers["x-source-offset"]): r for r in letters}
    assert sorted(by_offset) == list(range(1, len(bad) + 1))
    for offset, (reason, source) in enumerate(bad, start=1):
        letter = by_offset[offset]
        headers = {k: v.decode() for k, v in letter.headers.items()}
        assert headers["x-source-topic"] == topic
        assert headers["x-source-partition"] == "0"
        assert headers["x-error-class"] == "bad_input", offset
        assert headers["x-error-reason"] == reason, offset
        assert headers["x-error-message"], offset
        assert "@" not in headers["x-error-message"], offset
        failed_at = dt.datetime.fromisoformat(headers["x-failed-at"])
        assert failed_at.utcoffset() is not None
        assert abs(dt.datetime.now(dt.UTC) - failed_at) < dt.timedelta(minutes=5)
        # the original record travels unchanged
        assert letter.key == source.key, offset
        assert letter.value == source.value, offset
        assert letter.headers[TRACE[0]] == TRACE[1], offset

    committed, ends = await stack.offsets()
    assert committed == {name: end for name, end in ends.items() if end}
    assert ends[f"{topic}[0]"] == len(bad) + 2
    assert run.metric(FINISHED, outcome="dead_lettered") == len(bad)
    assert run.metric(FINISHED, outcome="synced") == 2
    assert run.metric("classter_hubspot_dlq_writes_total", reason="invalid_json") == 3
    assert run.metric("classter_hubspot_dlq_writes_total", reason="schema_invalid") == 5


async def test_a_record_too_big_for_the_dlq_is_dead_lettered_cut_short_and_its_partition_moves_on(
    stack: Stack,
) -> None:
    # the broker takes it, but with the DLQ's headers it exceeds a Kafka request: no retry helps
    value = b"{" + b"x" * 1_048_399
    topic = stack.registrations
    after = Record(topic, KEY, orjson.dumps(_registration()), partition=0)
    await stack.publish([Record(topic, KEY, value, headers=(TRACE,), partition=0), after])

    run = await stack.run(timeout_s=60)

    assert run.code == 0
    assert (await stack.crm())["deals"]["northwind:140"]["contact"] == "northwind:40"
    committed, ends = await stack.offsets()
    assert committed[f"{topic}[0]"] == ends[f"{topic}[0]"] == 2
    [letter] = await stack.dead_letters()
    headers = {k: v.decode() for k, v in letter.headers.items()}
    assert headers["x-source-topic"] == topic
    assert headers["x-source-partition"] == "0"
    assert headers["x-source-offset"] == "0"
    assert headers["x-error-reason"] == "invalid_json"
    assert headers["x-value-truncated"] == "true"
    assert headers["x-value-size"] == str(len(value))
    assert headers["x-value-sha256"] == hashlib.sha256(value).hexdigest()
    assert letter.key == KEY
    assert letter.value is not None
    assert value.startswith(letter.value)
    assert 0 < len(letter.value) < len(value)
    assert run.metric("classter_hubspot_dlq_writes_total", reason="invalid_json") == 1
    assert run.metric("classter_hubspot_dlq_truncated_total") == 1
