"""The runbook's "Reprocess a time range (offset reset)" procedure, run as written.

Against the real broker with Kafka's own ``kafka-consumer-groups`` tool, and with the flags that
docs/runbook.md prints (keep the two in step): the daemon syncs every event, stops (the scale to
zero), the group empties, ``--reset-offsets --to-datetime T`` plans (``--dry-run``) and then
moves (``--execute``) the group to the first record at or after T, and the daemon, started
again, re-applies exactly the records after T. HubSpot (the emulator) ends with the same contacts
and deals as before: none duplicated, nothing from before T touched again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
from typing import Any

import aiohttp
import orjson
import pytest

from sandbox.kafka_broker import Broker
from sandbox.kafka_ops import Record, end_offsets, group_lag, read_all
from tests.integration import builders as b
from tests.integration.harness import TOKEN, Stack

pytestmark = pytest.mark.integration

HOUR_MS = 3_600_000
# Noise in a state dump that a rewrite changes without changing the CRM's content.
VOLATILE = {"createdAt", "updatedAt", "lastmodifieddate", "hs_lastmodifieddate"}


def _at(record: Record, timestamp_ms: int) -> Record:
    return dataclasses.replace(record, timestamp_ms=timestamp_ms)


def _kafka_datetime(ms: int) -> str:
    """``--to-datetime``'s format, in UTC with an explicit ``Z`` (as the runbook advises)."""
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _event_id(value: bytes | None) -> str:
    assert value is not None
    event_id: str = orjson.loads(value)["eventId"]
    return event_id


def _content(state: dict[str, Any]) -> dict[str, Any]:
    """What the CRM holds: records by id without timestamps, associations as a set."""

    def records(kind: str) -> dict[str, dict[str, Any]]:
        return {
            r["id"]: {k: v for k, v in r["properties"].items() if k not in VOLATILE}
            for r in state[kind]
        }

    return {
        "contacts": records("contacts"),
        "deals": records("deals"),
        "associations": {
            (a["fromType"], a["fromId"], a["toType"], a["toId"], a["associationTypeId"])
            for a in state["associations"]
        },
    }


def _new_offsets(plan: str, group: str) -> dict[tuple[str, int], int]:
    """``GROUP TOPIC PARTITION NEW-OFFSET`` rows of a reset plan (dry run or execute)."""
    rows: dict[tuple[str, int], int] = {}
    for line in plan.splitlines():
        cells = line.split()
        if len(cells) == 4 and cells[0] == group:
            rows[(cells[1], int(cells[2]))] = int(cells[3])
    return rows


async def _group_state(broker: Broker, group: str) -> str:
    out = await asyncio.to_thread(
        broker.tool,
        "consumer-groups",
        "--bootstrap-server",
        broker.bootstrap,
        "--describe",
        "--group",
        group,
        "--state",
    )
    # a header row (GROUP COORDINATOR (ID) ASSIGNMENT-STRATEGY STATE #MEMBERS), then the group
    for line in out.splitlines():
        cells = line.split()
        if cells and cells[0] == group:
            return cells[-2]
    raise AssertionError(f"no row for {group} in:\n{out}")


async def _wait_empty(broker: Broker, group: str, timeout_s: float = 60) -> None:
    """Runbook step 3: a static member stays in the group until its session times out."""
    deadline = time.monotonic() + timeout_s
    state = ""
    while time.monotonic() < deadline:
        state = await _group_state(broker, group)
        if state == "Empty":
            return
        await asyncio.sleep(1)
    raise AssertionError(f"group {group} still {state} after {timeout_s}s")


async def _hubspot(stack: Stack, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """A call to the emulated HubSpot API, as a person editing the portal would make it."""
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session,
        session.post(stack.emulator_url + path, json=body) as resp,
    ):
        assert resp.status < 300, await resp.text()
        answer: dict[str, Any] = await resp.json()
        return answer


async def _stats(stack: Stack) -> dict[str, dict[str, int]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{stack.emulator_url}/_emulator/stats") as resp,
    ):
        body: dict[str, Any] = await resp.json()
        routes: dict[str, dict[str, int]] = body["by_route"]
        return routes


def _calls(stats: dict[str, dict[str, int]], suffix: str) -> int:
    return sum(sum(c.values()) for route, c in stats.items() if route.endswith(suffix))


async def test_a_reset_to_a_datetime_reapplies_only_the_later_events_without_duplicates(
    stack: Stack, kafka_broker: Broker
) -> None:
    now_ms = int(time.time() * 1000)
    before_ms, reset_ms, after_ms = (
        now_ms - 2 * HOUR_MS,
        now_ms - 3 * HOUR_MS // 2,
        now_ms - HOUR_MS,
    )
    early = [
        *(b.record(stack.students, b.student_changed(s, givenName=f"Old{s}")) for s in range(1, 7)),
        *(b.record(stack.registrations, b.registration_changed(100 + s, s)) for s in range(1, 7)),
    ]
    late = [
        *(b.record(stack.students, b.student_changed(s, givenName=f"New{s}")) for s in (1, 2, 3)),
        b.record(
            stack.registrations,
            b.registration_changed(
                104, 4, registrationStatus={"id": 20, "description": "Withdrawn"}
            ),
        ),
        # a student first seen after T: created by the first run, found again by the replay
        b.record(stack.students, b.student_changed(7)),
        b.record(stack.registrations, b.registration_changed(107, 7)),
    ]
    await stack.publish([_at(r, before_ms) for r in early] + [_at(r, after_ms) for r in late])
    # the chart's static membership: a stopped pod stays in the group until its session ends
    settings = stack.settings(kafka={"group_instance_id": "sync-0", "session_timeout_ms": 6_000})

    first = await stack.run(settings)
    assert first.code == 0
    synced = await stack.dump()
    content = _content(synced)
    assert len(content["contacts"]) == 7
    assert len(content["deals"]) == 7
    contact_of = {p["classter_student_id"]: cid for cid, p in content["contacts"].items()}
    assert content["contacts"][contact_of["northwind:1"]]["firstname"] == "New1"
    assert content["contacts"][contact_of["northwind:5"]]["firstname"] == "Old5"
    deal_of = {p["classter_deal_code"]: did for did, p in content["deals"].items()}
    assert content["deals"][deal_of["northwind:104"]]["dealstage"] == "closedlost"

    # Someone edits a contact by hand after the first run; the replay must write it again.
    await _hubspot(
        stack,
        "/crm/v3/objects/contacts/batch/update",
        {"inputs": [{"id": contact_of["northwind:1"], "properties": {"firstname": "Edited"}}]},
    )

    # Runbook steps 2 and 3: scaled to zero (the run above ended as SIGTERM ends it), then the
    # group must be Empty before Kafka accepts a reset.
    await _wait_empty(kafka_broker, stack.group)

    # Steps 4 and 5, with the runbook's flags.
    reset = [
        "--bootstrap-server",
        kafka_broker.bootstrap,
        "--group",
        stack.group,
        "--reset-offsets",
        "--to-datetime",
        _kafka_datetime(reset_ms),
        "--topic",
        stack.students,
        "--topic",
        stack.registrations,
    ]
    # the plan Kafka should print: per partition the first record after T, else its end offset
    late_ids = {_event_id(r.value) for r in late}
    expected = {
        (tp.topic, tp.partition): end
        for tp, end in (await end_offsets(stack.bootstrap, stack.topics)).items()
    }
    for topic in stack.topics:
        for rec in await read_all(stack.bootstrap, topic):
            key = (topic, rec.partition)
            if _event_id(rec.value) in late_ids:
                expected[key] = min(expected[key], rec.offset)

    plan = await asyncio.to_thread(kafka_broker.tool, "consumer-groups", *reset, "--dry-run")
    assert _new_offsets(plan, stack.group) == expected, plan
    # a dry run changes nothing
    assert not any((await group_lag(stack.bootstrap, stack.group, stack.topics)).values())

    done = await asyncio.to_thread(kafka_broker.tool, "consumer-groups", *reset, "--execute")
    assert _new_offsets(done, stack.group) == expected, done
    lag = await group_lag(stack.bootstrap, stack.group, stack.topics)
    assert sum(lag.values()) == len(late)

    # Step 6: scale back; the daemon catches up again.
    before_replay = await _stats(stack)
    second = await stack.run(settings)
    assert second.code == 0

    # exactly the records after T were consumed again, and all of them finished as synced
    consumed = {
        t: second.metric("classter_hubspot_events_consumed_total", topic=t) for t in stack.topics
    }
    assert consumed == {t: sum(r.topic == t for r in late) for t in stack.topics}
    assert second.metric("classter_hubspot_events_finished_total", outcome="synced") == len(late)
    # HubSpot saw the replay: the records were read again and written again
    after_replay = await _stats(stack)
    assert _calls(after_replay, "/batch/read") > _calls(before_replay, "/batch/read")

    final = await stack.dump()
    replayed = _content(final)
    # the hand edit of a contact touched after T was overwritten by the replayed event ...
    assert replayed["contacts"][contact_of["northwind:1"]]["firstname"] == "New1"
    # ... and otherwise the CRM holds what it held: same ids, no duplicate contact or deal
    assert replayed == content
    # contacts that only events before T touched were not written again
    written = {r["id"]: r["updatedAt"] for r in synced["contacts"]}
    for untouched in ("northwind:5", "northwind:6"):
        cid = contact_of[untouched]
        row = next(r for r in final["contacts"] if r["id"] == cid)
        assert row["updatedAt"] == written[cid], f"{untouched} was written again"
