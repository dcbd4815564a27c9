"""Mapping through the running daemon (SPEC sections 2, 4 and 10): what reaches HubSpot's
properties, and what never does.

``examples/config.yaml`` maps ``firstname`` from ``givenName`` and ``middleName`` (Custom
Mapping) on top of the Model Mapping.
"""

from __future__ import annotations

import orjson
import pytest

from sandbox.kafka_ops import Record
from tests.integration import builders as b
from tests.integration.harness import Stack

pytestmark = pytest.mark.integration


async def test_an_absent_or_null_field_never_clears_a_property(stack: Stack) -> None:
    await stack.publish(
        [
            b.record(
                stack.students,
                b.student_changed(1, mobilePhone="+30 690 000 0001", externalId="SIS-1"),
            )
        ]
    )
    await stack.run()
    later = b.student_changed(1, givenName="Renamed")  # no mobilePhone at all
    later["student"]["externalId"] = None  # and an explicit null
    await stack.publish([b.record(stack.students, later)])
    await stack.run()

    contact = (await stack.crm())["contacts"]["northwind:1"]
    assert contact["firstname"] == "Renamed"
    assert contact["mobilephone"] == "+30 690 000 0001"
    assert contact["classter_external_id"] == "SIS-1"


async def test_custom_mapping_joins_fields_with_a_space_and_dates_are_not_shifted(
    stack: Stack,
) -> None:
    await stack.publish(
        [
            b.record(
                stack.students,
                b.student_changed(
                    1, givenName="Maria", middleName="Eleni", dateOfBirth="2008-04-12"
                ),
            ),
            b.record(stack.students, b.student_changed(2, givenName="Nikos", middleName="  ")),
            b.record(stack.students, b.student_changed(3, givenName="x" * 70_000)),
        ]
    )
    await stack.run()

    contacts = (await stack.crm())["contacts"]
    assert contacts["northwind:1"]["firstname"] == "Maria Eleni"
    assert contacts["northwind:1"]["date_of_birth"] == "2008-04-12"
    assert contacts["northwind:2"]["firstname"] == "Nikos"
    assert contacts["northwind:3"]["firstname"] == "x" * 65_536  # HubSpot's limit, no marker
    assert await stack.dead_letters() == []


async def test_the_same_ids_in_two_tenants_make_separate_contacts_and_deals(
    stack: Stack,
) -> None:
    def of(tenant: str) -> list[Record]:
        snapshot = b.student(2637, email=f"{tenant}.2637@example.org")
        return [
            b.record(
                stack.students,
                b.student_changed(2637, tenant=tenant, email=f"{tenant}.2637@example.org"),
            ),
            b.record(
                stack.registrations,
                b.registration_changed(51877, 2637, tenant=tenant, snapshot=snapshot),
            ),
        ]

    await stack.publish([*of("northwind"), *of("harbourview")])
    await stack.run()

    crm = await stack.crm()
    assert set(crm["contacts"]) == {"northwind:2637", "harbourview:2637"}
    assert crm["deals"]["northwind:51877"]["contact"] == "northwind:2637"
    assert crm["deals"]["harbourview:51877"]["contact"] == "harbourview:2637"


async def test_unknown_fields_at_every_level_are_ignored(stack: Stack) -> None:
    event = b.registration_changed(101, 1)
    event["traceId"] = "abc"
    event["registration"]["scholarship"] = {"id": 9, "percent": 50}
    event["registration"]["student"]["nickname"] = "Mimi"
    event["registration"]["program"]["level"] = 10
    await stack.publish([Record(stack.registrations, b"1", orjson.dumps(event))])
    await stack.run()

    crm = await stack.crm()
    assert crm["deals"]["northwind:101"]["classter_program"] == "Grade 10"
    assert crm["deals"]["northwind:101"]["contact"] == "northwind:1"
    assert await stack.dead_letters() == []
