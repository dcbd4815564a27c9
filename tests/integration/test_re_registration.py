"""Re-registration (SPEC sections 4 and 10): which deal a re-registration moves on.

Under ``keep_deal_code`` the code is ``tenant:firstRegistrationId``, else
``tenant:previousRegistrationId``, else the registration's own; under ``new_deal_code`` every
registration has its own deal.
"""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.kafka_ops import Record
from tests.integration import builders as b
from tests.integration.harness import Stack

pytestmark = pytest.mark.integration

GRADE_11 = {"id": 41, "description": "Grade 11"}
GRADE_12 = {"id": 42, "description": "Grade 12"}
NEXT_YEAR = {"id": 13, "description": "2027-2028"}
PRE_REGISTERED = {"id": 2, "description": "Pre-registered"}


def _re_registration(
    stack: Stack, rid: int, sid: int, *, first: int | None, previous: int | None, **fields: Any
) -> Record:
    return b.record(
        stack.registrations,
        b.registration_changed(
            rid,
            sid,
            fromReRegistration=True,
            firstRegistrationId=first,
            previousRegistrationId=previous,
            **fields,
        ),
    )


def _chain(stack: Stack) -> list[Record]:
    """Student 1: registration 301 (Grade 10), then its re-registration 311 into Grade 11."""
    return [
        b.record(stack.registrations, b.registration_changed(301, 1)),
        _re_registration(
            stack,
            311,
            1,
            first=301,
            previous=301,
            program=GRADE_11,
            registrationStatus=PRE_REGISTERED,
        ),
    ]


async def test_keep_deal_code_moves_the_first_registrations_deal_on(stack: Stack) -> None:
    await stack.publish(
        [
            *_chain(stack),
            # a chain of three: the first registration's code wins over the previous one's
            b.record(stack.registrations, b.registration_changed(302, 2)),
            _re_registration(stack, 312, 2, first=302, previous=302, program=GRADE_11),
            _re_registration(
                stack, 322, 2, first=302, previous=312, program=GRADE_12, academicPeriod=NEXT_YEAR
            ),
        ]
    )
    await stack.run()

    deals = (await stack.crm())["deals"]
    assert set(deals) == {"northwind:301", "northwind:302"}
    one = deals["northwind:301"]
    assert one["classter_program"] == "Grade 11"
    assert one["dealname"] == "Given1 Surname1 - Grade 11 - 2026-2027"
    assert one["dealstage"] == "qualifiedtobuy"  # ChangeDealStatus moved it back
    assert one["contact"] == "northwind:1"
    two = deals["northwind:302"]
    assert two["classter_program"] == "Grade 12"
    assert two["classter_academic_period"] == "2027-2028"
    assert two["contact"] == "northwind:2"


async def test_keep_deal_code_falls_back_to_the_previous_registration_then_its_own(
    stack: Stack,
) -> None:
    await stack.publish(
        [
            b.record(stack.registrations, b.registration_changed(303, 3)),
            _re_registration(stack, 313, 3, first=None, previous=303, program=GRADE_11),
            # nothing to anchor on: the registration's own code
            _re_registration(stack, 314, 4, first=None, previous=None),
            # the chain's first registration was too old for a deal: its code is created now
            b.record(
                stack.registrations,
                b.registration_changed(305, 5, startDate="2025-09-10", semesters=None),
            ),
            _re_registration(stack, 315, 5, first=305, previous=305, program=GRADE_11),
        ]
    )
    await stack.run()

    deals = (await stack.crm())["deals"]
    assert set(deals) == {"northwind:303", "northwind:314", "northwind:305"}
    assert deals["northwind:303"]["classter_program"] == "Grade 11"
    assert deals["northwind:314"]["contact"] == "northwind:4"
    assert deals["northwind:305"]["classter_program"] == "Grade 11"
    assert deals["northwind:305"]["classter_start_date"] == "2026-09-10"


async def test_new_deal_code_gives_a_re_registration_its_own_deal(stack: Stack) -> None:
    await stack.publish(_chain(stack))
    await stack.run(stack.settings(deals={"re_registration": "new_deal_code"}))

    deals = (await stack.crm())["deals"]
    assert set(deals) == {"northwind:301", "northwind:311"}
    assert deals["northwind:301"]["classter_program"] == "Grade 10"
    assert deals["northwind:301"]["dealstage"] == "closedwon"
    assert deals["northwind:311"]["classter_program"] == "Grade 11"
    assert deals["northwind:311"]["dealstage"] == "qualifiedtobuy"
    assert {d["contact"] for d in deals.values()} == {"northwind:1"}
