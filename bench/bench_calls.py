"""Benchmark 1: HubSpot calls per event on the standard workload (target <= 0.05).

The standard workload (``workload.standard``: 10,000 students, each with one student event and
two registration events, 30,000 records) is published as a backlog; one daemon drains it
against an emulator enforcing the Pro budget. Calls are the object and association requests
the emulator answered between the daemon's start and its group's zero lag (429s included; the
start-up checks of token, properties and pipelines are shown apart). The final CRM state is
checked: one contact and one ``closedwon`` deal per student, nothing dead-lettered.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from bench import report
from bench.measure import Requests
from bench.stack import Stack, load, say
from bench.workload import EVENTS_PER_STUDENT, Topics, standard

TARGET = 0.05


def check_state(state: dict[str, Any], students: int) -> list[str]:
    """Problems with the final CRM state of the standard workload (empty: as expected)."""
    problems = []
    contacts = [c for c in state["contacts"] if c["properties"].get("classter_student_id")]
    deals = state["deals"]
    stages = Counter(d["properties"].get("dealstage") for d in deals)
    if len(contacts) != students:
        problems.append(f"{len(contacts)} contacts, expected {students}")
    if len(deals) != students or stages.get("closedwon", 0) != students:
        problems.append(f"{len(deals)} deals by stage {dict(stages)}, expected {students} won")
    return problems


async def run(students: int = 10_000, timeout_s: float = 480) -> report.Result:
    result = report.Result(
        "calls",
        "1. HubSpot calls per event (standard workload)",
        f"{students} students x {EVENTS_PER_STUDENT} events "
        f"({students * EVENTS_PER_STUDENT} records) published as a backlog, one daemon",
        load_before=load(),
        command=report.command_line(),
    )
    run_id = f"calls-{int(time.time())}"
    topics = Topics.for_run(run_id)
    async with Stack.open("calls") as stack:
        emulator = await stack.emulator(tier="pro")
        records = [topics.rename(r) for r in standard(students)]
        events = len(records)
        say(f"publishing {events} records")
        published_s = await stack.publish(records)
        config = stack.config(emulator, topics, f"{run_id}-group")
        await stack.prepare_portal(config.settings)
        before = await emulator.stats()
        daemon = await stack.daemon(config)
        started = time.monotonic()
        await stack.caught_up([daemon], timeout_s)
        elapsed = time.monotonic() - started
        after = await emulator.stats()
        samples = await daemon.metrics()
        code = await daemon.child.stop()
        state = await emulator.state()
    requests = Requests.between(before, after)
    per_event = requests.sync / events
    dead = sum(v for k, v in samples.items() if k.startswith("classter_hubspot_dlq_writes_total"))
    problems = check_state(state, students)
    result.add(
        "HubSpot calls per event",
        f"{per_event:.4f} ({requests.sync} calls / {events} events)",
        f"<= {TARGET}",
        per_event <= TARGET,
        f"{per_event / TARGET:.2f}x the target",
    )
    result.add("of which 429 answers", str(requests.rate_limited))
    result.add("start-up calls (token, properties, pipelines)", str(requests.total - requests.sync))
    result.add("drain time", f"{elapsed:.1f} s (publishing took {published_s:.1f} s)")
    result.add("events dead-lettered", f"{dead:.0f}")
    result.add(
        "final CRM state",
        "as expected" if not problems else "; ".join(problems),
        "1 contact + 1 won deal per student",
        not problems,
        "see value",
    )
    result.add("daemon exit code", str(code), "0", code == 0, f"exited {code}")
    ops = ", ".join(f"{op}: {n}" for op, n in requests.by_operation().items())
    result.details.append(f"Requests by operation: {ops}")
    return result
