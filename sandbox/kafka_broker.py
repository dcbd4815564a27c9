"""Python handle on the local Kafka broker of ``sandbox/kafka.sh`` (tests, demo, benchmarks).

Owns: calling the script with the right ports and state dir, and Kafka's own CLI tools through
it. Must not: reimplement the broker's lifecycle; the script is the one place that knows it.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "sandbox" / "kafka.sh"


@dataclass(frozen=True)
class Broker:
    """One broker: its ports and state dir (brokers with different ones run side by side)."""

    port: int = 31092
    controller_port: int = 31093
    state_dir: Path = ROOT / ".cache" / "kafka-state"
    # Secured listeners beside the plaintext one (off when None); see sandbox/kafka.sh.
    sasl_ssl_port: int | None = None
    sasl_plaintext_port: int | None = None
    ssl_port: int | None = None
    # "name:password,..." for the SASL listeners (test credentials only)
    sasl_users: str | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ssl_dir(self) -> Path:
        """The test CA (``ca.pem``) and client certificate (``client.crt``, ``client.key``)."""
        return self.state_dir / "tls"

    def _env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "KAFKA_STATE_DIR": str(self.state_dir),
            "KAFKA_SSL_DIR": str(self.ssl_dir),
        }
        for name, port in (
            ("KAFKA_SASL_SSL_PORT", self.sasl_ssl_port),
            ("KAFKA_SASL_PLAINTEXT_PORT", self.sasl_plaintext_port),
            ("KAFKA_SSL_PORT", self.ssl_port),
        ):
            env[name] = "" if port is None else str(port)
        if self.sasl_users is not None:
            env["KAFKA_SASL_USERS"] = self.sasl_users
        return env

    def _script(self, *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCRIPT), *args],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def _checked(self, *args: str, timeout_s: float = 300) -> str:
        done = self._script(*args, timeout_s=timeout_s)
        if done.returncode != 0:
            raise RuntimeError(
                f"kafka.sh {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-4000:]}"
            )
        return done.stdout

    def start(self) -> str:
        """Start (or find running) and wait until it answers; returns the bootstrap address."""
        return self._checked("start").strip() or self.bootstrap

    def stop(self) -> None:
        self._checked("stop")

    def restart(self) -> None:
        self._checked("restart")

    def running(self) -> bool:
        return self._script("status", timeout_s=60).returncode == 0

    def reset(self) -> None:
        """Stop and wipe the state dir (certificates and SCRAM users included)."""
        self._checked("reset")

    def tool(self, name: str, *args: str, timeout_s: float = 120) -> str:
        """Run one of Kafka's CLI tools (``consumer-groups``, ``topics``, ...); returns stdout."""
        return self._checked("tool", name, *args, timeout_s=timeout_s)


def bindable(ports: Iterable[int]) -> bool:
    """Whether every port can be bound on 127.0.0.1 right now (nothing listens or holds it).

    The project's fixed ports lie below Linux's default range for outgoing connections
    (32768-60999); where the range is wider, a client socket of any process may hold one for a
    while, and another program may listen on one, so callers keep a block to fall back on.
    """
    for port in ports:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True
