"""The deal rules at their boundaries (SPEC sections 4 and 10), through the running daemon.

``examples/config.yaml`` pins today to 2026-11-15 (``fixed_today``) and sets min_global_code
1000, max_program_start_age_days 365, max_semester_start_age_days 180 and the student-status
gate ``["Registered", 5]``. Each test publishes a handful of records for students of its own,
runs the daemon until its group has no lag, and reads the emulator's records back.
"""

from __future__ import annotations

import pytest

from sandbox.kafka_ops import Record
from tests.integration import builders as b
from tests.integration.harness import Stack

pytestmark = pytest.mark.integration

SKIPS = "classter_hubspot_rule_skips_total"
FINISHED = "classter_hubspot_events_finished_total"
PRE_REGISTERED = {"id": 2, "description": "Pre-registered"}
REGISTERED = {"id": 14, "description": "Registered"}


async def test_a_global_code_equal_to_the_minimum_creates_the_deal_and_one_below_does_not(
    stack: Stack,
) -> None:
    await stack.publish(
        [
            b.record(stack.registrations, b.registration_changed(111, 11, globalCode=1000)),
            b.record(stack.registrations, b.registration_changed(112, 12, globalCode=999)),
        ]
    )
    run = await stack.run()

    crm = await stack.crm()
    assert crm["deals"]["northwind:111"]["dealstage"] == "closedwon"
    assert "northwind:112" not in crm["deals"]
    assert set(crm["contacts"]) == {"northwind:11", "northwind:12"}  # the contact still comes
    assert run.metric(SKIPS, rule="global_code_below_minimum") == 1


async def seed_legacy_deal(stack: Stack, code: str) -> None:
    """A deal carried over from before the integration: it has its code, but no contact."""
    await stack.seed(
        {
            "deals": [
                {
                    "properties": {
                        "dealname": "Legacy deal",
                        "pipeline": "default",
                        "dealstage": "appointmentscheduled",
                        "classter_deal_code": code,
                    }
                }
            ]
        }
    )


async def test_a_global_code_below_the_minimum_still_updates_an_existing_deal(
    stack: Stack,
) -> None:
    await seed_legacy_deal(stack, "northwind:113")
    withdrawn = {"id": 16, "description": "Withdrawn"}
    await stack.publish(
        [
            b.record(
                stack.registrations,
                b.registration_changed(113, 13, globalCode=999, registrationStatus=withdrawn),
            )
        ]
    )
    run = await stack.run()

    crm = await stack.crm()
    deal = crm["deals"]["northwind:113"]
    assert deal["dealstage"] == "closedlost"
    assert deal["classter_registration_status"] == "Withdrawn"
    assert deal["dealname"] == "Given13 Surname13 - Grade 10 - 2026-2027"
    assert deal["contact"] == "northwind:13"  # the legacy deal gets its student's contact
    assert len(crm["deals"]) == 1
    assert run.metric(SKIPS, rule="global_code_below_minimum") == 0


async def test_a_program_that_started_exactly_365_days_ago_passes_and_366_days_ago_does_not(
    stack: Stack,
) -> None:
    await stack.publish(
        [
            b.record(
                stack.registrations,
                b.registration_changed(121, 21, startDate="2025-11-15", semesters=None),
            ),
            b.record(
                stack.registrations,
                b.registration_changed(122, 22, startDate="2025-11-14", semesters=None),
            ),
        ]
    )
    run = await stack.run()

    crm = await stack.crm()
    assert crm["deals"]["northwind:121"]["classter_start_date"] == "2025-11-15"
    assert "northwind:122" not in crm["deals"]
    assert run.metric(SKIPS, rule="program_start_too_old") == 1


async def test_a_semester_that_started_exactly_180_days_ago_passes_and_181_days_ago_does_not(
    stack: Stack,
) -> None:
    def semester(day: str) -> list[dict[str, object]]:
        return [{"id": 1, "description": "Summer", "startDate": day}]

    await stack.publish(
        [
            b.record(
                stack.registrations,
                b.registration_changed(
                    131, 31, startDate="2026-05-19", semesters=semester("2026-05-19")
                ),
            ),
            b.record(
                stack.registrations,
                b.registration_changed(
                    132, 32, startDate="2026-05-19", semesters=semester("2026-05-18")
                ),
            ),
            # any semester counts: a later one does not rescue an early one
            b.record(
                stack.registrations,
                b.registration_changed(
                    133,
                    33,
                    startDate="2026-09-10",
                    semesters=[*semester("2026-09-10"), *semester("2026-05-18")],
                ),
            ),
        ]
    )
    run = await stack.run()

    crm = await stack.crm()
    assert set(crm["deals"]) == {"northwind:131"}
    assert run.metric(SKIPS, rule="semester_start_too_old") == 2
    assert run.metric(SKIPS, rule="program_start_too_old") == 0


async def test_an_age_rule_also_stops_the_update_of_an_existing_deal(stack: Stack) -> None:
    await stack.publish(
        [
            b.record(
                stack.registrations,
                b.registration_changed(141, 41, registrationStatus=PRE_REGISTERED),
            ),
            # the same registration, its start date corrected to a year too old
            b.record(stack.registrations, b.registration_changed(141, 41, startDate="2025-11-14")),
        ]
    )
    run = await stack.run()

    crm = await stack.crm()
    assert crm["deals"]["northwind:141"]["dealstage"] == "qualifiedtobuy"
    assert crm["deals"]["northwind:141"]["classter_start_date"] == "2026-09-10"
    assert run.metric(SKIPS, rule="program_start_too_old") == 1
    assert run.metric(FINISHED, outcome="skipped") == 1


def _gate_case(stack: Stack, rid: int, sid: int, status: dict[str, object] | None) -> list[Record]:
    """A deal created at Pre-registered, then Registered with the student's status ``status``."""
    created = b.registration_changed(
        rid, sid, registrationStatus=PRE_REGISTERED, snapshot=b.student(sid, status=PRE_REGISTERED)
    )
    later = b.registration_changed(
        rid, sid, registrationStatus=REGISTERED, snapshot=b.student(sid, status=status)
    )
    return [b.record(stack.registrations, created), b.record(stack.registrations, later)]


async def test_the_status_gate_passes_a_student_status_by_id_or_by_description(
    stack: Stack,
) -> None:
    await stack.publish(
        [
            *_gate_case(stack, 151, 51, {"id": 5, "description": "Enrolled"}),  # the entry 5
            *_gate_case(stack, 152, 52, {"description": "Registered"}),  # the entry "Registered"
            *_gate_case(stack, 153, 53, {"id": 1, "description": "Registered"}),
        ]
    )
    run = await stack.run()

    deals = (await stack.crm())["deals"]
    for code in ("northwind:151", "northwind:152", "northwind:153"):
        assert deals[code]["dealstage"] == "closedwon", code
        assert deals[code]["classter_registration_status"] == "Registered", code
    assert run.metric(SKIPS, rule="student_status_not_allowed") == 0


async def test_the_status_gate_refuses_an_unlisted_id_only_or_missing_student_status(
    stack: Stack,
) -> None:
    await stack.publish(
        [
            *_gate_case(stack, 161, 61, {"id": 2, "description": "Pre-registered"}),
            # 1 is not an id entry and "Registered" matches descriptions only
            *_gate_case(stack, 162, 62, {"id": 1}),
            *_gate_case(stack, 163, 63, None),  # no status at all
        ]
    )
    run = await stack.run()

    deals = (await stack.crm())["deals"]
    for code in ("northwind:161", "northwind:162", "northwind:163"):
        # created in its mapped stage although the gate refuses later changes (creation is not
        # gated), and neither ChangeDealStatus nor UpdateDeal ran afterwards
        assert deals[code]["dealstage"] == "qualifiedtobuy", code
        assert deals[code]["classter_registration_status"] == "Pre-registered", code
    assert run.metric(SKIPS, rule="student_status_not_allowed") == 3
    assert run.metric(FINISHED, outcome="skipped") == 3


async def test_a_student_without_email_is_skipped_until_an_event_brings_the_address(
    stack: Stack,
) -> None:
    await stack.publish(
        [
            b.record(stack.students, b.student_changed(71, email=None)),
            b.record(
                stack.registrations,
                b.registration_changed(171, 71, snapshot=b.student(71, email="   ")),
            ),
        ]
    )
    first = await stack.run()
    assert await stack.crm() == {"contacts": {}, "deals": {}, "unmanaged_contacts": []}
    assert first.metric(SKIPS, rule="no_email") == 2
    assert first.metric(FINISHED, outcome="skipped") == 2
    assert await stack.dead_letters() == []

    await stack.publish(
        [
            b.record(stack.students, b.student_changed(71, email="late.address@example.org")),
            b.record(
                stack.registrations,
                b.registration_changed(
                    171, 71, snapshot=b.student(71, email="late.address@example.org")
                ),
            ),
        ]
    )
    second = await stack.run()
    crm = await stack.crm()
    assert crm["contacts"]["northwind:71"]["email"] == "late.address@example.org"
    assert crm["deals"]["northwind:171"]["contact"] == "northwind:71"
    assert second.metric(SKIPS, rule="no_email") == 0
    assert second.metric(FINISHED, outcome="synced") == 2


async def test_an_existing_deal_is_associated_with_a_contact_that_already_existed(
    stack: Stack,
) -> None:
    await stack.publish([b.record(stack.students, b.student_changed(14))])
    await stack.run()
    await seed_legacy_deal(stack, "northwind:114")
    await stack.publish([b.record(stack.registrations, b.registration_changed(114, 14))])
    await stack.run()

    deal = (await stack.crm())["deals"]["northwind:114"]
    assert deal["contact"] == "northwind:14"
    assert deal["dealstage"] == "closedwon"


async def test_a_legacy_deal_an_event_may_not_change_is_still_associated_with_its_contact(
    stack: Stack,
) -> None:
    # a deal carried over with its code but no contact, for a program too old to update
    await stack.publish([b.record(stack.students, b.student_changed(15))])
    await stack.run()
    await seed_legacy_deal(stack, "northwind:115")
    await stack.publish(
        [
            b.record(
                stack.registrations,
                b.registration_changed(115, 15, startDate="2025-11-14", semesters=None),
            )
        ]
    )
    run = await stack.run()

    deal = (await stack.crm())["deals"]["northwind:115"]
    assert deal["contact"] == "northwind:15"
    assert deal["dealstage"] == "appointmentscheduled"  # not moved: the rule held
    assert run.metric(SKIPS, rule="program_start_too_old") == 1
    assert run.metric(FINISHED, outcome="skipped") == 1
