"""Checks of one write's property values against the portal's schema.

Owns: turning a request's ``properties`` object into strings (a value that is not a string,
number, boolean or null fails the whole request), and the record-level rules: the property must
exist and not be read-only, its value must suit its type (``values``), and deals get the default
pipeline on create, need ``dealname`` and ``dealstage`` on create, and keep ``dealstage`` within
their pipeline. Every problem is collected into one 400 ``VALIDATION_ERROR``. Pure: no state.
Must not: check uniqueness or associations (``store`` does, it knows the records).
"""

from __future__ import annotations

from typing import Any

from sandbox.emulator import values
from sandbox.emulator.catalog import Catalog
from sandbox.emulator.errors import PropError, bad_request, invalid_values


def as_property_values(raw: Any) -> dict[str, str]:
    """The ``properties`` object of a request as strings; anything else fails the request.

    Numbers and booleans are accepted and rendered as HubSpot's deserializer does; null clears.
    """
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise bad_request("Invalid input JSON: properties must be an object of strings")
    out: dict[str, str] = {}
    for name, value in raw.items():
        if value is None:
            out[name] = ""
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, int | float | str):
            out[name] = str(value)
        else:
            raise bad_request(
                f"Invalid input JSON: the value of property {name} must be a "
                "string, a number or a boolean"
            )
    return out


def checked_changes(
    catalog: Catalog, otype: str, given: dict[str, str], current: dict[str, str] | None
) -> dict[str, str]:
    """The changes a write makes, in stored form; raises ``ItemError`` (400) listing every
    invalid property. ``current`` is the record's properties (None on create)."""
    defs = catalog.properties[otype]
    problems: list[PropError] = []
    changes: dict[str, str] = {}
    for name, value in given.items():
        prop = defs.get(name)
        if prop is None:
            problems.append(
                PropError(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
            )
            continue
        if value == "" and not prop.read_only_value:
            changes[name] = ""
            continue
        if otype == "deals" and name == "dealstage":
            changes[name] = value  # checked against its pipeline below
            continue
        options = {str(o["value"]) for o in catalog.options_of(otype, prop)}
        existing = current.get(name) if current else None
        stored, problem = values.check(
            prop,
            value,
            options=options,
            existing=existing,
            is_email=otype == "contacts" and name == "email",
        )
        if problem:
            problems.append(problem)
        else:
            changes[name] = stored
    if otype == "deals":
        problems.extend(_deal_rules(catalog, changes, current, problems))
    if problems:
        raise invalid_values(problems)
    return changes


def _deal_rules(
    catalog: Catalog,
    changes: dict[str, str],
    current: dict[str, str] | None,
    problems: list[PropError],
) -> list[PropError]:
    """Deals: pipeline defaults to ``default`` on create; ``dealname`` and ``dealstage``
    are required on create; ``dealstage`` must be a stage of the deal's pipeline."""
    out: list[PropError] = []
    creating = current is None
    current = current or {}
    if creating and not changes.get("pipeline"):
        changes["pipeline"] = "default"
    if creating:
        out.extend(
            PropError(n, "REQUIRED_PROPERTY", f"{n} is required")
            for n in ("dealname", "dealstage")
            if not changes.get(n) and all(p.name != n for p in problems)
        )
    if any(p.name == "pipeline" for p in problems):
        return out
    pipeline = changes.get("pipeline") or current.get("pipeline") or "default"
    stage = changes.get("dealstage", current.get("dealstage", ""))
    if ("dealstage" in changes or "pipeline" in changes) and stage:
        stages = catalog.stage_ids(pipeline)
        if stage not in stages:
            out.append(
                PropError(
                    "dealstage",
                    "INVALID_OPTION",
                    f"{stage} was not one of the allowed options: [{', '.join(stages)}]",
                )
            )
    return out
