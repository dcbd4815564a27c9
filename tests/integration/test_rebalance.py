"""Rebalances (SPEC section 6): a second replica joins mid-run with static membership; the work
moves between them and every student still ends up exactly once in HubSpot."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from consumer import app
from sandbox import crm_state
from sandbox.kafka_broker import Broker
from sandbox.kafka_ops import wait_caught_up
from tests.integration import builders as b
from tests.integration.harness import TOKEN, Stack

pytestmark = pytest.mark.integration
STUDENTS = 240


async def test_a_replica_joining_mid_run_takes_over_partitions_and_nothing_is_duplicated(
    stack: Stack,
) -> None:
    records = []
    for sid in range(1, STUDENTS + 1):
        records.append(b.record(stack.students, b.student_changed(sid)))
        records.append(b.record(stack.registrations, b.registration_changed(10_000 + sid, sid)))
    await stack.publish(records)
    async with aiohttp.ClientSession() as session:
        resp = await session.put(f"{stack.emulator_url}/_emulator/config", json={"latency_s": 0.2})
        assert resp.status == 200

    registries = [CollectorRegistry(), CollectorRegistry()]
    stops = [asyncio.Event(), asyncio.Event()]
    tasks: list[asyncio.Task[int]] = []

    def start(index: int) -> None:
        settings = stack.settings(
            # few students in flight: most events stay queued, so the joiner has work left
            kafka={
                "group_instance_id": f"replica-{index}",
                "drain_timeout_s": 5,
                "max_in_flight_students": 16,
            },
            hubspot={"max_batch_size": 10},
        )
        tasks.append(
            asyncio.create_task(
                app.run(
                    settings,
                    token=TOKEN,
                    registry=registries[index],
                    stop=stops[index],
                    install_signals=False,
                )
            )
        )

    start(0)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len((await stack.dump())["contacts"]) >= 20:
                break
            await asyncio.sleep(0.2)
        start(1)
        members = ""
        broker = Broker(port=int(stack.bootstrap.rpartition(":")[2]))
        for _ in range(30):
            members = await asyncio.to_thread(
                broker.tool,
                "consumer-groups",
                "--bootstrap-server",
                stack.bootstrap,
                "--describe",
                "--members",
                "--group",
                stack.group,
            )
            if "replica-0" in members and "replica-1" in members:
                break
            await asyncio.sleep(1)
        # static members carry their group.instance.id in their member id
        assert "replica-0" in members and "replica-1" in members, members
        await wait_caught_up(stack.bootstrap, stack.group, stack.topics, timeout_s=150)
    finally:
        for stop in stops:
            stop.set()
        codes = [await asyncio.wait_for(task, 60) for task in tasks]
    assert codes == [0, 0]

    def metric(index: int, name: str, **labels: str) -> float:
        return registries[index].get_sample_value(name, labels) or 0.0

    for index in (0, 1):
        assert metric(index, "classter_hubspot_rebalances_total", kind="assigned") >= 1
    assert metric(0, "classter_hubspot_rebalances_total", kind="revoked") >= 1, "0 gave some up"
    assert metric(1, "classter_hubspot_events_finished_total", outcome="synced") > 0, (
        "the joining replica did part of the work"
    )
    state = await stack.dump()
    codes_seen = [d["properties"].get("classter_deal_code") for d in state["deals"]]
    assert len(state["contacts"]) == STUDENTS
    assert len(codes_seen) == len(set(codes_seen)) == STUDENTS
    canonical = crm_state.canonical(state)
    wrong = {
        code: deal["contact"]
        for code, deal in canonical["deals"].items()
        if deal["contact"] != f"northwind:{int(code.split(':')[1]) - 10_000}"
    }
    assert not wrong, f"deals not associated with their student's contact: {wrong}"
