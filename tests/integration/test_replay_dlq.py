"""``classter-hubspot replay-dlq`` against the real broker: what it republishes, and that a rerun
does not republish again (its group's progress is committed)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import orjson
import pytest

from sandbox.kafka_ops import Record, read_all
from tests.integration import builders as b
from tests.integration.harness import ROOT, Stack

pytestmark = pytest.mark.integration


async def replay_dlq(config: Path, *args: str) -> tuple[int, str]:
    """Run the real CLI in a subprocess; returns (exit code, stdout)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "consumer",
        "replay-dlq",
        "--config",
        str(config),
        *args,
        cwd=ROOT,
        env={**os.environ, "CLASSTER_HUBSPOT__LOGGING__LEVEL": "WARNING"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode() + err.decode()


async def test_replay_dlq_republishes_originals_once_with_filters_limit_and_dry_run(
    stack: Stack, tmp_path: Path
) -> None:
    bad_json = Record(
        stack.students, b"7", b'{"schemaVersion": 1, "eventId": ', (("trace", b"t-1"),)
    )
    mismatch = b.record(stack.students, b.student_changed(8), key="9")
    await stack.publish([b.record(stack.students, b.student_changed(6)), bad_json, mismatch])
    run = await stack.run()
    assert run.code == 0
    letters = await stack.dead_letters()
    assert sorted(d.headers["x-error-reason"] for d in letters) == [
        b"invalid_json",
        b"key_mismatch",
    ]
    config = stack.config_file(tmp_path / "config.yaml")
    before = len(await read_all(stack.bootstrap, stack.students))

    code, out = await replay_dlq(config, "--dry-run")
    assert code == 0, out
    assert "would republish 2 record(s)" in out
    assert "nothing committed (dry run)" in out
    assert len(await read_all(stack.bootstrap, stack.students)) == before

    code, out = await replay_dlq(config, "--reason", "invalid_json")
    assert code == 0, out
    assert "republished 1 record(s)" in out, out
    assert "passed over 1 (filtered 1)" in out, out
    after = await read_all(stack.bootstrap, stack.students)
    assert len(after) == before + 1
    copies = [r for r in after if r.value == bad_json.value]
    assert len(copies) == 2, "the original and its republished copy"
    again = max(copies, key=lambda r: r.offset)
    assert (again.key, again.value) == (bad_json.key, bad_json.value)
    assert again.headers == {"trace": b"t-1"}, "original headers only, no x-* DLQ headers"

    code, out = await replay_dlq(config, "--reason", "invalid_json")
    assert code == 0, out
    assert "republished 0 record(s)" in out, "a rerun goes on from the committed progress"
    assert len(await read_all(stack.bootstrap, stack.students)) == before + 1

    # another group goes over the DLQ again; --limit stops early and the rerun picks up the rest
    for expected in (1, 1, 0):
        code, out = await replay_dlq(config, "--group", f"{stack.group}-other", "--limit", "1")
        assert code == 0, out
        assert f"republished {expected} record(s)" in out, out
    replayed = await read_all(stack.bootstrap, stack.students)
    assert len(replayed) == before + 3
    values = [orjson.loads(r.value) for r in replayed if r.key == b"9" and r.value]
    assert len(values) == 2, "the key-mismatch record went back exactly once for each group"
