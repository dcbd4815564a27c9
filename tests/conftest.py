"""Shared fixtures: the real Kafka broker and topic names for integration tests.

The broker is the project's own (``sandbox/kafka.sh``) on ports of its own (31192/31193, state in
``.cache/kafka-test-state``, or a fallback block when a port is held) so that a running demo
broker is left alone. Set
``CLASSTER_TEST_KAFKA=host:port`` to use a broker you started yourself.
"""

from __future__ import annotations

import gc
import os
import uuid
import warnings
from collections.abc import Callable, Iterator

import pytest

from sandbox.kafka_broker import ROOT, Broker, bindable

# The first block whose broker runs already or whose ports are free; the others stand by for a
# port that another program holds. All of the project's fixed ports (31000-31999) lie below
# Linux's default ephemeral range (32768-60999), where any outgoing connection may take a port.
TEST_BROKERS = [
    Broker(port=port, controller_port=port + 1, state_dir=ROOT / ".cache" / state)
    for port, state in (
        (31192, "kafka-test-state"),
        (31196, "kafka-test-state-2"),
        (31186, "kafka-test-state-3"),
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


# -- sockets left open when an integration test's event loop closed ---------------------------
#
# An integration test ends its event loop a moment after the daemon stops; a connection whose
# close was still under way then (a TLS shutdown waiting for the broker's reply, say) is left
# for the garbage collector, which runs at no fixed time, so its ResourceWarning would fail
# whichever test happened to be running: pytest makes warnings errors here. Collecting right
# after each integration test's teardown puts such a socket on the test that opened it, and
# reports it at the end of the run instead of failing an unrelated test. Everywhere else a
# ResourceWarning still fails the test.
_LEFT_OPEN: list[str] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    try:
        return (yield)
    finally:
        if item.get_closest_marker("integration") is not None:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ResourceWarning)
                gc.collect()
            _LEFT_OPEN.extend(
                f"{item.nodeid}: {w.message}" for w in caught if w.category is ResourceWarning
            )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _LEFT_OPEN:
        terminalreporter.section("sockets left open when an integration test's loop closed")
        for line in _LEFT_OPEN:
            terminalreporter.write_line(line)
