"""The smallest end-to-end path: one student and one registration become a contact and a deal."""

from __future__ import annotations

import pytest

from tests.integration import builders as b
from tests.integration.harness import Stack

pytestmark = pytest.mark.integration


async def test_a_student_and_a_registration_become_an_associated_contact_and_deal(
    stack: Stack,
) -> None:
    await stack.publish(
        [
            b.record(stack.students, b.student_changed(1)),
            b.record(stack.registrations, b.registration_changed(101, 1)),
        ]
    )
    run = await stack.run()
    assert run.code == 0
    state = await stack.dump()
    print(state)
    assert len(state["contacts"]) == 1
