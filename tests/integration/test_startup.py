"""The daemon refuses to start on configuration errors, and stops on a refused token.

Real broker, in-process emulator, the real lifespan (``consumer.app.run``). A refusal must leave
everything as it was: no record consumed, no offset committed, nothing written to HubSpot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from consumer import app
from consumer.config import Settings
from sandbox.emulator import Emulator
from sandbox.kafka_ops import ensure_topics, group_lag, read_all
from tests.integration import builders as b
from tests.integration.harness import TOKEN, Stack

pytestmark = pytest.mark.integration


def problems(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


async def refused(stack: Stack, settings: Settings, token: str = TOKEN) -> int:
    await stack.publish([b.record(stack.students, b.student_changed(1))])
    code = await asyncio.wait_for(
        app.run(settings, token=token, registry=CollectorRegistry(), install_signals=False), 60
    )
    assert sum((await group_lag(stack.bootstrap, stack.group, stack.topics)).values()) == 1
    return code


async def test_run_refuses_to_start_with_one_message_per_problem(
    stack: Stack, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    settings = stack.settings(
        actions={
            "CreateContact": {"custom_mapping": [{"hubspot": "nickname", "classter": "givenName"}]},
            "ChangeDealStatus": {"stages": {"Registered": "Closed Won"}},
        }
    )
    with caplog.at_level(logging.WARNING):
        code = await refused(stack, settings)
    assert code == app.EXIT_CONFIG
    assert problems(caplog, logging.CRITICAL) == [
        "config error: actions.CreateContact.custom_mapping[0]: HubSpot contacts property "
        "'nickname' does not exist",
        "config error: actions.ChangeDealStatus.stages.Registered: stage 'Closed Won' is not a "
        "stage id of pipeline 'default'; it is a stage label, its id is 'closedwon' (stage ids: "
        "appointmentscheduled, qualifiedtobuy, presentationscheduled, decisionmakerboughtin, "
        "contractsent, closedwon, closedlost)",
        "refusing to start: 2 configuration error(s); `classter-hubspot check` prints the full "
        "report",
    ]
    assert emulator.state.store.records["contacts"] == {}


async def test_run_refuses_a_portal_without_the_daemons_own_properties(
    kafka_bootstrap: str, unique: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    async with Emulator() as bare:
        stack = Stack(
            kafka_bootstrap,
            bare.url,
            students=unique("students"),
            registrations=unique("registrations"),
            dlq=unique("dlq"),
            group=unique("group"),
        )
        await ensure_topics(kafka_bootstrap, [*stack.topics, stack.dlq])
        with caplog.at_level(logging.WARNING):
            code = await refused(stack, stack.settings())
    assert code == app.EXIT_CONFIG
    errors = problems(caplog, logging.CRITICAL)
    assert errors[0].startswith(
        "config error: hubspot contacts: the daemon's own properties are missing: "
        "classter_student_id, "
    )
    assert len(errors) == 3


async def test_warnings_are_logged_and_do_not_block(
    stack: Stack, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    settings = stack.settings(
        actions={
            "CreateContact": {"custom_mapping": [{"hubspot": "jobtitle", "classter": "nickName"}]}
        }
    )
    await stack.publish([b.record(stack.students, b.student_changed(1))])
    with caplog.at_level(logging.WARNING):
        run = await stack.run(settings)
    assert run.code == app.EXIT_OK
    assert problems(caplog, logging.WARNING)[0] == (
        "config warning: actions.CreateContact.custom_mapping[0]: 'nickName' is not a field of "
        "the event contract; it writes nothing to 'jobtitle' unless Classter sends it"
    )
    assert len(emulator.state.store.records["contacts"]) == 1


async def test_a_token_refused_at_start_exits_2(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        code = await refused(stack, stack.settings(), token="pat-na1-revoked")
    assert code == app.EXIT_AUTH
    assert problems(caplog, logging.CRITICAL)[0] == (
        "config error: hubspot token (HUBSPOT_TOKEN or hubspot.token_file): HubSpot does not "
        "accept this token (401: invalid, expired or revoked)"
    )


@pytest.mark.parametrize(
    "tokens",
    [
        pytest.param([{"token": "pat-na1-rotated"}], id="401-token-revoked"),
        pytest.param([{"token": TOKEN, "scopes": ["crm.objects.deals.read"]}], id="403-scopes"),
    ],
)
async def test_a_token_refused_while_running_stops_the_daemon_without_dead_letters(
    stack: Stack, emulator: Emulator, caplog: pytest.LogCaptureFixture, tokens: list[Any]
) -> None:
    registry = CollectorRegistry()
    task = asyncio.create_task(
        app.run(stack.settings(), token=TOKEN, registry=registry, install_signals=False)
    )
    deadline = time.monotonic() + 60
    while not registry.get_sample_value("classter_hubspot_rebalances_total", {"kind": "assigned"}):
        assert not task.done(), "the daemon exited before it was assigned partitions"
        assert time.monotonic() < deadline, "no partitions assigned in 60 s"
        await asyncio.sleep(0.1)
    async with (
        aiohttp.ClientSession() as session,
        session.put(f"{emulator.url}/_emulator/config", json={"tokens": tokens}) as resp,
    ):
        assert resp.status == 200
    events = [b.record(stack.students, b.student_changed(n)) for n in range(1, 6)]
    with caplog.at_level(logging.WARNING):
        await stack.publish(events)
        code = await asyncio.wait_for(task, 60)
    assert code == app.EXIT_AUTH
    stops = [m for m in problems(caplog, logging.CRITICAL) if "refused the token" in m]
    assert stops and stops[0] == "HubSpot refused the token; stopping"
    assert await read_all(stack.bootstrap, stack.dlq) == []
    assert (
        registry.get_sample_value("classter_hubspot_dlq_writes_total", {"reason": "auth"}) is None
    )
    assert sum((await group_lag(stack.bootstrap, stack.group, stack.topics)).values()) == 5
    assert emulator.state.store.records["contacts"] == {}
