"""The portal's schema as the daemon needs it: properties, pipelines, the daemon's own properties.

Owns: the definitions of the custom properties the daemon writes (``OWN_PROPERTIES``, created by
``check --apply`` in a property group of their own), loading property specs and pipelines from
the portal, and creating the missing own properties. The checks that compare the configuration
with this schema live in ``hubspot.checks``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from consumer.hubspot.client import HubSpotClient
from consumer.mapping import DEAL_CODE_PROPERTY, STUDENT_ID_PROPERTY, PropertySpec

GROUP = "classter"


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
    stage_labels: dict[str, dict[str, str]] = field(default_factory=dict)  # label -> id
    pipeline_labels: dict[str, str] = field(default_factory=dict)  # id -> label

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
        schema.pipeline_labels[pid] = str(pipeline.get("label") or pid)
    return schema


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
