"""The hostile-input corpus through the real daemon: every bad record ends in the DLQ with the
reason the corpus states, the valid records around it are synced, and the group's committed
offsets reach the end of every partition."""

from __future__ import annotations

import pytest

from sandbox.hostile import corpus
from sandbox.kafka_ops import Record, group_lag
from tests.integration.harness import Stack

pytestmark = pytest.mark.integration


async def test_each_hostile_record_is_dead_lettered_with_its_reason_and_its_neighbours_sync(
    stack: Stack,
) -> None:
    records = corpus()
    await stack.publish(
        [Record(stack.students, r.key, r.value, partition=r.partition) for r in records]
    )
    # where each record landed: in publish order, offsets count up per partition from 0
    expected: dict[tuple[int, int], tuple[str, str, bytes | None, bytes | None]] = {}
    next_offset: dict[int, int] = {}
    for r in records:
        offset = next_offset.get(r.partition, 0)
        next_offset[r.partition] = offset + 1
        if r.reason is not None:
            assert r.error_class is not None
            expected[(r.partition, offset)] = (r.error_class, r.reason, r.key, r.value)

    run = await stack.run(timeout_s=150)

    assert run.code == 0
    letters = await stack.dead_letters()
    got = {
        (int(d.headers["x-source-partition"]), int(d.headers["x-source-offset"])): (
            d.headers["x-error-class"].decode(),
            d.headers["x-error-reason"].decode(),
            d.key,
            d.value,
        )
        for d in letters
    }
    assert len(letters) == len(expected), "each bad record dead-lettered exactly once"
    assert {d.headers["x-source-topic"] for d in letters} == {stack.students.encode()}
    wrong = {
        k: (v[:2], got.get(k, ("missing",))[:2]) for k, v in expected.items() if got.get(k) != v
    }
    assert not wrong, (
        f"{len(wrong)} bad records with the wrong DLQ record: {list(wrong.items())[:5]}"
    )

    state = await stack.dump()
    synced = {
        c["properties"].get("classter_student_id")
        for c in state["contacts"]
        if c["properties"].get("classter_student_id")
    }
    valid = {f"northwind:{r.student_id}" for r in records if r.student_id is not None}
    assert synced == valid, "exactly the valid students became contacts"
    assert not any(
        m > 65_536 for m in (len(c["properties"].get("firstname") or "") for c in state["contacts"])
    )
    assert run.metric("classter_hubspot_events_finished_total", outcome="dead_lettered") == len(
        expected
    )
    lag = await group_lag(stack.bootstrap, stack.group, [stack.students])
    assert lag and not any(lag.values())
