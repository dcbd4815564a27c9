"""The integration-test stack: real broker, in-process emulator, the real daemon, unique names.

``Stack`` publishes records, prepares the portal as ``check --apply`` would, runs the daemon's
real lifespan (``consumer.app.run``) until its consumer group has no lag, then stops it as
SIGTERM would, and reads back the emulator's state and the DLQ. Tests assert on those.
``Stack.running`` keeps the daemon alive inside a block, with its bound HTTP port, for tests
that scrape ``/metrics`` or change the portal while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry

from consumer import app
from consumer.config import Settings
from consumer.hubspot.schema import apply_own_properties, load_schema
from consumer.metrics import Metrics
from sandbox.config_tree import merge
from sandbox.crm_state import canonical
from sandbox.kafka_ops import (
    ReadRecord,
    Record,
    end_offsets,
    ensure_topics,
    publish,
    read_all,
    wait_caught_up,
)

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "pat-na1-sandbox-demo-token"


@dataclass
class Run:
    """One daemon run: its exit code and its metrics registry."""

    code: int
    registry: CollectorRegistry

    def metric(self, name: str, **labels: str) -> float:
        value = self.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


@dataclass
class Daemon:
    """A daemon running inside ``Stack.running``: its task, registry and bound HTTP port."""

    task: asyncio.Task[int]
    registry: CollectorRegistry
    http_port: int
    group: str

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def exited(self) -> int | None:
        return self.task.result() if self.task.done() else None


@dataclass
class Stack:
    bootstrap: str
    emulator_url: str
    students: str
    registrations: str
    dlq: str
    group: str
    runs: list[Run] = field(default_factory=list)

    @property
    def topics(self) -> list[str]:
        return [self.students, self.registrations]

    def settings(self, **overrides: Any) -> Settings:
        """The demo config pointed at this stack, with ``overrides`` merged in (nested dicts)."""
        return Settings.model_validate(self.settings_tree(**overrides))

    def config_file(self, path: Path, **overrides: Any) -> Path:
        """``settings`` written as a YAML config file (for the CLI in a subprocess)."""
        path.write_text(yaml.safe_dump(self.settings_tree(**overrides)))
        return path

    def settings_tree(self, **overrides: Any) -> dict[str, Any]:
        """The config tree behind ``settings`` (plain YAML data)."""
        tree = yaml.safe_load((ROOT / "examples" / "config.yaml").read_text())
        tree = merge(
            tree,
            {
                "kafka": {
                    "bootstrap_servers": self.bootstrap,
                    "group_id": self.group,
                    "topics": self.topics,
                    "dlq_topic": self.dlq,
                    "commit_interval_s": 0.2,
                    "drain_timeout_s": 10,
                },
                "hubspot": {
                    "base_url": self.emulator_url,
                    "batch_linger_s": 0.01,
                    "retry_max_backoff_s": 1.0,
                },
                "http": {"host": "127.0.0.1", "port": 0},
            },
        )
        return merge(tree, overrides)

    async def prepare(self, settings: Settings | None = None) -> None:
        """Create the topics and the daemon's own properties (what ``check --apply`` does)."""
        settings = settings or self.settings()
        await ensure_topics(self.bootstrap, [*self.topics, self.dlq])
        async with app.hubspot(settings, TOKEN, Metrics(CollectorRegistry())) as handle:
            await apply_own_properties(handle.client, await load_schema(handle.client))

    async def publish(self, records: Sequence[Record]) -> None:
        await publish(self.bootstrap, records)

    @contextlib.asynccontextmanager
    async def running(
        self,
        settings: Settings | None = None,
        *,
        timeout_s: float = 30,
        kafka_password: str | None = None,
    ) -> AsyncIterator[Daemon]:
        """The daemon's real lifespan in a task, from its HTTP port being bound until the block
        ends; then it is stopped as SIGTERM would and its exit code recorded in ``runs``.

        ``settings`` may point the daemon at another listener of the broker (SASL_SSL, say);
        the stack itself always publishes and reads through ``bootstrap``.
        """
        settings = settings or self.settings()
        registry = CollectorRegistry()
        stop = asyncio.Event()
        bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(
            app.run(
                settings,
                token=TOKEN,
                kafka_password=kafka_password,
                registry=registry,
                stop=stop,
                install_signals=False,
                on_http_port=bound.set_result,
            )
        )
        try:
            done, _ = await asyncio.wait(
                {task, bound}, timeout=timeout_s, return_when="FIRST_COMPLETED"
            )
            if bound not in done:
                raise RuntimeError(f"the daemon did not bind its HTTP port: {task}")
            yield Daemon(task, registry, bound.result(), settings.kafka.group_id)
        finally:
            stop.set()
            code = await asyncio.wait_for(task, 60)
            self.runs.append(Run(code, registry))

    async def caught_up(self, daemon: Daemon, *, timeout_s: float = 90) -> None:
        """Wait until the daemon's group has committed every record of the topics."""
        await wait_caught_up(
            self.bootstrap, daemon.group, self.topics, timeout_s=timeout_s, exited=daemon.exited
        )

    async def ready(self, daemon: Daemon, *, timeout_s: float = 30) -> None:
        """Wait until the daemon's ``/readyz`` answers 200 (portal checked, partitions assigned)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        async with aiohttp.ClientSession() as session:
            while True:
                if daemon.exited() is not None:
                    raise RuntimeError("the daemon exited before it was ready")
                async with session.get(f"{daemon.http_url}/readyz") as resp:
                    if resp.status == 200:
                        return
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"/readyz still {resp.status} after {timeout_s}s")
                await asyncio.sleep(0.1)

    async def run(
        self,
        settings: Settings | None = None,
        *,
        timeout_s: float = 90,
        kafka_password: str | None = None,
    ) -> Run:
        """Run the daemon until the group has no lag, then stop it; returns the run."""
        settings = settings or self.settings()
        async with self.running(settings, kafka_password=kafka_password) as daemon:
            await self.caught_up(daemon, timeout_s=timeout_s)
        return self.runs[-1]

    async def seed(self, body: dict[str, Any]) -> None:
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{self.emulator_url}/_emulator/seed", json=body) as resp,
        ):
            assert resp.status < 300, await resp.text()

    async def dump(self) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.emulator_url}/_emulator/state") as resp,
        ):
            assert resp.status == 200, await resp.text()
            body: dict[str, Any] = await resp.json()
            return body

    async def crm(self) -> dict[str, Any]:
        """The emulator's state in ``sandbox.crm_state.canonical`` form: contacts by
        ``classter_student_id``, deals by ``classter_deal_code`` with their ``contact``."""
        return canonical(await self.dump())

    async def dead_letters(self) -> list[ReadRecord]:
        return await read_all(self.bootstrap, self.dlq)

    async def stats(self) -> dict[str, Any]:
        """The emulator's request counts (``GET /_emulator/stats``)."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.emulator_url}/_emulator/stats") as resp,
        ):
            assert resp.status == 200, await resp.text()
            body: dict[str, Any] = await resp.json()
            return body

    async def offsets(self, group: str | None = None) -> tuple[dict[str, int], dict[str, int]]:
        """(committed offsets of ``group``, end offsets) per ``topic[partition]`` of the topics;
        a partition without a commit is absent from the first."""
        ends = await end_offsets(self.bootstrap, self.topics)
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            committed = await admin.list_consumer_group_offsets(group or self.group)
        finally:
            await admin.close()

        def name(tp: TopicPartition) -> str:
            return f"{tp.topic}[{tp.partition}]"

        return (
            {
                name(tp): meta.offset
                for tp, meta in committed.items()
                if tp.topic in self.topics and meta.offset >= 0
            },
            {name(tp): end for tp, end in ends.items()},
        )
