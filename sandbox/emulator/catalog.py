"""The portal's schema: property definitions, property groups and deal pipelines.

Owns: the definitions per object type (HubSpot-defined ones from ``defaults`` plus those created
through the API or the seed), validation of a property or group definition on create, the
unique-property set per object type, and pipelines with their stages. Must not: hold records
or validate record values (``values`` and ``store`` do).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.emulator import defaults
from sandbox.emulator.errors import ApiError, bad_request, error_body, not_found

MAX_UNIQUE = 10
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
FIELD_TYPES: dict[str, set[str]] = {
    "string": {"text", "textarea", "html", "phonenumber", "file", "calculation_equation"},
    "number": {"number", "calculation_equation"},
    "bool": {"booleancheckbox", "calculation_equation"},
    "enumeration": {"select", "radio", "checkbox", "booleancheckbox", "calculation_equation"},
    "date": {"date"},
    "datetime": {"date"},
    "phone_number": {"phonenumber", "text"},
}
BOOL_OPTIONS = [
    {"label": "Yes", "value": "true", "displayOrder": 0, "hidden": False},
    {"label": "No", "value": "false", "displayOrder": 1, "hidden": False},
]


@dataclass(slots=True)
class PropertyDef:
    """One property definition, as ``GET /crm/v3/properties/{type}`` shows it."""

    name: str
    label: str
    type: str
    field_type: str
    group_name: str
    created_at: str
    hubspot_defined: bool = False
    has_unique_value: bool = False
    read_only_value: bool = False
    options: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # description, formField, hidden, ...

    def to_json(self, options: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {
            "updatedAt": self.created_at,
            "createdAt": self.created_at,
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "description": self.extra.get("description", ""),
            "groupName": self.group_name,
            "options": self.options if options is None else options,
            "displayOrder": self.extra.get("displayOrder", -1),
            "calculated": False,
            "externalOptions": False,
            "hasUniqueValue": self.has_unique_value,
            "hidden": bool(self.extra.get("hidden", False)),
            "hubspotDefined": self.hubspot_defined,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only_value,
            },
            "formField": bool(self.extra.get("formField", True)),
            "dataSensitivity": self.extra.get("dataSensitivity", "non_sensitive"),
        }

    @property
    def option_values(self) -> set[str]:
        return {str(o.get("value")) for o in self.options}


def object_type(name: str) -> str:
    """``contacts``/``deals`` from a path segment (``0-1`` and ``0-3`` too); 400 otherwise."""
    resolved = defaults.OBJECT_TYPES.get(name)
    if resolved is None:
        raise bad_request(f"Unable to infer object type from: {name}")
    return resolved


class Catalog:
    """Property definitions, groups and pipelines of the emulated portal."""

    def __init__(self, now: Callable[[], str]) -> None:
        self._now = now
        self.properties: dict[str, dict[str, PropertyDef]] = {}
        self.groups: dict[str, dict[str, dict[str, Any]]] = {}
        self.pipelines: dict[str, dict[str, Any]] = {}
        self.reset_all()

    def reset_all(self) -> None:
        """Back to a fresh portal: HubSpot-defined properties and groups, the default pipeline."""
        self.properties = {t: {} for t in defaults.PROPERTIES}
        for otype, defs in defaults.PROPERTIES.items():
            for d in defs:
                self.properties[otype][d["name"]] = PropertyDef(
                    d["name"],
                    d["label"],
                    d["type"],
                    d["fieldType"],
                    defaults.GROUPS[otype][0]["name"],
                    self._now(),
                    hubspot_defined=True,
                    read_only_value=d["readOnlyValue"],
                    options=list(d["options"]),
                )
        self.groups = {
            t: {g["name"]: {**g, "archived": False} for g in gs}
            for t, gs in defaults.GROUPS.items()
        }
        self.pipelines = {"default": defaults.default_pipeline(self._now())}

    def custom_properties(self, otype: str) -> list[PropertyDef]:
        return [p for p in self.properties[otype].values() if not p.hubspot_defined]

    def unique_names(self, otype: str) -> set[str]:
        names = {p.name for p in self.properties[otype].values() if p.has_unique_value}
        if otype == "contacts":
            names.add("email")
        return names

    # -- options that follow the pipelines -----------------------------------------------------
    def options_of(self, otype: str, prop: PropertyDef) -> list[dict[str, Any]]:
        if otype == "deals" and prop.name == "pipeline":
            return [
                {
                    "label": p["label"],
                    "value": p["id"],
                    "displayOrder": p["displayOrder"],
                    "hidden": False,
                }
                for p in self.pipelines.values()
            ]
        if otype == "deals" and prop.name == "dealstage":
            return [
                {
                    "label": s["label"],
                    "value": s["id"],
                    "displayOrder": s["displayOrder"],
                    "hidden": False,
                    "description": f"pipeline {p['id']}",
                }
                for p in self.pipelines.values()
                for s in p["stages"]
            ]
        return prop.options

    def property_json(self, otype: str, name: str) -> dict[str, Any]:
        prop = self.properties[otype].get(name)
        if prop is None:
            raise not_found(
                f"Unable to find property with name '{name}' for object type "
                f"{defaults.TYPE_IDS[otype]}"
            )
        return prop.to_json(self.options_of(otype, prop))

    def all_json(self, otype: str) -> list[dict[str, Any]]:
        return [p.to_json(self.options_of(otype, p)) for p in self.properties[otype].values()]

    def stage_ids(self, pipeline_id: str) -> list[str]:
        pipeline = self.pipelines.get(pipeline_id)
        return [s["id"] for s in pipeline["stages"]] if pipeline else []

    # -- creation ------------------------------------------------------------------------------
    def create_group(self, otype: str, body: Any) -> dict[str, Any]:
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("name"), str)
            or not isinstance(body.get("label"), str)
        ):
            raise bad_request("A property group needs a string name and label")
        name = body["name"]
        if not _NAME.match(name):
            raise bad_request(
                f"Property group name '{name}' is not valid: use lowercase "
                "letters, digits and underscores, starting with a letter"
            )
        if name in self.groups[otype]:
            raise ApiError(
                409,
                error_body(
                    "OBJECT_ALREADY_EXISTS", f"Property group named '{name}' already exists."
                ),
            )
        group = {
            "name": name,
            "label": body["label"],
            "displayOrder": int(body.get("displayOrder", -1)),
            "archived": False,
        }
        self.groups[otype][name] = group
        return group

    def create_property(self, otype: str, body: Any) -> PropertyDef:
        """Validate a ``PropertyCreate`` body and add it; 400 on a bad definition, 409 when the
        name is taken."""
        if not isinstance(body, dict):
            raise bad_request("Invalid input JSON: expected an object")
        missing = [
            k
            for k in ("name", "label", "type", "fieldType", "groupName")
            if not isinstance(body.get(k), str) or not body.get(k)
        ]
        if missing:
            raise bad_request(f"Missing required fields: {', '.join(missing)}")
        name, kind, field_type = body["name"], body["type"], body["fieldType"]
        if not _NAME.match(name) or name.startswith("hs_"):
            raise bad_request(
                f"Property name '{name}' is not valid: use lowercase letters, "
                "digits and underscores, starting with a letter (not hs_)"
            )
        if name in self.properties[otype]:
            raise ApiError(
                409, error_body("OBJECT_ALREADY_EXISTS", f"Property named '{name}' already exists.")
            )
        if kind not in FIELD_TYPES:
            raise bad_request(f"Invalid property type '{kind}'")
        if field_type not in FIELD_TYPES[kind]:
            raise bad_request(f"fieldType '{field_type}' is not valid for type '{kind}'")
        if body["groupName"] not in self.groups[otype]:
            raise bad_request(f"Property group '{body['groupName']}' does not exist")
        options = self._options(kind, body.get("options"))
        unique = bool(body.get("hasUniqueValue", False))
        if (
            unique
            and sum(p.has_unique_value for p in self.properties[otype].values()) >= MAX_UNIQUE
        ):
            raise bad_request(f"An object can have at most {MAX_UNIQUE} unique properties")
        extra = {
            k: body[k]
            for k in ("description", "formField", "hidden", "displayOrder", "dataSensitivity")
            if k in body
        }
        prop = PropertyDef(
            name,
            body["label"],
            kind,
            field_type,
            body["groupName"],
            self._now(),
            has_unique_value=unique,
            options=options,
            extra=extra,
        )
        self.properties[otype][name] = prop
        return prop

    @staticmethod
    def _options(kind: str, raw: Any) -> list[dict[str, Any]]:
        if kind == "bool":
            return [dict(o) for o in BOOL_OPTIONS]
        if kind != "enumeration":
            return []
        if not isinstance(raw, list) or not raw:
            raise bad_request("Enumeration properties need at least one option")
        options = []
        for n, opt in enumerate(raw):
            if (
                not isinstance(opt, dict)
                or not isinstance(opt.get("value"), str)
                or not isinstance(opt.get("label"), str)
            ):
                raise bad_request("Each option needs a string label and value")
            options.append(
                {
                    "label": opt["label"],
                    "value": opt["value"],
                    "displayOrder": int(opt.get("displayOrder", n)),
                    "hidden": bool(opt.get("hidden", False)),
                }
            )
        return options

    def add_pipeline(self, body: Any, next_id: str) -> dict[str, Any]:
        """A deal pipeline from the seed: ``{"id"?, "label", "stages": [{"id"?, "label"}]}``;
        stages without an id get numeric-string ids like HubSpot's custom stages."""
        if not isinstance(body, dict) or not isinstance(body.get("stages"), list):
            raise bad_request("A pipeline needs a label and a list of stages")
        pid = str(body.get("id") or next_id)
        now = self._now()
        stages = []
        for n, stage in enumerate(body["stages"]):
            if not isinstance(stage, dict) or not isinstance(stage.get("label"), str):
                raise bad_request("Each stage needs a label")
            stages.append(
                {
                    "id": str(stage.get("id") or f"{pid}{n + 1:03d}"),
                    "label": stage["label"],
                    "displayOrder": int(stage.get("displayOrder", n)),
                    "archived": False,
                    "metadata": stage.get("metadata")
                    or {"isClosed": "false", "probability": "0.5"},
                    "writePermissions": "CRUD_ALL",
                    "createdAt": now,
                    "updatedAt": now,
                }
            )
        pipeline = {
            "id": pid,
            "label": str(body.get("label", pid)),
            "displayOrder": int(body.get("displayOrder", len(self.pipelines))),
            "archived": False,
            "createdAt": now,
            "updatedAt": now,
            "stages": stages,
        }
        self.pipelines[pid] = pipeline
        return pipeline
