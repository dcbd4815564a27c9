"""Classter's deal rules (SPEC sections 4 and 10): event + settings + today -> decisions.

Owns: the deal code of a registration, the age rules, the global-code rule, the student-status
gate and the stage table. Pure: no I/O, no clock (``today`` is an argument), no HubSpot types.
Each refusal is named by a rule code, the label of the ``rule_skips`` metric:

``no_email``, ``action_not_configured``, ``global_code_below_minimum``, ``program_start_too_old``,
``semester_start_too_old``, ``student_status_not_allowed``, ``status_not_mapped``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from consumer.config import Settings
from consumer.events import Ref, Registration, Student

NO_EMAIL = "no_email"
ACTION_NOT_CONFIGURED = "action_not_configured"
GLOBAL_CODE_BELOW_MINIMUM = "global_code_below_minimum"
PROGRAM_START_TOO_OLD = "program_start_too_old"
SEMESTER_START_TOO_OLD = "semester_start_too_old"
STUDENT_STATUS_NOT_ALLOWED = "student_status_not_allowed"
STATUS_NOT_MAPPED = "status_not_mapped"
ALL_RULES = (
    NO_EMAIL,
    ACTION_NOT_CONFIGURED,
    GLOBAL_CODE_BELOW_MINIMUM,
    PROGRAM_START_TOO_OLD,
    SEMESTER_START_TOO_OLD,
    STUDENT_STATUS_NOT_ALLOWED,
    STATUS_NOT_MAPPED,
)


def normalise_email(email: str | None) -> str | None:
    """``str.strip()`` then ``str.lower()``; empty means no e-mail."""
    if email is None:
        return None
    cleaned = email.strip().lower()
    return cleaned or None


def deal_code(tenant: str, registration: Registration, policy: str) -> str:
    """``tenant:id`` of the deal this registration belongs to (SPEC section 10)."""
    if policy == "keep_deal_code" and registration.fromReRegistration:
        anchor = registration.firstRegistrationId
        if anchor is None:  # not `or`: an id of 0 is an id
            anchor = registration.previousRegistrationId
        if anchor is not None:
            return f"{tenant}:{anchor}"
    return f"{tenant}:{registration.id}"


def _older_than(date: dt.date | None, days: int | None, today: dt.date) -> bool:
    # "Older than X days" is date < today - X days: exactly X days ago passes.
    return date is not None and days is not None and date < today - dt.timedelta(days=days)


def age_rule(registration: Registration, settings: Settings, today: dt.date) -> str | None:
    """The age rule that blocks every deal action for this registration, if any."""
    deals = settings.deals
    if _older_than(registration.startDate, deals.max_program_start_age_days, today):
        return PROGRAM_START_TOO_OLD
    for semester in registration.semesters or ():
        if _older_than(semester.startDate, deals.max_semester_start_age_days, today):
            return SEMESTER_START_TOO_OLD
    return None


def status_allowed(student: Student, allowed: list[int | str]) -> bool:
    """The status gate: int entries match the id, str entries the description exactly."""
    if not allowed:
        return True
    status = student.status
    if status is None:
        return False
    for entry in allowed:
        if isinstance(entry, int) and status.id is not None and entry == status.id:
            return True
        if (
            isinstance(entry, str)
            and status.description is not None
            and entry == status.description
        ):
            return True
    return False


def mapped_stage(status: Ref, stages: dict[int | str, str]) -> str | None:
    """The stage for a registration status; an id match wins over a description match."""
    if status.id is not None and status.id in stages:
        return stages[status.id]
    if status.description is not None and status.description in stages:
        return stages[status.description]
    return None


@dataclass(frozen=True, slots=True)
class DealDecision:
    """What to do with the deal of one registration, given whether that deal exists.

    ``create``: create the deal, starting in ``stage`` (None: the pipeline's first stage).
    ``update``: apply UpdateDeal's mapping. ``stage`` on an existing deal: ChangeDealStatus.
    ``skips``: the rules that stopped an action, in the order met.
    """

    code: str
    create: bool
    update: bool
    stage: str | None
    skips: tuple[str, ...]


def decide_deal(
    tenant: str,
    registration: Registration,
    settings: Settings,
    today: dt.date,
    *,
    deal_exists: bool,
) -> DealDecision:
    """Apply CreateDeal / UpdateDeal / ChangeDealStatus rules to one registration."""
    acts = settings.actions
    code = deal_code(tenant, registration, settings.deals.re_registration)
    stages = acts.ChangeDealStatus.stages if acts.ChangeDealStatus else {}
    stage = mapped_stage(registration.registrationStatus, stages)
    age = age_rule(registration, settings, today)
    skips: list[str] = []

    if not deal_exists:
        if acts.CreateDeal is None:
            return DealDecision(code, False, False, None, (ACTION_NOT_CONFIGURED,))
        if age is not None:
            return DealDecision(code, False, False, None, (age,))
        minimum = settings.deals.min_global_code
        if minimum is not None and registration.globalCode < minimum:
            return DealDecision(code, False, False, None, (GLOBAL_CODE_BELOW_MINIMUM,))
        if acts.ChangeDealStatus is not None and stage is None:
            skips.append(STATUS_NOT_MAPPED)
        return DealDecision(code, True, False, stage, tuple(skips))

    if acts.UpdateDeal is None and acts.ChangeDealStatus is None:
        return DealDecision(code, False, False, None, (ACTION_NOT_CONFIGURED,))
    if age is not None:
        return DealDecision(code, False, False, None, (age,))
    if not status_allowed(registration.student, settings.deals.update_only_for_student_statuses):
        return DealDecision(code, False, False, None, (STUDENT_STATUS_NOT_ALLOWED,))
    update = acts.UpdateDeal is not None
    if acts.ChangeDealStatus is not None and stage is None:
        skips.append(STATUS_NOT_MAPPED)
    return DealDecision(code, False, update, stage if acts.ChangeDealStatus else None, tuple(skips))
