"""Helpers for the emulator's tests: a movable clock and a thin JSON caller over a real session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from sandbox.emulator import DEFAULT_TOKEN

START_S = 1_788_000_000.0  # 2026-08-29, mid-day UTC


class FakeClock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, now: float = START_S) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]

    def header(self, name: str) -> int:
        return int(self.headers[name])


class Api:
    """Sends JSON to the emulator with a bearer token and returns status, body and headers."""

    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, token: str | None = DEFAULT_TOKEN
    ) -> None:
        self.session = session
        self.base_url = base_url
        self.token = token

    async def call(
        self, method: str, path: str, body: Any = None, *, token: str | None = ""
    ) -> Reply:
        use = self.token if token == "" else token
        headers = {"Content-Type": "application/json"}
        if use is not None:
            headers["Authorization"] = f"Bearer {use}"
        data = None if body is None else orjson.dumps(body)
        async with self.session.request(
            method, self.base_url + path, data=data, headers=headers
        ) as resp:
            raw = await resp.read()
            return Reply(resp.status, orjson.loads(raw) if raw else None, dict(resp.headers))

    async def get(self, path: str) -> Reply:
        return await self.call("GET", path)

    async def post(self, path: str, body: Any = None) -> Reply:
        return await self.call("POST", path, body)

    async def put(self, path: str, body: Any = None) -> Reply:
        return await self.call("PUT", path, body)
