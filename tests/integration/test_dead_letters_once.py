"""Each bad record in the DLQ once, across a crash (SPEC sections 6 and 7).

A bad record is dead-lettered before its offset is committed past. If the daemon dies after the
letter and before that commit, the record is fetched again; the letter must not be written again.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from consumer.ledger import MARK_PREFIX
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
    log = (tmp_path / "daemon.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "consumer",
        "run",
        "--config",
        str(stack.config_file(tmp_path / "config.yaml")),
        cwd=ROOT,
        env={**os.environ, "HUBSPOT_TOKEN": TOKEN},
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 60
        while not await stack.dead_letters():
            assert proc.returncode is None, (tmp_path / "daemon.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the bad record was never dead-lettered"
            await asyncio.sleep(0.2)
        await asyncio.sleep(1)  # a few commit intervals: the committed offset must stay put
        proc.kill()
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        log.close()
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


async def test_a_mark_from_an_offset_reset_tool_is_ignored_and_the_record_dead_lettered_again(
    stack: Stack,
) -> None:
    """Offsets committed by another tool (a reset) carry no mark: reprocessing dead-letters a
    bad record again, as it would without the mark."""
    await stack.publish([b.raw(stack.students, b"{not json", key=b"2")])
    assert (await stack.run()).code == 0
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(stack.group)
        (tp,) = [tp for tp, meta in committed.items() if meta.offset > 0]
        rewind = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap, group_id=stack.group)
        await rewind.start()
        try:
            rewind.assign([tp])
            await rewind.commit({tp: (0, "reset by hand")})
        finally:
            await rewind.stop()
    finally:
        await admin.close()

    run = await stack.run()

    assert run.code == 0
    assert len(await stack.dead_letters()) == 2
    assert run.metric("classter_hubspot_dlq_repeats_skipped_total") == 0
