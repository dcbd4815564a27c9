"""The daemon against a real broker's secured listeners (SPEC section 3, issue: real clusters).

One broker for the session (``secure_broker``): SCRAM users made at format time, a test CA and
broker certificate made by ``sandbox/kafka.sh certs``. The stack publishes and reads through the
plaintext listener; the daemon, its DLQ producer and its consumer go through the secured one.
"""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from consumer import app
from sandbox.kafka_broker import SCRIPT, Broker
from tests.integration import builders as b
from tests.integration.conftest import SECURE_PASSWORD, SECURE_USER
from tests.integration.harness import TOKEN, Stack

pytestmark = pytest.mark.integration

# The daemon must give up on a broker that refuses it well inside this; a hang fails the test.
GIVE_UP_S = 30


def sasl_ssl(broker: Broker, mechanism: str = "SCRAM-SHA-512", **extra: Any) -> dict[str, Any]:
    return {
        "bootstrap_servers": f"127.0.0.1:{broker.sasl_ssl_port}",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": mechanism,
        "sasl_username": SECURE_USER,
        "ssl_cafile": str(broker.ssl_dir / "ca.pem"),
        **extra,
    }


async def failed_start(
    stack: Stack, kafka: dict[str, Any], password: str | None, caplog: pytest.LogCaptureFixture
) -> tuple[int, str]:
    """Run the daemon expecting it to stop at start; (exit code, the Kafka error it logged)."""
    caplog.set_level(logging.WARNING)
    code = await asyncio.wait_for(
        app.run(
            stack.settings(kafka=kafka),
            token=TOKEN,
            kafka_password=password,
            registry=CollectorRegistry(),
            install_signals=False,
        ),
        GIVE_UP_S,
    )
    errors = [
        str(getattr(r, "error", "")) for r in caplog.records if r.msg == "Kafka is not reachable"
    ]
    assert len(errors) == 1, [r.getMessage() for r in caplog.records]
    return code, errors[0]


async def test_the_daemon_syncs_and_dead_letters_over_sasl_ssl_with_scram_sha_512(
    secure_stack: Stack, secure_broker: Broker
) -> None:
    stack = secure_stack
    await stack.publish(
        [
            b.record(stack.students, b.student_changed(1)),
            b.record(stack.registrations, b.registration_changed(101, 1)),
            b.raw(stack.students, b"not json", key=b"2"),
        ]
    )

    run = await stack.run(
        stack.settings(kafka=sasl_ssl(secure_broker)), kafka_password=SECURE_PASSWORD
    )

    assert run.code == app.EXIT_OK
    state = await stack.dump()
    assert [c["properties"]["email"] for c in state["contacts"]] == ["student1@example.org"]
    assert len(state["deals"]) == 1
    (letter,) = await stack.dead_letters()
    assert letter.headers["x-error-reason"] == b"invalid_json"


@pytest.mark.parametrize(
    ("protocol", "mechanism"),
    [
        ("SASL_SSL", "SCRAM-SHA-256"),
        ("SASL_SSL", "PLAIN"),
        ("SASL_PLAINTEXT", "SCRAM-SHA-512"),
    ],
)
async def test_the_daemon_syncs_with_each_sasl_mechanism_over_tls_and_plaintext(
    secure_stack: Stack, secure_broker: Broker, protocol: str, mechanism: str
) -> None:
    stack = secure_stack
    kafka = sasl_ssl(secure_broker, mechanism, security_protocol=protocol)
    if protocol == "SASL_PLAINTEXT":
        del kafka["ssl_cafile"]
        kafka["bootstrap_servers"] = f"127.0.0.1:{secure_broker.sasl_plaintext_port}"
    await stack.publish([b.record(stack.students, b.student_changed(7))])

    run = await stack.run(stack.settings(kafka=kafka), kafka_password=SECURE_PASSWORD)

    assert run.code == app.EXIT_OK
    assert len((await stack.dump())["contacts"]) == 1


async def test_the_daemon_syncs_over_mutual_tls_with_a_client_certificate(
    secure_stack: Stack, secure_broker: Broker
) -> None:
    stack = secure_stack
    tls = secure_broker.ssl_dir
    await stack.publish([b.record(stack.students, b.student_changed(8))])

    run = await stack.run(
        stack.settings(
            kafka={
                "bootstrap_servers": f"127.0.0.1:{secure_broker.ssl_port}",
                "security_protocol": "SSL",
                "ssl_cafile": str(tls / "ca.pem"),
                "ssl_certfile": str(tls / "client.crt"),
                "ssl_keyfile": str(tls / "client.key"),
            }
        )
    )

    assert run.code == app.EXIT_OK
    assert len((await stack.dump())["contacts"]) == 1


async def test_a_wrong_password_stops_the_daemon_at_start_with_a_clear_message(
    secure_stack: Stack, secure_broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "wrong-password-4b7d21"

    code, error = await failed_start(secure_stack, sasl_ssl(secure_broker), wrong, caplog)

    assert code == app.EXIT_KAFKA
    assert f"SASL SCRAM-SHA-512 authentication failed for user '{SECURE_USER}'" in error
    assert "KAFKA_SASL_PASSWORD" in error
    assert wrong not in caplog.text


async def test_an_untrusted_broker_certificate_stops_the_daemon_with_a_clear_message(
    secure_stack: Stack, secure_broker: Broker, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    # a CA of its own, which did not sign the broker's certificate
    made = await asyncio.create_subprocess_exec(
        str(SCRIPT), "certs", str(tmp_path), stderr=asyncio.subprocess.DEVNULL
    )
    assert await made.wait() == 0
    kafka = sasl_ssl(secure_broker, ssl_cafile=str(tmp_path / "ca.pem"))

    code, error = await failed_start(secure_stack, kafka, SECURE_PASSWORD, caplog)

    assert code == app.EXIT_KAFKA
    assert "certificate is not trusted" in error
    assert "unable to get local issuer certificate" in error
    assert "kafka.ssl_cafile" in error


async def test_a_broker_that_wants_a_client_certificate_gets_a_clear_message_without_one(
    secure_stack: Stack, secure_broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    kafka = {
        "bootstrap_servers": f"127.0.0.1:{secure_broker.ssl_port}",
        "security_protocol": "SSL",
        "ssl_cafile": str(secure_broker.ssl_dir / "ca.pem"),
    }

    code, error = await failed_start(secure_stack, kafka, None, caplog)

    assert code == app.EXIT_KAFKA
    assert "client certificate" in error


async def test_a_missing_ca_file_is_a_config_error(
    secure_stack: Stack, secure_broker: Broker, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.WARNING)
    settings = secure_stack.settings(
        kafka=sasl_ssl(secure_broker, ssl_cafile=str(tmp_path / "absent.pem"))
    )

    code = await asyncio.wait_for(
        app.run(
            settings,
            token=TOKEN,
            kafka_password=SECURE_PASSWORD,
            registry=CollectorRegistry(),
            install_signals=False,
        ),
        GIVE_UP_S,
    )

    assert code == app.EXIT_CONFIG
    problems = [str(getattr(r, "problem", "")) for r in caplog.records]
    assert any(p.startswith("kafka.ssl_cafile: cannot load") for p in problems), problems


async def test_plan_reads_a_topic_over_sasl_ssl_and_writes_nothing(
    secure_stack: Stack, secure_broker: Broker
) -> None:
    stack = secure_stack
    await stack.publish([b.record(stack.students, b.student_changed(9))])
    out = io.StringIO()

    code = await asyncio.wait_for(
        app.plan(
            stack.settings(kafka=sasl_ssl(secure_broker)),
            token=TOKEN,
            out=out,
            topics=[stack.students],
            kafka_password=SECURE_PASSWORD,
            as_json=True,
        ),
        GIVE_UP_S,
    )

    assert code == app.EXIT_OK
    rows = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert any(w["op"] == "contact.create" for row in rows for w in row.get("writes", []))
    assert (await stack.dump())["contacts"] == []


async def test_plan_with_a_wrong_password_stops_with_the_same_clear_message(
    secure_stack: Stack, secure_broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)

    code = await asyncio.wait_for(
        app.plan(
            secure_stack.settings(kafka=sasl_ssl(secure_broker)),
            token=TOKEN,
            out=io.StringIO(),
            topics=[secure_stack.students],
            kafka_password="wrong-password-9a0c",
        ),
        GIVE_UP_S,
    )

    assert code == app.EXIT_KAFKA
    errors = [str(getattr(r, "error", "")) for r in caplog.records]
    assert any("SASL SCRAM-SHA-512 authentication failed" in e for e in errors), errors
