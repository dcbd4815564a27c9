"""Classter's deal rules (SPEC sections 4 and 10), at their boundaries."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from consumer import rules
from consumer.config import Settings
from consumer.events import Ref, Registration, Student
from consumer.rules import (
    ACTION_NOT_CONFIGURED,
    GLOBAL_CODE_BELOW_MINIMUM,
    PROGRAM_START_TOO_OLD,
    SEMESTER_START_TOO_OLD,
    STATUS_NOT_MAPPED,
    STUDENT_STATUS_NOT_ALLOWED,
    DealDecision,
    age_rule,
    deal_code,
    decide_deal,
    mapped_stage,
    normalise_email,
    status_allowed,
)
from tests.factories import PROPERTY, days_before, make_settings, registration

TODAY = dt.date(2026, 11, 15)
ALL_ACTIONS: dict[str, Any] = {
    "CreateContact": {},
    "UpdateContact": {},
    "CreateDeal": {"pipeline": "default"},
    "UpdateDeal": {"pipeline": "default"},
    "ChangeDealStatus": {
        "pipeline": "default",
        "stages": {"Registered": "closedwon", "Withdrawn": "closedlost", 3: "qualifiedtobuy"},
    },
}

dates = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 12, 31))
ages = st.integers(min_value=0, max_value=3650)
ids = st.integers(min_value=0, max_value=2**31)


def deals(**deal_settings: Any) -> Settings:
    return make_settings(deals=deal_settings, actions=ALL_ACTIONS)


def recent(**fields: Any) -> Registration:
    """A registration whose dates block nothing on ``TODAY``, with ``fields`` replaced."""
    base: dict[str, Any] = {
        "startDate": TODAY,
        "semesters": [{"id": 1, "startDate": TODAY}],
        "globalCode": 5000,
    }
    return registration(**(base | fields))


def with_status(status: dict[str, Any] | None, **fields: Any) -> Registration:
    snapshot: dict[str, Any] = {"id": 2637, "email": "maria.example@example.org"}
    if status is not None:
        snapshot["status"] = status
    return recent(student=snapshot, **fields)


def decide(reg: Registration, settings: Settings, *, exists: bool) -> DealDecision:
    return decide_deal("northwind", reg, settings, TODAY, deal_exists=exists)


# -- e-mail ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("\t\n", None),
        (" Maria.Example@Example.ORG ", "maria.example@example.org"),
        ("maria@example.org", "maria@example.org"),
    ],
)
def test_an_email_is_stripped_then_lower_cased_and_empty_means_none(
    raw: str | None, normal: str | None
) -> None:
    assert normalise_email(raw) == normal


@given(st.text(max_size=40))
@PROPERTY
def test_email_normalisation_is_strip_then_lower_and_idempotent(raw: str) -> None:
    normal = normalise_email(raw)

    assert normal == (raw.strip().lower() or None)
    assert normalise_email(normal) == normal


def test_no_email_is_a_named_rule() -> None:
    # the skip itself happens before any HubSpot call (pipeline); the rule code is its label
    assert rules.NO_EMAIL == "no_email"
    assert rules.NO_EMAIL in rules.ALL_RULES
    assert len(set(rules.ALL_RULES)) == len(rules.ALL_RULES)


# -- deal code ------------------------------------------------------------------------------------


def reference_code(
    reg_id: int, re_registration: bool | None, first: int | None, previous: int | None, policy: str
) -> str:
    """SPEC section 10, written out."""
    if policy == "keep_deal_code" and re_registration:
        if first is not None:
            return f"northwind:{first}"
        if previous is not None:
            return f"northwind:{previous}"
    return f"northwind:{reg_id}"


@given(
    reg_id=ids,
    re_registration=st.sampled_from([None, False, True]),
    first=st.none() | ids,
    previous=st.none() | ids,
    policy=st.sampled_from(["keep_deal_code", "new_deal_code"]),
)
@example(reg_id=7, re_registration=True, first=0, previous=5, policy="keep_deal_code")
@PROPERTY
def test_the_deal_code_follows_the_chain_first_then_previous_then_own(
    reg_id: int, re_registration: bool | None, first: int | None, previous: int | None, policy: str
) -> None:
    reg = registration(
        id=reg_id,
        fromReRegistration=re_registration,
        firstRegistrationId=first,
        previousRegistrationId=previous,
    )

    assert deal_code("northwind", reg, policy) == reference_code(
        reg_id, re_registration, first, previous, policy
    )


@pytest.mark.parametrize(
    ("fields", "policy", "code"),
    [
        (
            {"fromReRegistration": True, "firstRegistrationId": 100, "previousRegistrationId": 200},
            "keep_deal_code",
            "northwind:100",
        ),
        (
            {"fromReRegistration": True, "previousRegistrationId": 200},
            "keep_deal_code",
            "northwind:200",
        ),
        ({"fromReRegistration": True}, "keep_deal_code", "northwind:51877"),
        (
            {"fromReRegistration": False, "firstRegistrationId": 100},
            "keep_deal_code",
            "northwind:51877",
        ),
        ({"firstRegistrationId": 100}, "keep_deal_code", "northwind:51877"),
        (
            {"fromReRegistration": True, "firstRegistrationId": 100},
            "new_deal_code",
            "northwind:51877",
        ),
        ({"fromReRegistration": True, "firstRegistrationId": 0}, "keep_deal_code", "northwind:0"),
    ],
    ids=["first", "previous", "own", "not-re-registered", "flag-absent", "new-code", "id-zero"],
)
def test_deal_code_examples(fields: dict[str, Any], policy: str, code: str) -> None:
    assert deal_code("northwind", registration(**fields), policy) == code


def test_the_deal_decision_carries_the_code_of_the_configured_policy() -> None:
    reg = recent(fromReRegistration=True, firstRegistrationId=100)

    keep = make_settings(deals={"re_registration": "keep_deal_code"}, actions=ALL_ACTIONS)
    new = make_settings(deals={"re_registration": "new_deal_code"}, actions=ALL_ACTIONS)

    assert decide(reg, keep, exists=False).code == "northwind:100"
    assert decide(reg, new, exists=False).code == "northwind:51877"


# -- age rules ------------------------------------------------------------------------------------


@given(today=dates, max_age=ages, extra=st.integers(min_value=-3, max_value=3))
@PROPERTY
def test_a_program_start_exactly_x_days_ago_passes_and_one_day_more_blocks(
    today: dt.date, max_age: int, extra: int
) -> None:
    settings = deals(max_program_start_age_days=max_age)
    reg = registration(startDate=days_before(today, max_age + extra), semesters=None)

    rule = age_rule(reg, settings, today)

    assert rule == (PROGRAM_START_TOO_OLD if extra > 0 else None)


@given(today=dates, max_age=ages, extra=st.integers(min_value=-3, max_value=3))
@PROPERTY
def test_a_semester_start_exactly_x_days_ago_passes_and_one_day_more_blocks(
    today: dt.date, max_age: int, extra: int
) -> None:
    settings = deals(max_semester_start_age_days=max_age)
    reg = registration(
        startDate=None, semesters=[{"startDate": days_before(today, max_age + extra)}]
    )

    assert age_rule(reg, settings, today) == (SEMESTER_START_TOO_OLD if extra > 0 else None)


@given(
    today=dates,
    max_age=ages,
    offsets=st.lists(st.none() | st.integers(min_value=-400, max_value=400), max_size=6),
)
@PROPERTY
def test_any_one_semester_too_old_blocks_and_missing_dates_never_do(
    today: dt.date, max_age: int, offsets: list[int | None]
) -> None:
    semesters = [
        {"startDate": None if o is None else days_before(today, max_age + o)} for o in offsets
    ]
    reg = registration(startDate=None, semesters=semesters)

    blocked = any(o is not None and o > 0 for o in offsets)

    assert age_rule(reg, deals(max_semester_start_age_days=max_age), today) == (
        SEMESTER_START_TOO_OLD if blocked else None
    )


@given(today=dates, start=dates, semester=dates)
@PROPERTY
def test_an_age_setting_left_out_never_blocks(
    today: dt.date, start: dt.date, semester: dt.date
) -> None:
    reg = registration(startDate=start, semesters=[{"startDate": semester}])

    assert age_rule(reg, deals(), today) is None


@pytest.mark.parametrize(
    "fields",
    [
        {"startDate": None, "semesters": None},
        {"startDate": None, "semesters": []},
        {"startDate": None, "semesters": [{"id": 1}, {"startDate": None}]},
    ],
    ids=["no-dates", "no-semesters", "semesters-without-dates"],
)
def test_missing_dates_do_not_block(fields: dict[str, Any]) -> None:
    settings = deals(max_program_start_age_days=0, max_semester_start_age_days=0)

    assert age_rule(registration(**fields), settings, TODAY) is None


def test_a_program_too_old_is_reported_before_a_semester_too_old() -> None:
    settings = deals(max_program_start_age_days=10, max_semester_start_age_days=10)
    old = days_before(TODAY, 11)
    reg = registration(startDate=old, semesters=[{"startDate": old}])

    assert age_rule(reg, settings, TODAY) == PROGRAM_START_TOO_OLD


def test_an_age_of_zero_days_lets_only_today_and_later_pass() -> None:
    settings = deals(max_program_start_age_days=0)

    assert age_rule(registration(startDate=TODAY, semesters=None), settings, TODAY) is None
    future = TODAY + dt.timedelta(days=300)
    assert age_rule(registration(startDate=future, semesters=None), settings, TODAY) is None
    yesterday = days_before(TODAY, 1)
    assert (
        age_rule(registration(startDate=yesterday, semesters=None), settings, TODAY)
        == PROGRAM_START_TOO_OLD
    )


@pytest.mark.parametrize(
    ("now", "passes"),
    [
        # 23:59 in Athens on 2026-11-15: exactly 365 days after the start date
        (dt.datetime(2026, 11, 15, 21, 59, tzinfo=dt.UTC), True),
        # 00:00 in Athens on 2026-11-16 while it is still the 15th in UTC: one day too many
        (dt.datetime(2026, 11, 15, 22, 0, tzinfo=dt.UTC), False),
    ],
)
def test_the_days_are_counted_in_the_configured_zone(now: dt.datetime, passes: bool) -> None:
    settings = make_settings(
        timezone="Europe/Athens",
        deals={"max_program_start_age_days": 365},
        actions=ALL_ACTIONS,
    )
    reg = registration(startDate=dt.date(2025, 11, 15), semesters=None)

    today = settings.today(now)

    assert age_rule(reg, settings, today) == (None if passes else PROGRAM_START_TOO_OLD)
    assert decide_deal("northwind", reg, settings, today, deal_exists=False).create is passes


@pytest.mark.parametrize("exists", [False, True], ids=["create", "update"])
@pytest.mark.parametrize(
    ("setting", "fields", "rule"),
    [
        ("max_program_start_age_days", {"startDate": dt.date(2020, 1, 1)}, PROGRAM_START_TOO_OLD),
        (
            "max_semester_start_age_days",
            {"semesters": [{"startDate": TODAY}, {"startDate": dt.date(2020, 1, 1)}]},
            SEMESTER_START_TOO_OLD,
        ),
    ],
)
def test_an_age_rule_blocks_create_update_and_stage_change(
    exists: bool, setting: str, fields: dict[str, Any], rule: str
) -> None:
    decision = decide(recent(**fields), deals(**{setting: 180}), exists=exists)

    assert (decision.create, decision.update, decision.stage) == (False, False, None)
    assert decision.skips == (rule,)


# -- global code ----------------------------------------------------------------------------------


@given(minimum=st.integers(min_value=-(10**6), max_value=10**6), delta=st.integers(-3, 3))
@PROPERTY
def test_a_global_code_equal_to_the_minimum_creates_and_one_less_skips(
    minimum: int, delta: int
) -> None:
    reg = recent(globalCode=minimum + delta)

    decision = decide(reg, deals(min_global_code=minimum), exists=False)

    assert decision.create is (delta >= 0)
    assert decision.skips == (() if delta >= 0 else (GLOBAL_CODE_BELOW_MINIMUM,))


@given(minimum=st.integers(min_value=1, max_value=10**6))
@PROPERTY
def test_a_global_code_below_the_minimum_still_updates_an_existing_deal(minimum: int) -> None:
    reg = recent(globalCode=minimum - 1, registrationStatus={"id": 9, "description": "Withdrawn"})

    decision = decide(reg, deals(min_global_code=minimum), exists=True)

    assert decision.update is True
    assert decision.stage == "closedlost"
    assert GLOBAL_CODE_BELOW_MINIMUM not in decision.skips


def test_without_a_minimum_every_global_code_creates() -> None:
    assert decide(recent(globalCode=-5), deals(), exists=False).create is True


# -- student status gate --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gate", "status", "allowed"),
    [
        ([], None, True),
        ([], {"id": 9, "description": "Withdrawn"}, True),
        (["Registered", 5], {"id": 1, "description": "Registered"}, True),
        (["Registered", 5], {"id": 5, "description": "Suspended"}, True),
        (["Registered", 5], {"id": 5}, True),
        (["Registered", 5], {"description": "Registered"}, True),
        (["Registered", 5], {"id": 1, "description": "registered"}, False),
        (["Registered", 5], {"id": 1, "description": "Registered "}, False),
        (["Registered", 5], {"id": 6, "description": "Suspended"}, False),
        (["Registered", 5], {}, False),
        (["Registered", 5], None, False),
        (["5"], {"id": 5, "description": "Suspended"}, False),
        ([1], {"id": 2, "description": "1"}, False),
        (["1"], {"id": 2, "description": "1"}, True),
    ],
)
def test_the_status_gate_matches_ints_to_the_id_and_strings_to_the_description(
    gate: list[int | str], status: dict[str, Any] | None, allowed: bool
) -> None:
    student = Student(id=1, status=None if status is None else Ref(**status))

    assert status_allowed(student, gate) is allowed


@given(
    gate=st.lists(
        st.integers(0, 20) | st.sampled_from(["Registered", "Withdrawn", "5"]), max_size=4
    ),
    status_id=st.none() | st.integers(0, 20),
    description=st.none() | st.sampled_from(["Registered", "Withdrawn", "5", "Suspended"]),
)
@PROPERTY
def test_the_status_gate_is_an_exact_membership_test(
    gate: list[int | str], status_id: int | None, description: str | None
) -> None:
    student = Student(id=1, status=Ref(id=status_id, description=description))
    ints = [g for g in gate if isinstance(g, int)]
    strs = [g for g in gate if isinstance(g, str)]

    expected = not gate or (status_id in ints) or (description in strs)

    assert status_allowed(student, gate) is expected


def test_a_gated_status_blocks_update_and_stage_change_of_an_existing_deal() -> None:
    settings = deals(update_only_for_student_statuses=["Registered"])
    reg = with_status({"id": 9, "description": "Withdrawn"})

    decision = decide(reg, settings, exists=True)

    assert (decision.update, decision.stage) == (False, None)
    assert decision.skips == (STUDENT_STATUS_NOT_ALLOWED,)


def test_a_missing_student_status_does_not_pass_a_gate() -> None:
    decision = decide(with_status(None), deals(update_only_for_student_statuses=[1]), exists=True)

    assert decision.skips == (STUDENT_STATUS_NOT_ALLOWED,)


def test_creation_is_not_gated_and_starts_in_the_mapped_stage() -> None:
    settings = deals(update_only_for_student_statuses=["Registered"])
    reg = with_status({"id": 9, "description": "Withdrawn"})

    decision = decide(reg, settings, exists=False)

    assert decision.create is True
    assert decision.stage == "closedwon"  # the registration status is "Registered"
    assert decision.skips == ()


def test_the_gate_reads_the_registrations_own_student_snapshot() -> None:
    settings = deals(update_only_for_student_statuses=[1])

    assert decide(with_status({"id": 1}), settings, exists=True).update is True
    assert decide(with_status({"id": 2}), settings, exists=True).update is False


# -- stages ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "stage"),
    [
        ({"id": 3, "description": "Registered"}, "qualifiedtobuy"),  # the id match wins
        ({"id": 14, "description": "Registered"}, "closedwon"),
        ({"description": "Withdrawn"}, "closedlost"),
        ({"id": 3}, "qualifiedtobuy"),
        ({"id": 4, "description": "Pending"}, None),
        ({"id": 4, "description": "3"}, None),  # a string never matches an integer key
        ({"id": 4, "description": "registered"}, None),
        ({}, None),
    ],
)
def test_a_stage_is_found_by_id_first_then_by_description(
    status: dict[str, Any], stage: str | None
) -> None:
    stages: dict[int | str, str] = {
        "Registered": "closedwon",
        "Withdrawn": "closedlost",
        3: "qualifiedtobuy",
    }

    assert mapped_stage(Ref(**status), stages) == stage


def test_a_string_key_that_looks_like_an_id_matches_only_the_description() -> None:
    stages: dict[int | str, str] = {"14": "by-description"}

    assert mapped_stage(Ref(id=14, description="Registered"), stages) is None
    assert mapped_stage(Ref(id=1, description="14"), stages) == "by-description"


def test_an_existing_deal_moves_to_the_mapped_stage() -> None:
    reg = recent(registrationStatus={"id": 9, "description": "Withdrawn"})

    decision = decide(reg, deals(), exists=True)

    assert (decision.create, decision.update, decision.stage) == (False, True, "closedlost")
    assert decision.skips == ()


def test_an_unmapped_status_leaves_the_stage_alone_and_is_counted() -> None:
    reg = recent(registrationStatus={"id": 99, "description": "Mystery"})

    existing = decide(reg, deals(), exists=True)
    new = decide(reg, deals(), exists=False)

    assert (existing.update, existing.stage, existing.skips) == (True, None, (STATUS_NOT_MAPPED,))
    assert (new.create, new.stage, new.skips) == (True, None, (STATUS_NOT_MAPPED,))


def test_without_change_deal_status_no_stage_is_ever_set() -> None:
    actions = {k: v for k, v in ALL_ACTIONS.items() if k != "ChangeDealStatus"}
    settings = make_settings(actions=actions)
    reg = recent(registrationStatus={"id": 3, "description": "Registered"})

    assert decide(reg, settings, exists=True) == DealDecision(
        "northwind:51877", False, True, None, ()
    )
    assert decide(reg, settings, exists=False) == DealDecision(
        "northwind:51877", True, False, None, ()
    )


def test_change_deal_status_alone_changes_the_stage_but_does_not_update() -> None:
    actions = {k: v for k, v in ALL_ACTIONS.items() if k != "UpdateDeal"}
    reg = recent(registrationStatus={"id": 3})

    decision = decide(reg, make_settings(actions=actions), exists=True)

    assert (decision.update, decision.stage) == (False, "qualifiedtobuy")


# -- actions not configured -----------------------------------------------------------------------


def test_a_missing_deal_is_not_created_without_create_deal() -> None:
    actions = {k: v for k, v in ALL_ACTIONS.items() if k != "CreateDeal"}

    decision = decide(recent(), make_settings(actions=actions), exists=False)

    assert decision == DealDecision("northwind:51877", False, False, None, (ACTION_NOT_CONFIGURED,))


def test_an_existing_deal_is_left_alone_without_update_or_status_actions() -> None:
    actions: dict[str, Any] = {"CreateContact": {}, "CreateDeal": {}}

    decision = decide(recent(), make_settings(actions=actions), exists=True)

    assert decision == DealDecision("northwind:51877", False, False, None, (ACTION_NOT_CONFIGURED,))


# -- the whole decision ---------------------------------------------------------------------------


@given(
    st.fixed_dictionaries(
        {
            "exists": st.booleans(),
            "code_delta": st.integers(-2, 2),
            "start_extra": st.none() | st.integers(-2, 2),
            "semester_extra": st.none() | st.integers(-2, 2),
            "status_id": st.sampled_from([1, 3, 9, 99]),
            "gate": st.sampled_from([[], [1], ["Registered"], [7]]),
            "create": st.booleans(),
            "update": st.booleans(),
            "change": st.booleans(),
        }
    )
)
@PROPERTY
def test_a_decision_follows_the_rules_in_every_combination(case: dict[str, Any]) -> None:
    exists, create, update, change = (case[k] for k in ("exists", "create", "update", "change"))
    start_extra, semester_extra = case["start_extra"], case["semester_extra"]
    code_delta, status_id, gate = case["code_delta"], case["status_id"], case["gate"]
    actions: dict[str, Any] = {"CreateContact": {}}
    if create:
        actions["CreateDeal"] = ALL_ACTIONS["CreateDeal"]
    if update:
        actions["UpdateDeal"] = ALL_ACTIONS["UpdateDeal"]
    if change:
        actions["ChangeDealStatus"] = ALL_ACTIONS["ChangeDealStatus"]
    settings = make_settings(
        deals={
            "min_global_code": 1000,
            "max_program_start_age_days": 30,
            "max_semester_start_age_days": 30,
            "update_only_for_student_statuses": gate,
        },
        actions=actions,
    )
    reg = registration(
        globalCode=1000 + code_delta,
        startDate=None if start_extra is None else days_before(TODAY, 30 + start_extra),
        semesters=None
        if semester_extra is None
        else [{"startDate": days_before(TODAY, 30 + semester_extra)}],
        registrationStatus={"id": status_id, "description": "Registered"},
        student={"id": 2637, "status": {"id": 1, "description": "Registered"}},
    )
    too_old = (start_extra or 0) > 0 or (semester_extra or 0) > 0
    gated = bool(gate) and 1 not in gate and "Registered" not in gate
    mapped = "qualifiedtobuy" if status_id == 3 else "closedwon"

    decision = decide(reg, settings, exists=exists)

    assert decision.create is (not exists and create and not too_old and code_delta >= 0)
    assert decision.update is (exists and update and not too_old and not gated)
    if not exists:
        assert decision.stage == (mapped if decision.create and change else None)
    else:
        assert decision.stage == (mapped if change and not too_old and not gated else None)
    assert set(decision.skips) <= set(rules.ALL_RULES)
    if not (decision.create or decision.update or decision.stage):
        assert decision.skips, "a decision that does nothing names the rule that stopped it"
