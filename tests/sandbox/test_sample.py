"""The sample dataset, its oracle and the canonical CRM state (no Kafka, no emulator needed).

Checks that the generator is deterministic and big enough, that every record is judged alike by
the daemon's ``decode_record`` and the oracle's independent contract, that the committed files
are what the generator and the oracle produce, that each named case holds in the oracle's
state, that the state does not depend on cross-topic interleaving, and the oracle's rules at
their boundaries on hand-written events.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner

from consumer.errors import BadInputError
from consumer.events import decode_record
from sandbox import crm_state
from sandbox.sample import contract, generate, oracle
from sandbox.sample.cases import Case, Expect
from sandbox.sample.records import (
    REGISTRATIONS_TOPIC,
    STUDENTS_TOPIC,
    SampleRecord,
    event_record,
    from_line,
    loads_jsonl,
    partition_for,
    to_line,
)
from tests.integration.builders import registration_changed, student_changed

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample"
KEEP_STATES = ("keep", "new_deal_code")


@cache
def dataset() -> generate.Dataset:
    return generate.generate(generate.DEFAULT_SEED, generate.DEFAULT_STUDENTS)


@cache
def states() -> dict[str, dict[str, Any]]:
    return generate.expected_states(dataset())


@cache
def demo_cfg(policy: str | None = None) -> oracle.OracleSettings:
    return oracle.OracleSettings.from_settings(generate.load_config(re_registration=policy))


# -- the generator ------------------------------------------------------------------------------


def test_same_seed_gives_the_same_bytes_and_another_seed_other_bytes() -> None:
    again = generate.generate(generate.DEFAULT_SEED, generate.DEFAULT_STUDENTS)
    assert again.events_jsonl() == dataset().events_jsonl()
    assert again.portal_seed_json() == dataset().portal_seed_json()
    assert generate.generate(8, generate.DEFAULT_STUDENTS).events_jsonl() != again.events_jsonl()


def test_dataset_meets_the_minimums() -> None:
    info = generate.stats(dataset())
    keys = {
        (r.json() or {}).get("tenant", "") + ":" + str(r.key)
        for r in dataset().records
        if isinstance(contract.classify(r.key_bytes, r.value), contract.Valid)
    }
    assert info["students"] == len(keys) >= 300
    assert info["registration_events"] >= 600
    assert len({p for p in info["programs"]}) >= 3
    assert {"2025-2026", "2026-2027"} <= set(info["periods"])
    assert info["re_registration_events"] > 0
    bad = [contract.classify(r.key_bytes, r.value) for r in dataset().records]
    reasons = {v.reason for v in bad if isinstance(v, contract.Bad)}
    assert len(reasons) >= 5
    chains = [(r.json() or {}).get("registration") or {} for r in dataset().records]
    assert any(
        reg.get("fromReRegistration") is True
        and reg.get("previousRegistrationId") is not None
        and reg.get("firstRegistrationId") is not None
        for reg in chains
    )


def test_generator_scales_and_can_leave_out_the_cases() -> None:
    big = generate.generate(3, 2_000, cases=False)
    assert big.students == 2_000
    assert not big.cases and not big.portal_seed["contacts"]
    assert all(
        isinstance(contract.classify(r.key_bytes, r.value), contract.Valid) for r in big.records
    )
    with pytest.raises(ValueError, match="students must be between"):
        generate.generate(1, 10)


def test_every_address_is_at_example_org() -> None:
    for record in dataset().records:
        event = record.json() or {}
        body = event.get("student") or (event.get("registration") or {}).get("student") or {}
        email = body.get("email")
        if isinstance(email, str) and email.strip():
            assert email.strip().lower().endswith("@example.org")
    assert all(
        c["properties"]["email"].endswith("@example.org") for c in dataset().portal_seed["contacts"]
    )


# -- the contract: the daemon and the oracle agree --------------------------------------------


def _daemon_reason(record: SampleRecord) -> str | None:
    try:
        decode_record(record.key_bytes, record.value)
    except BadInputError as exc:
        return exc.reason
    return None


def test_every_record_is_judged_alike_by_the_daemon_and_the_oracle() -> None:
    for n, record in enumerate(dataset().records):
        verdict = contract.classify(record.key_bytes, record.value)
        expected = verdict.reason if isinstance(verdict, contract.Bad) else None
        assert _daemon_reason(record) == expected, f"line {n} ({record.case})"


def test_bad_records_fail_decoding_with_their_case_reason() -> None:
    by_case = {c.id: c for c in dataset().cases}
    bad = [r for r in dataset().records if r.case and r.case.startswith("B") and r.case != "B00"]
    assert len(bad) == 11
    for record in bad:
        assert record.case is not None
        assert (_daemon_reason(record),) == by_case[record.case].expect.dlq


# -- the committed files ------------------------------------------------------------------------


def test_committed_files_are_what_the_generator_writes(tmp_path: Path) -> None:
    generate.write(tmp_path, dataset(), states())
    for name in (
        "events.jsonl",
        "portal_seed.json",
        "expected_state.json",
        "expected_state.new_deal_code.json",
        "CASES.md",
    ):
        assert (SAMPLE / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_committed_expected_state_is_the_oracles_for_the_committed_events() -> None:
    records = loads_jsonl((SAMPLE / "events.jsonl").read_bytes())
    seed = orjson.loads((SAMPLE / "portal_seed.json").read_bytes())
    for name, policy in (
        ("expected_state.json", None),
        ("expected_state.new_deal_code.json", "new_deal_code"),
    ):
        committed = orjson.loads((SAMPLE / name).read_bytes())
        assert oracle.expected_state(records, seed, demo_cfg(policy)) == committed


# -- the cases ----------------------------------------------------------------------------------


def _problems(case: Case, expect: Expect, state: dict[str, Any]) -> Iterator[str]:
    for kind, wanted in (("contacts", expect.contacts), ("deals", expect.deals)):
        for key, props in wanted.items():
            got = state[kind].get(key)
            if props is None:
                if got is not None:
                    yield f"{case.id}: {kind} {key} should be absent"
                continue
            if got is None:
                yield f"{case.id}: {kind} {key} missing"
                continue
            for prop, value in props.items():
                if got.get(prop) != value:
                    yield f"{case.id}: {kind} {key} {prop} = {got.get(prop)!r}, want {value!r}"
    dlq = sorted(str(d["reason"]) for d in state["dlq"]["records"] if d.get("case") == case.id)
    if dlq != sorted(expect.dlq):
        yield f"{case.id}: DLQ {dlq}, want {sorted(expect.dlq)}"


@pytest.mark.parametrize("policy", KEEP_STATES)
def test_every_case_holds_in_the_oracles_state(policy: str) -> None:
    state = states()[policy]
    problems = []
    for case in dataset().cases:
        expect, alt = case.expect, case.expect_new_deal_code
        if policy == "new_deal_code" and alt is not None:
            # contacts do not depend on the policy; deals and the DLQ are the alternative's
            expect = Expect({**expect.contacts, **alt.contacts}, alt.deals, alt.dlq)
        problems += list(_problems(case, expect, state))
    assert problems == []
    wanted = {e for c in dataset().cases for e in c.expect.unmanaged_emails}
    assert {c["email"] for c in state["unmanaged_contacts"]} == wanted


def test_every_deal_is_associated_with_its_students_contact() -> None:
    state = states()["keep"]
    for deal in state["deals"].values():
        assert deal["contact"] in state["contacts"]


def _interleaving(records: list[SampleRecord], rng: random.Random) -> list[int]:
    """A delivery order that keeps each (topic, key) stream in order and nothing else."""
    streams: dict[tuple[str, str | None], list[int]] = {}
    for n, record in enumerate(records):
        streams.setdefault((record.topic, record.key), []).append(n)
    queues = [list(reversed(q)) for q in streams.values()]
    order = []
    while queues:
        queue = rng.choices(queues, [len(q) for q in queues])[0]
        order.append(queue.pop())
        if not queue:
            queues.remove(queue)
    return order


@pytest.mark.parametrize("shuffle_seed", [1, 2, 3])
def test_final_state_does_not_depend_on_cross_topic_interleaving(shuffle_seed: int) -> None:
    records = dataset().records
    seed = dataset().portal_seed
    base = oracle.run(records, seed, demo_cfg())
    order = _interleaving(records, random.Random(shuffle_seed))
    assert order != list(range(len(records)))
    other = oracle.run([records[i] for i in order], seed, demo_cfg())
    for key in ("contacts", "deals", "unmanaged_contacts", "rule_skips"):
        assert other.state[key] == base.state[key], key
    assert other.state["dlq"]["by_reason"] == base.state["dlq"]["by_reason"]
    for position, index in enumerate(order):
        mine, theirs = base.outcomes[index], other.outcomes[position]
        assert (mine.reason, mine.skips) == (theirs.reason, theirs.skips), records[index].case


# -- the oracle at the rule boundaries ---------------------------------------------------------


def _record(event: dict[str, Any], key: str | None = "auto") -> SampleRecord:
    body = event.get("student") or event["registration"]["student"]
    topic = STUDENTS_TOPIC if "student" in event else REGISTRATIONS_TOPIC
    return event_record(topic, str(body["id"]) if key == "auto" else key, event)


def _run(
    *events: dict[str, Any], seed: list[dict[str, Any]] | None = None, policy: str | None = None
) -> oracle.OracleRun:
    contacts = {"contacts": [{"properties": p} for p in seed or []]}
    return oracle.run([_record(e) for e in events], contacts, demo_cfg(policy))


def _days_ago(days: int) -> str:
    return (dt.date(2026, 11, 15) - dt.timedelta(days=days)).isoformat()


@pytest.mark.parametrize(("global_code", "created"), [(999, False), (1000, True)])
def test_global_code_below_the_minimum_skips_creation_only(global_code: int, created: bool) -> None:
    result = _run(registration_changed(1, 10, globalCode=global_code))
    assert ("northwind:1" in result.state["deals"]) is created
    assert "northwind:10" in result.state["contacts"]
    assert result.state["rule_skips"].get("global_code_below_minimum", 0) == (not created)


def test_global_code_below_the_minimum_still_updates_an_existing_deal() -> None:
    first = registration_changed(
        1, 10, globalCode=5000, registrationStatus={"id": 12, "description": "Pre-registered"}
    )
    again = registration_changed(
        2,
        10,
        globalCode=10,
        fromReRegistration=True,
        firstRegistrationId=1,
        previousRegistrationId=1,
    )
    deal = _run(first, again).state["deals"]["northwind:1"]
    assert deal["dealstage"] == "closedwon"


@pytest.mark.parametrize(("days", "created"), [(365, True), (366, False)])
def test_program_start_exactly_365_days_ago_passes(days: int, created: bool) -> None:
    result = _run(registration_changed(1, 10, startDate=_days_ago(days), semesters=None))
    assert ("northwind:1" in result.state["deals"]) is created


@pytest.mark.parametrize(("days", "created"), [(180, True), (181, False)])
def test_semester_start_exactly_180_days_ago_passes(days: int, created: bool) -> None:
    semesters = [{"id": 1, "startDate": _days_ago(10)}, {"id": 2, "startDate": _days_ago(days)}]
    result = _run(registration_changed(1, 10, startDate=_days_ago(days), semesters=semesters))
    assert ("northwind:1" in result.state["deals"]) is created
    if not created:
        assert result.state["rule_skips"] == {"semester_start_too_old": 1}


def test_missing_dates_do_not_block() -> None:
    result = _run(registration_changed(1, 10, startDate=None, semesters=[{"id": 1}]))
    assert "northwind:1" in result.state["deals"]


@pytest.mark.parametrize(
    ("status", "passes"),
    [
        ({"id": 1, "description": "Registered"}, True),
        ({"id": 5, "description": "Enrolled"}, True),
        ({"id": 5}, True),
        ({"description": "Registered"}, True),
        ({"id": 1}, False),
        ({"id": 2, "description": "Pre-registered"}, False),
        ({"id": 9, "description": "registered"}, False),
        (None, False),
    ],
)
def test_status_gate_matches_ids_and_descriptions(
    status: dict[str, Any] | None, passes: bool
) -> None:
    created = registration_changed(1, 10, registrationStatus={"id": 11, "description": "Applicant"})
    snapshot = {"id": 10, "email": "student10@example.org"}
    if status is not None:
        snapshot["status"] = status
    change = registration_changed(1, 10, snapshot=snapshot)
    result = _run(created, change)
    deal = result.state["deals"]["northwind:1"]
    assert deal["dealstage"] == ("closedwon" if passes else "appointmentscheduled")
    assert (deal["classter_registration_status"] == "Registered") is passes
    assert ("student_status_not_allowed" in result.state["rule_skips"]) is not passes


def test_new_deal_starts_in_mapped_stage_even_when_the_gate_would_refuse() -> None:
    event = registration_changed(
        1,
        10,
        registrationStatus={"id": 12, "description": "Pre-registered"},
        snapshot={"id": 10, "email": "s@example.org", "status": {"id": 2}},
    )
    assert _run(event).state["deals"]["northwind:1"]["dealstage"] == "qualifiedtobuy"


def test_stage_id_match_wins_over_description() -> None:
    event = registration_changed(1, 10, registrationStatus={"id": 3, "description": "Withdrawn"})
    assert _run(event).state["deals"]["northwind:1"]["dealstage"] == "presentationscheduled"


def test_unmapped_status_starts_in_first_stage_and_never_moves_an_existing_deal() -> None:
    new = _run(registration_changed(1, 10, registrationStatus={"id": 99, "description": "X"}))
    assert new.state["deals"]["northwind:1"]["dealstage"] == "appointmentscheduled"
    assert new.state["rule_skips"] == {"status_not_mapped": 1}
    won = registration_changed(1, 10)
    odd = registration_changed(
        1,
        10,
        registrationStatus={"id": 99, "description": "X"},
        stream={"id": 78, "description": "Humanities"},
    )
    deal = _run(won, odd).state["deals"]["northwind:1"]
    assert deal["dealstage"] == "closedwon"
    assert deal["classter_stream"] == "Humanities"
    assert deal["classter_registration_status"] == "X"


def test_deal_properties_follow_the_model_mapping() -> None:
    deal = _run(registration_changed(1, 10)).state["deals"]["northwind:1"]
    assert deal == {
        "dealname": "Given10 Surname10 - Grade 10 - 2026-2027",
        "pipeline": "default",
        "dealstage": "closedwon",
        "classter_program": "Grade 10",
        "classter_stream": "Science",
        "classter_academic_period": "2026-2027",
        "classter_location": "Main Campus",
        "classter_registration_status": "Registered",
        "classter_start_date": "2026-09-10",
        "classter_end_date": "2027-06-20",
        "contact": "northwind:10",
    }


@pytest.mark.parametrize(
    ("policy", "extra", "code"),
    [
        ("keep_deal_code", {"firstRegistrationId": 5, "previousRegistrationId": 6}, "northwind:5"),
        ("keep_deal_code", {"previousRegistrationId": 6}, "northwind:6"),
        ("keep_deal_code", {}, "northwind:7"),
        ("new_deal_code", {"firstRegistrationId": 5, "previousRegistrationId": 6}, "northwind:7"),
    ],
)
def test_deal_code_of_a_re_registration(policy: str, extra: dict[str, Any], code: str) -> None:
    event = registration_changed(7, 10, fromReRegistration=True, **extra)
    assert list(_run(event, policy=policy).state["deals"]) == [code]


def test_contact_mapping_joins_given_and_middle_names_and_normalises_the_email() -> None:
    event = student_changed(
        10,
        email="  Ann.B@Example.ORG ",
        givenName=" Ann ",
        middleName="Marie",
        mobilePhone="+30 690 000 0010",
        dateOfBirth="2010-01-02",
        gender="Female",
        externalId="SIS-10",
    )
    contact = _run(event).state["contacts"]["northwind:10"]
    assert contact == {
        "email": "ann.b@example.org",
        "firstname": "Ann Marie",
        "lastname": "Surname10",
        "mobilephone": "+30 690 000 0010",
        "date_of_birth": "2010-01-02",
        "gender": "Female",
        "classter_student_status": "Registered",
        "classter_external_id": "SIS-10",
    }


def test_an_absent_field_never_clears_a_property() -> None:
    first = student_changed(10, mobilePhone="+30 690 000 0010")
    contact = _run(first, student_changed(10)).state["contacts"]["northwind:10"]
    assert contact["mobilephone"] == "+30 690 000 0010"


def test_students_without_email_are_skipped_until_an_event_brings_it() -> None:
    result = _run(
        student_changed(10, email=None),
        student_changed(10, email="   "),
        registration_changed(1, 10, snapshot={"id": 10}),
    )
    assert result.state["contacts"] == {} and result.state["deals"] == {}
    assert result.state["rule_skips"] == {"no_email": 3}
    later = _run(student_changed(10, email=None), registration_changed(1, 10))
    assert "northwind:10" in later.state["contacts"] and "northwind:1" in later.state["deals"]


def test_a_student_event_adopts_a_lead_and_applies_its_mapping() -> None:
    lead = {"email": "lead@example.org", "firstname": "Lea", "lifecyclestage": "lead"}
    result = _run(student_changed(10, email="LEAD@example.org", givenName="Leandra"), seed=[lead])
    assert result.state["contacts"]["northwind:10"]["firstname"] == "Leandra"
    assert result.state["unmanaged_contacts"] == []


def test_a_registration_adopts_a_lead_setting_only_the_student_id() -> None:
    lead = {"email": "lead@example.org", "firstname": "Lea"}
    snapshot = {
        "id": 10,
        "email": "lead@example.org",
        "givenName": "Leandra",
        "status": {"id": 1, "description": "Registered"},
    }
    result = _run(registration_changed(1, 10, snapshot=snapshot), seed=[lead])
    assert result.state["contacts"]["northwind:10"] == {
        "email": "lead@example.org",
        "firstname": "Lea",
    }
    assert result.state["deals"]["northwind:1"]["contact"] == "northwind:10"


def test_a_registration_never_overwrites_an_existing_contact() -> None:
    result = _run(
        student_changed(10, givenName="Anna"),
        registration_changed(
            1,
            10,
            snapshot={
                "id": 10,
                "email": "student10@example.org",
                "givenName": "Other",
                "surname": "X",
            },
        ),
    )
    contact = result.state["contacts"]["northwind:10"]
    assert (contact["firstname"], contact["lastname"]) == ("Anna", "Surname10")


def test_an_email_change_to_another_contacts_address_is_an_email_conflict() -> None:
    result = _run(
        student_changed(10),
        student_changed(11),
        student_changed(11, email="student10@example.org", givenName="Changed"),
    )
    assert result.state["contacts"]["northwind:11"]["email"] == "student11@example.org"
    assert result.state["contacts"]["northwind:11"]["firstname"] == "Given11"
    assert result.state["dlq"]["by_reason"] == {"email_conflict": 1}
    assert result.outcomes[2].error_class == "email_conflict"


def test_a_contact_of_another_student_found_by_email_is_not_adopted() -> None:
    owned = {"email": "student10@example.org", "classter_student_id": "northwind:99"}
    result = _run(student_changed(10), registration_changed(1, 10), seed=[owned])
    assert result.state["dlq"]["by_reason"] == {"email_conflict": 2}
    assert list(result.state["contacts"]) == ["northwind:99"]
    assert result.state["deals"] == {}


def test_tenants_are_isolated() -> None:
    result = _run(
        registration_changed(1, 10),
        registration_changed(
            1, 10, tenant="harbourview", snapshot={"id": 10, "email": "hv10@example.org"}
        ),
    )
    assert set(result.state["contacts"]) == {"northwind:10", "harbourview:10"}
    assert result.state["deals"]["harbourview:1"]["contact"] == "harbourview:10"


def test_oracle_needs_a_date() -> None:
    settings = generate.load_config().model_copy(update={"fixed_today": None})
    with pytest.raises(ValueError, match="needs a date"):
        oracle.OracleSettings.from_settings(settings)
    cfg = oracle.OracleSettings.from_settings(settings, today=dt.date(2026, 1, 1))
    assert cfg.today == dt.date(2026, 1, 1)


# -- records and the canonical state ------------------------------------------------------------


@pytest.mark.parametrize("value", [b'{"a":1}', b'["x"]', b"{cut", "é".encode("utf-16"), None])
def test_jsonl_lines_round_trip_every_kind_of_value(value: bytes | None) -> None:
    record = SampleRecord(STUDENTS_TOPIC, None if value == b"{cut" else "7", value, "X")
    assert from_line(to_line(record)) == record


def test_partition_for_matches_the_kafka_client() -> None:
    for key in ["2637", "1", "", "harbourview", *(str(n) for n in range(3000, 3200))]:
        assert partition_for(key) == DefaultPartitioner()(
            key.encode(), list(range(6)), list(range(6))
        )


def test_canonical_state_of_an_emulator_dump_and_its_diff() -> None:
    dump = {
        "contacts": [
            {
                "id": "1",
                "properties": {
                    "email": "a@example.org",
                    "firstname": "A",
                    "classter_student_id": "northwind:1",
                    "hs_object_id": "1",
                    "createdate": "x",
                },
            },
            {
                "id": "2",
                "properties": {
                    "email": "lead@example.org",
                    "lastname": "",
                    "lifecyclestage": "lead",
                },
            },
        ],
        "deals": [
            {
                "id": "3",
                "properties": {
                    "classter_deal_code": "northwind:9",
                    "dealstage": "closedwon",
                    "pipeline": "default",
                    "classter_start_date": "2026-09-07T00:00:00Z",
                },
            }
        ],
        "associations": [
            {
                "fromType": "deals",
                "fromId": "3",
                "toType": "contacts",
                "toId": "1",
                "associationTypeId": 3,
            },
            {
                "fromType": "contacts",
                "fromId": "1",
                "toType": "deals",
                "toId": "3",
                "associationTypeId": 4,
            },
        ],
    }
    state = crm_state.canonical(dump)
    assert state == {
        "contacts": {"northwind:1": {"email": "a@example.org", "firstname": "A"}},
        "deals": {
            "northwind:9": {
                "pipeline": "default",
                "dealstage": "closedwon",
                "classter_start_date": "2026-09-07",
                "contact": "northwind:1",
            }
        },
        "unmanaged_contacts": [{"email": "lead@example.org"}],
    }
    assert crm_state.diff(state, state, dlq_count=None) == []
    changed = orjson.loads(orjson.dumps(state))
    changed["deals"]["northwind:9"]["dealstage"] = "closedlost"
    del changed["contacts"]["northwind:1"]
    assert crm_state.diff({**state, "dlq": {"count": 2}}, changed, dlq_count=3) == [
        "contact northwind:1: missing",
        "deal northwind:9: dealstage expected 'closedwon', got 'closedlost'",
        "DLQ: expected 2 records, got 3",
    ]
    assert "default / closedwon: 1" in crm_state.summary(state, dlq_count=0)
