"""``python -m bench NAME [--no-write]``: run one benchmark (or ``all``) and record its figures.

Names: ``calls``, ``utilisation``, ``overhead``, ``latency``, ``rss``, ``all`` (each in turn,
sharing one broker start). Each prints its figures and, unless ``--no-write``, rewrites its
section of ``docs/benchmarks.md``. ``--stop-broker`` stops the benchmark broker afterwards
(``all`` always does). Exit code 0 when every benchmark ran (targets missed included: the
figures say so), 1 when one failed to run.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import traceback
from collections.abc import Callable, Coroutine
from typing import Any

from bench import (
    bench_calls,
    bench_latency,
    bench_overhead,
    bench_rss,
    bench_utilisation,
    report,
)
from bench.stack import BROKER, ROOT, say

BENCHES: dict[str, Callable[[], Coroutine[Any, Any, report.Result]]] = {
    "calls": bench_calls.run,
    "utilisation": bench_utilisation.run,
    "overhead": bench_overhead.run,
    "latency": bench_latency.run,
    "rss": bench_rss.run,
}


async def _guarded(bench: Callable[[], Coroutine[Any, Any, report.Result]]) -> report.Result:
    """Run ``bench``; SIGTERM/SIGINT cancel it, so its stack still stops every child process."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None  # noqa: S101 - inside asyncio.run
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await bench()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("name", choices=[*BENCHES, "all"])
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    parser.add_argument("--stop-broker", action="store_true", help="stop the broker afterwards")
    args = parser.parse_args(argv)
    names = list(BENCHES) if args.name == "all" else [args.name]
    failed = []
    try:
        for name in names:
            say(f"running benchmark {name!r}")
            try:
                result = asyncio.run(_guarded(BENCHES[name]))
            except asyncio.CancelledError:
                say(f"benchmark {name!r} was interrupted")
                return 1
            except Exception:  # one broken benchmark must not hide the others
                traceback.print_exc()
                failed.append(name)
                continue
            result.print()
            if not args.no_write:
                report.write(result)
                say(f"wrote {report.DOC.relative_to(ROOT)} (section {name!r})")
    finally:
        if args.stop_broker or args.name == "all":
            say("stopping the benchmark broker")
            BROKER.stop()
    if failed:
        say(f"failed to run: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
