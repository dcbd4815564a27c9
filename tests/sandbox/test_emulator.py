"""The HubSpot emulator over real HTTP: auth, objects, validation, uniqueness, batch semantics,
properties, pipelines and associations (budgets, faults and the control API are in
``test_emulator_limits``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from sandbox.emulator import Emulator, EmulatorConfig, TokenGrant
from tests.sandbox.emulator_support import Api, FakeClock

C = "/crm/v3/objects/contacts"
D = "/crm/v3/objects/deals"
DBV_C = "/crm/objects/2026-03/contacts"
ASSOC = "/crm/v4/associations/deals/contacts"
DEAL_TO_CONTACT = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]
UNIQUE_CONTACT_PROP = {"name": "classter_student_id", "type": "string", "hasUniqueValue": True}
UNIQUE_DEAL_PROP = {"name": "classter_deal_code", "type": "string", "hasUniqueValue": True}


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    config = EmulatorConfig(
        tokens=[
            TokenGrant("pat-na1-sandbox-demo-token"),
            TokenGrant("pat-na1-read-only", frozenset({"crm.objects.contacts.read"})),
        ]
    )
    async with Emulator(config, clock=FakeClock()) as emu:
        yield emu


@pytest.fixture
async def api(emulator: Emulator) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, emulator.url)


async def _seed(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    reply = await api.post("/_emulator/seed", body)
    assert reply.status == 200, reply.body
    result: dict[str, Any] = reply.body
    return result


async def _contact(api: Api, **props: str) -> str:
    reply = await api.post(C, {"properties": props})
    assert reply.status == 201, reply.body
    return str(reply.body["id"])


def _codes(body: dict[str, Any]) -> dict[str, str]:
    return {e["context"]["propertyName"][0]: e["code"] for e in body["errors"]}


# -- auth ----------------------------------------------------------------------------------------
async def test_unknown_or_missing_token_is_401_invalid_authentication(api: Api) -> None:
    for token in ("pat-na1-nobody", None):
        reply = await api.call("GET", C, token=token)
        assert reply.status == 401
        assert reply.body["category"] == "INVALID_AUTHENTICATION"
        assert "X-HubSpot-RateLimit-Remaining" not in reply.headers


async def test_token_without_write_scope_gets_403_missing_scopes_naming_the_scope(api: Api) -> None:
    reply = await api.call("POST", f"{C}/batch/create", {"inputs": []}, token="pat-na1-read-only")
    assert reply.status == 403
    assert reply.body["category"] == "MISSING_SCOPES"
    context = reply.body["errors"][0]["context"]
    assert context["requiredGranularScopes"] == ["crm.objects.contacts.write"]
    allowed = await api.call("GET", "/crm/v3/properties/contacts", token="pat-na1-read-only")
    assert allowed.status == 200


async def test_token_info_reports_portal_and_scopes_and_rejects_unknown_tokens(api: Api) -> None:
    path = "/oauth/v2/private-apps/get/access-token-info"
    info = await api.call("POST", path, {"tokenKey": "pat-na1-read-only"}, token=None)
    assert info.status == 200
    assert info.body["scopes"] == ["crm.objects.contacts.read"]
    assert {"hubId", "appId", "userId"} <= info.body.keys()
    unknown = await api.call("POST", path, {"tokenKey": "pat-na1-nobody"}, token=None)
    assert unknown.status == 401


# -- objects: create, read, update, list ---------------------------------------------------------
async def test_created_contact_reads_back_with_hubspot_bookkeeping_properties(api: Api) -> None:
    created = await api.post(C, {"properties": {"email": "maria@example.org", "firstname": 7}})
    assert created.status == 201
    record = created.body
    assert record["id"].isdigit() and record["archived"] is False
    assert record["properties"]["firstname"] == "7"  # numbers travel as strings
    assert record["properties"]["hs_object_id"] == record["id"]
    got = await api.get(f"{C}/{record['id']}?properties=firstname,phone")
    assert got.body["properties"] == {
        "firstname": "7",
        "phone": None,
        "hs_object_id": record["id"],
        "createdate": record["createdAt"],
        "lastmodifieddate": record["updatedAt"],
    }
    by_email = await api.get(f"{C}/MARIA@example.org?idProperty=email")
    assert by_email.body["id"] == record["id"]
    assert (await api.get(f"{C}/999999")).status == 404


async def test_patch_by_email_updates_and_empty_string_clears(api: Api) -> None:
    cid = await _contact(api, email="a@example.org", firstname="Ann", lastname="Lee")
    reply = await api.call(
        "PATCH",
        f"{C}/a@example.org?idProperty=email",
        {"properties": {"firstname": "Anna", "lastname": ""}},
    )
    assert reply.status == 200
    assert reply.body["id"] == cid
    assert reply.body["properties"]["firstname"] == "Anna"
    assert "lastname" not in reply.body["properties"]


async def test_list_pages_with_after_cursor(api: Api) -> None:
    ids = [await _contact(api, email=f"p{n}@example.org") for n in range(5)]
    first = await api.get(f"{C}?limit=2&properties=email")
    assert [r["id"] for r in first.body["results"]] == ids[:2]
    after = first.body["paging"]["next"]["after"]
    rest = await api.get(f"{C}?limit=10&after={after}")
    assert [r["id"] for r in rest.body["results"]] == ids[2:]
    assert "paging" not in rest.body


async def test_v3_dated_versions_and_type_ids_address_the_same_records(api: Api) -> None:
    cid = await _contact(api, email="same@example.org")
    for path in (f"{DBV_C}/{cid}", f"/crm/objects/2025-09/0-1/{cid}", f"/crm/v3/objects/0-1/{cid}"):
        reply = await api.get(path)
        assert reply.status == 200, path
        assert reply.body["id"] == cid
    assert (await api.get(f"/crm/v3/objects/tickets/{cid}")).status == 400


# -- validation ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("props", "code"),
    [
        ({"favourite_colour": "blue"}, "PROPERTY_DOESNT_EXIST"),
        ({"lifecyclestage": "Customer"}, "INVALID_OPTION"),
        ({"email": "maria@example"}, "INVALID_EMAIL"),
        ({"classter_start_date": "12/04/2008"}, "INVALID_DATE"),
        ({"classter_start_date": "1496643178000"}, "INVALID_DATE"),
        ({"classter_start_date": "2026-02-30"}, "INVALID_DATE"),
        ({"classter_grade": "1,000"}, "INVALID_INTEGER"),
        ({"classter_grade": "1.2.3"}, "INVALID_INTEGER"),
        ({"hs_object_id": "5"}, "READ_ONLY_VALUE"),
        ({"firstname": "x" * 65_537}, "MAX_LENGTH_EXCEEDED"),
    ],
)
async def test_invalid_values_are_400_validation_error_with_code_and_property(
    api: Api, props: dict[str, str], code: str
) -> None:
    await _seed(
        api,
        {
            "properties": {
                "contacts": [
                    {"name": "classter_start_date", "type": "date"},
                    {"name": "classter_grade", "type": "number"},
                ]
            }
        },
    )
    reply = await api.post(C, {"properties": props})
    assert reply.status == 400
    assert reply.body["category"] == "VALIDATION_ERROR"
    name = next(iter(props))
    assert _codes(reply.body) == {name: code}
    prefix = "Property values were not valid: "
    assert reply.body["message"].startswith(prefix)
    detail = orjson.loads(reply.body["message"][len(prefix) :])
    assert detail[0]["error"] == code and detail[0]["name"] == name
    assert (await api.get("/_emulator/state")).body["contacts"] == []


async def test_valid_dates_numbers_and_options_are_stored_in_hubspot_form(api: Api) -> None:
    await _seed(
        api,
        {
            "properties": {
                "contacts": [
                    {"name": "classter_start_date", "type": "date"},
                    {"name": "classter_grade", "type": "number"},
                    {
                        "name": "classter_tags",
                        "type": "enumeration",
                        "fieldType": "checkbox",
                        "options": [{"label": "A", "value": "a"}, {"label": "B", "value": "b"}],
                    },
                ]
            }
        },
    )
    reply = await api.post(
        C,
        {
            "properties": {
                "classter_start_date": "1788048000000",
                "classter_grade": "-12.5",
                "classter_tags": "a",
                "lifecyclestage": "customer",
                "createdate": "1788048000000",
            }
        },
    )
    assert reply.status == 201, reply.body
    props = reply.body["properties"]
    assert props["classter_start_date"] == "2026-08-30"
    assert props["classter_grade"] == "-12.5"
    assert props["createdate"] == "2026-08-30T00:00:00.000Z"
    appended = await api.call(
        "PATCH", f"{C}/{reply.body['id']}", {"properties": {"classter_tags": ";b"}}
    )
    assert appended.body["properties"]["classter_tags"] == "a;b"


async def test_every_invalid_property_is_reported_in_one_answer(api: Api) -> None:
    reply = await api.post(C, {"properties": {"email": "nope", "lifecyclestage": "x", "zz": "1"}})
    assert _codes(reply.body) == {
        "email": "INVALID_EMAIL",
        "lifecyclestage": "INVALID_OPTION",
        "zz": "PROPERTY_DOESNT_EXIST",
    }


async def test_non_scalar_property_values_fail_the_request(api: Api) -> None:
    reply = await api.post(
        f"{C}/batch/create",
        {"inputs": [{"properties": {"firstname": {"nested": 1}}, "objectWriteTraceId": "0"}]},
    )
    assert reply.status == 400
    assert "Invalid input JSON" in reply.body["message"]


async def test_deal_stage_must_be_a_stage_of_the_deals_pipeline(api: Api) -> None:
    seeded = await _seed(
        api,
        {
            "pipelines": [
                {
                    "id": "admissions",
                    "label": "Admissions",
                    "stages": [{"id": "applied", "label": "Applied"}],
                }
            ]
        },
    )
    assert seeded["pipelines"] == ["admissions"]
    ok = await api.post(D, {"properties": {"dealname": "D1", "dealstage": "closedwon"}})
    assert ok.status == 201
    assert ok.body["properties"]["pipeline"] == "default"  # the default pipeline when omitted
    wrong = await api.post(
        D, {"properties": {"dealname": "D2", "pipeline": "admissions", "dealstage": "closedwon"}}
    )
    assert _codes(wrong.body) == {"dealstage": "INVALID_OPTION"}
    unknown = await api.post(
        D, {"properties": {"dealname": "D3", "pipeline": "nope", "dealstage": "applied"}}
    )
    assert _codes(unknown.body) == {"pipeline": "INVALID_OPTION"}
    missing = await api.post(D, {"properties": {"pipeline": "admissions"}})
    assert _codes(missing.body) == {
        "dealname": "REQUIRED_PROPERTY",
        "dealstage": "REQUIRED_PROPERTY",
    }
    moved = await api.call(
        "PATCH", f"{D}/{ok.body['id']}", {"properties": {"pipeline": "admissions"}}
    )
    assert _codes(moved.body) == {"dealstage": "INVALID_OPTION"}


# -- uniqueness ----------------------------------------------------------------------------------
async def test_existing_email_in_any_case_is_409_conflict_with_existing_id(api: Api) -> None:
    cid = await _contact(api, email="lead@example.org")
    reply = await api.post(C, {"properties": {"email": "  LEAD@Example.org"}})
    assert reply.status == 409
    assert reply.body["category"] == "CONFLICT"
    assert reply.body["message"] == f"Contact already exists. Existing ID: {cid}"


async def test_changing_email_to_another_contacts_address_is_409(api: Api) -> None:
    first = await _contact(api, email="one@example.org")
    second = await _contact(api, email="two@example.org")
    reply = await api.call("PATCH", f"{C}/{second}", {"properties": {"email": "ONE@example.org"}})
    assert reply.status == 409
    assert f"Existing ID: {first}" in reply.body["message"]
    freed = await api.call("PATCH", f"{C}/{first}", {"properties": {"email": "uno@example.org"}})
    assert freed.status == 200
    taken = await api.call("PATCH", f"{C}/{second}", {"properties": {"email": "one@example.org"}})
    assert taken.status == 200


async def test_custom_unique_property_duplicate_is_409_naming_property_and_id(api: Api) -> None:
    await _seed(api, {"properties": {"deals": [UNIQUE_DEAL_PROP]}})
    props = {"dealname": "D", "dealstage": "closedwon", "classter_deal_code": "nw:51877"}
    first = await api.post(D, {"properties": props})
    again = await api.post(D, {"properties": {**props, "dealname": "Other"}})
    assert again.status == 409
    assert "classter_deal_code" in again.body["message"]
    assert f"Existing ID: {first.body['id']}" in again.body["message"]


# -- batch semantics -----------------------------------------------------------------------------
async def test_batch_create_with_trace_ids_fails_input_by_input_with_207(api: Api) -> None:
    existing = await _contact(api, email="taken@example.org")
    reply = await api.post(
        f"{DBV_C}/batch/create",
        {
            "inputs": [
                {"properties": {"email": "new@example.org"}, "objectWriteTraceId": "0"},
                {"properties": {"email": "TAKEN@example.org"}, "objectWriteTraceId": "1"},
                {"properties": {"email": "bad"}, "objectWriteTraceId": "2"},
            ]
        },
    )
    assert reply.status == 207
    assert reply.body["status"] == "COMPLETE" and reply.body["numErrors"] == 2
    assert [r["properties"]["email"] for r in reply.body["results"]] == ["new@example.org"]
    by_trace = {e["context"]["objectWriteTraceId"][0]: e for e in reply.body["errors"]}
    assert by_trace["1"]["category"] == "CONFLICT"
    assert f"Existing ID: {existing}" in by_trace["1"]["message"]
    assert by_trace["2"]["errors"][0]["code"] == "INVALID_EMAIL"


@pytest.mark.parametrize(
    ("second", "status"),
    [
        ({"email": "first@example.org"}, 409),  # duplicate inside the batch
        ({"email": "x@example.org", "lifecyclestage": "nope"}, 400),
    ],
)
async def test_batch_create_without_trace_ids_fails_whole_and_writes_nothing(
    api: Api, second: dict[str, str], status: int
) -> None:
    reply = await api.post(
        f"{C}/batch/create",
        {"inputs": [{"properties": {"email": "first@example.org"}}, {"properties": second}]},
    )
    assert reply.status == status
    assert (await api.get("/_emulator/state")).body["contacts"] == []


async def test_batch_create_links_inline_associations(api: Api) -> None:
    cid = await _contact(api, email="s@example.org")
    reply = await api.post(
        f"{D}/batch/create",
        {
            "inputs": [
                {
                    "properties": {"dealname": "D", "dealstage": "appointmentscheduled"},
                    "associations": [{"to": {"id": cid}, "types": DEAL_TO_CONTACT}],
                    "objectWriteTraceId": "0",
                }
            ]
        },
    )
    assert reply.status == 201
    deal = reply.body["results"][0]["id"]
    listed = await api.get(f"/crm/v4/objects/contacts/{cid}/associations/deals")
    assert listed.body["results"][0]["toObjectId"] == int(deal)
    assert listed.body["results"][0]["associationTypes"][0]["typeId"] == 4
    dangling = await api.post(
        D,
        {
            "properties": {"dealname": "E", "dealstage": "closedwon"},
            "associations": [{"to": {"id": "424242"}, "types": DEAL_TO_CONTACT}],
        },
    )
    assert dangling.status == 400
    assert dangling.body["context"]["ids"] == ["424242"]


async def test_batch_read_by_unique_property_reports_missing_ids_as_207(api: Api) -> None:
    await _seed(api, {"properties": {"contacts": [UNIQUE_CONTACT_PROP]}})
    cid = await _contact(api, email="r@example.org", classter_student_id="nw:1")
    reply = await api.post(
        f"{DBV_C}/batch/read",
        {
            "inputs": [{"id": "nw:1"}, {"id": "nw:2"}],
            "idProperty": "classter_student_id",
            "properties": ["email", "classter_student_id"],
            "propertiesWithHistory": [],
        },
    )
    assert reply.status == 207
    assert [r["id"] for r in reply.body["results"]] == [cid]
    assert reply.body["results"][0]["properties"]["classter_student_id"] == "nw:1"
    error = reply.body["errors"][0]
    assert error["category"] == "OBJECT_NOT_FOUND"
    assert error["context"]["ids"] == ["nw:2"]
    by_email = await api.post(
        f"{C}/batch/read", {"inputs": [{"id": "R@EXAMPLE.ORG"}], "idProperty": "email"}
    )
    assert by_email.status == 200
    assert by_email.body["results"][0]["id"] == cid
    not_unique = await api.post(
        f"{C}/batch/read", {"inputs": [{"id": "x"}], "idProperty": "firstname"}
    )
    assert not_unique.status == 400


async def test_batch_update_by_id_and_by_unique_property_with_missing_as_207(api: Api) -> None:
    await _seed(api, {"properties": {"contacts": [UNIQUE_CONTACT_PROP]}})
    a = await _contact(api, email="a@example.org", classter_student_id="nw:1")
    b = await _contact(api, email="b@example.org")
    reply = await api.post(
        f"{C}/batch/update",
        {
            "inputs": [
                {"id": b, "properties": {"firstname": "Bo"}},
                {
                    "id": "nw:1",
                    "idProperty": "classter_student_id",
                    "properties": {"firstname": "Al"},
                },
                {"id": "999999", "properties": {"firstname": "Nobody"}},
            ]
        },
    )
    assert reply.status == 207
    assert {r["id"]: r["properties"]["firstname"] for r in reply.body["results"]} == {
        a: "Al",
        b: "Bo",
    }
    assert reply.body["errors"][0]["context"]["ids"] == ["999999"]
    by_email = await api.post(
        f"{C}/batch/update",
        {
            "inputs": [
                {"id": "a@example.org", "idProperty": "email", "properties": {"firstname": "X"}}
            ]
        },
    )
    assert by_email.status == 400
    assert "non-unique 0-1 property email" in by_email.body["message"]


async def test_batch_update_with_trace_ids_reports_a_conflict_per_input(api: Api) -> None:
    a = await _contact(api, email="a@example.org")
    b = await _contact(api, email="b@example.org")
    reply = await api.post(
        f"{C}/batch/update",
        {
            "inputs": [
                {"id": b, "properties": {"email": "a@example.org"}, "objectWriteTraceId": "0"},
                {"id": a, "properties": {"firstname": "Al"}, "objectWriteTraceId": "1"},
            ]
        },
    )
    assert reply.status == 207
    assert reply.body["errors"][0]["context"]["objectWriteTraceId"] == ["0"]
    assert f"Existing ID: {a}" in reply.body["errors"][0]["message"]
    whole = await api.post(
        f"{C}/batch/update",
        {
            "inputs": [
                {"id": b, "properties": {"email": "a@example.org"}},
                {"id": a, "properties": {"firstname": "Never"}},
            ]
        },
    )
    assert whole.status == 409
    state = (await api.get("/_emulator/state")).body
    assert state["contacts"][0]["properties"]["firstname"] == "Al"


async def test_batch_upsert_creates_or_updates_and_flags_new(api: Api) -> None:
    await _seed(api, {"properties": {"deals": [UNIQUE_DEAL_PROP]}})
    props = {"dealname": "D", "dealstage": "closedwon"}
    body = {"inputs": [{"id": "nw:1", "idProperty": "classter_deal_code", "properties": props}]}
    first = await api.post(f"{D}/batch/upsert", body)
    assert first.status == 200
    assert first.body["results"][0]["new"] is True
    assert first.body["results"][0]["properties"]["classter_deal_code"] == "nw:1"
    props["dealname"] = "Renamed"
    second = await api.post(f"{D}/batch/upsert", body)
    assert second.body["results"][0]["new"] is False
    assert second.body["results"][0]["properties"]["dealname"] == "Renamed"
    assert second.body["results"][0]["id"] == first.body["results"][0]["id"]
    contact = await api.post(
        f"{C}/batch/upsert",
        {
            "inputs": [
                {"id": "up@example.org", "idProperty": "email", "properties": {"firstname": "U"}}
            ]
        },
    )
    assert contact.body["results"][0]["properties"]["email"] == "up@example.org"


async def test_duplicate_ids_in_one_batch_update_are_rejected(api: Api) -> None:
    cid = await _contact(api, email="d@example.org")
    reply = await api.post(
        f"{C}/batch/update",
        {
            "inputs": [
                {"id": cid, "properties": {"firstname": "A"}},
                {"id": cid, "properties": {"firstname": "B"}},
            ]
        },
    )
    assert reply.status == 400


# -- properties and pipelines ----------------------------------------------------------------------
async def test_properties_api_creates_groups_and_properties_and_rejects_duplicates(
    api: Api,
) -> None:
    base = "/crm/properties/2026-03/contacts"
    group = {"name": "classter", "label": "Classter", "displayOrder": -1}
    assert (await api.post(f"{base}/groups", group)).status == 201
    assert (await api.post(f"{base}/groups", group)).status == 409
    definition = {
        "name": "classter_student_id",
        "label": "Student",
        "type": "string",
        "fieldType": "text",
        "groupName": "classter",
        "hasUniqueValue": True,
    }
    created = await api.post(base, definition)
    assert created.status == 201
    assert created.body["hasUniqueValue"] is True
    assert created.body["modificationMetadata"]["readOnlyValue"] is False
    assert (await api.post(base, definition)).status == 409
    for bad in (
        {**definition, "name": "Bad Name"},
        {**definition, "name": "hs_mine"},
        {**definition, "name": "x1", "fieldType": "select"},
        {**definition, "name": "x2", "groupName": "nope"},
        {**definition, "name": "x3", "type": "enumeration", "fieldType": "select"},
    ):
        assert (await api.post(base, bad)).status == 400, bad
    names = {p["name"] for p in (await api.get(base)).body["results"]}
    assert {"email", "firstname", "date_of_birth", "classter_student_id"} <= names
    assert (await api.get(f"{base}/classter_student_id")).body["groupName"] == "classter"
    assert (await api.get(f"{base}/nope")).status == 404
    groups = await api.get(f"{base}/groups")
    assert "classter" in {g["name"] for g in groups.body["results"]}


async def test_fresh_portal_has_standard_properties_but_none_of_the_daemons_own(api: Api) -> None:
    contacts = {
        p["name"]: p for p in (await api.get("/crm/v3/properties/contacts")).body["results"]
    }
    deals = {p["name"]: p for p in (await api.get("/crm/v3/properties/deals")).body["results"]}
    assert {
        "email",
        "firstname",
        "lastname",
        "mobilephone",
        "phone",
        "date_of_birth",
        "gender",
        "hs_object_id",
        "createdate",
        "lastmodifieddate",
    } <= contacts.keys()
    assert {"dealname", "pipeline", "dealstage", "amount", "closedate"} <= deals.keys()
    assert not [n for n in (*contacts, *deals) if n.startswith("classter_")]
    assert contacts["hs_object_id"]["modificationMetadata"]["readOnlyValue"] is True
    stage_options = {o["value"] for o in deals["dealstage"]["options"]}
    assert {"appointmentscheduled", "closedwon", "closedlost"} <= stage_options


async def test_default_sales_pipeline_has_hubspots_standard_stages(api: Api) -> None:
    reply = await api.get("/crm/pipelines/2026-03/deals")
    (pipeline,) = reply.body["results"]
    assert (pipeline["id"], pipeline["label"]) == ("default", "Sales Pipeline")
    stages = sorted(pipeline["stages"], key=lambda s: s["displayOrder"])
    assert [s["id"] for s in stages] == [
        "appointmentscheduled",
        "qualifiedtobuy",
        "presentationscheduled",
        "decisionmakerboughtin",
        "contractsent",
        "closedwon",
        "closedlost",
    ]
    assert stages[5]["metadata"] == {"isClosed": "true", "probability": "1.0"}
    assert (await api.get("/crm/v3/pipelines/deals/default")).status == 200
    assert (await api.get("/crm/v3/pipelines/deals/nope")).status == 404


# -- associations --------------------------------------------------------------------------------
async def test_association_batch_create_is_idempotent_and_stored_both_ways(api: Api) -> None:
    cid = await _contact(api, email="c@example.org")
    deal = await api.post(D, {"properties": {"dealname": "D", "dealstage": "closedwon"}})
    did = deal.body["id"]
    body = {"inputs": [{"from": {"id": did}, "to": {"id": cid}, "types": DEAL_TO_CONTACT}]}
    for _ in range(2):
        reply = await api.post(f"{ASSOC}/batch/create", body)
        assert reply.status == 201
        assert reply.body["results"] == [
            {
                "fromObjectTypeId": "0-3",
                "fromObjectId": int(did),
                "toObjectTypeId": "0-1",
                "toObjectId": int(cid),
                "labels": [],
            }
        ]
    state = (await api.get("/_emulator/state")).body
    assert {(a["fromType"], a["associationTypeId"]) for a in state["associations"]} == {
        ("deals", 3),
        ("contacts", 4),
    }
    read = await api.post(
        "/crm/associations/2026-03/contacts/deals/batch/read", {"inputs": [{"id": cid}]}
    )
    assert read.body["results"][0]["to"][0]["toObjectId"] == int(did)


async def test_association_to_a_missing_record_is_207_naming_its_id(api: Api) -> None:
    cid = await _contact(api, email="c@example.org")
    deal = await api.post(D, {"properties": {"dealname": "D", "dealstage": "closedwon"}})
    reply = await api.post(
        f"{ASSOC}/batch/create",
        {
            "inputs": [
                {"from": {"id": deal.body["id"]}, "to": {"id": cid}, "types": DEAL_TO_CONTACT},
                {"from": {"id": deal.body["id"]}, "to": {"id": "777777"}, "types": DEAL_TO_CONTACT},
            ]
        },
    )
    assert reply.status == 207
    assert len(reply.body["results"]) == 1
    assert reply.body["errors"][0]["context"]["ids"] == ["777777"]
    wrong_type = await api.post(
        f"{ASSOC}/batch/create",
        {
            "inputs": [
                {
                    "from": {"id": deal.body["id"]},
                    "to": {"id": cid},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 4}],
                }
            ]
        },
    )
    assert wrong_type.status == 400


async def test_associate_default_links_with_the_standard_type(api: Api) -> None:
    cid = await _contact(api, email="c@example.org")
    deal = await api.post(D, {"properties": {"dealname": "D", "dealstage": "closedwon"}})
    reply = await api.post(
        f"{ASSOC}/batch/associate/default",
        {"inputs": [{"from": {"id": deal.body["id"]}, "to": {"id": cid}}]},
    )
    assert reply.status == 200
    assert reply.body["results"][0]["associationSpec"]["associationTypeId"] == 3


async def test_put_default_association_and_dated_listing(api: Api) -> None:
    cid = await _contact(api, email="c@example.org")
    deal = await api.post(D, {"properties": {"dealname": "D", "dealstage": "closedwon"}})
    did = deal.body["id"]
    put = await api.call("PUT", f"/crm/v4/objects/deals/{did}/associations/default/contacts/{cid}")
    assert put.status == 200
    listed = await api.get(f"/crm/objects/2026-03/deals/{did}/associations/contacts")
    assert listed.body["results"] == [
        {
            "toObjectId": int(cid),
            "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 3, "label": None}],
        }
    ]
    missing = await api.call("PUT", f"/crm/v4/objects/deals/{did}/associations/default/contacts/9")
    assert missing.status == 400
