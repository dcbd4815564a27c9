"""``sandbox/kafka.sh`` as the README and CI use it: start and stop a broker by its pid."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.kafka_broker import Broker, bindable

pytestmark = pytest.mark.integration

# blocks of two ports (broker, controller) used by no other test or by the demo
PORT_BLOCKS = (31692, 31672, 31652)


def test_a_broker_is_stopped_whether_its_state_dir_is_given_absolute_or_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = next((p for p in PORT_BLOCKS if bindable([p, p + 1])), None)
    if base is None:
        pytest.fail(f"none of the port blocks {PORT_BLOCKS} is free")
    monkeypatch.chdir(tmp_path)
    started = Broker(port=base, controller_port=base + 1, state_dir=tmp_path / "state")
    by_relative_dir = Broker(port=base, controller_port=base + 1, state_dir=Path("state"))
    try:
        started.start()
        pid = (tmp_path / "state" / "broker.pid").read_text().strip()
        assert Path(f"/proc/{pid}").exists()
        assert by_relative_dir.running()

        by_relative_dir.stop()

        assert not Path(f"/proc/{pid}").exists(), "stop left the broker running"
        assert bindable([base, base + 1])
    finally:
        Broker(port=base, controller_port=base + 1, state_dir=tmp_path / "state").stop()
