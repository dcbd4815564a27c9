"""Property value validation: is this string a valid value for this property, and how is it stored?

Owns: the per-type rules of reference section 5 (strings up to 65,536 characters, numbers as
digits with at most one point, booleans ``true``/``false``, enumerations by option value with
``;``-separated checkboxes, dates as ``YYYY-MM-DD`` or epoch ms at midnight UTC, datetimes as
ISO-8601 or epoch ms, e-mail syntax) and the stored form HubSpot reads back (dates as
``YYYY-MM-DD``, datetimes as ISO-8601 UTC with milliseconds). Pure: no state, no I/O. Must not:
know about records, uniqueness or pipelines.
"""

from __future__ import annotations

import datetime as dt
import re

from sandbox.emulator.catalog import PropertyDef
from sandbox.emulator.errors import PropError

MAX_STRING = 65_536
_DAY_MS = 86_400_000
_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EPOCH_MS = re.compile(r"^-?\d{1,16}$")
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*"
    r"\.[A-Za-z]{2,63}$"
)


def iso_ms(moment: dt.datetime) -> str:
    """HubSpot's datetime form: ``2026-09-01T08:00:00.123Z``."""
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _parse_iso(text: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _from_epoch_ms(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(int(text) / 1000, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _date(prop: PropertyDef, value: str) -> tuple[str, PropError | None]:
    bad = PropError(
        prop.name,
        "INVALID_DATE",
        f"{value} is not a valid date for {prop.name}: "
        "use YYYY-MM-DD or epoch milliseconds at midnight UTC",
    )
    if _DATE.match(value):
        try:
            return dt.date.fromisoformat(value).isoformat(), None
        except ValueError:
            return value, bad
    if _EPOCH_MS.match(value):
        moment = _from_epoch_ms(value)
        if moment is None:
            return value, bad
        if int(value) % _DAY_MS:
            at = moment.strftime("%H:%M:%S") + f".{moment.microsecond // 1000}"
            return value, PropError(
                prop.name, "INVALID_DATE", f"{value} is at {at} UTC, not midnight!"
            )
        return moment.date().isoformat(), None
    moment = _parse_iso(value)
    if moment is not None and moment.astimezone(dt.UTC).time() == dt.time(0):
        return moment.astimezone(dt.UTC).date().isoformat(), None
    return value, bad


def _datetime(prop: PropertyDef, value: str) -> tuple[str, PropError | None]:
    moment = _from_epoch_ms(value) if _EPOCH_MS.match(value) else _parse_iso(value)
    if moment is None:
        return value, PropError(
            prop.name, "INVALID_DATE", f"{value} is not a valid datetime for {prop.name}"
        )
    return iso_ms(moment), None


def _enumeration(
    prop: PropertyDef, value: str, options: set[str], existing: str | None
) -> tuple[str, PropError | None]:
    checkbox = prop.field_type == "checkbox"
    chosen = [v for v in value.split(";") if v] if checkbox else [value]
    bad = [v for v in chosen if v not in options]
    if bad:
        allowed = ", ".join(sorted(options))
        return value, PropError(
            prop.name, "INVALID_OPTION", f"{bad[0]} was not one of the allowed options: [{allowed}]"
        )
    if prop.field_type == "checkbox" and value.startswith(";") and existing:
        kept = [v for v in existing.split(";") if v]
        chosen = kept + [v for v in chosen if v not in kept]
    return ";".join(chosen), None


def check(
    prop: PropertyDef,
    value: str,
    *,
    options: set[str],
    existing: str | None = None,
    is_email: bool = False,
) -> tuple[str, PropError | None]:
    """The stored form of ``value`` and None, or ``value`` and the reason it is invalid.

    An empty string is always valid: it clears the property (the caller handles it).
    """
    if prop.read_only_value:
        return value, PropError(
            prop.name,
            "READ_ONLY_VALUE",
            f"{prop.name} is a read only property; its value cannot be set.",
        )
    kind = prop.type
    if kind in ("string", "phone_number"):
        if len(value) > MAX_STRING:
            return value, PropError(
                prop.name,
                "MAX_LENGTH_EXCEEDED",
                f"{prop.name} is {len(value)} characters long; the maximum is {MAX_STRING}",
            )
        if is_email and not _EMAIL.match(value.strip()):
            return value, PropError(prop.name, "INVALID_EMAIL", f"Email address {value} is invalid")
        return (value.strip() if is_email else value), None
    if kind == "number":
        if not _NUMBER.match(value):
            return value, PropError(
                prop.name, "INVALID_INTEGER", f"{prop.name} was not a valid number"
            )
        return value, None
    if kind == "bool":
        if value.lower() not in ("true", "false"):
            return value, PropError(
                prop.name,
                "INVALID_OPTION",
                f"{value} was not one of the allowed options: [false, true]",
            )
        return value.lower(), None
    if kind == "enumeration":
        return _enumeration(prop, value, options, existing)
    if kind == "date":
        return _date(prop, value)
    if kind == "datetime":
        return _datetime(prop, value)
    return value, None
