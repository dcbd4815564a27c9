"""HubSpot rejecting one event (SPEC sections 5, 7 and 10): only that event is dead-lettered.

The other events of the same batch and run are synced, and a contact written before its deal
was rejected stays.
"""

from __future__ import annotations

import pytest

from sandbox.emulator import Emulator
from sandbox.emulator.faults import FaultPlan, FaultRule
from tests.integration import builders as b
from tests.integration.harness import Stack

pytestmark = pytest.mark.integration

FINISHED = "classter_hubspot_events_finished_total"


def _headers(raw: dict[str, bytes]) -> dict[str, str]:
    return {k: v.decode() for k, v in raw.items()}


async def test_an_address_hubspot_rejects_dead_letters_only_that_event(stack: Stack) -> None:
    # valid to the daemon (it only trims and lower-cases), invalid to HubSpot: no top-level domain
    rejected = "maria.example@example"
    await stack.publish(
        [
            b.record(stack.students, b.student_changed(sid, email=f"student{sid}@example.org"))
            for sid in (1, 2)
        ]
        + [b.record(stack.students, b.student_changed(3, email=rejected))]
        + [
            b.record(stack.students, b.student_changed(sid, email=f"student{sid}@example.org"))
            for sid in (4, 5)
        ]
    )
    run = await stack.run()

    crm = await stack.crm()
    assert set(crm["contacts"]) == {"northwind:1", "northwind:2", "northwind:4", "northwind:5"}
    [letter] = await stack.dead_letters()
    headers = _headers(letter.headers)
    assert headers["x-error-class"] == "rejected"
    assert headers["x-error-reason"] == "invalid_email"
    assert headers["x-source-topic"] == stack.students
    assert letter.key == b"3"
    assert "maria" not in headers["x-error-message"]
    assert run.metric(FINISHED, outcome="synced") == 4
    assert run.metric(FINISHED, outcome="dead_lettered") == 1


async def test_a_contact_written_before_its_rejected_deal_stays(
    stack: Stack, emulator: Emulator
) -> None:
    # deal type mapped from a registration field; the portal offers newbusiness and
    # existingbusiness, and an admin withdraws "existingbusiness" while the daemon runs: the
    # daemon's schema (read at start) still allows it, HubSpot refuses the deal
    settings = stack.settings(
        actions={
            "CreateDeal": {
                "custom_mapping": [{"hubspot": "dealtype", "classter": ["customFields.dealType"]}]
            }
        }
    )

    def registration(rid: int, sid: int, deal_type: str) -> dict[str, object]:
        return b.registration_changed(rid, sid, customFields={"dealType": deal_type})

    async with stack.running(settings) as daemon:
        await stack.ready(daemon)  # ready: the portal's schema has been read
        dealtype = emulator.state.catalog.properties["deals"]["dealtype"]
        dealtype.options = [o for o in dealtype.options if o["value"] != "existingbusiness"]
        await stack.publish(
            [
                b.record(stack.registrations, registration(401, 1, "newbusiness")),
                b.record(stack.registrations, registration(402, 2, "existingbusiness")),
                # an option the daemon itself knows is not one: refused before any write
                b.record(stack.registrations, registration(403, 3, "Grade 10 intake")),
            ]
        )
        await stack.caught_up(daemon)
    run = stack.runs[-1]

    dump = await stack.dump()
    crm = await stack.crm()
    assert set(crm["contacts"]) == {"northwind:1", "northwind:2", "northwind:3"}
    assert set(crm["deals"]) == {"northwind:401"}
    assert [d["properties"].get("dealtype") for d in dump["deals"]] == ["newbusiness"]
    reasons = {
        r.key: (_headers(r.headers)["x-error-class"], _headers(r.headers)["x-error-reason"])
        for r in await stack.dead_letters()
    }
    assert reasons == {b"2": ("rejected", "invalid_option"), b"3": ("rejected", "invalid_option")}
    assert run.metric(FINISHED, outcome="dead_lettered") == 2
    # the emulator, not the daemon's own check, refused deal 402 (a 207 or a 400)
    refused = [
        n
        for route, counts in (await stack.stats())["by_route"].items()
        if route.startswith("POST") and route.endswith("/batch/create")
        for status, n in counts.items()
        if status not in ("200", "201")
    ]
    assert sum(refused) >= 1


async def test_an_update_hubspot_rejects_fails_only_its_own_event_in_the_batch(
    stack: Stack,
) -> None:
    await stack.publish([b.record(stack.students, b.student_changed(sid)) for sid in range(1, 6)])
    await stack.run()
    await stack.publish(
        [
            b.record(
                stack.students,
                b.student_changed(
                    sid,
                    givenName=f"Renamed{sid}",
                    email="no-domain@example" if sid == 3 else f"student{sid}@example.org",
                ),
            )
            for sid in range(1, 6)
        ]
    )
    run = await stack.run()

    contacts = (await stack.crm())["contacts"]
    assert {k: c["firstname"] for k, c in contacts.items()} == {
        "northwind:1": "Renamed1",
        "northwind:2": "Renamed2",
        "northwind:3": "Given3",
        "northwind:4": "Renamed4",
        "northwind:5": "Renamed5",
    }
    assert contacts["northwind:3"]["email"] == "student3@example.org"
    [letter] = await stack.dead_letters()
    assert letter.key == b"3"
    assert _headers(letter.headers)["x-error-reason"] == "invalid_email"
    assert run.metric(FINISHED, outcome="synced") == 4


async def test_a_transient_hubspot_failure_is_retried_not_dead_lettered(
    stack: Stack, emulator: Emulator
) -> None:
    await stack.publish(
        [
            b.record(stack.students, b.student_changed(1)),
            b.record(stack.registrations, b.registration_changed(101, 1)),
        ]
    )
    emulator.state.faults.install(
        FaultPlan(rules=[FaultRule(status=503, count=3, path_contains="/batch/create")]), 0
    )
    run = await stack.run()

    crm = await stack.crm()
    assert crm["deals"]["northwind:101"]["contact"] == "northwind:1"
    assert await stack.dead_letters() == []
    assert run.metric("classter_hubspot_retries_total", cause="transient") >= 3


async def test_a_long_hubspot_outage_is_waited_out_by_default_not_dead_lettered(
    stack: Stack, emulator: Emulator
) -> None:
    # more consecutive failures than any fixed attempt budget the daemon used to have (20)
    await stack.publish([b.record(stack.students, b.student_changed(1))])
    emulator.state.faults.install(
        FaultPlan(rules=[FaultRule(status=503, count=22, path_contains="/batch/create")]), 0
    )
    run = await stack.run(stack.settings(hubspot={"retry_max_backoff_s": 0.5}), timeout_s=120)

    crm = await stack.crm()
    assert crm["contacts"]["northwind:1"]["email"] == "student1@example.org"
    assert await stack.dead_letters() == []
    assert run.metric("classter_hubspot_retries_total", cause="transient") >= 22


async def test_an_operator_may_bound_attempts_and_dead_letter_after_them(
    stack: Stack, emulator: Emulator
) -> None:
    await stack.publish(
        [
            b.record(stack.students, b.student_changed(1)),
            b.record(stack.students, b.student_changed(2)),
        ]
    )
    emulator.state.faults.install(
        FaultPlan(rules=[FaultRule(status=503, path_contains="/batch/create")]), 0
    )
    run = await stack.run(stack.settings(hubspot={"max_attempts": 3}))

    letters = await stack.dead_letters()
    assert sorted(letter.key or b"" for letter in letters) == [b"1", b"2"]
    for letter in letters:
        headers = _headers(letter.headers)
        assert headers["x-error-reason"] == "retries_exhausted"
        assert "503" in headers["x-error-message"] or "Unavailable" in headers["x-error-message"]
    assert run.metric(FINISHED, outcome="dead_lettered") == 2
