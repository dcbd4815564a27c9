"""The daemon's real HubSpot client (``consumer.hubspot.client``) against the emulator: the
emulator must serve exactly the requests the daemon makes and answer in shapes it understands."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from consumer.errors import (
    HubSpotAuthError,
    HubSpotConflictError,
    HubSpotRateLimitError,
    HubSpotTransientError,
    HubSpotValidationError,
)
from consumer.hubspot.checks import Report, check_token
from consumer.hubspot.client import HubObject, HubSpotClient
from consumer.hubspot.ratelimit import RateLimiter
from consumer.hubspot.schema import OWN_PROPERTIES, apply_own_properties, load_schema
from consumer.metrics import Metrics
from sandbox.emulator import DEFAULT_TOKEN, Emulator
from tests.sandbox.emulator_support import Api

CONTACT_PROPS = ["email", "firstname", "classter_student_id"]


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator() as emu:
        yield emu


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


def _client(
    session: aiohttp.ClientSession, url: str, token: str = DEFAULT_TOKEN, version: str = "2026-03"
) -> tuple[HubSpotClient, Metrics]:
    metrics = Metrics(CollectorRegistry())
    limiter = RateLimiter(metrics=metrics)
    client = HubSpotClient(
        session,
        url,
        token,
        limiter=limiter,
        metrics=metrics,
        api_version=version,
        request_timeout_s=5.0,
    )
    return client, metrics


def _one(results: list[HubObject | Any]) -> HubObject:
    (result,) = results
    assert isinstance(result, HubObject), result
    return result


@pytest.mark.parametrize("version", ["2026-03", "v3"])
async def test_daemon_client_prepares_the_portal_and_writes_contacts_and_deals(
    emulator: Emulator, session: aiohttp.ClientSession, version: str
) -> None:
    client, metrics = _client(session, emulator.url, version=version)
    report = Report()
    await check_token(client, DEFAULT_TOKEN, report)
    assert report.ok, report.errors

    schema = await load_schema(client)
    assert "classter_student_id" not in schema.properties["contacts"]
    assert schema.pipelines["default"][0] == "appointmentscheduled"
    created = await apply_own_properties(client, schema)
    assert len(created) == sum(len(d) for d in OWN_PROPERTIES.values())
    schema = await load_schema(client)
    assert schema.unique["contacts"] == {"classter_student_id"}
    assert schema.unique["deals"] == {"classter_deal_code"}
    assert await apply_own_properties(client, schema) == []

    lead = emulator.state.store.commit(
        emulator.state.store.plan_create(
            "contacts", {"email": "Maria@Example.org", "firstname": "Lead"}
        )
    )
    found = await client.batch_read(
        "contacts", "email", ["maria@example.org", "no@example.org"], CONTACT_PROPS
    )
    assert list(found) == ["maria@example.org"]
    assert found["maria@example.org"].id == lead.id

    adopted = _one(
        await client.batch_update(
            "contacts", [{"id": lead.id, "properties": {"classter_student_id": "nw:2637"}}]
        )
    )
    assert adopted.properties["classter_student_id"] == "nw:2637"

    student = {"properties": {"email": "pat@example.org", "classter_student_id": "nw:1"}}
    contact = _one(await client.batch_create("contacts", [student], "classter_student_id"))
    (duplicate,) = await client.batch_create(
        "contacts",
        [{"properties": {"email": "PAT@example.org", "classter_student_id": "nw:9"}}],
        "classter_student_id",
    )
    assert isinstance(duplicate, HubSpotConflictError)
    assert duplicate.existing_id == contact.id

    deal_input = {
        "properties": {
            "dealname": "Pat - Grade 10",
            "pipeline": "default",
            "dealstage": "closedwon",
            "classter_deal_code": "nw:51877",
            "classter_start_date": "2026-09-10",
        },
        "associations": [
            {
                "to": {"id": contact.id},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
            }
        ],
    }
    deal = _one(await client.batch_create("deals", [deal_input], "classter_deal_code"))
    assert deal.properties["classter_start_date"] == "2026-09-10"
    outcomes = await client.associate_deals_to_contacts([(deal.id, lead.id), (deal.id, "999999")])
    assert outcomes[0] is None
    assert isinstance(outcomes[1], HubSpotValidationError)

    (missing,) = await client.batch_update("deals", [{"id": "888888", "properties": {}}])
    assert isinstance(missing, HubSpotValidationError)
    assert missing.code == "OBJECT_NOT_FOUND"
    (bad,) = await client.batch_update(
        "deals", [{"id": deal.id, "properties": {"dealstage": "enrolled"}}]
    )
    assert isinstance(bad, HubSpotValidationError)
    assert bad.code == "INVALID_OPTION"
    assert bad.property_names == ("dealstage",)

    links = emulator.state.store.associations_of("deals", deal.id, "contacts")
    assert links == {contact.id: {3}, lead.id: {3}}
    daily = metrics.registry.get_sample_value(
        "classter_hubspot_hubspot_budget_remaining", {"window": "daily"}
    )
    assert daily is not None and 0 < daily < 625_000


async def test_daemon_client_translates_faults_rate_limits_and_bad_tokens(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    api = Api(session, emulator.url)
    client, metrics = _client(session, emulator.url)
    ids = ["1"]

    await api.put("/_emulator/faults", [{"kind": "status", "status": 503, "count": 1}])
    with pytest.raises(HubSpotTransientError) as unavailable:
        await client.batch_read("contacts", None, ids, CONTACT_PROPS)
    assert unavailable.value.status == 503

    await api.put("/_emulator/faults", [{"kind": "drop", "count": 1}])
    with pytest.raises(HubSpotTransientError, match="ServerDisconnected"):
        await client.batch_read("contacts", None, ids, CONTACT_PROPS)

    stranger, _ = _client(session, emulator.url, token="pat-na1-stranger")
    with pytest.raises(HubSpotAuthError):
        await stranger.get_properties("contacts")

    await api.put(
        "/_emulator/faults",
        [{"kind": "status", "status": 429, "count": 1, "policy": "DAILY", "retry_after_s": 0.5}],
    )
    with pytest.raises(HubSpotRateLimitError) as limited:
        await client.batch_read("contacts", None, ids, CONTACT_PROPS)
    assert limited.value.policy == "DAILY"
    assert limited.value.retry_after_s == 0.5
    assert (
        metrics.registry.get_sample_value(
            "classter_hubspot_hubspot_rate_limited_total", {"policy": "DAILY"}
        )
        == 1
    )
