"""Integration fixtures: every test gets its own topics, group and emulated portal."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Iterable, Iterator

import pytest

from sandbox.emulator import Emulator
from sandbox.kafka_broker import ROOT, Broker, bindable
from tests.integration.harness import Stack

# A broker of its own with SASL_SSL, SASL_PLAINTEXT and mutual-TLS listeners beside PLAINTEXT
# (tests publish and read through PLAINTEXT; the daemon connects through the secured ones).
SECURE_USER = "classter"
SECURE_PASSWORD = "sentinel-kafka-password-5e1f0c"
SECURE_BROKER = Broker(
    port=31592,
    controller_port=31593,
    state_dir=ROOT / ".cache" / "kafka-secure-test-state",
    sasl_ssl_port=31594,
    sasl_plaintext_port=31595,
    ssl_port=31596,
    sasl_users=f"{SECURE_USER}:{SECURE_PASSWORD}",
)
# Its ports lie below Linux's default ephemeral range (32768-60999), so no client socket takes
# one; on a machine with a wider range, or with a port taken by someone else, the broker moves
# to the next block of five (all within 31500-31599).
SECURE_PORT_BLOCKS = (31592, 31572, 31552, 31532, 31512)


def free_port(candidates: Iterable[int]) -> int:
    for port in candidates:
        if bindable([port]):
            return port
    raise RuntimeError(f"none of the ports {list(candidates)} can be bound")


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator() as running:
        yield running


@pytest.fixture
async def stack(kafka_bootstrap: str, emulator: Emulator, unique: Callable[[str], str]) -> Stack:
    made = Stack(
        bootstrap=kafka_bootstrap,
        emulator_url=emulator.url,
        students=unique("students"),
        registrations=unique("registrations"),
        dlq=unique("dlq"),
        group=unique("group"),
    )
    await made.prepare()
    return made


@pytest.fixture(scope="session")
def secure_broker() -> Iterator[Broker]:
    """The secured broker, made afresh once a session (new CA, SCRAM users) and then stopped."""
    failures = []
    for base in SECURE_PORT_BLOCKS:
        broker = dataclasses.replace(
            SECURE_BROKER,
            port=base,
            controller_port=base + 1,
            sasl_ssl_port=base + 2,
            sasl_plaintext_port=base + 3,
            ssl_port=base + 4,
        )
        if not bindable(range(base, base + 5)):
            failures.append(f"{base}-{base + 4}: a port is taken")
            continue
        broker.reset()
        try:
            broker.start()
        except RuntimeError as exc:  # a port taken between the probe and the bind, say
            failures.append(f"{base}-{base + 4}: {str(exc)[-300:]}")
            continue
        break
    else:
        pytest.fail("the secured test broker did not start:\n" + "\n".join(failures))
    yield broker
    broker.stop()


@pytest.fixture
async def secure_stack(
    secure_broker: Broker, emulator: Emulator, unique: Callable[[str], str]
) -> Stack:
    made = Stack(
        bootstrap=secure_broker.bootstrap,
        emulator_url=emulator.url,
        students=unique("students"),
        registrations=unique("registrations"),
        dlq=unique("dlq"),
        group=unique("group"),
    )
    await made.prepare()
    return made
