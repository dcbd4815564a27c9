"""The CRM state in a canonical, comparable form: from the emulator's dump, diffed, summarised.

Owns: ``canonical`` (an emulator dump ``GET {base}/_emulator/state`` -> the form of
``examples/sample/expected_state.json``), ``fetch``, ``diff`` and ``summary``. The oracle
(``sandbox.sample.oracle``) builds its expected state through the same ``canonical``, so both
sides are shaped by one function. Must not: know the integration rules.

Canonical form::

    {"contacts": {"northwind:2637": {"email": ..., "firstname": ..., ...}},
     "deals": {"northwind:51877": {"dealname": ..., "pipeline": ..., "dealstage": ...,
                                   ..., "contact": "northwind:2637"}},
     "unmanaged_contacts": [{"email": ..., ...}],
     "dlq": {"count": N, ...}, "rule_skips": {...}}   # the last two: expected states only

Contacts are keyed by ``classter_student_id`` and deals by ``classter_deal_code``; only the
properties in ``CONTACT_PROPERTIES``/``DEAL_PROPERTIES`` are kept, and only when they hold a
non-empty value. ``contact`` is the associated contact's ``classter_student_id`` (``email:...``
for a contact without one, a sorted list when there are several, null when there is none).
Contacts without ``classter_student_id`` are listed in ``unmanaged_contacts`` (sorted); deals
without a code, if any, in ``unmanaged_deals``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import orjson

STUDENT_ID = "classter_student_id"
DEAL_CODE = "classter_deal_code"
CONTACT_PROPERTIES: tuple[str, ...] = (
    "email",
    "firstname",
    "lastname",
    "mobilephone",
    "date_of_birth",
    "gender",
    "classter_student_status",
    "classter_external_id",
)
DEAL_PROPERTIES: tuple[str, ...] = (
    "dealname",
    "pipeline",
    "dealstage",
    "classter_program",
    "classter_stream",
    "classter_academic_period",
    "classter_location",
    "classter_registration_status",
    "classter_start_date",
    "classter_end_date",
)
State = dict[str, Any]


def _props(record: Mapping[str, Any]) -> Mapping[str, Any]:
    props = record.get("properties")
    return props if isinstance(props, Mapping) else {}


def _value(props: Mapping[str, Any], name: str) -> str | None:
    value = props.get(name)
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    if name.endswith("_date") and len(text) > 10 and text[10] == "T":
        text = text[:10]  # a date read back as midnight UTC is still that date
    return text or None


def _pick(props: Mapping[str, Any], names: Iterable[str]) -> dict[str, str]:
    return {n: v for n in names if (v := _value(props, n)) is not None}


def _links(dump: Mapping[str, Any]) -> dict[str, set[str]]:
    """Deal id -> associated contact ids, from either direction of the association list."""
    out: dict[str, set[str]] = {}
    for link in dump.get("associations") or ():
        if not isinstance(link, Mapping):
            continue
        ends = {
            str(link.get("fromType")): str(link.get("fromId")),
            str(link.get("toType")): str(link.get("toId")),
        }
        if "deals" in ends and "contacts" in ends:
            out.setdefault(ends["deals"], set()).add(ends["contacts"])
    return out


def canonical(
    dump: Mapping[str, Any],
    *,
    contact_properties: Sequence[str] = CONTACT_PROPERTIES,
    deal_properties: Sequence[str] = DEAL_PROPERTIES,
) -> State:
    """The canonical state of an emulator dump (``{"contacts", "deals", "associations"}``)."""
    contacts: dict[str, dict[str, str]] = {}
    unmanaged: list[dict[str, str]] = []
    refs: dict[str, str] = {}
    for record in dump.get("contacts") or ():
        props = _props(record)
        picked = _pick(props, contact_properties)
        key = _value(props, STUDENT_ID)
        if key is not None:
            contacts[key] = picked
            refs[str(record.get("id"))] = key
        else:
            unmanaged.append(picked)
            refs[str(record.get("id"))] = f"email:{picked.get('email', '')}"
    links = _links(dump)
    deals: dict[str, dict[str, Any]] = {}
    unmanaged_deals: list[dict[str, Any]] = []
    for record in dump.get("deals") or ():
        props = _props(record)
        picked_deal: dict[str, Any] = dict(_pick(props, deal_properties))
        targets = sorted(refs.get(c, f"id:{c}") for c in links.get(str(record.get("id")), ()))
        picked_deal["contact"] = targets[0] if len(targets) == 1 else targets or None
        code = _value(props, DEAL_CODE)
        if code is not None:
            deals[code] = picked_deal
        else:
            unmanaged_deals.append(picked_deal)
    state: State = {
        "contacts": dict(sorted(contacts.items())),
        "deals": dict(sorted(deals.items())),
        "unmanaged_contacts": sorted(unmanaged, key=lambda p: sorted(p.items())),
    }
    if unmanaged_deals:
        state["unmanaged_deals"] = sorted(unmanaged_deals, key=lambda p: repr(sorted(p.items())))
    return state


async def fetch(base_url: str, session: aiohttp.ClientSession | None = None) -> State:
    """``GET {base_url}/_emulator/state`` in canonical form."""
    url = f"{base_url.rstrip('/')}/_emulator/state"
    if session is None:
        async with aiohttp.ClientSession() as own:
            return await fetch(base_url, own)
    async with session.get(url) as resp:
        resp.raise_for_status()
        body = await resp.json()
    if not isinstance(body, dict):
        raise TypeError(f"{url} did not answer a JSON object")
    return canonical(body)


def _diff_records(kind: str, expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for key in sorted(expected.keys() - actual.keys()):
        out.append(f"{kind} {key}: missing")
    for key in sorted(actual.keys() - expected.keys()):
        out.append(f"{kind} {key}: unexpected {dict(actual[key])}")
    for key in sorted(expected.keys() & actual.keys()):
        want, got = expected[key], actual[key]
        for prop in sorted(set(want) | set(got)):
            if want.get(prop) != got.get(prop):
                out.append(
                    f"{kind} {key}: {prop} expected {want.get(prop)!r}, got {got.get(prop)!r}"
                )
    return out


def _diff_lists(kind: str, expected: Sequence[Any], actual: Sequence[Any]) -> list[str]:
    want = Counter(orjson.dumps(x, option=orjson.OPT_SORT_KEYS) for x in expected)
    got = Counter(orjson.dumps(x, option=orjson.OPT_SORT_KEYS) for x in actual)
    out = [f"{kind}: missing {item.decode()}" for item in sorted((want - got).elements())]
    out += [f"{kind}: unexpected {item.decode()}" for item in sorted((got - want).elements())]
    return out


def diff(
    expected: Mapping[str, Any], actual: Mapping[str, Any], *, dlq_count: int | None = None
) -> list[str]:
    """One line per difference; empty when the states are equal.

    Compares contacts, deals and unmanaged records; the DLQ only when ``dlq_count`` (the number
    of records the run wrote to the DLQ topic) is given and ``expected`` has a ``dlq`` entry.
    ``rule_skips`` are not compared (they live in metrics, not in the CRM).
    """
    out = _diff_records("contact", expected.get("contacts", {}), actual.get("contacts", {}))
    out += _diff_records("deal", expected.get("deals", {}), actual.get("deals", {}))
    out += _diff_lists(
        "unmanaged contact",
        expected.get("unmanaged_contacts", []),
        actual.get("unmanaged_contacts", []),
    )
    out += _diff_lists(
        "unmanaged deal", expected.get("unmanaged_deals", []), actual.get("unmanaged_deals", [])
    )
    dlq = expected.get("dlq")
    if dlq_count is not None and isinstance(dlq, Mapping) and dlq.get("count") != dlq_count:
        out.append(f"DLQ: expected {dlq.get('count')} records, got {dlq_count}")
    return out


def summary(state: Mapping[str, Any], *, dlq_count: int | None = None) -> str:
    """A short human report: contacts, deals by pipeline and stage, associations, DLQ."""
    contacts = state.get("contacts", {})
    unmanaged = state.get("unmanaged_contacts", [])
    deals: Mapping[str, Mapping[str, Any]] = state.get("deals", {})
    lines = [
        f"contacts: {len(contacts) + len(unmanaged)} ({len(contacts)} with "
        f"classter_student_id, {len(unmanaged)} other)",
        f"deals: {len(deals)}",
    ]
    by_stage = Counter((d.get("pipeline", "?"), d.get("dealstage", "?")) for d in deals.values())
    for (pipeline, stage), count in sorted(by_stage.items()):
        lines.append(f"  {pipeline} / {stage}: {count}")
    single = sum(1 for d in deals.values() if isinstance(d.get("contact"), str))
    none = sum(1 for d in deals.values() if d.get("contact") is None)
    lines.append(
        f"associations: {single} deals with one contact, {none} without, "
        f"{len(deals) - single - none} with several"
    )
    if dlq_count is not None:
        lines.append(f"DLQ: {dlq_count} records")
    elif isinstance(state.get("dlq"), Mapping):
        lines.append(f"DLQ (expected): {state['dlq'].get('count')} records")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.crm_state",
        description="Compare the emulator's CRM state with an expected state; exit 0 when equal.",
    )
    parser.add_argument("--emulator", required=True, help="emulator base URL")
    parser.add_argument("--expected", type=Path, required=True)
    parser.add_argument(
        "--dlq-count",
        type=int,
        default=None,
        help="records the run wrote to the DLQ topic (compared when given)",
    )
    args = parser.parse_args(argv)
    expected = orjson.loads(args.expected.read_bytes())
    actual = asyncio.run(fetch(args.emulator))
    print(summary(actual, dlq_count=args.dlq_count))
    problems = diff(expected, actual, dlq_count=args.dlq_count)
    if problems:
        print(f"{len(problems)} differences from {args.expected}:")
        for line in problems:
            print(f"  {line}")
        return 1
    print(f"the CRM state equals {args.expected}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
