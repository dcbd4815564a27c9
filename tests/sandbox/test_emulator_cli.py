"""``python -m sandbox.emulator``: serves with a seed, logs when listening, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_cli_serves_the_seed_and_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"contacts": [{"properties": {"email": "lead@example.org"}}]}))
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox.emulator",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--seed",
        str(seed),
        "--tier",
        "starter",
        "--token",
        "pat-na1-cli",
        cwd=ROOT,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        line = await asyncio.wait_for(proc.stderr.readline(), 20)
        assert f"listening on http://127.0.0.1:{port}" in line.decode()
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/_emulator/state") as resp:
                state = await resp.json()
            async with session.get(
                f"http://127.0.0.1:{port}/crm/v3/objects/contacts",
                headers={"Authorization": "Bearer pat-na1-cli"},
            ) as resp:
                assert resp.status == 200
                assert resp.headers["X-HubSpot-RateLimit-Max"] == "100"
        assert state["contacts"][0]["properties"]["email"] == "lead@example.org"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_cli_refuses_an_invalid_seed_with_exit_code_2(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"contacts": [{"properties": {"nope": "x"}}]}))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox.emulator",
        "--port",
        str(_free_port()),
        "--seed",
        str(seed),
        cwd=ROOT,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2
    assert b"PROPERTY_DOESNT_EXIST" in err
