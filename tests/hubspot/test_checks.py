"""The portal checks (SPEC sections 3 and 10) against the emulator, one misconfiguration a test.

Each test changes one thing in the demo configuration (or the portal) and asserts the exact
problem line, which must name the config key. The client is the daemon's own, over loopback.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from consumer import app
from consumer.config import Settings
from consumer.hubspot.checks import REQUIRED_SCOPES, Report
from consumer.hubspot.schema import GROUP, OWN_PROPERTIES, apply_own_properties, load_schema
from consumer.metrics import Metrics
from sandbox.emulator import DEFAULT_TOKEN, Emulator, EmulatorConfig, TokenGrant

ROOT = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((ROOT / "examples" / "config.yaml").read_text())
SEED: dict[str, Any] = {
    "properties": {
        "contacts": [
            {"name": "grade_number", "type": "number"},
            {"name": "enrolled_on", "type": "date"},
            {
                "name": "gender_choice",
                "type": "enumeration",
                "fieldType": "select",
                "options": [
                    {"label": "Female", "value": "Female"},
                    {"label": "Male", "value": "Male"},
                ],
            },
        ],
        "deals": [
            {
                "name": "rereg_flag",
                "type": "enumeration",
                "fieldType": "select",
                "options": [{"label": "Yes", "value": "yes"}, {"label": "No", "value": "no"}],
            },
            {"name": "global_code_number", "type": "number"},
        ],
    }
}


def settings_for(url: str, **over: Any) -> Settings:
    tree = copy.deepcopy(CONFIG)
    tree["hubspot"]["base_url"] = url
    for dotted, value in over.items():
        node = tree
        *parents, last = dotted.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return Settings.model_validate(tree)


async def report_of(settings: Settings, token: str = DEFAULT_TOKEN) -> Report:
    async with app.hubspot(settings, token, Metrics(CollectorRegistry())) as handle:
        report, _ = await app.portal_report(settings, handle.client, token)
        return report


async def prepare_with(emulator: Emulator, token: str) -> None:
    settings = settings_for(emulator.url)
    async with app.hubspot(settings, token, Metrics(CollectorRegistry())) as handle:
        await apply_own_properties(handle.client, await load_schema(handle.client))


async def prepare(emulator: Emulator) -> None:
    await prepare_with(emulator, DEFAULT_TOKEN)


@pytest.fixture
async def portal() -> AsyncIterator[Emulator]:
    """A portal with the daemon's own properties and a few typed custom ones."""
    async with Emulator(seed_document=SEED) as running:
        await prepare(running)
        yield running


def custom(*entries: tuple[str, list[str]]) -> list[dict[str, Any]]:
    base = [{"hubspot": "firstname", "classter": ["givenName", "middleName"]}]
    return base + [{"hubspot": h, "classter": c} for h, c in entries]


async def test_the_demo_configuration_passes_against_a_prepared_portal(portal: Emulator) -> None:
    report = await report_of(settings_for(portal.url))
    assert report.errors == []
    assert report.warnings == []
    assert "token: portal 46250011, app 3141592, all 8 required scopes granted" in report.info
    assert "contacts: classter_student_id exists with unique values" in report.info
    assert "deals: classter_deal_code exists with unique values" in report.info


async def test_a_token_hubspot_does_not_know_is_refused_and_flagged() -> None:
    async with Emulator() as emulator:
        report = await report_of(settings_for(emulator.url), token="pat-na1-wrong")
    assert report.token_refused
    assert report.errors == [
        "hubspot token (HUBSPOT_TOKEN or hubspot.token_file): HubSpot does not accept this "
        "token (401: invalid, expired or revoked)"
    ]


async def test_a_token_the_api_takes_but_token_info_does_not_describe_only_warns() -> None:
    config = EmulatorConfig(tokens=[TokenGrant("svc-key", introspectable=False)])
    async with Emulator(config) as emulator:
        await prepare_with(emulator, "svc-key")
        report = await report_of(settings_for(emulator.url), token="svc-key")
    assert report.errors == []
    assert not report.token_refused
    assert report.warnings == [
        "hubspot token (HUBSPOT_TOKEN or hubspot.token_file): HubSpot accepts the token but "
        "its token-info endpoint does not describe it (a service key?), so its scopes cannot "
        "be checked in advance; a missing scope will stop the daemon at its first refused call"
    ]


async def test_missing_scopes_are_named() -> None:
    granted = frozenset(s for s in REQUIRED_SCOPES if not s.startswith("crm.schemas.deals"))
    config = EmulatorConfig(tokens=[TokenGrant("pat-na1-narrow", granted)])
    async with Emulator(config) as emulator:
        report = await report_of(settings_for(emulator.url), token="pat-na1-narrow")
    assert not report.token_refused
    assert report.errors == [
        "hubspot token (HUBSPOT_TOKEN or hubspot.token_file): the private app lacks the "
        "scope(s) crm.schemas.deals.read, crm.schemas.deals.write; add them to the app "
        "(Settings > Integrations > Private Apps > Scopes)"
    ]


async def test_missing_own_properties_are_named_and_apply_creates_them_in_their_own_group() -> None:
    async with Emulator() as emulator:
        settings = settings_for(emulator.url)
        report = await report_of(settings)
        assert report.errors == [
            "hubspot contacts: the daemon's own properties are missing: classter_student_id, "
            "classter_student_status, classter_external_id (`classter-hubspot check --apply` "
            "creates them)",
            "hubspot deals: the daemon's own properties are missing: classter_deal_code, "
            "classter_program, classter_stream, classter_academic_period, classter_location, "
            "classter_registration_status, classter_start_date, classter_end_date "
            "(`classter-hubspot check --apply` creates them)",
        ]
        await prepare(emulator)
        assert (await report_of(settings)).errors == []
        catalog = emulator.state.catalog
        for object_type, defs in OWN_PROPERTIES.items():
            assert GROUP in catalog.groups[object_type]
            for definition in defs:
                prop = catalog.properties[object_type][definition["name"]]
                assert prop.group_name == GROUP
        assert catalog.properties["contacts"]["classter_student_id"].has_unique_value
        assert catalog.properties["deals"]["classter_deal_code"].has_unique_value


async def test_an_own_key_property_without_unique_values_is_an_error() -> None:
    seed = {"properties": {"contacts": [{"name": "classter_student_id", "type": "string"}]}}
    async with Emulator(seed_document=seed) as emulator:
        await prepare(emulator)  # creates the others; leaves the existing one as it is
        report = await report_of(settings_for(emulator.url))
    assert report.errors == [
        "hubspot contacts: property classter_student_id exists but does not require unique "
        "values (hasUniqueValue); delete it and run `classter-hubspot check --apply`"
    ]


async def test_a_mapped_property_that_does_not_exist_names_its_mapping_entry(
    portal: Emulator,
) -> None:
    settings = settings_for(
        portal.url,
        actions__UpdateContact__custom_mapping=custom(("favourite_colour", ["externalId"])),
    )
    report = await report_of(settings)
    assert report.errors == [
        "actions.UpdateContact.custom_mapping[1]: HubSpot contacts property 'favourite_colour' "
        "does not exist"
    ]


async def test_a_read_only_property_cannot_be_mapped(portal: Emulator) -> None:
    settings = settings_for(
        portal.url,
        actions__CreateDeal__custom_mapping=[{"hubspot": "hs_object_id", "classter": "id"}],
    )
    report = await report_of(settings)
    assert report.errors == [
        "actions.CreateDeal.custom_mapping[0]: HubSpot property 'hs_object_id' is read-only"
    ]


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (
            ("grade_number", ["givenName"]),
            "actions.CreateContact.custom_mapping[1]: HubSpot property 'grade_number' is of "
            "type number and cannot hold givenName (text values)",
        ),
        (
            ("enrolled_on", ["status"]),
            "actions.CreateContact.custom_mapping[1]: HubSpot property 'enrolled_on' is of type "
            "date and cannot hold status (lookup values)",
        ),
        (
            ("grade_number", ["givenName", "surname"]),
            "actions.CreateContact.custom_mapping[1]: HubSpot property 'grade_number' is of "
            "type number and cannot hold givenName + surname (several fields joined by spaces)",
        ),
        (
            ("gender_choice", ["givenName", "surname"]),
            "actions.CreateContact.custom_mapping[1]: HubSpot property 'gender_choice' is an "
            "enumeration (options: Female, Male) and cannot hold givenName + surname (several "
            "fields joined by spaces)",
        ),
        (
            ("lastname", ["customFields"]),
            "actions.CreateContact.custom_mapping[1]: customFields is an object in the event "
            "contract and writes nothing; map a field inside it instead",
        ),
    ],
)
async def test_a_property_whose_type_cannot_hold_the_mapped_value_is_an_error(
    portal: Emulator, entry: tuple[str, list[str]], problem: str
) -> None:
    settings = settings_for(portal.url, actions__CreateContact__custom_mapping=custom(entry))
    report = await report_of(settings)
    assert report.errors == [problem]


async def test_a_list_of_the_contract_cannot_be_mapped(portal: Emulator) -> None:
    settings = settings_for(
        portal.url,
        actions__UpdateDeal__custom_mapping=[{"hubspot": "description", "classter": "semesters"}],
    )
    report = await report_of(settings)
    assert report.errors == [
        "actions.UpdateDeal.custom_mapping[0]: semesters is a list in the event contract and "
        "writes nothing; map a field inside it instead"
    ]


async def test_a_model_mapping_property_of_the_wrong_type_is_an_error() -> None:
    # a portal whose own classter_start_date was made by hand as a number
    seed = {"properties": {"deals": [{"name": "classter_start_date", "type": "number"}]}}
    async with Emulator(seed_document=seed) as emulator:
        await prepare(emulator)
        report = await report_of(settings_for(emulator.url))
    assert report.errors == [
        "actions.CreateDeal.model_mapping: HubSpot property 'classter_start_date' is of type "
        "number and cannot hold startDate (date values)",
        "actions.UpdateDeal.model_mapping: HubSpot property 'classter_start_date' is of type "
        "number and cannot hold startDate (date values)",
    ]


async def test_a_yes_no_field_needs_true_and_false_options_in_an_enumeration(
    portal: Emulator,
) -> None:
    settings = settings_for(
        portal.url,
        actions__CreateDeal__custom_mapping=[
            {"hubspot": "rereg_flag", "classter": "fromReRegistration"}
        ],
    )
    report = await report_of(settings)
    assert report.errors == [
        "actions.CreateDeal.custom_mapping[0]: enumeration 'rereg_flag' lacks the option(s) "
        "false, true for the yes/no field fromReRegistration (options: no, yes)"
    ]


async def test_values_that_must_match_enumeration_options_or_free_form_fields_only_warn(
    portal: Emulator,
) -> None:
    settings = settings_for(
        portal.url,
        actions__CreateContact__custom_mapping=custom(
            ("gender_choice", ["gender"]),
            ("grade_number", ["customFields.grade"]),
            ("jobtitle", ["nickName"]),
        ),
        actions__CreateDeal__custom_mapping=[
            {"hubspot": "global_code_number", "classter": "globalCode"}
        ],
    )
    report = await report_of(settings)
    assert report.errors == []
    assert report.warnings == [
        "actions.CreateContact.custom_mapping[1]: 'gender_choice' is an enumeration; each value "
        "of gender must equal one of its option values (Female, Male), else the event is "
        "dead-lettered (invalid_option)",
        "actions.CreateContact.custom_mapping[2]: 'grade_number' is a number property and "
        "customFields.grade is free-form; an event whose value is not a number is dead-lettered",
        "actions.CreateContact.custom_mapping[3]: 'nickName' is not a field of the event "
        "contract; it writes nothing to 'jobtitle' unless Classter sends it",
    ]


async def test_a_pipeline_that_does_not_exist_and_one_given_by_its_label(
    portal: Emulator,
) -> None:
    pipeline = {
        "actions__CreateDeal__pipeline": "Sales Pipeline",
        "actions__UpdateDeal__pipeline": "Sales Pipeline",
        "actions__ChangeDealStatus__pipeline": "Sales Pipeline",
    }
    report = await report_of(settings_for(portal.url, **pipeline))
    assert report.errors == [
        "actions.CreateDeal.pipeline: deal pipeline 'Sales Pipeline' does not exist; it is a "
        "pipeline label, its id is 'default' (pipelines: default (Sales Pipeline))"
    ]
    pipeline = {k: "admissions" for k in pipeline}
    report = await report_of(settings_for(portal.url, **pipeline))
    assert report.errors == [
        "actions.CreateDeal.pipeline: deal pipeline 'admissions' does not exist "
        "(pipelines: default (Sales Pipeline))"
    ]


async def test_a_stage_given_by_its_label_is_reported_with_its_id(portal: Emulator) -> None:
    stages = {"Registered": "Closed Won", "Withdrawn": "closedlost", 3: "nosuchstage"}
    report = await report_of(settings_for(portal.url, actions__ChangeDealStatus__stages=stages))
    ids = (
        "appointmentscheduled, qualifiedtobuy, presentationscheduled, decisionmakerboughtin, "
        "contractsent, closedwon, closedlost"
    )
    assert report.errors == [
        "actions.ChangeDealStatus.stages.Registered: stage 'Closed Won' is not a stage id of "
        f"pipeline 'default'; it is a stage label, its id is 'closedwon' (stage ids: {ids})",
        "actions.ChangeDealStatus.stages.3: stage 'nosuchstage' is not a stage id of pipeline "
        f"'default' (stage ids: {ids})",
    ]


async def test_create_deal_without_create_contact_is_in_the_same_report(
    portal: Emulator,
) -> None:
    report = await report_of(settings_for(portal.url, actions__CreateContact=None))
    assert report.errors == [
        "actions.CreateDeal: needs actions.CreateContact (a deal needs its contact)"
    ]


async def test_a_contact_mapping_without_email_is_in_the_same_report(portal: Emulator) -> None:
    no_email = {
        "model_mapping": False,
        "custom_mapping": [{"hubspot": "firstname", "classter": "givenName"}],
    }
    report = await report_of(settings_for(portal.url, actions__UpdateContact=no_email))
    assert report.errors == [
        "actions.UpdateContact: the mapping has no 'email' (model_mapping is off and no "
        "custom_mapping entry writes email)"
    ]
