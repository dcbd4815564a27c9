"""Integration fixtures: every test gets its own topics, group and emulated portal."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from sandbox.emulator import Emulator
from sandbox.kafka_broker import ROOT, Broker
from tests.integration.harness import Stack

# A broker of its own with SASL_SSL, SASL_PLAINTEXT and mutual-TLS listeners beside PLAINTEXT
# (tests publish and read through PLAINTEXT; the daemon connects through the secured ones).
SECURE_USER = "classter"
SECURE_PASSWORD = "sentinel-kafka-password-5e1f0c"
SECURE_BROKER = Broker(
    port=39592,
    controller_port=39593,
    state_dir=ROOT / ".cache" / "kafka-secure-test-state",
    sasl_ssl_port=39594,
    sasl_plaintext_port=39595,
    ssl_port=39596,
    sasl_users=f"{SECURE_USER}:{SECURE_PASSWORD}",
)


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
    SECURE_BROKER.reset()
    SECURE_BROKER.start()
    yield SECURE_BROKER
    SECURE_BROKER.stop()


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
