"""No secret and no student's name or address leaves the daemon (SPEC sections 7 and 8).

The real command line runs as a subprocess with sentinel secrets: ``check`` (good and refused
token), ``run`` over SASL_SSL with bad records and a HubSpot rejection, and ``run`` with a
refused Kafka password. Everything they emit is gathered: stdout and stderr (the JSON logs at
debug level), the ``/metrics`` text while running, and every DLQ record (key, value, headers).
The sentinels must appear nowhere; the students' names and addresses nowhere in the logs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from consumer import app
from sandbox.config_tree import merge
from sandbox.emulator import Emulator
from sandbox.emulator.config import DEFAULT_TOKEN, EmulatorConfig, TokenGrant
from sandbox.kafka_broker import ROOT, Broker
from sandbox.kafka_ops import wait_caught_up
from tests.integration import builders as b
from tests.integration.conftest import SECURE_PASSWORD, SECURE_USER, free_port
from tests.integration.harness import Stack

pytestmark = pytest.mark.integration

# Not token-shaped on purpose: the pattern-based masking must not be what hides them.
SENTINEL_TOKEN = "sentinel-hubspot-token-9c2a71"
WRONG_TOKEN = "sentinel-wrong-token-3e8b06"
WRONG_PASSWORD = "sentinel-wrong-kafka-password-d41f"
SECRETS = (SENTINEL_TOKEN, WRONG_TOKEN, SECURE_PASSWORD, WRONG_PASSWORD)
METRICS_PORTS = (31597, 31598, 31599, 31577, 31557)  # within this project's test range
# one student whose personal data must not reach the logs
PERSON = {
    "givenName": "Zoitsa",
    "middleName": "Kalliopi",
    "surname": "Papadakopoulou",
    "mobilePhone": "+30 690 123 4567",
    "email": "zoitsa.papadakopoulou@example.org",
}
REJECTED = {"givenName": "Ermioni", "surname": "Tsakalidou", "email": "ermioni@example"}


@dataclass
class Done:
    code: int
    out: str
    err: str


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    """The portal accepts the sentinel token (and the harness's own, to prepare it)."""
    config = EmulatorConfig(tokens=[TokenGrant(SENTINEL_TOKEN), TokenGrant(DEFAULT_TOKEN)])
    async with Emulator(config) as running:
        yield running


@pytest.fixture
def config_file(secure_stack: Stack, secure_broker: Broker, tmp_path: Path) -> Callable[..., Path]:
    def write(metrics_port: int = 0, **kafka: Any) -> Path:
        tree = yaml.safe_load((ROOT / "examples" / "config.yaml").read_text())
        tree = merge(
            tree,
            {
                "kafka": {
                    "bootstrap_servers": f"127.0.0.1:{secure_broker.sasl_ssl_port}",
                    "security_protocol": "SASL_SSL",
                    "sasl_mechanism": "SCRAM-SHA-512",
                    "sasl_username": SECURE_USER,
                    "ssl_cafile": str(secure_broker.ssl_dir / "ca.pem"),
                    "group_id": secure_stack.group,
                    "topics": secure_stack.topics,
                    "dlq_topic": secure_stack.dlq,
                    "commit_interval_s": 0.2,
                    **kafka,
                },
                "hubspot": {
                    "base_url": secure_stack.emulator_url,
                    "batch_linger_s": 0.01,
                    "retry_max_backoff_s": 1.0,
                },
                "http": {"host": "127.0.0.1", "port": metrics_port},
                "logging": {"level": "DEBUG"},
            },
        )
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(tree))
        return path

    return write


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "consumer", *args]


def environment(token: str, password: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HUBSPOT_TOKEN", "KAFKA_SASL_PASSWORD")}
    env["HUBSPOT_TOKEN"] = token
    if password is not None:
        env["KAFKA_SASL_PASSWORD"] = password
    return env


async def command(args: list[str], env: dict[str, str], timeout_s: float = 60) -> Done:
    proc = await asyncio.create_subprocess_exec(
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    assert proc.returncode is not None
    return Done(proc.returncode, out.decode(), err.decode())


async def run_until_caught_up(stack: Stack, config: Path, metrics_port: int) -> tuple[Done, str]:
    """``run`` until the group has no lag; the /metrics text, then SIGTERM."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "consumer",
        "run",
        "--config",
        str(config),
        cwd=ROOT,
        env=environment(SENTINEL_TOKEN, SECURE_PASSWORD),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await wait_caught_up(
            stack.bootstrap, stack.group, stack.topics, timeout_s=90, exited=lambda: proc.returncode
        )
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{metrics_port}/metrics") as resp,
        ):
            assert resp.status == 200
            metrics = await resp.text()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return Done(proc.returncode, out.decode(), err.decode()), metrics


async def test_no_secret_and_no_personal_data_leaves_the_daemon(
    secure_stack: Stack, config_file: Callable[..., Path]
) -> None:
    stack = secure_stack
    metrics_port = free_port(METRICS_PORTS)
    config = config_file(metrics_port)
    emitted: dict[str, str] = {}

    check = await command(cli("check", "--config", str(config)), environment(SENTINEL_TOKEN, None))
    assert check.code == app.EXIT_OK, check.err
    refused = await command(
        cli("check", "--json", "--config", str(config)), environment(WRONG_TOKEN, None)
    )
    assert refused.code == app.EXIT_CONFIG
    emitted |= {
        "check stdout": check.out,
        "check stderr": check.err,
        "refused check stdout": refused.out,
        "refused check stderr": refused.err,
    }

    await stack.publish(
        [
            b.record(stack.students, b.student_changed(1, **PERSON)),
            b.record(
                stack.registrations, b.registration_changed(101, 1, snapshot=b.student(1, **PERSON))
            ),
            b.record(stack.students, b.student_changed(2, **REJECTED)),
            b.raw(stack.students, b"{not json", key=b"3"),
            b.raw(stack.registrations, b'{"schemaVersion": 1}', key=b"4"),
        ]
    )
    run, metrics = await run_until_caught_up(stack, config, metrics_port)
    assert run.code == app.EXIT_OK, run.err[-3000:]
    emitted |= {"run stdout": run.out, "run stderr": run.err, "/metrics": metrics}

    auth = await command(
        cli("run", "--config", str(config)), environment(SENTINEL_TOKEN, WRONG_PASSWORD)
    )
    assert auth.code == app.EXIT_KAFKA
    assert "authentication failed" in auth.err
    emitted |= {"refused run stdout": auth.out, "refused run stderr": auth.err}

    letters = await stack.dead_letters()
    assert sorted(d.headers["x-error-reason"] for d in letters) == [
        b"invalid_email",
        b"invalid_json",
        b"schema_invalid",
    ]
    for i, letter in enumerate(letters):
        emitted[f"DLQ record {i}"] = repr((letter.key, letter.value, letter.headers))

    # the flow did happen and said so: the search below ran over real output
    assert "event dead-lettered" in run.err
    assert "classter_hubspot_dlq_writes_total" in metrics
    state = await stack.dump()
    assert len(state["contacts"]) == 1 and len(state["deals"]) == 1
    for where, text in emitted.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret} in {where}"
    logs = "\n".join(v for k, v in emitted.items() if not k.startswith("DLQ"))
    for value in (*PERSON.values(), *REJECTED.values(), "@example"):
        assert value.lower() not in logs.lower(), value
