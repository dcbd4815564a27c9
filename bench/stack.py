"""What every benchmark stands on: its own broker, emulator processes and daemon processes.

Owns: the benchmark port range (31300-31399: the broker on 31392/31393 with its state under
``.cache/kafka-bench-state``, emulators from 31380, daemons' HTTP ports from 31301), starting
and stopping the HubSpot emulator (``python -m sandbox.emulator``) and the daemon
(``python -m consumer run``) as child processes, the daemon's config for a run, publishing a
workload, waiting for a consumer group to catch up, reading the emulator's stats and state, and
a process's resident memory. Every child it starts, it stops (SIGTERM, then SIGKILL after a
grace period). Must not: decide what a benchmark measures (the ``bench_*`` modules do).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from consumer import app
from consumer.config import Settings
from consumer.hubspot.schema import apply_own_properties, load_schema
from consumer.metrics import Metrics
from sandbox.config_tree import merge
from sandbox.kafka_broker import Broker
from sandbox.kafka_ops import wait_caught_up
from sandbox.sample.publish import publish
from sandbox.sample.records import SampleRecord

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench"
BROKER = Broker(port=31392, controller_port=31393, state_dir=ROOT / ".cache" / "kafka-bench-state")
EMULATOR_PORT = 31380
DAEMON_PORT = 31301
TOKEN = "pat-na1-sandbox-demo-token"  # noqa: S105 - the emulator's public sandbox token
PARTITIONS = 6
PRO_WINDOW = 190  # requests per rolling 10 s on HubSpot Pro


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


@dataclass
class Child:
    """A child process and its log file."""

    name: str
    process: asyncio.subprocess.Process
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    async def stop(self, grace_s: float = 60) -> int:
        """SIGTERM, wait up to ``grace_s``, then SIGKILL; returns the exit code."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), grace_s)
            except TimeoutError:
                say(f"{self.name} did not stop in {grace_s}s; killing it")
                self.process.kill()
                await self.process.wait()
        code = self.process.returncode
        return -1 if code is None else code


def free_port(first: int, count: int) -> int:
    """The first port of ``first .. first + count - 1`` nothing listens on (loopback)."""
    for port in range(first, first + count):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {first}..{first + count - 1}")


def rss_bytes(pid: int) -> tuple[int, int]:
    """(current resident set, peak resident set) of a process, from ``/proc/<pid>/status``."""
    now = peak = 0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                now = int(line.split()[1]) * 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) * 1024
    return now, peak


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (``/proc/<pid>/stat``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Config:
    """A daemon config: the YAML tree written for the child and the settings it validates to."""

    tree: dict[str, Any]
    settings: Settings


@dataclass
class Emulator:
    child: Child
    url: str

    async def get(self, what: str) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.url}/_emulator/{what}") as resp,
        ):
            resp.raise_for_status()
            body: dict[str, Any] = await resp.json(content_type=None)
            return body

    async def stats(self) -> dict[str, Any]:
        return await self.get("stats")

    async def state(self) -> dict[str, Any]:
        return await self.get("state")


@dataclass
class Daemon:
    child: Child
    port: int
    settings: Settings

    async def metrics(self) -> dict[str, float]:
        """Every sample of ``/metrics`` as ``name{label=value,...}`` -> value."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{self.port}/metrics") as resp,
        ):
            text = await resp.text()
        out: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                out[f"{sample.name}{{{labels}}}"] = sample.value
        return out

    async def finished(self) -> float:
        """Events finished so far (every outcome)."""
        try:
            samples = await self.metrics()
        except aiohttp.ClientError:
            return 0.0
        return sum(
            v for k, v in samples.items() if k.startswith("classter_hubspot_events_finished_total")
        )

    async def ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.child.process.returncode is not None:
                    raise RuntimeError(f"{self.child.name} exited; see {self.child.log}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"http://127.0.0.1:{self.port}/readyz") as resp:
                        if resp.status == 200:
                            return
                await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.child.name} not ready after {timeout_s}s; see {self.child.log}")


@dataclass
class Stack:
    """One benchmark's processes; ``async with Stack.open(name)`` stops every child on exit."""

    name: str
    run_dir: Path
    bootstrap: str
    children: list[Child] = field(default_factory=list)

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, name: str) -> AsyncIterator[Stack]:
        run_dir = CACHE / name
        run_dir.mkdir(parents=True, exist_ok=True)
        say(f"starting the benchmark broker on {BROKER.bootstrap}")
        bootstrap = await asyncio.to_thread(BROKER.start)
        stack = cls(name, run_dir, bootstrap)
        try:
            yield stack
        finally:
            for child in reversed(stack.children):
                await child.stop()

    async def _spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> Child:
        log = self.run_dir / f"{name}.log"
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env={**os.environ, **(env or {})},
                cwd=ROOT,
            )
        child = Child(name, process, log)
        self.children.append(child)
        return child

    async def emulator(
        self, *, tier: str = "pro", port: int | None = None, latency_s: float = 0.0
    ) -> Emulator:
        """Start an emulator process (on the first free port from 31380) and wait for it."""
        port = port or free_port(EMULATOR_PORT, 10)
        child = await self._spawn(
            f"emulator-{port}",
            "-m",
            "sandbox.emulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--tier",
            tier,
            "--latency-s",
            str(latency_s),
        )
        emulator = Emulator(child, f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        while True:
            if child.process.returncode is not None:
                raise RuntimeError(f"the emulator exited; see {child.log}")
            with contextlib.suppress(aiohttp.ClientError):
                await emulator.stats()
                return emulator
            if time.monotonic() > deadline:
                raise TimeoutError(f"the emulator did not answer; see {child.log}")
            await asyncio.sleep(0.2)

    def config(self, emulator: Emulator, topics: Any, group: str, **over: Any) -> Config:
        """The demo config pointed at this stack, with ``over`` merged in (nested dicts)."""
        tree = yaml.safe_load((ROOT / "examples" / "config.yaml").read_text())
        tree = merge(
            tree,
            {
                "kafka": {
                    "bootstrap_servers": self.bootstrap,
                    "group_id": group,
                    "topics": topics.sources,
                    "dlq_topic": topics.dlq,
                },
                "hubspot": {"base_url": emulator.url},
                "http": {"host": "127.0.0.1", "port": DAEMON_PORT},
                "logging": {"level": "WARNING"},
            },
        )
        tree = merge(tree, over)
        return Config(tree, Settings.model_validate(tree))

    async def prepare_portal(self, settings: Settings) -> None:
        """Create the daemon's own properties (what ``check --apply`` does)."""
        async with app.hubspot(settings, TOKEN, Metrics(CollectorRegistry())) as handle:
            await apply_own_properties(handle.client, await load_schema(handle.client))

    async def daemon(self, config: Config, *, replica: int = 0) -> Daemon:
        """Start ``python -m consumer run`` with ``config`` (HTTP port + ``replica``)."""
        port = DAEMON_PORT + replica
        mine = Config(
            merge(config.tree, {"http": {"port": port}}),
            config.settings,
        )
        path = self.run_dir / f"config-{replica}.yaml"
        path.write_text(yaml.safe_dump(mine.tree, sort_keys=False))
        child = await self._spawn(
            f"daemon-{replica}",
            "-m",
            "consumer",
            "run",
            "--config",
            str(path),
            env={"HUBSPOT_TOKEN": TOKEN},
        )
        return Daemon(child, port, mine.settings)

    async def publish(self, records: Sequence[SampleRecord]) -> float:
        """Publish in order; returns the seconds it took."""
        started = time.monotonic()
        await publish(self.bootstrap, records, partitions=PARTITIONS)
        return time.monotonic() - started

    async def caught_up(self, daemons: Sequence[Daemon], timeout_s: float) -> None:
        kafka = daemons[0].settings.kafka

        def exited() -> object:
            codes = [d.child.process.returncode for d in daemons]
            return next((c for c in codes if c is not None), None)

        await wait_caught_up(
            self.bootstrap, kafka.group_id, kafka.topics, timeout_s=timeout_s, exited=exited
        )


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {
        "cpu": f"{os.cpu_count()} x {cpu}",
        "memory": f"{mem_kb / 1024 / 1024:.0f} GiB",
        "python": sys.version.split()[0],
    }


def load() -> str:
    """The 1, 5 and 15 minute load averages (the machine may be shared)."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"
