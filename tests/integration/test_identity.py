"""Identity (SPEC sections 4 and 10): one contact per student, found by id then by e-mail.

A registration before its student, adopting a pre-existing contact, e-mail changes, and the
``email_conflict`` cases, asserted on the emulator's final records.
"""

from __future__ import annotations

import pytest

from tests.integration import builders as b
from tests.integration.harness import Stack

pytestmark = pytest.mark.integration


def _headers(record_headers: dict[str, bytes]) -> dict[str, str]:
    return {k: v.decode() for k, v in record_headers.items()}


async def test_a_registration_before_its_student_creates_the_contact_from_its_snapshot(
    stack: Stack,
) -> None:
    snapshot = b.student(1, email="sofia.example@example.org", givenName="Sofia")
    await stack.publish(
        [b.record(stack.registrations, b.registration_changed(101, 1, snapshot=snapshot))]
    )
    assert (await stack.run()).code == 0

    first = await stack.dump()
    assert len(first["contacts"]) == 1
    contact_id = first["contacts"][0]["id"]
    crm = await stack.crm()
    assert crm["contacts"]["northwind:1"] == {
        "email": "sofia.example@example.org",
        "firstname": "Sofia",
        "lastname": "Surname1",
        "classter_student_status": "Registered",
    }
    assert crm["deals"]["northwind:101"]["contact"] == "northwind:1"
    assert crm["deals"]["northwind:101"]["dealstage"] == "closedwon"

    # the student's own event comes later and updates that same contact with the full record
    await stack.publish(
        [
            b.record(
                stack.students,
                b.student_changed(
                    1,
                    email="sofia.example@example.org",
                    givenName="Sofia",
                    middleName="Anna",
                    mobilePhone="+30 690 000 0001",
                ),
            )
        ]
    )
    assert (await stack.run()).code == 0
    second = await stack.dump()
    assert [c["id"] for c in second["contacts"]] == [contact_id]
    crm = await stack.crm()
    assert crm["contacts"]["northwind:1"]["firstname"] == "Sofia Anna"
    assert crm["contacts"]["northwind:1"]["mobilephone"] == "+30 690 000 0001"
    assert crm["deals"]["northwind:101"]["contact"] == "northwind:1"
    assert len(crm["deals"]) == 1


async def test_a_marketing_lead_with_the_same_email_in_other_case_is_adopted_not_duplicated(
    stack: Stack,
) -> None:
    await stack.seed(
        {
            "contacts": [
                {
                    "properties": {
                        "email": "Nikos.Theodorou@Example.org",
                        "firstname": "Nikos",
                        "mobilephone": "+30 690 000 9606",
                        "lifecyclestage": "lead",
                    }
                }
            ]
        }
    )
    lead_id = (await stack.dump())["contacts"][0]["id"]
    await stack.publish(
        [
            b.record(
                stack.students,
                b.student_changed(6, email="  nikos.THEODOROU@example.org ", givenName="Nikolaos"),
            ),
            # whichever of the two the daemon receives first adopts the lead
            b.record(
                stack.registrations,
                b.registration_changed(
                    106, 6, snapshot=b.student(6, email="Nikos.Theodorou@example.org")
                ),
            ),
        ]
    )
    assert (await stack.run()).code == 0

    dump = await stack.dump()
    assert [c["id"] for c in dump["contacts"]] == [lead_id]
    props = dump["contacts"][0]["properties"]
    assert props["classter_student_id"] == "northwind:6"
    assert props["firstname"] == "Nikolaos"  # UpdateContact's mapping applied on adoption
    assert props["lifecyclestage"] == "lead"  # what Classter does not map stays
    crm = await stack.crm()
    assert crm["deals"]["northwind:106"]["contact"] == "northwind:6"
    assert await stack.dead_letters() == []


async def test_a_registration_adopts_a_lead_by_setting_only_its_student_id(stack: Stack) -> None:
    await stack.seed(
        {
            "contacts": [
                {
                    "properties": {
                        "email": "kostas.alexiou@example.org",
                        "firstname": "Kostas",
                        "mobilephone": "+30 690 000 9607",
                    }
                }
            ]
        }
    )
    snapshot = b.student(7, email="Kostas.Alexiou@example.org ", givenName="Konstantinos")
    await stack.publish(
        [b.record(stack.registrations, b.registration_changed(107, 7, snapshot=snapshot))]
    )
    assert (await stack.run()).code == 0

    crm = await stack.crm()
    assert crm["unmanaged_contacts"] == []
    assert crm["contacts"] == {
        "northwind:7": {
            "email": "kostas.alexiou@example.org",
            "firstname": "Kostas",
            "mobilephone": "+30 690 000 9607",
        }
    }
    assert crm["deals"]["northwind:107"]["contact"] == "northwind:7"


async def test_an_email_change_updates_the_same_contact(stack: Stack) -> None:
    await stack.publish(
        [
            b.record(stack.students, b.student_changed(4, email="g.stavrou@example.org")),
            b.record(
                stack.registrations,
                b.registration_changed(
                    104, 4, snapshot=b.student(4, email="g.stavrou@example.org")
                ),
            ),
        ]
    )
    assert (await stack.run()).code == 0
    contact_id = (await stack.dump())["contacts"][0]["id"]

    await stack.publish(
        [b.record(stack.students, b.student_changed(4, email="Georgios.Stavrou@example.org"))]
    )
    assert (await stack.run()).code == 0

    dump = await stack.dump()
    assert [(c["id"], c["properties"]["email"]) for c in dump["contacts"]] == [
        (contact_id, "georgios.stavrou@example.org")
    ]
    crm = await stack.crm()
    assert crm["deals"]["northwind:104"]["contact"] == "northwind:4"
    assert await stack.dead_letters() == []


async def test_an_email_change_to_an_address_another_contact_owns_is_dead_lettered(
    stack: Stack,
) -> None:
    await stack.publish(
        [
            b.record(stack.students, b.student_changed(8, email="anna.papadaki@example.org")),
            b.record(stack.students, b.student_changed(9, email="petros.papadakis@example.org")),
        ]
    )
    assert (await stack.run()).code == 0
    change = b.student_changed(9, email="anna.papadaki@example.org", givenName="Petros")
    await stack.publish([b.record(stack.students, change)])
    assert (await stack.run()).code == 0

    crm = await stack.crm()
    assert crm["contacts"]["northwind:8"]["email"] == "anna.papadaki@example.org"
    assert crm["contacts"]["northwind:9"]["email"] == "petros.papadakis@example.org"
    assert crm["contacts"]["northwind:9"]["firstname"] == "Given9"  # the event wrote nothing
    [letter] = await stack.dead_letters()
    headers = _headers(letter.headers)
    assert headers["x-error-class"] == "email_conflict"
    assert headers["x-error-reason"] == "email_conflict"
    assert "@" not in headers["x-error-message"]
    assert letter.key == b"9"
    assert letter.value is not None and b'"givenName":"Petros"' in letter.value
    assert stack.runs[-1].metric("classter_hubspot_dlq_writes_total", reason="email_conflict") == 1


async def test_a_contact_whose_email_belongs_to_another_student_is_not_adopted(
    stack: Stack,
) -> None:
    await stack.seed(
        {
            "contacts": [
                {
                    "properties": {
                        "email": "papadakis.family@example.org",
                        "classter_student_id": "northwind:2608",
                    }
                }
            ]
        }
    )
    await stack.publish(
        [
            b.record(stack.students, b.student_changed(2609, email="papadakis.family@example.org")),
            b.record(
                stack.registrations,
                b.registration_changed(
                    209, 2609, snapshot=b.student(2609, email="papadakis.family@example.org")
                ),
            ),
        ]
    )
    assert (await stack.run()).code == 0

    crm = await stack.crm()
    assert list(crm["contacts"]) == ["northwind:2608"]
    assert crm["deals"] == {}
    letters = await stack.dead_letters()
    assert sorted(_headers(r.headers)["x-error-class"] for r in letters) == [
        "email_conflict",
        "email_conflict",
    ]


async def test_two_students_sharing_an_address_in_one_run_make_one_contact_and_one_conflict(
    stack: Stack,
) -> None:
    family = "papadakis.family@example.org"
    await stack.publish(
        [
            b.record(stack.students, b.student_changed(sid, email=family))
            for sid in (2608, 2609)  # two keys: two partitions or lanes, racing each other
        ]
    )
    assert (await stack.run()).code == 0

    dump = await stack.dump()
    assert [c["properties"]["email"] for c in dump["contacts"]] == [family]
    owner = dump["contacts"][0]["properties"]["classter_student_id"]
    [letter] = await stack.dead_letters()
    assert _headers(letter.headers)["x-error-reason"] == "email_conflict"
    # the one dead-lettered is the one that did not get the contact
    assert {owner, f"northwind:{letter.key.decode() if letter.key else ''}"} == {
        "northwind:2608",
        "northwind:2609",
    }
