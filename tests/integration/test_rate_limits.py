"""HubSpot saying "not now" (SPEC section 5): 429 by policy, 423 Locked, the spent day.

The daemon runs for real against the broker and the in-process emulator, whose fault rules and
budgets produce the answers. Every event must end in HubSpot, none in the DLQ: a wait is not the
event's fault. Assertions read the emulator's final state, its request stats and the daemon's
metrics; nothing here measures time.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from consumer import app
from sandbox.emulator import Emulator
from sandbox.kafka_ops import group_lag, wait_caught_up
from tests.integration import builders as b
from tests.integration.harness import TOKEN, Stack

pytestmark = pytest.mark.integration

STUDENTS = range(1, 21)


async def control(emulator: Emulator, method: str, what: str, body: Any) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{emulator.url}/_emulator/{what}", json=body) as resp,
    ):
        assert resp.status == 200, await resp.text()
        answer: dict[str, Any] = await resp.json()
        return answer


async def publish_students(stack: Stack) -> None:
    records = [b.record(stack.students, b.student_changed(sid)) for sid in STUDENTS]
    records += [
        b.record(stack.registrations, b.registration_changed(3000 + sid, sid)) for sid in STUDENTS
    ]
    await stack.publish(records)


async def assert_everything_synced(stack: Stack) -> None:
    state = await stack.dump()
    assert len(state["contacts"]) == len(STUDENTS)
    assert len(state["deals"]) == len(STUDENTS)
    assert not await stack.dead_letters()


async def test_ten_secondly_429s_are_waited_out_and_nothing_is_dead_lettered(
    stack: Stack, emulator: Emulator
) -> None:
    rules = [
        {"status": 429, "policy": "TEN_SECONDLY_ROLLING", "count": 3, "path_contains": "/batch/"}
    ]
    await control(emulator, "PUT", "faults", {"rules": rules})
    await publish_students(stack)

    run = await stack.run()

    assert run.code == 0
    await assert_everything_synced(stack)
    faults = await control(emulator, "GET", "faults", None)
    assert faults["rules"][0]["fired"] == 3
    assert emulator.state.stats.rate_limited["TEN_SECONDLY_ROLLING"] == 3
    assert (
        run.metric("classter_hubspot_hubspot_rate_limited_total", policy="TEN_SECONDLY_ROLLING")
        == 3
    )
    assert run.metric("classter_hubspot_retries_total", cause="rate_limited") >= 1
    assert run.metric("classter_hubspot_retries_total", cause="transient") == 0


async def test_a_429_with_retry_after_is_honoured_and_the_event_is_synced(
    stack: Stack, emulator: Emulator
) -> None:
    rules = [
        {
            "status": 429,
            "policy": "TEN_SECONDLY_ROLLING",
            "count": 1,
            "retry_after_s": 1,
            "path_contains": "/batch/read",
        }
    ]
    await control(emulator, "PUT", "faults", {"rules": rules})
    await publish_students(stack)

    run = await stack.run()

    assert run.code == 0
    await assert_everything_synced(stack)
    assert (
        run.metric("classter_hubspot_hubspot_rate_limited_total", policy="TEN_SECONDLY_ROLLING")
        == 1
    )


async def test_423_locked_is_retried_after_a_pause_and_nothing_is_dead_lettered(
    stack: Stack, emulator: Emulator
) -> None:
    rules = [{"kind": "locked", "count": 2, "path_contains": "/batch/create"}]
    await control(emulator, "PUT", "faults", {"rules": rules})
    await publish_students(stack)

    run = await stack.run()

    assert run.code == 0
    await assert_everything_synced(stack)
    creates = sum(
        (
            Counter(counts)
            for route, counts in emulator.state.stats.snapshot()["by_route"].items()
            if route.endswith("/batch/create") and "/objects/" in route
        ),
        Counter[str](),
    )
    assert creates["423"] == 2
    assert run.metric("classter_hubspot_retries_total", cause="transient") >= 1
    assert (
        run.metric(
            "classter_hubspot_hubspot_requests_total",
            operation="contacts.create",
            status_class="4xx",
        )
        >= 1
    )


async def eventually(check: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout_s}s: {what}")
        await asyncio.sleep(0.1)


async def test_a_spent_day_pauses_the_daemon_without_dead_letters_and_it_resumes_after_the_reset(
    stack: Stack, emulator: Emulator
) -> None:
    settings = stack.settings(hubspot={"daily_probe_s": 0.5})
    registry = CollectorRegistry()
    stop = asyncio.Event()
    daemon = asyncio.create_task(
        app.run(settings, token=TOKEN, registry=registry, stop=stop, install_signals=False)
    )

    def metric(name: str, **labels: str) -> float:
        return registry.get_sample_value(name, labels) or 0.0

    try:
        # the daemon is up (its start-up checks spent some budget), then the day runs out
        await eventually(
            lambda: metric("classter_hubspot_last_poll_timestamp_seconds") > 0,
            "the daemon polls",
        )
        config = await control(emulator, "GET", "config", None)
        await control(emulator, "PUT", "config", {"daily_used": config["daily_limit"]})
        await publish_students(stack)
        events = 2 * len(STUDENTS)

        await eventually(
            lambda: metric("classter_hubspot_events_consumed_total", topic=stack.students) > 0,
            "the events are consumed",
        )
        await eventually(
            lambda: emulator.state.stats.rate_limited["DAILY"] >= 3,
            "HubSpot refuses with DAILY, again and again (the daemon probes)",
        )
        # paused, not failed: nothing written, nothing dead-lettered, nothing committed
        state = await stack.dump()
        assert not state["contacts"]
        assert not await stack.dead_letters()
        assert metric("classter_hubspot_events_finished_total", outcome="dead_lettered") == 0
        lag = await group_lag(stack.bootstrap, stack.group, stack.topics)
        assert sum(lag.values()) == events
        assert metric("classter_hubspot_hubspot_rate_limited_total", policy="DAILY") >= 1
        assert metric("classter_hubspot_retries_total", cause="daily_budget") >= 1
        assert metric("classter_hubspot_hubspot_budget_remaining", window="daily") == 0
        assert (
            metric("classter_hubspot_hubspot_budget_limit", window="daily") == config["daily_limit"]
        )

        await control(emulator, "PUT", "config", {"daily_used": 0})  # midnight in the portal

        await wait_caught_up(stack.bootstrap, stack.group, stack.topics, timeout_s=90)
    finally:
        stop.set()
        code = await asyncio.wait_for(daemon, 60)

    assert code == 0
    await assert_everything_synced(stack)
    assert metric("classter_hubspot_events_finished_total", outcome="synced") == events
