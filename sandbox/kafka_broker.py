"""Python handle on the local Kafka broker of ``sandbox/kafka.sh`` (tests, demo, benchmarks).

Owns: calling the script with the right ports and state dir, and Kafka's own CLI tools through
it. Must not: reimplement the broker's lifecycle; the script is the one place that knows it.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "sandbox" / "kafka.sh"


@dataclass(frozen=True)
class Broker:
    """One broker: its ports and state dir (brokers with different ones run side by side)."""

    port: int = 39092
    controller_port: int = 39093
    state_dir: Path = ROOT / ".cache" / "kafka-state"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "KAFKA_STATE_DIR": str(self.state_dir),
        }

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

    def tool(self, name: str, *args: str, timeout_s: float = 120) -> str:
        """Run one of Kafka's CLI tools (``consumer-groups``, ``topics``, ...); returns stdout."""
        return self._checked("tool", name, *args, timeout_s=timeout_s)
