"""Lag and committed-offset series on ``/metrics`` (SPEC section 8): they show from the moment a
partition is assigned (read from the group's committed offsets, before this pod commits there),
and a pod drops the series of partitions it gave up in a rebalance."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sandbox.kafka_ops import Record
from tests.integration import builders as b
from tests.integration.harness import Daemon, Stack

pytestmark = pytest.mark.integration
LAG = "classter_hubspot_consumer_lag"
COMMITTED = "classter_hubspot_committed_offset"
Series = dict[tuple[str, str], float]


async def _scrape(session: aiohttp.ClientSession, daemon: Daemon, name: str) -> Series:
    """``name``'s samples on the daemon's ``/metrics``, by (topic, partition)."""
    async with session.get(f"{daemon.http_url}/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    return {
        (s.labels["topic"], s.labels["partition"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


async def _faults(stack: Stack, rules: list[dict[str, object]]) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.put(f"{stack.emulator_url}/_emulator/faults", json={"rules": rules}) as resp,
    ):
        assert resp.status == 200, await resp.text()


def _event(stack: Stack, sid: int, partition: int) -> Record:
    """A student event on ``partition`` of the students topic."""
    return dataclasses.replace(
        b.record(stack.students, b.student_changed(sid)), partition=partition
    )


async def test_lag_shows_on_partitions_this_pod_has_not_committed_yet(stack: Stack) -> None:
    await stack.publish([_event(stack, 1, 0)])
    await stack.run()  # the group has committed offset 1 on students[0], nothing on students[1]
    await stack.publish([_event(stack, s, p) for s, p in ((2, 0), (3, 0), (4, 1), (5, 1))])
    # every HubSpot write fails and is retried: the first record taken stays unfinished, and
    # with room for one buffered event every partition is paused behind it
    await _faults(stack, [{"kind": "status", "status": 503, "path_contains": "/batch/"}])
    settings = stack.settings(
        kafka={"max_poll_records": 1, "max_buffered_events": 1},
        hubspot={"max_attempts": 100_000},
    )
    want_lag = {(stack.students, "0"): 2.0, (stack.students, "1"): 2.0}
    want_committed = {(stack.students, "0"): 1.0, (stack.students, "1"): 0.0}

    async with stack.running(settings) as daemon, aiohttp.ClientSession() as session:
        deadline = time.monotonic() + 30
        lag: Series = {}
        while time.monotonic() < deadline:
            lag = await _scrape(session, daemon, LAG)
            if all(lag.get(k) == v for k, v in want_lag.items()):
                break
            await asyncio.sleep(0.2)
        committed = await _scrape(session, daemon, COMMITTED)
        await _faults(stack, [])

    assert {k: lag.get(k) for k in want_lag} == want_lag, lag
    assert {k: committed.get(k) for k in want_committed} == want_committed, committed


async def test_a_pod_drops_the_series_of_partitions_it_gave_up(stack: Stack) -> None:
    await stack.publish(
        [b.record(stack.students, b.student_changed(sid)) for sid in range(1, 61)]
        + [b.record(stack.registrations, b.registration_changed(500 + s, s)) for s in range(1, 61)]
    )
    settings = stack.settings(kafka={"session_timeout_ms": 6_000, "heartbeat_interval_ms": 500})
    async with stack.running(settings) as first, aiohttp.ClientSession() as session:
        await stack.caught_up(first)
        everything = {(t, str(p)) for t in stack.topics for p in range(6)}
        deadline = time.monotonic() + 30
        while set(await _scrape(session, first, LAG)) != everything:
            assert time.monotonic() < deadline, "the first pod never showed lag for all"
            await asyncio.sleep(0.2)
        async with stack.running(settings) as second:
            # after the rebalance each partition's series is on exactly one pod
            deadline = time.monotonic() + 60
            while True:
                seen = {
                    (pod, name): set(await _scrape(session, daemon, name))
                    for pod, daemon in (("first", first), ("second", second))
                    for name in (LAG, COMMITTED)
                }
                split = all(
                    seen[("first", name)]
                    and seen[("second", name)]
                    and not seen[("first", name)] & seen[("second", name)]
                    and seen[("first", name)] | seen[("second", name)] == everything
                    for name in (LAG, COMMITTED)
                )
                if split or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
    assert split, seen
