"""SIGTERM (SPEC section 6): the daemon stops fetching, drains within its deadline, commits and
exits 0; nothing below the committed offsets is lost, and the next run finishes the rest once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from sandbox.kafka_ops import read_all
from tests.integration import builders as b
from tests.integration.harness import ROOT, TOKEN, Stack

pytestmark = pytest.mark.integration
STUDENTS = 150
DRAIN_S = 3.0


async def contacts(stack: Stack) -> set[str]:
    state = await stack.dump()
    return {
        c["properties"]["classter_student_id"]
        for c in state["contacts"]
        if c["properties"].get("classter_student_id")
    }


async def test_sigterm_drains_commits_and_exits_zero_and_a_rerun_finishes_the_rest(
    stack: Stack, tmp_path: Path
) -> None:
    records = [b.record(stack.students, b.student_changed(sid)) for sid in range(1, STUDENTS + 1)]
    await stack.publish(records)
    # slow HubSpot down so that SIGTERM arrives with work in flight
    async with aiohttp.ClientSession() as session:
        resp = await session.put(f"{stack.emulator_url}/_emulator/config", json={"latency_s": 0.4})
        assert resp.status == 200
    config = stack.config_file(
        tmp_path / "config.yaml",
        kafka={"drain_timeout_s": DRAIN_S},
        hubspot={"max_batch_size": 5, "max_concurrent_requests": 2},
    )
    log = (tmp_path / "daemon.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "consumer",
        "run",
        "--config",
        str(config),
        cwd=ROOT,
        env={**os.environ, "HUBSPOT_TOKEN": TOKEN},
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 60
        while not await contacts(stack) and time.monotonic() < deadline:
            assert proc.returncode is None, (tmp_path / "daemon.log").read_text()[-2000:]
            await asyncio.sleep(0.2)
        assert await contacts(stack), "the daemon never synced anything"
        proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        code = await asyncio.wait_for(proc.wait(), DRAIN_S + 20)
        took = time.monotonic() - sent
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        log.close()
    output = (tmp_path / "daemon.log").read_text()
    assert code == 0, output[-3000:]
    assert "stopped after drain and commit" in output
    assert took < DRAIN_S + 10, f"exit took {took:.1f}s"

    # nothing the group committed past is missing from HubSpot
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(stack.group)
    finally:
        await admin.close()
    synced = await contacts(stack)
    source = await read_all(stack.bootstrap, stack.students)
    below = [
        r
        for r in source
        if (meta := committed.get(TopicPartition(stack.students, r.partition))) is not None
        and r.offset < meta.offset
    ]
    assert below, "the shutdown committed nothing"
    lost = [r.key for r in below if f"northwind:{r.key.decode() if r.key else ''}" not in synced]
    assert not lost, f"committed past {len(lost)} records that never reached HubSpot"

    async with aiohttp.ClientSession() as session:
        await session.put(f"{stack.emulator_url}/_emulator/config", json={"latency_s": 0})
    run = await stack.run()
    assert run.code == 0
    state = await stack.dump()
    assert len(state["contacts"]) == STUDENTS, "each student exactly once after the rerun"
    assert len(await contacts(stack)) == STUDENTS
