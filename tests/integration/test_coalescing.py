"""Several pending events of one student become one write per record (SPEC section 5).

All events go to one topic (SPEC section 2 allows both kinds on one topic) and are published
before the daemon starts, so each student's events are queued together when their lane runs.
"""

from __future__ import annotations

from collections import Counter

import orjson
import pytest

from sandbox.emulator import Emulator
from tests.integration import builders as b
from tests.integration.harness import Stack

pytestmark = pytest.mark.integration

STUDENTS = range(1, 26)


def calls(emulator: Emulator, suffix: str) -> int:
    return sum(
        sum(counts.values())
        for route, counts in emulator.state.stats.snapshot()["by_route"].items()
        if "/objects/" in route and route.endswith(suffix)
    )


async def test_a_students_queued_events_are_written_once_with_the_last_values(
    stack: Stack, emulator: Emulator
) -> None:
    topic = stack.students
    records = []
    for sid in STUDENTS:
        pre = {"id": 2, "description": "Pre-registered"}
        records += [
            b.record(topic, b.student_changed(sid, mobilePhone="+30 690 000 0001", status=pre)),
            b.record(topic, b.student_changed(sid, mobilePhone=f"+30 690 111 {sid:04d}")),
            b.record(
                topic,
                b.registration_changed(
                    4000 + sid,
                    sid,
                    registrationStatus={"id": 12, "description": "Pre-registered"},
                ),
            ),
            b.record(topic, b.registration_changed(4000 + sid, sid)),  # Registered: closedwon
        ]
    await stack.publish(records)
    settings = stack.settings(kafka={"topics": [topic]})

    run = await stack.run(settings)

    assert run.code == 0
    state = await stack.dump()
    contacts = {c["properties"]["classter_student_id"]: c["properties"] for c in state["contacts"]}
    assert sorted(contacts) == sorted(f"northwind:{sid}" for sid in STUDENTS)
    for sid in STUDENTS:
        assert contacts[f"northwind:{sid}"]["mobilephone"] == f"+30 690 111 {sid:04d}"
    stages = Counter(d["properties"]["dealstage"] for d in state["deals"])
    assert stages == {"closedwon": len(STUDENTS)}
    assert not await stack.dead_letters()
    # every student's four events became one contact create and one deal create: no update
    assert calls(emulator, "/batch/update") == 0, orjson.dumps(emulator.state.stats.snapshot())
    assert calls(emulator, "/batch/create") <= 6
    assert run.metric("classter_hubspot_events_finished_total", outcome="synced") == 4 * len(
        STUDENTS
    )


async def test_when_a_merged_write_is_refused_only_the_event_at_fault_is_dead_lettered(
    stack: Stack, emulator: Emulator
) -> None:
    topic = stack.students
    bad = b.student_changed(3, email="no-at-sign.example.org")
    records = [b.record(topic, b.student_changed(sid)) for sid in (1, 2, 3)]
    records += [b.record(topic, bad), b.record(topic, b.registration_changed(5003, 3))]
    await stack.publish(records)

    run = await stack.run(stack.settings(kafka={"topics": [topic]}))

    assert run.code == 0
    state = await stack.dump()
    emails = sorted(c["properties"]["email"] for c in state["contacts"])
    assert emails == [f"student{sid}@example.org" for sid in (1, 2, 3)]
    assert [d["properties"]["classter_deal_code"] for d in state["deals"]] == ["northwind:5003"]
    letters = await stack.dead_letters()
    assert [orjson.loads(r.value or b"{}")["eventId"] for r in letters] == [bad["eventId"]]
    assert letters[0].headers["x-error-reason"] == b"invalid_email"
    assert run.metric("classter_hubspot_retries_total", cause="ungrouped") >= 1
