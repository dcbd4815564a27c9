"""Benchmark 2: how much of the 10-second budget the daemon uses, and how many 429s it meets.

A backlog of the standard workload (25,000 students, 75,000 records: more than the budget lets
the daemon sync inside the window) is drained by one replica (``budget_share: 1.0``) and then,
on the same topics with a fresh consumer group and a reset emulator, by three replicas sharing
one token (three daemon processes, ``budget_share: 0.34`` each, SPEC section 10). After a
warm-up, the emulator's stats are read at the start and end of a fixed window: utilisation is
the requests the 10-second window counted per 10 s over the Pro budget (190), the 429 share is
429 answers over all API requests in the window. Targets: >= 0.90 with <= 1% 429s for one
replica, >= 0.85 with <= 2% for three.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp

from bench import report
from bench.measure import Requests
from bench.stack import PRO_WINDOW, Daemon, Emulator, Stack, cpu_seconds, load, say
from bench.workload import EVENTS_PER_STUDENT, Topics, standard

WARMUP_S = 15.0
WINDOW_S = 60.0


@dataclass(frozen=True)
class Scenario:
    replicas: int
    share: float
    min_utilisation: float
    max_429_share: float


SCENARIOS = (Scenario(1, 1.0, 0.90, 0.01), Scenario(3, 0.34, 0.85, 0.02))


@dataclass
class Measured:
    utilisation: float
    share_429: float
    requests: Requests
    window_s: float
    peak_window: int
    drained: bool
    cpu_share: float  # CPU seconds the daemons used per second of the window


async def measure(
    stack: Stack, emulator: Emulator, topics: Topics, scenario: Scenario, events: int
) -> Measured:
    group = f"{topics.students}-{scenario.replicas}r-group"
    config = stack.config(emulator, topics, group, hubspot={"budget_share": scenario.share})
    daemons: list[Daemon] = []
    for replica in range(scenario.replicas):
        daemons.append(await stack.daemon(config, replica=replica))
    try:
        for daemon in daemons:
            await daemon.ready()
        say(f"{scenario.replicas} replica(s) ready; warming up for {WARMUP_S:.0f}s")
        await asyncio.sleep(WARMUP_S)
        before = await emulator.stats()
        cpu_before = sum(cpu_seconds(d.child.pid) for d in daemons)
        started = time.monotonic()
        peak = 0
        while time.monotonic() - started < WINDOW_S:
            await asyncio.sleep(1.0)
            budget = (await emulator.stats())["budget"]
            peak = max([peak, *budget["window_used"].values()])
        after = await emulator.stats()
        window_s = time.monotonic() - started
        cpu = sum(cpu_seconds(d.child.pid) for d in daemons) - cpu_before
        finished = 0.0
        for daemon in daemons:
            finished += await daemon.finished()
    finally:
        await asyncio.gather(*(daemon.child.stop() for daemon in daemons))
    requests = Requests.between(before, after)
    allowed = PRO_WINDOW * window_s / 10
    return Measured(
        utilisation=requests.windowed / allowed,
        share_429=requests.rate_limited / max(1, requests.total),
        requests=requests,
        window_s=window_s,
        peak_window=peak,
        drained=finished >= events,
        cpu_share=cpu / window_s,
    )


async def reset(emulator: Emulator) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{emulator.url}/_emulator/reset", json={"properties": False}) as resp,
    ):
        resp.raise_for_status()


async def run(students: int = 25_000) -> report.Result:
    result = report.Result(
        "utilisation",
        "2. Budget utilisation and 429 share (1 and 3 replicas)",
        f"{students} students x {EVENTS_PER_STUDENT} events as a backlog; "
        f"{WARMUP_S:.0f} s warm-up, then a {WINDOW_S:.0f} s window",
        load_before=load(),
        command=report.command_line(),
    )
    topics = Topics.for_run(f"util-{int(time.time())}")
    async with Stack.open("utilisation") as stack:
        emulator = await stack.emulator(tier="pro")
        records = [topics.rename(r) for r in standard(students)]
        say(f"publishing {len(records)} records")
        await stack.publish(records)
        config = stack.config(emulator, topics, "unused")
        await stack.prepare_portal(config.settings)
        for scenario in SCENARIOS:
            await reset(emulator)
            m = await measure(stack, emulator, topics, scenario, len(records))
            label = f"{scenario.replicas} replica(s), budget_share {scenario.share}"
            result.add(
                f"utilisation, {label}",
                f"{m.utilisation:.3f} ({m.requests.windowed} counted requests in "
                f"{m.window_s:.0f} s; busiest 10 s seen: {m.peak_window})",
                f">= {scenario.min_utilisation}",
                m.utilisation >= scenario.min_utilisation,
                f"short by {scenario.min_utilisation - m.utilisation:.3f}",
            )
            result.add(
                f"429 share, {label}",
                f"{m.share_429:.2%} ({m.requests.rate_limited} of {m.requests.total})",
                f"<= {scenario.max_429_share:.0%}",
                m.share_429 <= scenario.max_429_share,
                f"over by {m.share_429 - scenario.max_429_share:.2%}",
            )
            result.details.append(
                f"{label}: the daemon process(es) used {m.cpu_share:.2f} CPU-seconds per second "
                "of the window"
            )
            if m.drained:
                result.details.append(f"{label}: the backlog ran out inside the window")
            ops = ", ".join(f"{op}: {n}" for op, n in m.requests.by_operation().items())
            result.details.append(f"{label}, requests in the window: {ops}")
    return result
