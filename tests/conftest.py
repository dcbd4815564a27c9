"""Shared fixtures: the real Kafka broker and topic names for integration tests.

The broker is the project's own (``sandbox/kafka.sh``) on ports of its own (39192/39193, state in
``.cache/kafka-test-state``) so that a running demo broker is left alone. Set
``CLASSTER_TEST_KAFKA=host:port`` to use a broker you started yourself.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from sandbox.kafka_broker import ROOT, Broker

TEST_BROKER = Broker(
    port=39192, controller_port=39193, state_dir=ROOT / ".cache" / "kafka-test-state"
)


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[Broker]:
    """The session's broker, started once and stopped at the end if this session started it."""
    external = os.environ.get("CLASSTER_TEST_KAFKA")
    if external:
        host, _, port = external.rpartition(":")
        assert host in ("127.0.0.1", "localhost"), "CLASSTER_TEST_KAFKA must be on loopback"
        yield Broker(port=int(port))
        return
    was_running = TEST_BROKER.running()
    TEST_BROKER.start()
    yield TEST_BROKER
    if not was_running:
        TEST_BROKER.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: Broker) -> str:
    return kafka_broker.bootstrap


@pytest.fixture
def unique() -> Callable[[str], str]:
    """A name unique to this test (topics and groups never collide across tests)."""
    suffix = uuid.uuid4().hex[:8]
    return lambda stem: f"{stem}-{suffix}"
