"""The demo's driver (``scripts/demo.sh``): publish, run the real daemon to zero lag, show the CRM.

Owns: the order of the demo's steps against an already started broker and emulator: the portal
check (``check --apply``), publishing the sample once, rewinding the consumer group to the
earliest offsets on a re-run, running ``classter-hubspot run`` as a child process until the group
has no lag, stopping it with SIGTERM, and comparing the emulator's state with the expected one.
Exit code 0 only when the daemon exited 0 and the state equals the expected state.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp
import orjson

from consumer.config import Settings, load_settings
from sandbox import crm_state
from sandbox.kafka_broker import Broker
from sandbox.kafka_ops import end_offsets, ensure_topics, group_lag, wait_caught_up

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def say(message: str) -> None:
    print(f"demo: {message}", file=sys.stderr, flush=True)


async def wait_for_emulator(url: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(f"{url}/_emulator/stats") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"demo: the emulator at {url} did not answer in {timeout_s}s")
            await asyncio.sleep(0.2)


async def classter_hubspot(*args: str) -> int:
    """Run the daemon's CLI as a child process (output to ours); returns its exit code."""
    child = await asyncio.create_subprocess_exec(str(VENV_BIN / "classter-hubspot"), *args)
    return await child.wait()


async def publish_or_rewind(args: argparse.Namespace, settings: Settings) -> bool:
    """Publish the sample once; on a re-run rewind the group to the earliest offsets instead."""
    kafka = settings.kafka
    bootstrap = kafka.bootstrap_servers
    published = sum((await end_offsets(bootstrap, kafka.topics)).values())
    if published == 0:
        say(f"publishing {args.events} to {', '.join(kafka.topics)}")
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "sandbox.sample.publish",
            "--bootstrap",
            bootstrap,
            "--file",
            str(args.events),
        )
        return await child.wait() == 0
    say(f"the topics already hold {published} records; not publishing again")
    lag = await group_lag(bootstrap, kafka.group_id, kafka.topics)
    if lag and not any(lag.values()):
        say(
            f"re-run: rewinding group {kafka.group_id} to the earliest offsets "
            "(kafka-consumer-groups --reset-offsets --to-earliest)"
        )
        port = int(bootstrap.rpartition(":")[2])
        broker = Broker(port=port, controller_port=port + 1)
        topic_args = [a for t in kafka.topics for a in ("--topic", t)]
        await asyncio.to_thread(
            broker.tool,
            "consumer-groups",
            "--bootstrap-server",
            bootstrap,
            "--group",
            kafka.group_id,
            "--reset-offsets",
            "--to-earliest",
            *topic_args,
            "--execute",
        )
    return True


async def run_daemon(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``classter-hubspot run`` until its group has no lag, then SIGTERM; its exit code."""
    kafka = settings.kafka
    say(f"running the daemon (log: {args.log})")
    started = time.monotonic()
    with args.log.open("ab") as log:
        daemon = await asyncio.create_subprocess_exec(
            str(VENV_BIN / "classter-hubspot"),
            "run",
            "--config",
            str(args.config),
            stdout=log,
            stderr=log,
            env=os.environ.copy(),
        )
        try:
            await wait_caught_up(
                kafka.bootstrap_servers,
                kafka.group_id,
                kafka.topics,
                timeout_s=args.timeout_s,
                exited=lambda: daemon.returncode,
            )
        finally:
            if daemon.returncode is None:
                daemon.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(daemon.wait(), 60)
    say(
        f"group {kafka.group_id} has no lag after {time.monotonic() - started:.1f}s; "
        f"the daemon got SIGTERM and exited with {code}"
    )
    return code


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.demo")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--expected", type=Path, required=True)
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--timeout-s", type=float, default=600)
    args = parser.parse_args(argv)

    settings = load_settings(args.config)
    dlq_topic = settings.kafka.dlq_topic
    bootstrap = settings.kafka.bootstrap_servers
    await wait_for_emulator(args.emulator)

    say("checking the configuration against the portal (classter-hubspot check --apply)")
    if await classter_hubspot("check", "--apply", "--config", str(args.config)) != 0:
        say("the portal check failed; see above")
        return 1
    # the topics and the DLQ exist, with leaders, before anything produces to them
    await ensure_topics(bootstrap, [*settings.kafka.topics, dlq_topic])
    if not await publish_or_rewind(args, settings):
        return 1

    dlq_before = sum((await end_offsets(bootstrap, [dlq_topic])).values())
    state_before = await crm_state.fetch(args.emulator)
    code = await run_daemon(args, settings)
    dlq_count = sum((await end_offsets(bootstrap, [dlq_topic])).values()) - dlq_before

    state = await crm_state.fetch(args.emulator)
    expected = orjson.loads(args.expected.read_bytes())
    print(crm_state.summary(state, dlq_count=dlq_count))
    problems = crm_state.diff(expected, state, dlq_count=dlq_count)
    if state_before["contacts"] or state_before["deals"]:
        same = crm_state.diff(state_before, state, dlq_count=None)
        print("re-run: the CRM state is " + ("unchanged" if not same else "CHANGED:"))
        for line in same:
            print(f"  {line}")
        problems += same
    if problems:
        print("the CRM state DIFFERS from examples/sample/expected_state.json:")
        for line in problems[:50]:
            print(f"  {line}")
        return 1
    print("the CRM state equals examples/sample/expected_state.json")
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
