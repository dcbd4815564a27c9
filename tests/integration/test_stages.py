"""ChangeDealStatus through the running daemon (SPEC sections 4 and 10): the stage table.

``examples/config.yaml`` maps "Registered" -> closedwon, "Withdrawn" -> closedlost,
"Pre-registered" -> qualifiedtobuy and the id 3 -> presentationscheduled; the default
pipeline's first stage is appointmentscheduled.
"""

from __future__ import annotations

import pytest

from tests.integration import builders as b
from tests.integration.harness import Stack

pytestmark = pytest.mark.integration

SKIPS = "classter_hubspot_rule_skips_total"
FINISHED = "classter_hubspot_events_finished_total"


async def test_an_unmapped_status_leaves_the_stage_alone_and_is_counted(stack: Stack) -> None:
    waiting = {"id": 18, "description": "Waiting List"}
    deferred = {"id": 19, "description": "Deferred Entry"}
    await stack.publish(
        [
            # a new deal with an unmapped status starts in the pipeline's first stage
            b.record(
                stack.registrations, b.registration_changed(201, 1, registrationStatus=waiting)
            ),
            # an existing deal: UpdateDeal still runs, the stage stays
            b.record(stack.registrations, b.registration_changed(202, 2)),
            b.record(
                stack.registrations,
                b.registration_changed(
                    202,
                    2,
                    registrationStatus=deferred,
                    stream={"id": 78, "description": "Humanities"},
                ),
            ),
        ]
    )
    run = await stack.run()

    deals = (await stack.crm())["deals"]
    assert deals["northwind:201"]["dealstage"] == "appointmentscheduled"
    assert deals["northwind:201"]["classter_registration_status"] == "Waiting List"
    assert deals["northwind:202"]["dealstage"] == "closedwon"
    assert deals["northwind:202"]["classter_registration_status"] == "Deferred Entry"
    assert deals["northwind:202"]["classter_stream"] == "Humanities"
    assert run.metric(SKIPS, rule="status_not_mapped") == 2
    assert run.metric(FINISHED, outcome="synced") == 3


async def test_a_status_id_in_the_stage_table_wins_over_its_description(stack: Stack) -> None:
    both = {"id": 3, "description": "Pre-registered"}  # 3 -> presentationscheduled, name -> qtb
    by_name = {"id": 30, "description": "Pre-registered"}
    await stack.publish(
        [
            b.record(stack.registrations, b.registration_changed(211, 11, registrationStatus=both)),
            b.record(
                stack.registrations, b.registration_changed(212, 12, registrationStatus=by_name)
            ),
        ]
    )
    await stack.run()

    deals = (await stack.crm())["deals"]
    assert deals["northwind:211"]["dealstage"] == "presentationscheduled"
    assert deals["northwind:212"]["dealstage"] == "qualifiedtobuy"


async def test_a_mapped_status_moves_an_existing_deal_when_the_gate_passes(stack: Stack) -> None:
    withdrawn = {"id": 16, "description": "Withdrawn"}
    await stack.publish(
        [
            b.record(stack.registrations, b.registration_changed(221, 21)),
            b.record(
                stack.registrations, b.registration_changed(221, 21, registrationStatus=withdrawn)
            ),
            # the student's own status Withdrawn is not in the gate: the deal stays won
            b.record(stack.registrations, b.registration_changed(222, 22)),
            b.record(
                stack.registrations,
                b.registration_changed(
                    222,
                    22,
                    registrationStatus=withdrawn,
                    snapshot=b.student(22, status={"id": 6, "description": "Withdrawn"}),
                ),
            ),
        ]
    )
    run = await stack.run()

    deals = (await stack.crm())["deals"]
    assert deals["northwind:221"]["dealstage"] == "closedlost"
    assert deals["northwind:222"]["dealstage"] == "closedwon"
    assert deals["northwind:222"]["classter_registration_status"] == "Registered"
    assert run.metric(SKIPS, rule="student_status_not_allowed") == 1
