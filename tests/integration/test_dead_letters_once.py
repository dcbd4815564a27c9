"""Each bad record in the DLQ once, across a crash (SPEC sections 6 and 7).

A bad record is dead-lettered before its offset is committed past. If the daemon dies after the
letter and before that commit, the record is fetched again; the letter must not be written again.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from consumer.ledger import MARK_PREFIX
from sandbox.kafka_broker import Broker
from sandbox.kafka_ops import Record
from tests.integration import builders as b
from tests.integration.harness import ROOT, TOKEN, Stack

pytestmark = pytest.mark.integration


async def faults(stack: Stack, rules: list[dict[str, object]]) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.put(f"{stack.emulator_url}/_emulator/faults", json={"rules": rules}) as resp,
    ):
        assert resp.status == 200, await resp.text()


async def committed_metadata(stack: Stack) -> dict[TopicPartition, tuple[int, str]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(stack.group)
    finally:
        await admin.close()
    return {tp: (meta.offset, meta.metadata) for tp, meta in committed.items()}


async def reset_offsets(broker: Broker, stack: Stack, *target: str) -> None:
    """The runbook's reset with Kafka's own ``kafka-consumer-groups`` (``target``: what to)."""
    await asyncio.to_thread(
        broker.tool,
        "consumer-groups",
        "--bootstrap-server",
        stack.bootstrap,
        "--group",
        stack.group,
        "--reset-offsets",
        *target,
        "--execute",
    )


async def killed_once(
    stack: Stack,
    tmp_path: Path,
    until: Callable[[], Awaitable[bool]],
    *,
    timeout_s: float = 60,
    **config: Any,
) -> None:
    """Run the real daemon as a process (``config``: overrides) until ``until()`` holds, then
    SIGKILL it."""
    log = (tmp_path / "daemon.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "consumer",
        "run",
        "--config",
        str(stack.config_file(tmp_path / "config.yaml", **config)),
        cwd=ROOT,
        env={**os.environ, "HUBSPOT_TOKEN": TOKEN},
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + timeout_s
        while not await until():
            assert proc.returncode is None, (tmp_path / "daemon.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the daemon never got there"
            await asyncio.sleep(0.2)
    finally:
        proc.kill()
        await proc.wait()
        log.close()


async def test_a_bad_record_dead_lettered_before_a_crash_is_not_dead_lettered_again(
    stack: Stack, tmp_path: Path
) -> None:
    # 1. a first run syncs student 2 and commits its partition with a mark of the DLQ
    await stack.publish([b.record(stack.students, b.student_changed(2))])
    assert (await stack.run()).code == 0
    marks = await committed_metadata(stack)
    assert marks, "the first run committed nothing"
    assert all(meta.startswith(f"{MARK_PREFIX} {stack.dlq} ") for _, meta in marks.values())

    # 2. HubSpot fails every contact request, so student 2's next event stays unfinished and
    #    the committed offset cannot pass it; the bad record behind it (same key, so the same
    #    partition) is dead-lettered all the same. Then the daemon is killed.
    await faults(stack, [{"kind": "status", "status": 503, "path_contains": "/contacts/batch/"}])
    await stack.publish(
        [
            b.record(stack.students, b.student_changed(2, givenName="Renamed")),
            b.raw(stack.students, b"{not json", key=b"2"),
        ]
    )

    async def lettered() -> bool:
        if not await stack.dead_letters():
            return False
        await asyncio.sleep(1)  # a few commit intervals: the committed offset must stay put
        return True

    await killed_once(stack, tmp_path, lettered)
    (first,) = await stack.dead_letters()
    assert await committed_metadata(stack) == marks, "committed past the unfinished record"

    # 3. HubSpot is back; the next run gets both records again, syncs the student and finds
    #    the bad record's letter in the DLQ already
    await faults(stack, [])
    run = await stack.run()

    assert run.code == 0
    letters = await stack.dead_letters()
    assert [(r.partition, r.offset) for r in letters] == [(first.partition, first.offset)]
    assert letters[0].headers["x-error-reason"] == b"invalid_json"
    assert run.metric("classter_hubspot_dlq_repeats_skipped_total") == 1
    assert run.metric("classter_hubspot_dlq_writes_total", reason="invalid_json") == 0
    assert run.metric("classter_hubspot_events_finished_total", outcome="dead_lettered") == 1
    (contact,) = (await stack.dump())["contacts"]
    assert contact["properties"]["firstname"] == "Renamed"


async def test_a_partition_never_committed_is_committed_with_a_mark_before_its_first_letter(
    stack: Stack, tmp_path: Path
) -> None:
    """A fresh group, and the daemon killed right after the letter, long before its periodic
    commit: the commit made just before the letter tells the next run where to look."""
    await faults(stack, [{"kind": "status", "status": 503, "path_contains": "/contacts/batch/"}])
    await stack.publish(
        [
            b.record(stack.students, b.student_changed(2)),  # stays unfinished: HubSpot is down
            b.raw(stack.students, b"{not json", key=b"2"),
        ]
    )

    async def lettered() -> bool:
        return bool(await stack.dead_letters())

    await killed_once(stack, tmp_path, lettered, kafka={"commit_interval_s": 600})
    ((offset, mark),) = (await committed_metadata(stack)).values()
    assert offset == 0  # the unfinished record's offset: nothing was committed past it
    assert mark.startswith(f"{MARK_PREFIX} {stack.dlq} ")
    await faults(stack, [])

    run = await stack.run()

    assert len(await stack.dead_letters()) == 1
    assert run.metric("classter_hubspot_dlq_repeats_skipped_total") == 1
    assert len((await stack.dump())["contacts"]) == 1


async def test_a_commit_by_kafkas_reset_tool_has_no_mark_and_the_record_is_dead_lettered_again(
    stack: Stack, kafka_broker: Broker
) -> None:
    """Offsets committed by another tool (a reset) carry no mark: reprocessing dead-letters a
    bad record again, as it would without the mark."""
    await stack.publish([b.raw(stack.students, b"{not json", key=b"2")])
    assert (await stack.run()).code == 0
    await reset_offsets(kafka_broker, stack, "--to-earliest", "--topic", stack.students)
    assert {meta for _, meta in (await committed_metadata(stack)).values()} == {""}

    run = await stack.run()

    assert run.code == 0
    assert len(await stack.dead_letters()) == 2
    assert run.metric("classter_hubspot_dlq_repeats_skipped_total") == 0


async def test_a_dlq_record_naming_the_source_that_we_did_not_write_stands_in_for_nothing(
    stack: Stack,
) -> None:
    """Another tool's record, or another deployment's letter (another consumer group sharing the
    DLQ topic), naming the very offset of a bad record never keeps that record out of the DLQ."""
    await stack.publish([b.record(stack.students, b.student_changed(2))])
    assert (await stack.run()).code == 0
    (tp,) = [tp for tp, (offset, _) in (await committed_metadata(stack)).items() if offset > 0]
    nxt = (await committed_metadata(stack))[tp][0]
    source = [
        ("x-source-topic", tp.topic.encode()),
        ("x-source-partition", str(tp.partition).encode()),
        ("x-source-offset", str(nxt).encode()),
    ]
    await stack.publish(
        [
            Record(stack.dlq, b"2", b"a note from another tool", tuple(source)),
            Record(stack.dlq, b"2", b"{not json", (*source, ("x-source-group", b"blue-green"))),
        ]
    )
    await stack.publish([b.raw(stack.students, b"{not json", key=b"2")])

    run = await stack.run()

    assert run.metric("classter_hubspot_dlq_repeats_skipped_total") == 0
    assert run.metric("classter_hubspot_dlq_writes_total", reason="invalid_json") == 1
    ours = [r for r in await stack.dead_letters() if r.headers.get("x-source-group")]
    assert [r.headers["x-source-group"] for r in ours] == [b"blue-green", stack.group.encode()]


async def test_after_an_offset_reset_a_letter_from_before_it_does_not_count(
    stack: Stack, tmp_path: Path, kafka_broker: Broker
) -> None:
    """The runbook's promise: a bad record in a reprocessed range is dead-lettered again, even
    when the daemon commits the reset partition once and is killed before reaching it (then the
    reset partition's new mark lies after the old letter, while an idle partition's old mark,
    which starts the read-back, lies before it)."""
    await stack.publish([b.record(stack.students, b.student_changed(s)) for s in range(1, 9)])
    assert (await stack.run()).code == 0
    before = {tp: offset for tp, (offset, _) in (await committed_metadata(stack)).items()}
    await stack.publish(
        [
            b.record(stack.students, b.student_changed(2, givenName="Again")),
            b.record(stack.students, b.student_changed(2, email="student2@example")),  # rejected
        ]
    )
    assert (await stack.run()).code == 0
    (old,) = await stack.dead_letters()
    assert old.headers["x-error-class"] == b"rejected"
    after = await committed_metadata(stack)
    (tp,) = [t for t, (offset, _) in after.items() if offset != before.get(t)]
    await reset_offsets(
        kafka_broker, stack, "--to-offset", str(before[tp]), "--topic", f"{tp.topic}:{tp.partition}"
    )
    assert (await committed_metadata(stack))[tp] == (before[tp], "")

    # HubSpot down for contacts: the reset partition is committed where it was reset, with a
    # mark of its own, and the daemon is killed before either event is done
    await faults(stack, [{"kind": "status", "status": 503, "path_contains": "/contacts/"}])

    async def marked() -> bool:
        return (await committed_metadata(stack))[tp][1].startswith(MARK_PREFIX)

    await killed_once(stack, tmp_path, marked)
    assert len(await stack.dead_letters()) == 1
    await faults(stack, [])
    run = await stack.run()

    letters = await stack.dead_letters()
    assert [r.headers["x-source-offset"] for r in letters] == [old.headers["x-source-offset"]] * 2
    assert run.metric("classter_hubspot_dlq_repeats_skipped_total") == 0
