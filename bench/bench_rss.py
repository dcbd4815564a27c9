"""Benchmark 5: peak resident memory while draining a 200,000-event backlog (target <= 300 MB).

200,000 records of the standard workload (66,667 students) are published before the daemon
starts; the daemon drains them against an emulator enforcing the Pro budget, so the backlog
stays large for the whole run and backpressure (paused partitions) is what bounds memory. The
daemon's ``VmHWM`` (peak resident set, from ``/proc``) is read at the end; ``VmRSS`` is sampled
every half second for the curve's shape.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from bench import report
from bench.measure import Requests
from bench.stack import Stack, load, rss_bytes, say
from bench.workload import EVENTS_PER_STUDENT, Topics, standard

TARGET_MB = 300.0
EVENTS = 200_000
MB = 1024 * 1024


async def run(timeout_s: float = 480) -> report.Result:
    result = report.Result(
        "rss",
        "5. Peak RSS draining a 200,000-event backlog",
        f"{EVENTS} records of the standard workload ({EVENTS // EVENTS_PER_STUDENT + 1} "
        "students) published before the daemon starts",
        load_before=load(),
        command=report.command_line(),
    )
    topics = Topics.for_run(f"rss-{int(time.time())}")
    async with Stack.open("rss") as stack:
        emulator = await stack.emulator(tier="pro")
        records = [topics.rename(r) for r in standard(EVENTS // EVENTS_PER_STUDENT + 1)][:EVENTS]
        say(f"publishing {len(records)} records")
        published_s = await stack.publish(records)
        del records
        config = stack.config(emulator, topics, f"{topics.students}-group")
        await stack.prepare_portal(config.settings)
        before = await emulator.stats()
        daemon = await stack.daemon(config)
        started = time.monotonic()
        samples: list[int] = []

        async def sample() -> None:
            while True:
                samples.append(rss_bytes(daemon.child.pid)[0])
                await asyncio.sleep(0.5)

        sampler = asyncio.get_running_loop().create_task(sample())
        drained = True
        try:
            await stack.caught_up([daemon], timeout_s)
        except TimeoutError:
            drained = False
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
        elapsed = time.monotonic() - started
        _, peak = rss_bytes(daemon.child.pid)
        finished = await daemon.finished()
        after = await emulator.stats()
        code = await daemon.child.stop()
    peak_mb = peak / MB
    result.add(
        "peak RSS (VmHWM)",
        f"{peak_mb:.0f} MB",
        f"<= {TARGET_MB:.0f} MB",
        peak_mb <= TARGET_MB,
        f"over by {peak_mb - TARGET_MB:.0f} MB",
    )
    if samples:
        quarter = len(samples) // 4
        result.add(
            "RSS samples",
            f"at 25%: {samples[quarter] / MB:.0f} MB, 50%: {samples[2 * quarter] / MB:.0f} MB, "
            f"end: {samples[-1] / MB:.0f} MB",
        )
    verdict = "drained" if drained else f"NOT drained within {timeout_s:.0f} s"
    result.add(
        "drain",
        f"{verdict}: {finished:.0f} events in {elapsed:.0f} s "
        f"({finished / max(elapsed, 1e-6):.0f} events/s; publishing took {published_s:.0f} s)",
    )
    requests = Requests.between(before, after)
    result.add(
        "HubSpot calls",
        f"{requests.sync} ({requests.sync / max(finished, 1):.4f} per event, "
        f"{requests.rate_limited} answered 429)",
    )
    result.add("daemon exit code", str(code), "0", code == 0, f"exited {code}")
    return result
