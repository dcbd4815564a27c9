"""Model Mapping and Custom Mapping (SPEC section 4): Classter fields -> HubSpot properties.

Owns: the built-in model tables for contacts and deals, resolution of custom-mapping paths, and
coercion of values to a HubSpot property's type. Pure: the property schema is an argument
(``PropertySpec`` values fetched by the HubSpot layer), nothing here does I/O. An absent or null
source writes nothing; a value HubSpot cannot hold raises ``EventRejectedError``.
"""

from __future__ import annotations

import datetime as dt
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from consumer.config import ContactAction, DealAction
from consumer.errors import EventRejectedError

MAX_STRING = 65_536
STUDENT_ID_PROPERTY = "classter_student_id"
DEAL_CODE_PROPERTY = "classter_deal_code"


@dataclass(frozen=True, slots=True)
class PropertySpec:
    """What the mapping needs to know of one HubSpot property."""

    name: str
    type: str  # string, number, bool, enumeration, date, datetime, phone_number
    field_type: str = "text"
    options: frozenset[str] = frozenset()
    read_only: bool = False


Schema = Mapping[str, PropertySpec]
Source = Mapping[str, Any]
Getter = Callable[[Source], object]


def lookup(source: Source, path: str) -> object:
    """A dotted path into the event JSON; an object with a ``description`` gives that."""
    node: object = source
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    if isinstance(node, Mapping):
        return node.get("description")
    return node


def _text(value: object) -> str | None:
    if value is None or isinstance(value, Mapping | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    return text or None


def joined(*paths: str, sep: str = " ") -> Getter:
    """Several fields joined by ``sep``, empty parts dropped; None when all are empty."""

    def get(source: Source) -> object:
        parts = [t for t in (_text(lookup(source, p)) for p in paths) if t]
        return sep.join(parts) if parts else None

    return get


def _email(source: Source) -> object:
    value = source.get("email")
    if not isinstance(value, str):
        return None
    return value.strip().lower() or None


def _dealname(source: Source) -> object:
    name = joined("student.givenName", "student.surname")(source)
    parts = [
        p
        for p in (name, _text(lookup(source, "program")), _text(lookup(source, "academicPeriod")))
        if p
    ]
    return " - ".join(str(p) for p in parts) if parts else None


# The Classter fields behind each model entry (relative to the student for contacts, to the
# registration for deals); the portal check reads their kinds, the getters are built from them.
CONTACT_SOURCES: dict[str, tuple[str, ...]] = {
    "email": ("email",),
    "firstname": ("givenName",),
    "lastname": ("surname",),
    "mobilephone": ("mobilePhone",),
    "date_of_birth": ("dateOfBirth",),
    "gender": ("gender",),
    "classter_student_status": ("status",),
    "classter_external_id": ("externalId",),
}
DEAL_SOURCES: dict[str, tuple[str, ...]] = {
    "dealname": ("student.givenName", "student.surname", "program", "academicPeriod"),
    "classter_program": ("program",),
    "classter_stream": ("stream",),
    "classter_academic_period": ("academicPeriod",),
    "classter_location": ("location",),
    "classter_registration_status": ("registrationStatus",),
    "classter_start_date": ("startDate",),
    "classter_end_date": ("endDate",),
}
_SPECIAL: dict[str, Getter] = {"email": _email, "dealname": _dealname}

CONTACT_MODEL: dict[str, Getter] = {
    p: _SPECIAL.get(p) or joined(*paths) for p, paths in CONTACT_SOURCES.items()
}
DEAL_MODEL: dict[str, Getter] = {
    p: _SPECIAL.get(p) or joined(*paths) for p, paths in DEAL_SOURCES.items()
}


def sources(
    model_sources: Mapping[str, tuple[str, ...]], action: ContactAction | DealAction
) -> dict[str, tuple[str, ...]]:
    """The Classter paths behind each property of an action's effective mapping (cf. ``table``)."""
    out = dict(model_sources) if action.model_mapping else {}
    for entry in action.custom_mapping:
        out[entry.hubspot] = tuple(entry.classter)
    return out


def _normalised(getter: Getter) -> Getter:
    def get(source: Source) -> object:
        value = getter(source)
        return str(value).strip().lower() if value else None

    return get


def table(model: Mapping[str, Getter], action: ContactAction | DealAction) -> dict[str, Getter]:
    """The effective mapping of one action: model entries (if on), overridden by custom ones."""
    out = dict(model) if action.model_mapping else {}
    for entry in action.custom_mapping:
        if entry.hubspot == "email":
            # e-mail identity is always normalised, whatever fields feed it
            out["email"] = _normalised(joined(*entry.classter))
        else:
            out[entry.hubspot] = joined(*entry.classter)
    return out


def _unwrap(annotation: Any) -> tuple[Any, ...]:
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return tuple(a for a in args if a is not type(None))
    return (annotation,)


def source_kind(root: type[BaseModel], path: str) -> str:
    """What a dotted path of the event contract holds, for the portal check of property types.

    ``text``, ``number``, ``date``, ``bool``, ``lookup`` (a Classter list value: its
    description), ``list`` or ``object`` (nothing to write), ``open`` (inside a free-form object
    such as ``customFields``: unknown until events arrive) or ``unknown`` (not in the contract).
    """
    node: Any = root
    parts = path.split(".")
    for n, part in enumerate(parts):
        fields = getattr(node, "model_fields", None)
        if fields is None or part not in fields:
            return "unknown"
        (kind, *_) = _unwrap(fields[part].annotation)
        last = n == len(parts) - 1
        origin = typing.get_origin(kind) or kind
        if origin is dict:
            return "object" if last else "open"
        if origin is list:
            return "list"
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            if last:
                return "lookup" if "description" in kind.model_fields else "object"
            node = kind
            continue
        if not last:
            return "unknown"
        if kind is bool:
            return "bool"
        if kind is int:
            return "number"
        if kind is dt.date:
            return "date"
        return "text"
    return "unknown"


# [0-9], not \d (which takes any script's digits), and \Z, not $ (which allows a final newline)
_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?\Z")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def coerce(spec: PropertySpec, value: object) -> str:
    """Render ``value`` as the string HubSpot accepts for ``spec``; raise on what it cannot hold."""
    text = value if isinstance(value, str) else _text(value) or ""
    kind = spec.type
    if kind == "number":
        if isinstance(value, bool) or not _NUMBER.match(text.replace(",", "").replace(" ", "")):
            raise EventRejectedError("invalid_number", f"{spec.name}: not a number")
        return text.replace(",", "").replace(" ", "")
    if kind in ("date", "datetime"):
        if isinstance(value, dt.date):
            text = value.isoformat()
        if not _DATE.match(text):
            raise EventRejectedError("invalid_date", f"{spec.name}: not a YYYY-MM-DD date")
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            raise EventRejectedError("invalid_date", f"{spec.name}: not a calendar date") from None
        # a date is never shifted by time zone; a datetime gets midnight UTC of that date
        return text if kind == "date" else f"{text}T00:00:00.000Z"
    if kind == "bool":
        lowered = text.lower()
        if lowered in ("true", "yes", "1"):
            return "true"
        if lowered in ("false", "no", "0"):
            return "false"
        raise EventRejectedError("invalid_option", f"{spec.name}: not a boolean")
    if kind == "enumeration":
        values = [v.strip() for v in text.split(";")] if spec.field_type == "checkbox" else [text]
        bad = [v for v in values if v not in spec.options]
        if bad:
            raise EventRejectedError(
                "invalid_option", f"{spec.name}: value is not one of the property's options"
            )
        return ";".join(values)
    return text[:MAX_STRING]


def map_properties(mapping: Mapping[str, Getter], source: Source, schema: Schema) -> dict[str, str]:
    """Apply a mapping table to one source object; the result holds only present values."""
    out: dict[str, str] = {}
    for prop, get in mapping.items():
        value = get(source)
        if value is None or value == "":
            continue
        spec = schema.get(prop)
        if spec is None:
            raise EventRejectedError(
                "property_doesnt_exist", f"HubSpot property {prop!r} does not exist"
            )
        out[prop] = coerce(spec, value)
    return out
