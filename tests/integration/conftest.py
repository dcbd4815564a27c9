"""Integration fixtures: every test gets its own topics, group and emulated portal."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from sandbox.emulator import Emulator
from tests.integration.harness import Stack


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
