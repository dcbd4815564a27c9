"""Generate the sample dataset: ``python -m sandbox.sample.generate --seed 7 --students 320``.

Owns: ``generate`` (seed and size -> ``Dataset``: the Kafka records in publish order, the portal
seed and the named cases), the files under ``examples/sample/`` (``events.jsonl``,
``portal_seed.json``, ``expected_state.json``, ``expected_state.new_deal_code.json``,
``CASES.md``) and their byte-exact rendering. The same seed and size always give the same bytes.
``students`` counts every distinct (tenant, student) of the dataset, named cases included;
benchmarks may ask for 10,000 and more (up to ``bulk.MAX_BULK`` besides the cases).
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from consumer.config import Settings, load_settings
from sandbox.sample import contract, oracle
from sandbox.sample.bulk import MAX_BULK, Bulk
from sandbox.sample.cases import Case, Expect, build_cases
from sandbox.sample.records import DEFAULT_PARTITIONS, SampleRecord, dumps_jsonl
from sandbox.sample.world import Emails, Timeline

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = ROOT / "examples" / "config.yaml"
DEFAULT_OUT = ROOT / "examples" / "sample"
DEFAULT_SEED = 7
DEFAULT_STUDENTS = 320


@dataclass
class Dataset:
    """One generated sample: records in publish order, the portal seed, the named cases."""

    seed: int
    records: list[SampleRecord]
    portal_seed: dict[str, Any]
    cases: list[Case]
    students: int

    def events_jsonl(self) -> bytes:
        return dumps_jsonl(self.records)

    def portal_seed_json(self) -> bytes:
        return dump_json(self.portal_seed)


def dump_json(obj: Any) -> bytes:
    """Indented JSON with a final newline: how every JSON file of the sample is written."""
    return orjson.dumps(obj, option=orjson.OPT_INDENT_2) + b"\n"


def generate(
    seed: int = DEFAULT_SEED, students: int = DEFAULT_STUDENTS, *, cases: bool = True
) -> Dataset:
    """The dataset for ``seed`` with ``students`` distinct students (named cases included).

    With ``cases=False`` only the random bulk is made (no bad records, no leads): for
    benchmarks that want clean load. Raises ``ValueError`` when ``students`` is smaller than
    the named cases need or larger than the id ranges allow.
    """
    tl = Timeline(seed)
    emails = Emails()
    case_set = build_cases(tl, emails) if cases else None
    named = len({p.key for p in case_set.persons}) if case_set else 0
    bulk = students - named
    if bulk < 0 or bulk > MAX_BULK:
        raise ValueError(f"students must be between {named} and {named + MAX_BULK}")
    population = Bulk(random.Random(seed), tl, emails)
    for index in range(bulk):
        population.add(index)
    leads = case_set.leads if case_set else []
    return Dataset(
        seed=seed,
        records=tl.records(),
        portal_seed={"contacts": [{"properties": lead} for lead in leads], "deals": []},
        cases=case_set.cases if case_set else [],
        students=named + bulk,
    )


def load_config(path: Path = DEFAULT_CONFIG, *, re_registration: str | None = None) -> Settings:
    """The config (environment overrides ignored), optionally with another re-registration
    policy."""
    settings = load_settings(path, env={})
    if re_registration is not None:
        deals = settings.deals.model_copy(update={"re_registration": re_registration})
        settings = settings.model_copy(update={"deals": deals})
    return settings


def expected_states(
    dataset: Dataset, config: Path = DEFAULT_CONFIG, partitions: int = DEFAULT_PARTITIONS
) -> dict[str, dict[str, Any]]:
    """The oracle's expected state under the config's policy and under ``new_deal_code``."""
    out = {}
    for name, policy in (("keep", None), ("new_deal_code", "new_deal_code")):
        cfg = oracle.OracleSettings.from_settings(load_config(config, re_registration=policy))
        out[name] = oracle.expected_state(
            dataset.records, dataset.portal_seed, cfg, partitions=partitions
        )
    return out


def stats(dataset: Dataset) -> dict[str, Any]:
    """Counts a reviewer (and the minimum-size test) cares about."""
    kinds: Counter[str] = Counter()
    programs: set[str] = set()
    periods: set[str] = set()
    students: set[tuple[str, int]] = set()
    re_registrations = 0
    for record in dataset.records:
        verdict = contract.classify(record.key_bytes, record.value)
        if isinstance(verdict, contract.Bad):
            kinds["bad"] += 1
            continue
        kinds[verdict.event_type] += 1
        students.add((verdict.tenant, verdict.student["id"]))
        registration = verdict.registration
        if registration is not None:
            programs.add(str((registration.get("program") or {}).get("description")))
            periods.add(str((registration.get("academicPeriod") or {}).get("description")))
            re_registrations += registration.get("fromReRegistration") is True
    return {
        "students": dataset.students,
        "tenants": ", ".join(
            f"{n} in `{t}`" for t, n in Counter(t for t, _ in students).most_common()
        ),
        "records": len(dataset.records),
        "student_events": kinds["student.changed"],
        "registration_events": kinds["registration.changed"],
        "bad_records": kinds["bad"],
        "programs": sorted(programs),
        "periods": sorted(periods),
        "re_registration_events": re_registrations,
    }


def _expect_lines(expect: Expect) -> list[str]:
    lines = []
    for key, props in expect.contacts.items():
        lines.append(f"contact `{key}`: " + ("absent" if props is None else _props(props)))
    for code, props in expect.deals.items():
        lines.append(f"deal `{code}`: " + ("absent" if props is None else _props(props)))
    if expect.dlq:
        lines.append("DLQ: " + ", ".join(f"`{r}`" for r in expect.dlq))
    return lines


def _props(props: Mapping[str, str]) -> str:
    return ", ".join(f"{k} = {v!r}" for k, v in props.items()) or "present"


def render_cases(dataset: Dataset, states: Mapping[str, Mapping[str, Any]]) -> str:
    """``CASES.md``: how the data is built, then every case with its students and expectation."""
    info = stats(dataset)
    keep = states["keep"]
    out = [
        _INTRO.format(
            seed=dataset.seed,
            **{k: v for k, v in info.items() if k not in ("programs", "periods")},
            programs=", ".join(info["programs"]),
            periods=", ".join(info["periods"]),
            contacts=len(keep["contacts"]),
            deals=len(keep["deals"]),
            unmanaged=len(keep["unmanaged_contacts"]),
            dlq=keep["dlq"]["count"],
            skips=", ".join(f"{k} {v}" for k, v in keep["rule_skips"].items()),
            stages=", ".join(
                f"{k} {v}"
                for k, v in sorted(Counter(d["dealstage"] for d in keep["deals"].values()).items())
            ),
            new_deals=len(states["new_deal_code"]["deals"]),
        )
    ]
    out.append("\n## All cases\n\n| case | what | students |\n|---|---|---|")
    in_groups = sorted(dataset.cases, key=lambda c: ("CDBU".index(c.id[0]), c.id))
    out += [f"| {c.id} | {c.title} | {', '.join(c.students) or '-'} |" for c in in_groups]
    groups = (
        ("C", "Identity, e-mail and tenants"),
        ("D", "Deal rules at their boundaries"),
        ("B", "Bad records (SPEC section 7)"),
        ("U", "Leads nobody claims"),
    )
    for prefix, title in groups:
        out.append(f"\n## {title}\n")
        for case in (c for c in dataset.cases if c.id.startswith(prefix)):
            students = ", ".join(f"`{s}`" for s in case.students) or "none"
            out.append(f"### {case.id}: {case.title}\n\nStudents: {students}\n\n{case.expected}\n")
            checked = _expect_lines(case.expect)
            if checked:
                out.append("Checked (keep_deal_code): " + "; ".join(checked) + "\n")
            if case.expect_new_deal_code is not None:
                alt = _expect_lines(case.expect_new_deal_code)
                out.append("Checked (new_deal_code): " + "; ".join(alt) + "\n")
    return "\n".join(out)


_INTRO = """# The sample dataset: scenario cases

Generated by `python -m sandbox.sample.generate --seed {seed} --students {students}` (do not edit by
hand; `tests/sandbox/test_sample.py` checks that this file, `events.jsonl`, `portal_seed.json` and
both expected states are what the generator and the oracle produce).

## What is in it

- {students} students ({tenants}), {records} records:
  {student_events} `student.changed`, {registration_events} `registration.changed`
  ({re_registration_events} of them re-registrations) and {bad_records} bad records.
- Programs: {programs}. Academic periods: {periods}.
- `portal_seed.json`: marketing leads that exist in HubSpot before the first sync.
- Expected with `examples/config.yaml` (`fixed_today: "2026-11-15"`, `keep_deal_code`):
  {contacts} contacts with `classter_student_id`, {unmanaged} unmanaged contacts, {deals} deals
  ({stages}), {dlq} DLQ records. Rule skips: {skips}.
- `expected_state.new_deal_code.json`: the same events with `deals.re_registration:
  new_deal_code` ({new_deals} deals); run the demo with
  `CLASSTER_HUBSPOT__DEALS__RE_REGISTRATION=new_deal_code` to compare against it.

The bulk is a school year seen from 2026-11-15: students who continue from 2025-2026 and
re-register (their chain's first registration keeps the deal code), graduates, leavers, newly
admitted students (Applicant -> Interview Scheduled -> Pre-registered -> Registered or Withdrawn)
and late applicants. All 2025-2026 programs started more than 365 days before today, so their
events create no deal (`program_start_too_old`), except the rolling-intake and summer cases below.
Names are invented Greek and English names; every address is `@example.org`.

## Line format of `events.jsonl`

One JSON object a line, in publish order:
`{{"topic": "classter.students", "key": "2637", "value": {{...}}, "case": "C09"}}`.
`key` is the record key as text, or `null` for a record without a key. Exactly one of `value`
(a JSON object, published as its compact JSON bytes; `null` is a tombstone), `raw` (text
published as its UTF-8 bytes, for values that are not a JSON object) and `raw_b64` (base64 of
bytes that are not UTF-8). `case` names the case below; publishers ignore it.
`python -m sandbox.sample.publish` sends each record to partition `murmur2(key) % 6` (Kafka's
default partitioner; keyless records to partition 0), so one student's records share a
partition number on both topics and the DLQ positions in `expected_state.json` are those of a
first publication to empty topics.

## Why the final state does not depend on Kafka's interleaving

Kafka orders records within a partition only. A student's records are in order on each topic,
but the daemon may receive a student's `classter.students` and `classter.registrations` records
in any interleaving, and different students in any order. The data is built so that every such
order ends in the same CRM state, the same DLQ records and the same rule-skip counts
(`test_final_state_does_not_depend_on_cross_topic_interleaving` replays shuffled orders):

- Deals change only on registration events, which are in order on their topic; a registration
  that finds no contact creates it from its snapshot, so the deal never waits for the student.
- A registration snapshot carries only `email`, `givenName`, `surname` and `status`, and every
  student event that follows carries the same fields: whichever event creates the contact, the
  student events leave the same values (a snapshot never overwrites an existing contact).
- E-mail addresses are unique across the portal (both tenants), so no student can take another
  student's contact; the only conflict (C08) is with a seeded lead, which owns its address
  from the start, so it happens in every order.
- Case C01 is the explicit "registration before student" case; many bulk students (records
  created before the data starts) also begin with a registration.

Skip counts and DLQ positions assume one clean run; a redelivery after a rebalance may count a
skip twice.
"""


def write(out: Path, dataset: Dataset, states: Mapping[str, Mapping[str, Any]]) -> list[Path]:
    """Write the sample's files into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "events.jsonl": dataset.events_jsonl(),
        "portal_seed.json": dataset.portal_seed_json(),
        "expected_state.json": dump_json(states["keep"]),
        "expected_state.new_deal_code.json": dump_json(states["new_deal_code"]),
        "CASES.md": render_cases(dataset, states).encode("utf-8"),
    }
    paths = []
    for name, data in files.items():
        path = out / name
        path.write_bytes(data)
        paths.append(path)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.sample.generate",
        description="Generate the sample Classter dataset.",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--students", type=int, default=DEFAULT_STUDENTS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        help="config whose rules the expected state follows",
    )
    parser.add_argument("--partitions", type=int, default=DEFAULT_PARTITIONS)
    args = parser.parse_args(argv)
    dataset = generate(args.seed, args.students)
    states = expected_states(dataset, args.config, args.partitions)
    for path in write(args.out, dataset, states):
        print(f"wrote {path}")
    info = stats(dataset)
    keep = states["keep"]
    print(
        f"{info['students']} students, {info['records']} records "
        f"({info['student_events']} student, {info['registration_events']} registration, "
        f"{info['bad_records']} bad); expected: {len(keep['contacts'])} contacts, "
        f"{len(keep['deals'])} deals, {keep['dlq']['count']} DLQ records"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
