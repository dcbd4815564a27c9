"""Benchmark 3: the pipeline's own cost, against a plain aiokafka consumer (target ratio >= 0.5).

The standard workload (10,000 students, 30,000 records) is published once. A plain aiokafka
consumer (its own group; it decodes every value with orjson and commits at the end) reads both
topics, then the daemon drains the same topics with another group against an emulator without
budget (tier ``unlimited``, so HubSpot's limit never paces it). Each rate is events over the
time from the first record to the last (group joins and start-up excluded); the two run one
after the other in the same run so they do not share the CPU.
"""

from __future__ import annotations

import asyncio
import time

import orjson
from aiokafka import AIOKafkaConsumer

from bench import report
from bench.stack import Stack, cpu_seconds, load, say
from bench.workload import EVENTS_PER_STUDENT, Topics, standard

TARGET = 0.5


async def plain_consumer(bootstrap: str, topics: Topics, group: str, events: int) -> float:
    """Events per second of a bare consumer reading ``events`` records."""
    consumer = AIOKafkaConsumer(
        *topics.sources,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    seen = 0
    first = last = 0.0
    try:
        while seen < events:
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            for records in batch.values():
                for record in records:
                    if record.value is not None:
                        orjson.loads(record.value)
                    seen += 1
            if batch:
                last = time.monotonic()
                first = first or last
        await consumer.commit()
    finally:
        await consumer.stop()
    return events / max(last - first, 1e-6)


async def run(students: int = 10_000, timeout_s: float = 480) -> report.Result:
    result = report.Result(
        "overhead",
        "3. Pipeline overhead against a plain aiokafka consumer",
        f"{students} students x {EVENTS_PER_STUDENT} events as a backlog; emulator tier "
        "`unlimited` (no budget)",
        load_before=load(),
        command=report.command_line(),
    )
    topics = Topics.for_run(f"overhead-{int(time.time())}")
    async with Stack.open("overhead") as stack:
        emulator = await stack.emulator(tier="unlimited")
        records = [topics.rename(r) for r in standard(students)]
        events = len(records)
        say(f"publishing {events} records")
        await stack.publish(records)
        say("plain aiokafka consumer")
        plain = await plain_consumer(stack.bootstrap, topics, f"{topics.students}-plain", events)
        config = stack.config(emulator, topics, f"{topics.students}-daemon")
        await stack.prepare_portal(config.settings)
        say("the daemon")
        daemon = await stack.daemon(config)
        await daemon.ready()
        first = last = 0.0
        done = 0.0
        cpu_first = cpu_last = 0.0
        deadline = time.monotonic() + timeout_s
        while done < events and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            done = await daemon.finished()
            if done:
                last = time.monotonic()
                cpu_last = cpu_seconds(daemon.child.pid)
                if not first:
                    first, cpu_first = last, cpu_last
        code = await daemon.child.stop()
    rate = done / max(last - first, 1e-6)
    ratio = rate / plain
    result.add("plain aiokafka consumer", f"{plain:,.0f} events/s")
    result.add(
        "daemon (emulator without budget)",
        f"{rate:,.0f} events/s ({done:.0f} of {events} in {last - first:.1f} s)",
    )
    result.add(
        "ratio daemon / plain",
        f"{ratio:.3f}",
        f">= {TARGET}",
        ratio >= TARGET,
        f"{ratio / TARGET:.2f}x the target",
    )
    result.add("daemon exit code", str(code), "0", code == 0, f"exited {code}")
    busy = (cpu_last - cpu_first) / max(last - first, 1e-6)
    result.details.append(
        f"The daemon used {busy:.2f} CPU-seconds per second while draining "
        f"({(cpu_last - cpu_first) / max(done, 1) * 1e3:.2f} ms of CPU per event)"
    )
    return result
