"""Benchmark 4: end-to-end latency at 20 events/s, from ``occurredAt`` to the HubSpot write.

Events of the live workload (``workload.live_schedule``: a student's application, its
registration half a second later, the registration's next status five seconds after that) are
published at 20 events/s for 60 s, each stamped with ``occurredAt`` = the moment it is sent
(milliseconds). The daemon runs against an emulator enforcing the Pro budget. The write time of
each event is read from the emulator's records: the contact's ``createdAt`` for the application,
the deal's ``createdAt`` for the first registration event, its ``updatedAt`` for the second.
Target: p99 <= 1 s.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

from aiokafka import AIOKafkaProducer

from bench import report
from bench.measure import percentile
from bench.stack import Stack, load, say
from bench.workload import FIRST_REGISTRATION_ID, LiveEvent, LiveWorkload, Topics, live_schedule
from sandbox.kafka_ops import ensure_topics
from sandbox.sample.records import partition_for

RATE_PER_S = 20.0
DURATION_S = 60.0
TARGET_P99_S = 1.0


def _ts(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def write_times(state: dict[str, Any], workload: LiveWorkload, event: LiveEvent) -> float | None:
    """When HubSpot got ``event``'s write (epoch seconds), None when it has none."""
    person = workload.person(event.index)
    if event.kind == "student":
        key = f"{person.tenant}:{person.id}"
        found = state["contacts_by_key"].get(key)
        return _ts(found["createdAt"]) if found else None
    code = f"{person.tenant}:{FIRST_REGISTRATION_ID + event.index}"
    deal = state["deals_by_code"].get(code)
    if deal is None:
        return None
    return _ts(deal["createdAt"] if event.kind == "created" else deal["updatedAt"])


async def produce(bootstrap: str, topics: Topics, workload: LiveWorkload) -> dict[int, float]:
    """Publish the schedule in real time; returns each event's ``occurredAt`` by position."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    occurred: dict[int, float] = {}
    pending = []
    try:
        t0 = time.monotonic()
        for n, event in enumerate(live_schedule(RATE_PER_S, DURATION_S)):
            delay = t0 + event.at_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = dt.datetime.now(dt.UTC)
            _, record = workload.record(event, now)
            occurred[n] = now.timestamp()
            pending.append(
                await producer.send(
                    record.topic,
                    record.value,
                    key=record.key_bytes,
                    partition=partition_for(record.key, 6),
                )
            )
        for delivery in pending:
            await delivery
    finally:
        await producer.stop()
    return occurred


async def run() -> report.Result:
    result = report.Result(
        "latency",
        "4. End-to-end latency at 20 events/s",
        f"{RATE_PER_S:.0f} events/s for {DURATION_S:.0f} s (a third each: new student, "
        "registration created, registration status changed)",
        load_before=load(),
        command=report.command_line(),
    )
    topics = Topics.for_run(f"latency-{int(time.time())}")
    async with Stack.open("latency") as stack:
        emulator = await stack.emulator(tier="pro")
        await ensure_topics(stack.bootstrap, [*topics.sources, topics.dlq], 6)
        config = stack.config(emulator, topics, f"{topics.students}-group")
        await stack.prepare_portal(config.settings)
        daemon = await stack.daemon(config)
        await daemon.ready()
        workload = LiveWorkload(topics)
        say(f"publishing at {RATE_PER_S:.0f} events/s for {DURATION_S:.0f} s")
        occurred = await produce(stack.bootstrap, topics, workload)
        await stack.caught_up([daemon], 120)
        samples = await daemon.metrics()
        code = await daemon.child.stop()
        raw = await emulator.state()
    state = {
        "contacts_by_key": {c["properties"].get("classter_student_id"): c for c in raw["contacts"]},
        "deals_by_code": {d["properties"].get("classter_deal_code"): d for d in raw["deals"]},
    }
    latencies = []
    missing = 0
    for n, event in enumerate(live_schedule(RATE_PER_S, DURATION_S)):
        written = write_times(state, workload, event)
        if written is None:
            missing += 1
            continue
        latencies.append(written - occurred[n])
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    result.add("events", f"{len(occurred)} published, {len(latencies)} with a write found")
    result.add("p50", f"{p50 * 1000:.0f} ms")
    result.add(
        "p99",
        f"{p99 * 1000:.0f} ms",
        f"<= {TARGET_P99_S * 1000:.0f} ms",
        p99 <= TARGET_P99_S,
        f"over by {(p99 - TARGET_P99_S) * 1000:.0f} ms",
    )
    result.add("max", f"{max(latencies, default=0) * 1000:.0f} ms")
    under_1s = samples.get("classter_hubspot_end_to_end_latency_seconds_bucket{le=1.0}", 0.0)
    count = samples.get("classter_hubspot_end_to_end_latency_seconds_count{}", 0.0)
    if count:
        result.details.append(
            f"The daemon's own histogram agrees: {under_1s / count:.1%} of {count:.0f} synced "
            "events within 1 s of occurredAt"
        )
    if missing:
        result.details.append(f"{missing} events had no write in the emulator")
    result.add("daemon exit code", str(code), "0", code == 0, f"exited {code}")
    return result
