"""Reprocessing (SPEC sections 4, 6 and 10): after the group's offsets are reset to the earliest
with Kafka's own ``kafka-consumer-groups`` tool, a second run over the same topics leaves HubSpot
as the first run left it: the same contacts and deals, no duplicate, nothing created."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from sandbox.kafka_broker import Broker
from sandbox.kafka_ops import ReadRecord, Record
from tests.integration import builders as b
from tests.integration.harness import Stack

pytestmark = pytest.mark.integration


def _records(stack: Stack) -> list[Record]:
    """A small history whose end state does not depend on how the two topics interleave."""
    s, r = stack.students, stack.registrations

    def reg(rid: int, sid: int, email: str | None = None, **fields: Any) -> Record:
        snapshot = b.student(sid, email=email or f"student{sid}@example.org")
        return b.record(r, b.registration_changed(rid, sid, snapshot=snapshot, **fields))

    return [
        b.record(s, b.student_changed(1)),
        reg(601, 1),
        # adopts the seeded lead
        b.record(s, b.student_changed(2, email="lead.two@example.org")),
        reg(602, 2, "lead.two@example.org"),
        # keep_deal_code moves deal 603 on
        reg(603, 3),
        reg(
            613,
            3,
            fromReRegistration=True,
            firstRegistrationId=603,
            previousRegistrationId=603,
            program={"id": 41, "description": "Grade 11"},
        ),
        # an e-mail change: the replay passes through the old address and ends on the new one
        b.record(s, b.student_changed(4, email="old.four@example.org")),
        b.record(s, b.student_changed(4, email="new.four@example.org")),
        reg(604, 4, "new.four@example.org"),
        b.record(s, b.student_changed(5, email=None)),  # skipped: no e-mail
        b.record(s, b.student_changed(6, email="taken@example.org")),  # email_conflict
        Record(r, b"7", b"{not json"),  # bad input
    ]


def _creates(stats: dict[str, Any]) -> int:
    """Contact and deal create calls (what a duplicate would need)."""
    return sum(
        sum(counts.values())
        for route, counts in stats["by_route"].items()
        if route.startswith("POST /crm/objects/") and route.endswith("/batch/create")
    )


def _source(letter: ReadRecord) -> tuple[bytes, ...]:
    h = letter.headers
    return (h["x-source-topic"], h["x-source-partition"], h["x-source-offset"])


def _settled(dump: dict[str, Any], moving: set[str]) -> list[dict[str, Any]]:
    """Every contact and deal record, whole, except those keyed by ``moving``."""
    return [
        record
        for kind in ("contacts", "deals")
        for record in dump[kind]
        if record["properties"].get("classter_student_id") not in moving
        and record["properties"].get("classter_deal_code") not in moving
    ]


def _records_of(dump: dict[str, Any]) -> dict[str, set[str]]:
    return {kind: {r["id"] for r in dump[kind]} for kind in ("contacts", "deals")}


async def test_a_second_run_from_the_earliest_offsets_changes_nothing(
    stack: Stack, kafka_broker: Broker
) -> None:
    await stack.seed(
        {
            "contacts": [
                {"properties": {"email": "Lead.Two@example.org", "firstname": "Lead"}},
                {
                    "properties": {
                        "email": "taken@example.org",
                        "classter_student_id": "northwind:99",
                    }
                },
            ]
        }
    )
    await stack.publish(_records(stack))
    first = await stack.run()
    assert first.code == 0
    crm = await stack.crm()
    dump = await stack.dump()
    stats = await stack.stats()
    letters = await stack.dead_letters()
    assert len(crm["contacts"]) == 5  # 1, 2 (adopted), 3, 4 and the seeded northwind:99
    assert set(crm["deals"]) == {"northwind:601", "northwind:602", "northwind:603", "northwind:604"}
    assert crm["contacts"]["northwind:4"]["email"] == "new.four@example.org"
    assert len(letters) == 2

    out = kafka_broker.tool(
        "consumer-groups",
        "--bootstrap-server",
        stack.bootstrap,
        "--group",
        stack.group,
        "--reset-offsets",
        "--to-earliest",
        "--topic",
        stack.students,
        "--topic",
        stack.registrations,
        "--execute",
    )
    assert stack.students in out
    committed, _ = await stack.offsets()
    assert set(committed.values()) == {0}

    second = await stack.run()
    assert second.code == 0

    assert await stack.crm() == crm
    again = await stack.dump()
    assert _records_of(again) == _records_of(dump)
    assert again["associations"] == dump["associations"]
    # records whose history is a single state were not even rewritten (same updatedAt)
    moving = {"northwind:4", "northwind:603"}  # an e-mail change and a re-registration replay
    assert len(_settled(dump, moving)) == 7
    assert _settled(again, moving) == _settled(dump, moving)
    assert _creates(stats) > 0
    assert _creates(await stack.stats()) == _creates(stats)
    # the bad records are dead-lettered again, each once more
    sources = Counter(_source(r) for r in await stack.dead_letters())
    assert sources == Counter({_source(r): 2 for r in letters})
    assert second.metric(
        "classter_hubspot_events_finished_total", outcome="synced"
    ) == first.metric("classter_hubspot_events_finished_total", outcome="synced")
