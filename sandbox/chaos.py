"""The chaos run: several daemon replicas under SIGKILLs, HubSpot faults and a broker restart.

Owns: one run end to end and its figures. A dedicated broker (never the shared test broker:
this one is restarted), the emulator as a subprocess with fault rules (5xx, 429 bursts, 2-second
stalls, dropped connections), the generated sample (``sandbox.sample``, interleaving-safe by
construction, with its bad records) published in chunks while replicas of the real daemon
(``python -m consumer run``, static membership) are SIGKILLed at random and restarted; then the
replicas are stopped with SIGTERM and the outcome is checked against the oracle: the emulator's
CRM state (every contact and deal once, stage, association), the DLQ (exactly the bad records,
by source position and reason), committed offsets at the end of every partition, exit codes.
Faults seen are counted from the replicas' JSON logs. Used by ``tests/integration/test_chaos.py``
(short) and ``bench/chaos.py`` (long). Must not: be imported by ``consumer/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry

from consumer import app
from consumer.config import Settings
from consumer.hubspot.schema import apply_own_properties, load_schema
from consumer.metrics import Metrics
from sandbox import crm_state
from sandbox.config_tree import merge
from sandbox.kafka_broker import ROOT, Broker
from sandbox.kafka_ops import ensure_topics, group_lag, read_all
from sandbox.sample import oracle
from sandbox.sample.generate import generate
from sandbox.sample.records import (
    REGISTRATIONS_TOPIC,
    STUDENTS_TOPIC,
    SampleRecord,
    partition_for,
)

TOKEN = "pat-na1-sandbox-demo-token"  # noqa: S105 - the emulator's public sandbox token

# log messages (their beginning) of the daemon and of aiokafka that show a fault being met, and
# what to call them in the report
SEEN = {
    "Unable connect to node": "broker unreachable (aiokafka reconnects)",
    "Kafka is not reachable": "start-up found no broker (exit 3)",
    "cannot listen on the HTTP port": "HTTP port taken (exit 1)",
    "Heartbeat session expired": "heartbeat session expired",
    "retrying event": "event retried (transient HubSpot failure)",
    "HubSpot not answering at start; retrying": "start-up check retried",
    "commit failed; those records will be redelivered": "commit failed (redelivery)",
    "poll failed; polling again": "poll failed",
    "DLQ write failed; retrying": "DLQ write retried",
    "drain deadline passed on revocation; in-flight events cancelled": "revocation cancelled work",
    "shutdown drain deadline passed; unfinished events will be redelivered": "shutdown drain cut",
    "partitions revoked": "partitions revoked",
    "partitions assigned": "partitions assigned",
}


@dataclass
class Plan:
    """What one run does; the defaults are the short run of the test suite."""

    students: int = 380  # about 2,000 events with the named cases
    seed: int = 11
    replicas: int = 3
    partitions: int = 6
    publish_s: float = 30.0  # the events trickle in over this long
    chaos_s: float = 45.0  # kills go on at least this long (and while events are published)
    kill_every_s: tuple[float, float] = (3.0, 6.0)
    broker_restart_at_s: float | None = 15.0
    fault_5xx: float = 0.05
    stall_p: float = 0.01
    stall_s: float = 2.0
    drop_p: float = 0.01
    burst_every_s: float = 10.0
    burst_s: float = 1.5  # every request in this window answers 429
    timeout_s: float = 170.0
    broker_port: int = 31492
    controller_port: int = 31493
    emulator_port: int = 31480
    workdir: Path = ROOT / ".cache" / "chaos"


@dataclass
class Result:
    """Figures and the verdict of one run."""

    events: int = 0
    bad_expected: int = 0
    contacts: int = 0
    deals: int = 0
    kills: int = 0
    restarts: int = 0
    self_exits: Counter[int] = field(default_factory=Counter)
    broker_restarts: int = 0
    broker_restart_s: float = 0.0
    faults_injected: Counter[str] = field(default_factory=Counter)
    emulator_faults_total: int = 0
    emulator_requests: int = 0
    seen: Counter[str] = field(default_factory=Counter)
    duration_s: float = 0.0
    catch_up_s: float = 0.0
    state_diff: list[str] = field(default_factory=list)
    dlq_records: int = 0
    dlq_duplicates: int = 0
    dlq_diff: list[str] = field(default_factory=list)
    lag: dict[str, int] = field(default_factory=dict)
    duplicate_records: int = 0
    final_exit_codes: list[int | None] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.state_diff
            and not self.dlq_diff
            and not any(self.lag.values())
            and bool(self.lag)
            and self.duplicate_records == 0
            and all(code == 0 for code in self.final_exit_codes)
        )


class _Replica:
    """One daemon process slot: started, SIGKILLed and restarted by the run."""

    def __init__(self, index: int, config: Path, log: Path) -> None:
        self.index = index
        self.config = config
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None
        self.killed = False
        self.mark = 0  # the log's size when the latest process started

    def ready(self) -> bool:
        """Running, and its latest start got as far as "started" (signal handlers installed).
        A process SIGKILLed a moment ago is not: until asyncio reaps it, its returncode is still
        None, and its log still says "started" (CI once sent the final SIGTERM to such a one)."""
        if self.killed or self.proc is None or self.proc.returncode is not None:
            return False
        if not self.log.exists():
            return False
        with self.log.open("rb") as log:
            log.seek(self.mark)
            return b'"msg":"started"' in log.read()

    async def start(self) -> None:
        self.killed = False
        self.mark = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "consumer",
                "run",
                "--config",
                str(self.config),
                cwd=ROOT,
                env={**os.environ, "HUBSPOT_TOKEN": TOKEN},
                stdout=out,
                stderr=out,
            )

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.killed = True
            self.proc.send_signal(signal.SIGKILL)

    async def terminate(self, timeout_s: float) -> int | None:
        proc = self.proc
        if proc is None:
            return None
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return None


class Chaos:
    """One run of a ``Plan``; ``await Chaos(plan).run()`` returns the ``Result``."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.run_id = uuid.uuid4().hex[:8]
        self.dir = plan.workdir / self.run_id
        self.broker = Broker(
            port=plan.broker_port,
            controller_port=plan.controller_port,
            state_dir=plan.workdir / "kafka-state",
        )
        self.emulator_url = f"http://127.0.0.1:{plan.emulator_port}"
        self.students = f"chaos-{self.run_id}.students"
        self.registrations = f"chaos-{self.run_id}.registrations"
        self.dlq = f"chaos-{self.run_id}.dlq"
        self.group = f"chaos-{self.run_id}"
        self.rng = random.Random(plan.seed)
        self.result = Result()
        self.replicas: list[_Replica] = []
        self._kafka_lock = asyncio.Lock()  # held by the publisher per chunk and by the restart
        self._published = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []

    # -- setup ------------------------------------------------------------------------------------
    def _tree(self, index: int) -> dict[str, Any]:
        tree: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "config.yaml").read_text())
        return merge(
            tree,
            {
                "kafka": {
                    "bootstrap_servers": self.broker.bootstrap,
                    "group_id": self.group,
                    "topics": [self.students, self.registrations],
                    "dlq_topic": self.dlq,
                    "group_instance_id": f"{self.group}-replica-{index}",
                    "commit_interval_s": 0.5,
                    "drain_timeout_s": 5,
                    "session_timeout_ms": 10_000,
                    "heartbeat_interval_ms": 1_000,
                },
                "hubspot": {
                    "base_url": self.emulator_url,
                    "batch_linger_s": 0.02,
                    "request_timeout_s": 5.0,
                    "retry_max_backoff_s": 2.0,
                    "max_attempts": 60,
                },
                # an ephemeral port: a fixed one may be held by someone's ephemeral socket
                "http": {"host": "127.0.0.1", "port": 0},
                "logging": {"level": "INFO"},
            },
        )

    def _records(self) -> tuple[list[SampleRecord], dict[str, Any]]:
        dataset = generate(self.plan.seed, self.plan.students)
        rename = {STUDENTS_TOPIC: self.students, REGISTRATIONS_TOPIC: self.registrations}
        records = [SampleRecord(rename[r.topic], r.key, r.value, r.case) for r in dataset.records]
        return records, dataset.portal_seed

    async def _start_emulator(self) -> asyncio.subprocess.Process:
        # a port of the range may be held by someone's ephemeral socket: try the next ones
        for port in range(self.plan.emulator_port, self.plan.emulator_port + 10):
            self.emulator_url = f"http://127.0.0.1:{port}"
            proc = await self._try_emulator(port)
            if proc is not None:
                return proc
        raise RuntimeError(f"the emulator did not start; see {self.dir / 'emulator.log'}")

    async def _try_emulator(self, port: int) -> asyncio.subprocess.Process | None:
        log = (self.dir / "emulator.log").open("ab")
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "sandbox.emulator",
            "--port",
            str(port),
            "--tier",
            "unlimited",
            "--fault-seed",
            str(self.plan.seed),
            cwd=ROOT,
            stdout=log,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + 30
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{self.emulator_url}/_emulator/config") as resp:
                        if resp.status == 200:
                            return proc
                if proc.returncode is not None:
                    break
                await asyncio.sleep(0.2)
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
        return None

    async def _control(self, method: str, path: str, body: Any = None) -> Any:
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, f"{self.emulator_url}/_emulator/{path}", json=body) as resp,
        ):
            resp.raise_for_status()
            return await resp.json()

    async def _prepare(self, portal_seed: dict[str, Any]) -> None:
        await self._control("POST", "seed", portal_seed)
        settings = Settings.model_validate(self._tree(0))
        async with app.hubspot(settings, TOKEN, Metrics(CollectorRegistry())) as handle:
            await apply_own_properties(handle.client, await load_schema(handle.client))
        await ensure_topics(
            self.broker.bootstrap,
            [self.students, self.registrations, self.dlq],
            self.plan.partitions,
        )

    # -- the faults -------------------------------------------------------------------------------
    def _rules(self, burst: bool) -> list[dict[str, Any]]:
        p = self.plan
        each = p.fault_5xx / 4
        rules: list[dict[str, Any]] = []
        if burst:
            rules.append({"kind": "status", "status": 429})
        rules += [
            {"kind": "status", "status": status, "probability": each}
            for status in (500, 502, 503, 504)
        ]
        rules += [
            {"kind": "stall", "probability": p.stall_p, "delay_s": p.stall_s},
            {"kind": "drop", "probability": p.drop_p},
        ]
        return rules

    async def _harvest_faults(self) -> None:
        described = await self._control("GET", "faults")
        for rule in described["rules"]:
            name = rule["kind"] if rule["kind"] != "status" else f"http {rule['status']}"
            self.result.faults_injected[name] += int(rule["fired"])

    async def _install(self, burst: bool) -> None:
        await self._harvest_faults()
        seed = self.rng.randrange(1 << 30)
        await self._control("PUT", "faults", {"rules": self._rules(burst), "seed": seed})

    async def _faults_loop(self) -> None:
        while not self._stopping:
            await self._install(burst=True)
            await asyncio.sleep(self.plan.burst_s)
            await self._install(burst=False)
            await asyncio.sleep(self.plan.burst_every_s - self.plan.burst_s)

    # -- the chaos --------------------------------------------------------------------------------
    async def _publish(self, records: list[SampleRecord]) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.broker.bootstrap,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            request_timeout_ms=120_000,
        )
        await producer.start()
        try:
            chunks = max(1, int(self.plan.publish_s / 0.5))
            size = -(-len(records) // chunks)
            for start in range(0, len(records), size):
                async with self._kafka_lock:
                    futures = [
                        await producer.send(
                            r.topic,
                            r.value,
                            key=r.key_bytes,
                            partition=partition_for(r.key, self.plan.partitions),
                        )
                        for r in records[start : start + size]
                    ]
                    await producer.flush()
                    for future in futures:
                        await future
                await asyncio.sleep(0.5)
        finally:
            await producer.stop()
        self._published.set()

    async def _supervise(self, replica: _Replica) -> None:
        """Keep the replica running: restart it after a SIGKILL or an exit of its own."""
        while not self._stopping:
            proc = replica.proc
            assert proc is not None  # noqa: S101 - started before supervision
            code = await proc.wait()
            if self._stopping:
                return
            if replica.killed:
                await asyncio.sleep(self.rng.uniform(0.3, 1.0))
            else:
                self.result.self_exits[code] += 1
                await asyncio.sleep(1.0)
            if self._stopping:
                return
            await replica.start()
            self.result.restarts += 1

    async def _kill_loop(self, started: float) -> None:
        p = self.plan
        restarted_broker = p.broker_restart_at_s is None
        while True:
            elapsed = time.monotonic() - started
            if elapsed >= p.chaos_s and self._published.is_set() and restarted_broker:
                return
            if not restarted_broker and elapsed >= (p.broker_restart_at_s or 0):
                async with self._kafka_lock:
                    began = time.monotonic()
                    await asyncio.to_thread(self.broker.restart)
                    self.result.broker_restart_s = round(time.monotonic() - began, 1)
                self.result.broker_restarts += 1
                restarted_broker = True
                continue
            await asyncio.sleep(self.rng.uniform(*p.kill_every_s))
            victim = self.rng.choice(self.replicas)
            if victim.proc is not None and victim.proc.returncode is None:
                victim.kill()
                self.result.kills += 1

    async def _caught_up(self, deadline: float) -> bool:
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                lag = await asyncio.wait_for(
                    group_lag(
                        self.broker.bootstrap, self.group, [self.students, self.registrations]
                    ),
                    20,
                )
                if lag and not any(lag.values()):
                    return True
            await asyncio.sleep(0.5)
        return False

    # -- the verdict ------------------------------------------------------------------------------
    async def _verify(self, expected: dict[str, Any]) -> None:
        r = self.result
        dump = await self._control("GET", "state")
        actual = crm_state.canonical(dump)
        r.state_diff = crm_state.diff(expected, actual)
        # the canonical form is keyed by identity: count raw records to see duplicates
        ids = Counter(
            (c.get("properties") or {}).get(crm_state.STUDENT_ID) for c in dump["contacts"]
        )
        codes = Counter((d.get("properties") or {}).get(crm_state.DEAL_CODE) for d in dump["deals"])
        r.duplicate_records = sum(n - 1 for k, n in {**ids, **codes}.items() if k and n > 1)
        r.contacts, r.deals = len(dump["contacts"]), len(dump["deals"])
        letters = await read_all(self.broker.bootstrap, self.dlq)
        r.dlq_records = len(letters)
        got: dict[tuple[str, int, int], str] = {}
        for d in letters:
            place = (
                d.headers["x-source-topic"].decode(),
                int(d.headers["x-source-partition"]),
                int(d.headers["x-source-offset"]),
            )
            if place in got:
                r.dlq_duplicates += 1
            got[place] = d.headers["x-error-reason"].decode()
        want = {
            (str(d["topic"]), int(d["partition"]), int(d["offset"])): str(d["reason"])
            for d in expected["dlq"]["records"]
        }
        r.dlq_diff = [f"DLQ missing {k} ({v})" for k, v in want.items() if k not in got]
        r.dlq_diff += [f"DLQ unexpected {k} ({v})" for k, v in got.items() if k not in want]
        r.dlq_diff += [
            f"DLQ {k}: reason {got[k]}, expected {v}"
            for k, v in want.items()
            if k in got and got[k] != v
        ]
        lag = await group_lag(
            self.broker.bootstrap, self.group, [self.students, self.registrations]
        )
        r.lag = {f"{tp.topic}[{tp.partition}]": n for tp, n in sorted(lag.items())}

    def _count_seen(self) -> None:
        for replica in self.replicas:
            if not replica.log.exists():
                continue
            for line in replica.log.read_bytes().splitlines():
                try:
                    message = orjson.loads(line).get("msg", "")
                except (orjson.JSONDecodeError, AttributeError):
                    continue
                for start, label in SEEN.items():
                    if isinstance(message, str) and message.startswith(start):
                        self.result.seen[label] += 1
                        break

    # -- the run ----------------------------------------------------------------------------------
    async def _start_replicas(self) -> None:
        for index in range(self.plan.replicas):
            config = self.dir / f"replica-{index}.yaml"
            config.write_text(yaml.safe_dump(self._tree(index)))
            replica = _Replica(index, config, self.dir / f"replica-{index}.log")
            await replica.start()
            self.replicas.append(replica)

    async def _chaos(self, records: list[SampleRecord], deadline: float) -> bool:
        """Publish, kill, restart, inject; True when the group caught up before ``deadline``."""
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        publisher = loop.create_task(self._publish(records))
        self._tasks = [loop.create_task(self._supervise(r)) for r in self.replicas]
        faults = loop.create_task(self._faults_loop())
        try:
            await self._kill_loop(started)
            await publisher
            caught_up = await self._caught_up(deadline)
            # the last kill's replica is back (supervised) and ready for its SIGTERM
            while not all(r.ready() for r in self.replicas) and time.monotonic() < deadline:  # noqa: ASYNC110 - polls processes and files
                await asyncio.sleep(0.5)
            self.result.catch_up_s = round(time.monotonic() - started, 1)
        finally:
            self._stopping = True
            for task in (faults, publisher, *self._tasks):
                task.cancel()
            for task in (faults, publisher, *self._tasks):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        return caught_up

    async def run(self) -> Result:
        p = self.plan
        self.dir.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self.broker.start)
        begun = time.monotonic()
        emulator: asyncio.subprocess.Process | None = None
        try:
            emulator = await self._start_emulator()
            records, portal_seed = self._records()
            cfg = oracle.OracleSettings.from_settings(Settings.model_validate(self._tree(0)))
            expected = oracle.expected_state(records, portal_seed, cfg, partitions=p.partitions)
            self.result.events = len(records)
            self.result.bad_expected = int(expected["dlq"]["count"])
            await self._prepare(portal_seed)
            await self._install(burst=False)
            await self._start_replicas()
            caught_up = await self._chaos(records, begun + p.timeout_s)
            await self._harvest_faults()
            stats = await self._control("GET", "stats")
            self.result.emulator_faults_total = int(stats.get("faults_fired", 0))
            self.result.emulator_requests = int(stats.get("requests_total", 0))
            await self._control("PUT", "faults", {"rules": []})
            self.result.final_exit_codes = list(
                await asyncio.gather(*(r.terminate(15.0) for r in self.replicas))
            )
            await self._verify(expected)
            if not caught_up:
                self.result.state_diff.insert(0, f"not caught up within {p.timeout_s}s")
        finally:
            self._stopping = True
            for replica in self.replicas:
                replica.kill()
                if replica.proc is not None:
                    await replica.proc.wait()
            if emulator is not None:
                emulator.terminate()
                await emulator.wait()
            self.result.duration_s = round(time.monotonic() - begun, 1)
            self._count_seen()
            await asyncio.to_thread(self.broker.stop)
        return self.result


def render(result: Result, plan: Plan) -> str:
    """The figures as Markdown lines (``bench/chaos.py`` writes them to docs/reliability.md)."""
    r = result
    injected = ", ".join(f"{k} {v}" for k, v in sorted(r.faults_injected.items())) or "none"
    seen = ", ".join(f"{k} {v}" for k, v in sorted(r.seen.items())) or "none"
    exits = ", ".join(f"exit {k}: {v}" for k, v in sorted(r.self_exits.items())) or "none"
    verdict = "PASS" if r.ok else "FAIL"
    state = "equal" if not r.state_diff else f"{len(r.state_diff)} differences"
    dlq = "exactly the bad records" if not r.dlq_diff else f"{len(r.dlq_diff)} differences"
    at_end = bool(r.lag) and not any(r.lag.values())
    offsets = "at the end of every partition" if at_end else str(r.lag)
    lines = [
        f"| events published | {r.events} ({r.bad_expected} bad by the oracle) |",
        f"| replicas / partitions | {plan.replicas} / {plan.partitions} per topic, 2 topics |",
        f"| SIGKILLs / restarts | {r.kills} / {r.restarts} |",
        f"| replica exits of their own | {exits} |",
        f"| broker restarts | {r.broker_restarts} (took {r.broker_restart_s} s) |",
        f"| faults injected (emulator) | {r.emulator_faults_total} of {r.emulator_requests} "
        f"API requests: {injected} |",
        f"| faults seen (replica logs) | {seen} |",
        f"| duration | {r.duration_s} s (caught up {r.catch_up_s} s after the first replica) |",
        f"| CRM state vs oracle | {state} ({r.contacts} contacts, {r.deals} deals, "
        f"{r.duplicate_records} duplicates) |",
        f"| DLQ | {r.dlq_records} records, {r.dlq_duplicates} repeated after a kill; {dlq} |",
        f"| committed offsets | {offsets} |",
        f"| final SIGTERM exit codes | {r.final_exit_codes} |",
        f"| verdict | {verdict} |",
    ]
    return "\n".join(lines)
