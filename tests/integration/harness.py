"""The integration-test stack: real broker, in-process emulator, the real daemon, unique names.

``Stack`` publishes records, prepares the portal as ``check --apply`` would, runs the daemon's
real lifespan (``consumer.app.run``) until its consumer group has no lag, then stops it as
SIGTERM would, and reads back the emulator's state and the DLQ. Tests assert on those.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from prometheus_client import CollectorRegistry

from consumer import app
from consumer.config import Settings
from consumer.hubspot.schema import apply_own_properties, load_schema
from consumer.metrics import Metrics
from sandbox.kafka_ops import ReadRecord, Record, ensure_topics, publish, read_all, wait_caught_up

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "pat-na1-sandbox-demo-token"


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


@dataclass
class Run:
    """One daemon run: its exit code and its metrics registry."""

    code: int
    registry: CollectorRegistry

    def metric(self, name: str, **labels: str) -> float:
        value = self.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


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
        tree = yaml.safe_load((ROOT / "examples" / "config.yaml").read_text())
        tree = _merge(
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
        return Settings.model_validate(_merge(tree, overrides))

    async def prepare(self, settings: Settings | None = None) -> None:
        """Create the topics and the daemon's own properties (what ``check --apply`` does)."""
        settings = settings or self.settings()
        await ensure_topics(self.bootstrap, [*self.topics, self.dlq])
        async with app.hubspot(settings, TOKEN, Metrics(CollectorRegistry())) as handle:
            await apply_own_properties(handle.client, await load_schema(handle.client))

    async def publish(self, records: Sequence[Record]) -> None:
        await publish(self.bootstrap, records)

    async def run(self, settings: Settings | None = None, *, timeout_s: float = 90) -> Run:
        """Run the daemon until the group has no lag, then stop it; returns the run."""
        settings = settings or self.settings()
        registry = CollectorRegistry()
        stop = asyncio.Event()
        task = asyncio.create_task(
            app.run(settings, token=TOKEN, registry=registry, stop=stop, install_signals=False)
        )
        try:
            await wait_caught_up(
                self.bootstrap,
                self.group,
                self.topics,
                timeout_s=timeout_s,
                exited=lambda: task.result() if task.done() else None,
            )
        finally:
            stop.set()
            code = await asyncio.wait_for(task, 60)
        run = Run(code, registry)
        self.runs.append(run)
        return run

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

    async def dead_letters(self) -> list[ReadRecord]:
        return await read_all(self.bootstrap, self.dlq)
