"""Topics created after the daemon started (SPEC section 6): it notices them within
``kafka.metadata_max_age_ms`` and syncs their events, without a restart."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import orjson
import pytest

from sandbox.kafka_ops import Record, ensure_topics
from tests.integration import builders as b
from tests.integration.harness import Stack

pytestmark = pytest.mark.integration


async def test_topics_created_after_start_are_consumed(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    # the portal is prepared and the DLQ exists; the source topics do not, yet
    late = dataclasses.replace(
        stack, students=unique("late-students"), registrations=unique("late-registrations")
    )
    settings = late.settings(kafka={"metadata_max_age_ms": 1_000})

    async with late.running(settings) as daemon:
        await ensure_topics(late.bootstrap, late.topics)
        await late.publish(
            [
                Record(
                    late.students,
                    b"51",
                    orjson.dumps(b.student_changed(51, email="ana.lopes@example.org")),
                ),
                Record(late.registrations, b"51", orjson.dumps(b.registration_changed(151, 51))),
            ]
        )
        await late.caught_up(daemon, timeout_s=60)

    assert late.runs[-1].code == 0
    crm = await late.crm()
    assert crm["contacts"]["northwind:51"]["email"] == "ana.lopes@example.org"
    assert crm["deals"]["northwind:151"]["contact"] == "northwind:51"
