"""The HubSpot emulator's budgets, fault injection and control API, over real HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from sandbox.emulator import Emulator, EmulatorConfig
from tests.sandbox.emulator_support import Api, FakeClock

C = "/crm/v3/objects/contacts"
ASSOC_CREATE = "/crm/v4/associations/deals/contacts/batch/create"
REMAINING = "X-HubSpot-RateLimit-Remaining"
DAILY_REMAINING = "X-HubSpot-RateLimit-Daily-Remaining"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def emulator(clock: FakeClock) -> AsyncIterator[Emulator]:
    async with Emulator(EmulatorConfig(), clock=clock) as emu:
        yield emu


@pytest.fixture
async def api(emulator: Emulator) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, emulator.url)


async def _limits(api: Api, **config: object) -> None:
    reply = await api.put("/_emulator/config", config)
    assert reply.status == 200, reply.body


# -- budgets -------------------------------------------------------------------------------------
async def test_window_headers_count_down_then_429_ten_secondly_until_the_window_rolls(
    api: Api, clock: FakeClock
) -> None:
    await _limits(api, ten_secondly_max=3)
    replies = [await api.get(C) for _ in range(3)]
    assert [r.header(REMAINING) for r in replies] == [2, 1, 0]
    assert all(r.header("X-HubSpot-RateLimit-Max") == 3 for r in replies)
    assert replies[0].header("X-HubSpot-RateLimit-Interval-Milliseconds") == 10_000
    limited = await api.get(C)
    assert limited.status == 429
    assert limited.body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert limited.body["errorType"] == "RATE_LIMIT"
    assert limited.body["message"] == "You have reached your ten_secondly_rolling limit."
    assert {"correlationId", "requestId"} <= limited.body.keys()
    clock.advance(9.9)
    assert (await api.get(C)).status == 429
    clock.advance(0.2)
    recovered = await api.get(C)
    assert recovered.status == 200
    assert recovered.header(REMAINING) == 2


async def test_daily_budget_runs_out_with_daily_policy(api: Api) -> None:
    await _limits(api, daily_limit=10, daily_used=8)
    replies = [await api.get(C) for _ in range(2)]
    assert [r.header(DAILY_REMAINING) for r in replies] == [1, 0]
    assert all(r.header("X-HubSpot-RateLimit-Daily") == 10 for r in replies)
    limited = await api.get(C)
    assert limited.status == 429
    assert limited.body["policyName"] == "DAILY"
    assert limited.body["message"] == "You have reached your daily limit."
    stats = (await api.get("/_emulator/stats")).body
    assert stats["rate_limited"] == {"TEN_SECONDLY_ROLLING": 0, "DAILY": 1}
    assert stats["budget"]["daily_used"] == 10


async def test_daily_budget_resets_at_midnight_utc(api: Api, clock: FakeClock) -> None:
    await _limits(api, daily_limit=1)
    assert (await api.get(C)).status == 200
    assert (await api.get(C)).status == 429
    clock.advance(86_400)
    assert (await api.get(C)).header(DAILY_REMAINING) == 0


async def test_association_batch_calls_skip_the_ten_second_window_but_spend_daily(api: Api) -> None:
    await _limits(api, ten_secondly_max=2)
    contact = await api.post(C, {"properties": {"email": "a@example.org"}})
    deal = await api.post(
        "/crm/v3/objects/deals", {"properties": {"dealname": "D", "dealstage": "closedwon"}}
    )
    assert (await api.get(C)).status == 429
    body = {
        "inputs": [
            {
                "from": {"id": deal.body["id"]},
                "to": {"id": contact.body["id"]},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
            }
        ]
    }
    daily = []
    for _ in range(3):
        reply = await api.post(ASSOC_CREATE, body)
        assert reply.status == 201
        daily.append(reply.header(DAILY_REMAINING))
    assert daily == [daily[0], daily[0] - 1, daily[0] - 2]


async def test_tiers_set_hubspots_published_limits(api: Api) -> None:
    for tier, window, day in (
        ("starter", 100, 250_000),
        ("pro", 190, 625_000),
        ("enterprise", 190, 1_000_000),
    ):
        await _limits(api, tier=tier)
        reply = await api.get(C)
        assert reply.header("X-HubSpot-RateLimit-Max") == window
        assert reply.header("X-HubSpot-RateLimit-Daily") == day


# -- faults --------------------------------------------------------------------------------------
async def test_status_fault_fires_exactly_count_times_on_matching_requests(api: Api) -> None:
    reply = await api.put(
        "/_emulator/faults",
        [
            {
                "kind": "status",
                "status": 503,
                "count": 2,
                "path_contains": "/batch/read",
                "method": "POST",
            }
        ],
    )
    assert reply.status == 200
    read = {"inputs": [{"id": "1"}]}
    statuses = [(await api.post(f"{C}/batch/read", read)).status for _ in range(4)]
    assert statuses == [503, 503, 207, 207]
    assert (await api.get(C)).status == 200  # not matched
    rules = (await api.get("/_emulator/faults")).body["rules"]
    assert (rules[0]["matched"], rules[0]["fired"]) == (4, 2)


async def test_429_fault_carries_policy_and_retry_after(api: Api) -> None:
    await api.put(
        "/_emulator/faults",
        {
            "rules": [
                {"kind": "status", "status": 429, "policy": "DAILY", "count": 1, "retry_after_s": 3}
            ]
        },
    )
    reply = await api.get(C)
    assert reply.status == 429
    assert reply.body["policyName"] == "DAILY"
    assert reply.headers["Retry-After"] == "3"
    assert (await api.get(C)).status == 200


async def test_locked_fault_answers_423(api: Api) -> None:
    await api.put("/_emulator/faults", [{"kind": "locked", "count": 1}])
    assert (await api.get(C)).status == 423


async def test_drop_fault_closes_the_connection_without_an_answer(api: Api) -> None:
    # POST: aiohttp's client silently retries an idempotent GET on a reused connection
    await api.put("/_emulator/faults", [{"kind": "drop", "count": 1, "method": "POST"}])
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.post(f"{C}/batch/read", {"inputs": []})
    assert (await api.post(f"{C}/batch/read", {"inputs": []})).status == 200
    assert (await api.get("/_emulator/stats")).body["connections_dropped"] == 1


async def test_stall_fault_delays_then_serves_normally(api: Api) -> None:
    await api.put("/_emulator/faults", [{"kind": "stall", "delay_s": 0.3, "count": 1}])
    started = time.monotonic()
    reply = await api.get(C)
    assert reply.status == 200
    assert time.monotonic() - started >= 0.3


async def test_probabilistic_faults_repeat_with_the_same_seed(api: Api) -> None:
    plan = {"seed": 7, "rules": [{"kind": "status", "status": 500, "probability": 0.5}]}
    runs = []
    for _ in range(2):
        await api.put("/_emulator/faults", plan)
        runs.append([(await api.get(C)).status for _ in range(12)])
    assert runs[0] == runs[1]
    assert {500, 200} == set(runs[0])


async def test_invalid_fault_rules_are_rejected(api: Api) -> None:
    reply = await api.put("/_emulator/faults", [{"kind": "explode"}])
    assert reply.status == 400


# -- control API ---------------------------------------------------------------------------------
async def test_seed_creates_properties_and_records_visible_in_the_state_dump(api: Api) -> None:
    seeded = await api.post(
        "/_emulator/seed",
        {
            "properties": {
                "contacts": [
                    {
                        "name": "classter_student_id",
                        "type": "string",
                        "hasUniqueValue": True,
                        "groupName": "classter",
                    }
                ]
            },
            "contacts": [{"properties": {"email": "lead@example.org", "firstname": "Lead"}}],
        },
    )
    assert seeded.status == 200
    (lead,) = seeded.body["contacts"]
    state = (await api.get("/_emulator/state")).body
    assert state["contacts"][0]["id"] == lead
    assert state["contacts"][0]["properties"]["email"] == "lead@example.org"
    assert [p["name"] for p in state["properties"]["contacts"]] == ["classter_student_id"]
    assert [g["name"] for g in state["groups"]["contacts"]] == ["classter"]
    clash = await api.post(C, {"properties": {"email": "LEAD@example.org"}})
    assert f"Existing ID: {lead}" in clash.body["message"]


async def test_invalid_seed_is_400_naming_the_record(api: Api) -> None:
    reply = await api.post("/_emulator/seed", {"contacts": [{"properties": {"email": "bad"}}]})
    assert reply.status == 400
    assert reply.body["message"].startswith("seed contacts[0]:")
    assert (await api.post("/_emulator/seed", {"companies": []})).status == 400


async def test_reset_empties_records_and_keeps_properties_unless_asked(api: Api) -> None:
    await api.post(
        "/_emulator/seed",
        {
            "properties": {"contacts": [{"name": "classter_x"}]},
            "contacts": [{"properties": {"email": "a@example.org"}}],
        },
    )
    await api.put("/_emulator/faults", [{"kind": "status", "status": 500, "path_contains": "x"}])
    assert (await api.post("/_emulator/reset")).status == 200
    state = (await api.get("/_emulator/state")).body
    assert state["contacts"] == [] and state["associations"] == []
    assert [p["name"] for p in state["properties"]["contacts"]] == ["classter_x"]
    assert (await api.get("/_emulator/faults")).body["rules"] == []
    await api.post("/_emulator/reset", {"properties": True})
    assert (await api.get("/_emulator/state")).body["properties"]["contacts"] == []


async def test_stats_count_requests_by_route_template_and_status(api: Api) -> None:
    await api.post(C, {"properties": {"email": "a@example.org"}})
    await api.post(C, {"properties": {"email": "a@example.org"}})
    await api.get("/crm/objects/2026-03/contacts/1")
    stats = (await api.get("/_emulator/stats")).body
    assert stats["by_route"]["POST /crm/v3/objects/{object_type}"] == {"201": 1, "409": 1}
    assert stats["by_route"]["GET /crm/objects/{version}/{object_type}/{object_id}"] == {"404": 1}
    assert stats["requests_total"] == 3
    assert sum(s["requests"] for s in stats["per_second"]) == 3
    assert stats["objects"] == {"contacts": 1, "deals": 0}


async def test_config_latency_slows_every_api_response(api: Api) -> None:
    await _limits(api, latency_s=0.2)
    started = time.monotonic()
    await asyncio.gather(api.get(C), api.get(C))
    elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < 0.4  # concurrent requests wait side by side
    config = (await api.get("/_emulator/config")).body
    assert config["latency_s"] == 0.2


async def test_config_tokens_replace_the_accepted_tokens(api: Api) -> None:
    await _limits(api, tokens=[{"token": "pat-na1-other", "scopes": ["crm.objects.deals.read"]}])
    assert (await api.get(C)).status == 401
    other = await api.call("GET", "/crm/v3/objects/deals", token="pat-na1-other")
    assert other.status == 200
    denied = await api.call("GET", C, token="pat-na1-other")
    assert denied.status == 403
