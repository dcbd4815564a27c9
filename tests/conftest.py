"""Shared fixtures: the real Kafka broker and topic names for integration tests.

The broker is the project's own (``sandbox/kafka.sh``) on ports of its own (39192/39193, state in
``.cache/kafka-test-state``, or a fallback block when a port is held) so that a running demo
broker is left alone. Set
``CLASSTER_TEST_KAFKA=host:port`` to use a broker you started yourself.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from sandbox.kafka_broker import ROOT, Broker, bindable

# The first block whose broker runs already or whose ports are free; the others stand by for a
# port that some process's outgoing connection happens to hold.
TEST_BROKERS = [
    Broker(port=port, controller_port=port + 1, state_dir=ROOT / ".cache" / state)
    for port, state in (
        (39192, "kafka-test-state"),
        (39196, "kafka-test-state-2"),
        (39186, "kafka-test-state-3"),
    )
]


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[Broker]:
    """The session's broker, started once and stopped at the end if this session started it."""
    external = os.environ.get("CLASSTER_TEST_KAFKA")
    if external:
        host, _, port = external.rpartition(":")
        assert host in ("127.0.0.1", "localhost"), "CLASSTER_TEST_KAFKA must be on loopback"
        yield Broker(port=int(port))
        return
    for broker in TEST_BROKERS:
        if broker.running():
            yield broker
            return
    for broker in TEST_BROKERS:
        if bindable([broker.port, broker.controller_port]):
            broker.start()
            yield broker
            broker.stop()
            return
    pytest.fail(f"no test broker block is free: {[b.bootstrap for b in TEST_BROKERS]}")


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: Broker) -> str:
    return kafka_broker.bootstrap


@pytest.fixture
def unique() -> Callable[[str], str]:
    """A name unique to this test (topics and groups never collide across tests)."""
    suffix = uuid.uuid4().hex[:8]
    return lambda stem: f"{stem}-{suffix}"
