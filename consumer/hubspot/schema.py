"""The portal's schema as the daemon needs it: properties, pipelines, the daemon's own properties.

Owns: the definitions of the custom properties the daemon writes (``OWN_PROPERTIES``, created by
``check --apply``), loading property specs and pipelines from the portal, and the portal checks
that ``run`` and ``check`` share (SPEC section 3: scopes, own properties, mapped properties and
their types, pipeline and stage ids). Each problem is one readable line naming the config key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from consumer.config import ContactAction, DealAction, Settings
from consumer.errors import HubSpotAuthError
from consumer.hubspot.client import HubSpotClient
from consumer.mapping import (
    CONTACT_MODEL,
    DEAL_CODE_PROPERTY,
    DEAL_MODEL,
    STUDENT_ID_PROPERTY,
    PropertySpec,
    table,
)

GROUP = "classter"
REQUIRED_SCOPES = (
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.schemas.contacts.read",
    "crm.schemas.contacts.write",
    "crm.schemas.deals.read",
    "crm.schemas.deals.write",
)


def _prop(name: str, label: str, kind: str = "string", *, unique: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": kind,
        "fieldType": "date" if kind == "date" else "text",
        "groupName": GROUP,
        "hasUniqueValue": unique,
        "formField": False,
        "description": "Written by classter-hubspot; do not edit by hand.",
    }


OWN_PROPERTIES: dict[str, list[dict[str, Any]]] = {
    "contacts": [
        _prop(STUDENT_ID_PROPERTY, "Classter student id", unique=True),
        _prop("classter_student_status", "Classter student status"),
        _prop("classter_external_id", "Classter external id"),
    ],
    "deals": [
        _prop(DEAL_CODE_PROPERTY, "Classter deal code", unique=True),
        _prop("classter_program", "Classter program"),
        _prop("classter_stream", "Classter stream"),
        _prop("classter_academic_period", "Classter academic period"),
        _prop("classter_location", "Classter location"),
        _prop("classter_registration_status", "Classter registration status"),
        _prop("classter_start_date", "Classter program start date", "date"),
        _prop("classter_end_date", "Classter program end date", "date"),
    ],
}
UNIQUE_PROPERTIES = {"contacts": STUDENT_ID_PROPERTY, "deals": DEAL_CODE_PROPERTY}


def spec_from(definition: dict[str, Any]) -> PropertySpec:
    meta = definition.get("modificationMetadata") or {}
    return PropertySpec(
        name=str(definition["name"]),
        type=str(definition.get("type", "string")),
        field_type=str(definition.get("fieldType", "text")),
        options=frozenset(
            str(o.get("value")) for o in definition.get("options") or [] if isinstance(o, dict)
        ),
        read_only=bool(meta.get("readOnlyValue", False)),
    )


@dataclass
class PortalSchema:
    """Property specs per object type, unique flags, and deal pipelines' stage ids in order."""

    properties: dict[str, dict[str, PropertySpec]] = field(default_factory=dict)
    unique: dict[str, set[str]] = field(default_factory=dict)
    pipelines: dict[str, list[str]] = field(default_factory=dict)
    stage_labels: dict[str, dict[str, str]] = field(default_factory=dict)

    def first_stage(self, pipeline: str) -> str | None:
        stages = self.pipelines.get(pipeline) or []
        return stages[0] if stages else None


async def load_schema(client: HubSpotClient) -> PortalSchema:
    schema = PortalSchema()
    for object_type in ("contacts", "deals"):
        defs = await client.get_properties(object_type)
        schema.properties[object_type] = {str(d["name"]): spec_from(d) for d in defs}
        schema.unique[object_type] = {str(d["name"]) for d in defs if d.get("hasUniqueValue")}
    for pipeline in await client.get_pipelines("deals"):
        stages = sorted(pipeline.get("stages") or [], key=lambda s: s.get("displayOrder", 0))
        pid = str(pipeline["id"])
        schema.pipelines[pid] = [str(s["id"]) for s in stages if not s.get("archived")]
        schema.stage_labels[pid] = {str(s.get("label")): str(s["id"]) for s in stages}
    return schema


@dataclass
class Report:
    """The outcome of the portal checks: errors block ``run``, warnings do not."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    info: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


async def check_token(client: HubSpotClient, token: str, report: Report) -> None:
    try:
        info = await client.token_info(token)
    except HubSpotAuthError:
        report.errors.append(
            "hubspot token: HubSpot does not accept it (401); check "
            "HUBSPOT_TOKEN or hubspot.token_file"
        )
        return
    scopes = set(info.get("scopes") or [])
    missing = [s for s in REQUIRED_SCOPES if s not in scopes]
    if missing:
        report.errors.append(f"hubspot token: missing scopes {', '.join(missing)}")
    else:
        report.info.append(
            f"token: portal {info.get('hubId')}, all {len(REQUIRED_SCOPES)} required scopes present"
        )


def check_schema(settings: Settings, schema: PortalSchema, report: Report) -> None:
    """Compare the configuration with the portal; append one line per problem."""
    for object_type, defs in OWN_PROPERTIES.items():
        have = schema.properties.get(object_type, {})
        missing = [d["name"] for d in defs if d["name"] not in have]
        if missing:
            report.errors.append(
                f"hubspot {object_type}: the daemon's own properties are missing: "
                f"{', '.join(missing)} (run `classter-hubspot check --apply`)"
            )
        key = UNIQUE_PROPERTIES[object_type]
        if key in have and key not in schema.unique.get(object_type, set()):
            report.errors.append(
                f"hubspot {object_type}: property {key} exists but is not "
                "unique (hasUniqueValue); it must be recreated"
            )
    acts = settings.actions
    contact_actions: list[tuple[str, ContactAction | None]] = [
        ("CreateContact", acts.CreateContact),
        ("UpdateContact", acts.UpdateContact),
    ]
    deal_actions: list[tuple[str, DealAction | None]] = [
        ("CreateDeal", acts.CreateDeal),
        ("UpdateDeal", acts.UpdateDeal),
    ]
    for name, action in contact_actions:
        if action is not None:
            _check_mapping(
                f"actions.{name}",
                table(CONTACT_MODEL, action),
                schema.properties.get("contacts", {}),
                action,
                report,
            )
    for name, deal_action in deal_actions:
        if deal_action is not None:
            _check_mapping(
                f"actions.{name}",
                table(DEAL_MODEL, deal_action),
                schema.properties.get("deals", {}),
                deal_action,
                report,
            )
    pipeline = settings.deal_pipeline
    if pipeline is not None and pipeline not in schema.pipelines:
        report.errors.append(
            f"actions.CreateDeal.pipeline: pipeline {pipeline!r} does not exist "
            f"(known: {', '.join(sorted(schema.pipelines))})"
        )
    elif pipeline is not None and acts.ChangeDealStatus is not None:
        stage_ids = schema.pipelines[pipeline]
        labels = schema.stage_labels.get(pipeline, {})
        for status, stage in acts.ChangeDealStatus.stages.items():
            if stage in stage_ids:
                continue
            hint = f"; it is a label, use the id {labels[stage]!r}" if stage in labels else ""
            report.errors.append(
                f"actions.ChangeDealStatus.stages.{status}: stage {stage!r} is "
                f"not in pipeline {pipeline!r}{hint}"
            )


def _check_mapping(
    key: str,
    mapping: dict[str, Any],
    props: dict[str, PropertySpec],
    action: ContactAction | DealAction,
    report: Report,
) -> None:
    custom = {e.hubspot for e in action.custom_mapping}
    for prop in mapping:
        spec = props.get(prop)
        where = f"{key}.custom_mapping" if prop in custom else f"{key}.model_mapping"
        if spec is None:
            if prop.startswith("classter_") and prop not in custom:
                continue  # reported once as a missing own property
            report.errors.append(f"{where}: HubSpot property {prop!r} does not exist")
        elif spec.read_only:
            report.errors.append(f"{where}: HubSpot property {prop!r} is read-only")
        elif prop in custom and spec.type in ("number", "bool"):
            report.warnings.append(
                f"{where}: {prop!r} is a {spec.type} property; values that "
                "are not one will dead-letter their events"
            )


async def apply_own_properties(client: HubSpotClient, schema: PortalSchema) -> list[str]:
    """Create the daemon's missing custom properties in their own group; returns what it created."""
    created = []
    for object_type, defs in OWN_PROPERTIES.items():
        have = schema.properties.get(object_type, {})
        todo = [d for d in defs if d["name"] not in have]
        if not todo:
            continue
        await client.create_property_group(
            object_type, {"name": GROUP, "label": "Classter", "displayOrder": -1}
        )
        for definition in todo:
            await client.create_property(object_type, definition)
            created.append(f"{object_type}.{definition['name']}")
    return created
