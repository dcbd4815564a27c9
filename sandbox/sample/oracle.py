"""The expected CRM state of a sample: SPEC sections 4 and 10 re-implemented, independently.

Owns: ``OracleSettings`` (the rule and mapping settings read from a validated config), a
simulated portal (contacts unique by e-mail and by ``classter_student_id``, deals unique by
``classter_deal_code``, deal-to-contact associations), and ``run``/``expected_state``, which
replay records in the given order, one at a time, and return the canonical state
(``sandbox.crm_state.canonical``) plus the DLQ records and the rule-skip counts.

Deliberately independent of ``consumer.rules``, ``consumer.mapping`` and ``consumer.events``
(tests compare the two implementations on the sample); only ``consumer.config`` is used, to read
the config file. Conventions shared with the daemon because the SPEC leaves them open: the deal
name is ``"{givenName surname} - {program} - {period}"``; a deal action refused by several rules
is counted once, under the first of: program start age, semester start age (in list order),
then the global code (creation) or the student-status gate (update and stage); an unmapped
registration status is counted as ``status_not_mapped`` on creation too (the deal starts in the
pipeline's first stage). Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from consumer.config import MappingEntry, Settings
from sandbox import crm_state
from sandbox.sample import contract
from sandbox.sample.records import DEFAULT_PARTITIONS, SampleRecord, positions

NO_EMAIL = "no_email"
ACTION_NOT_CONFIGURED = "action_not_configured"
GLOBAL_CODE_BELOW_MINIMUM = "global_code_below_minimum"
PROGRAM_START_TOO_OLD = "program_start_too_old"
SEMESTER_START_TOO_OLD = "semester_start_too_old"
STUDENT_STATUS_NOT_ALLOWED = "student_status_not_allowed"
STATUS_NOT_MAPPED = "status_not_mapped"
EMAIL_CONFLICT = "email_conflict"
MAX_STRING = 65_536
HUBSPOT_DEFAULT_FIRST_STAGE = "appointmentscheduled"

Source = Mapping[str, Any]
Getter = Callable[[Source], "str | None"]


# -- mapping ------------------------------------------------------------------------------------


def _at(source: Source, path: str) -> object:
    node: object = source
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node.get("description") if isinstance(node, Mapping) else node


def _render(value: object) -> str | None:
    if value is None or isinstance(value, Mapping | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    return text[:MAX_STRING] if text else None


def fields(*paths: str) -> Getter:
    """One property from one or more source paths, joined by a space, empty parts dropped."""

    def get(source: Source) -> str | None:
        parts = [p for p in (_render(_at(source, path)) for path in paths) if p]
        return " ".join(parts)[:MAX_STRING] if parts else None

    return get


def normalise_email(value: object) -> str | None:
    """SPEC section 10: ``str.strip()`` then ``str.lower()``; nothing left means no e-mail."""
    if not isinstance(value, str):
        return None
    return value.strip().lower() or None


def _email_of(getter: Getter) -> Getter:
    return lambda source: normalise_email(getter(source))


def _deal_name(registration: Source) -> str | None:
    parts = [
        fields("student.givenName", "student.surname")(registration),
        fields("program")(registration),
        fields("academicPeriod")(registration),
    ]
    kept = [p for p in parts if p]
    return " - ".join(kept) if kept else None


CONTACT_MODEL: dict[str, Getter] = {
    "email": lambda student: normalise_email(student.get("email")),
    "firstname": fields("givenName"),
    "lastname": fields("surname"),
    "mobilephone": fields("mobilePhone"),
    "date_of_birth": fields("dateOfBirth"),
    "gender": fields("gender"),
    "classter_student_status": fields("status"),
    "classter_external_id": fields("externalId"),
}
DEAL_MODEL: dict[str, Getter] = {
    "dealname": _deal_name,
    "classter_program": fields("program"),
    "classter_stream": fields("stream"),
    "classter_academic_period": fields("academicPeriod"),
    "classter_location": fields("location"),
    "classter_registration_status": fields("registrationStatus"),
    "classter_start_date": fields("startDate"),
    "classter_end_date": fields("endDate"),
}


def mapping_table(
    model: Mapping[str, Getter], model_mapping: bool, custom: Sequence[MappingEntry]
) -> dict[str, Getter]:
    """Model entries (when on), overridden by custom entries for the same property."""
    table = dict(model) if model_mapping else {}
    for entry in custom:
        getter = fields(*entry.classter)
        table[entry.hubspot] = _email_of(getter) if entry.hubspot == "email" else getter
    return table


def apply_mapping(table: Mapping[str, Getter], source: Source) -> dict[str, str]:
    """The properties an action writes: only present values (absent or null writes nothing)."""
    return {prop: value for prop, get in table.items() if (value := get(source)) is not None}


# -- settings -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OracleSettings:
    """What the rules and mappings need; ``None`` tables and stages mean "not configured"."""

    today: dt.date
    min_global_code: int | None = None
    max_program_start_age_days: int | None = None
    max_semester_start_age_days: int | None = None
    status_gate: tuple[int | str, ...] = ()
    re_registration: str = "keep_deal_code"
    pipeline: str = "default"
    first_stage: str = HUBSPOT_DEFAULT_FIRST_STAGE
    stages: Mapping[int | str, str] | None = None
    create_contact: Mapping[str, Getter] | None = None
    update_contact: Mapping[str, Getter] | None = None
    create_deal: Mapping[str, Getter] | None = None
    update_deal: Mapping[str, Getter] | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        today: dt.date | None = None,
        first_stage: str = HUBSPOT_DEFAULT_FIRST_STAGE,
    ) -> OracleSettings:
        """From a validated config; ``today`` defaults to its ``fixed_today`` (required then)."""
        day = today or settings.fixed_today
        if day is None:
            raise ValueError("the oracle needs a date: set fixed_today or pass today")
        acts, deals = settings.actions, settings.deals
        pipelines = [
            a.pipeline
            for a in (acts.CreateDeal, acts.UpdateDeal, acts.ChangeDealStatus)
            if a is not None
        ]
        return cls(
            today=day,
            min_global_code=deals.min_global_code,
            max_program_start_age_days=deals.max_program_start_age_days,
            max_semester_start_age_days=deals.max_semester_start_age_days,
            status_gate=tuple(deals.update_only_for_student_statuses),
            re_registration=deals.re_registration,
            pipeline=pipelines[0] if pipelines else "default",
            first_stage=first_stage,
            stages=dict(acts.ChangeDealStatus.stages) if acts.ChangeDealStatus else None,
            create_contact=_table(CONTACT_MODEL, acts.CreateContact),
            update_contact=_table(CONTACT_MODEL, acts.UpdateContact),
            create_deal=_table(DEAL_MODEL, acts.CreateDeal),
            update_deal=_table(DEAL_MODEL, acts.UpdateDeal),
        )


def _table(model: Mapping[str, Getter], action: Any) -> dict[str, Getter] | None:
    if action is None:
        return None
    return mapping_table(model, bool(action.model_mapping), list(action.custom_mapping))


# -- rules --------------------------------------------------------------------------------------


def deal_code(tenant: str, registration: Source, policy: str) -> str:
    """SPEC section 10: under keep_deal_code a re-registration keeps its chain's code."""
    if policy == "keep_deal_code" and registration.get("fromReRegistration") is True:
        for anchor in (
            registration.get("firstRegistrationId"),
            registration.get("previousRegistrationId"),
        ):
            if anchor is not None:
                return f"{tenant}:{anchor}"
    return f"{tenant}:{registration['id']}"


def _too_old(value: object, days: int | None, today: dt.date) -> bool:
    if not isinstance(value, str) or days is None:
        return False
    return dt.date.fromisoformat(value) < today - dt.timedelta(days=days)


def age_rule(registration: Source, cfg: OracleSettings) -> str | None:
    """The age rule that blocks every deal action of this registration, if any."""
    if _too_old(registration.get("startDate"), cfg.max_program_start_age_days, cfg.today):
        return PROGRAM_START_TOO_OLD
    for semester in registration.get("semesters") or ():
        if _too_old(semester.get("startDate"), cfg.max_semester_start_age_days, cfg.today):
            return SEMESTER_START_TOO_OLD
    return None


def passes_gate(registration: Source, gate: Sequence[int | str]) -> bool:
    """The student-status gate on the registration's own student snapshot."""
    if not gate:
        return True
    status = (registration.get("student") or {}).get("status")
    if not isinstance(status, Mapping):
        return False
    sid, desc = status.get("id"), status.get("description")
    return any(
        (isinstance(e, int) and sid is not None and e == sid)
        or (isinstance(e, str) and desc is not None and e == desc)
        for e in gate
    )


def stage_for(status: Source, stages: Mapping[int | str, str]) -> str | None:
    """Integer keys match the id, string keys the description; an id match wins."""
    sid, desc = status.get("id"), status.get("description")
    by_id = [v for k, v in stages.items() if isinstance(k, int) and sid is not None and k == sid]
    if by_id:
        return by_id[0]
    by_desc = [v for k, v in stages.items() if isinstance(k, str) and k == desc]
    return by_desc[0] if by_desc else None


# -- the simulated portal -----------------------------------------------------------------------


class _Conflict(Exception):
    """The e-mail belongs to another contact (DLQ reason ``email_conflict``)."""


@dataclass
class _Portal:
    contacts: list[dict[str, str]] = field(default_factory=list)
    by_email: dict[str, int] = field(default_factory=dict)
    by_student: dict[str, int] = field(default_factory=dict)
    deals: dict[str, dict[str, str]] = field(default_factory=dict)
    deal_contacts: dict[str, set[int]] = field(default_factory=dict)

    def create_contact(self, props: dict[str, str]) -> int:
        email = normalise_email(props.get("email"))
        if email is not None and email in self.by_email:
            raise _Conflict
        index = len(self.contacts)
        self.contacts.append({})
        self.update_contact(index, props)
        return index

    def update_contact(self, index: int, props: Mapping[str, str]) -> None:
        contact = self.contacts[index]
        email = normalise_email(props.get("email"))
        if email is not None and self.by_email.get(email, index) != index:
            raise _Conflict
        old = normalise_email(contact.get("email"))
        if email is not None and old is not None and old != email:
            del self.by_email[old]
        contact.update(props)
        if email is not None:
            self.by_email[email] = index
        if key := props.get(crm_state.STUDENT_ID):
            self.by_student[key] = index

    def dump(self) -> dict[str, Any]:
        """The emulator's dump shape, so ``crm_state.canonical`` reads both sides alike."""
        codes = list(self.deals)
        return {
            "contacts": [{"id": f"c{i}", "properties": p} for i, p in enumerate(self.contacts)],
            "deals": [
                {"id": f"d{n}", "properties": {**self.deals[c], crm_state.DEAL_CODE: c}}
                for n, c in enumerate(codes)
            ],
            "associations": [
                {
                    "fromType": "deals",
                    "fromId": f"d{n}",
                    "toType": "contacts",
                    "toId": f"c{i}",
                    "associationTypeId": 3,
                }
                for n, c in enumerate(codes)
                for i in sorted(self.deal_contacts[c])
            ],
        }


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one record did: ``synced``, ``skipped`` or ``dead_lettered`` (with its reason)."""

    status: str
    reason: str | None = None
    error_class: str | None = None
    skips: tuple[str, ...] = ()


def _student_key(tenant: str, student: Source) -> str:
    return f"{tenant}:{student['id']}"


class Oracle:
    """Applies records one at a time to a simulated portal; see the module docstring."""

    def __init__(
        self, cfg: OracleSettings, seed_contacts: Sequence[Mapping[str, Any]] = ()
    ) -> None:
        self.cfg = cfg
        self.portal = _Portal()
        for record in seed_contacts:
            self.portal.create_contact({k: str(v) for k, v in record.items() if v is not None})

    def apply(self, record: SampleRecord) -> Outcome:
        verdict = contract.classify(record.key_bytes, record.value)
        if isinstance(verdict, contract.Bad):
            return Outcome("dead_lettered", verdict.reason, "bad_input")
        try:
            return self._event(verdict)
        except _Conflict:
            return Outcome("dead_lettered", EMAIL_CONFLICT, EMAIL_CONFLICT)

    def _find(self, key: str, email: str) -> tuple[int | None, bool]:
        """(contact, adopted): by student id, then by e-mail; another student's is a conflict."""
        if (index := self.portal.by_student.get(key)) is not None:
            return index, False
        index = self.portal.by_email.get(email)
        if index is None:
            return None, False
        owner = self.portal.contacts[index].get(crm_state.STUDENT_ID)
        if owner and owner != key:
            raise _Conflict
        return index, True

    def _event(self, event: contract.Valid) -> Outcome:
        key = _student_key(event.tenant, event.student)
        email = normalise_email(event.student.get("email"))
        if email is None:
            return Outcome("skipped", skips=(NO_EMAIL,))
        index, adopted = self._find(key, email)
        if event.registration is None:
            return self._student(event.student, key, index, adopted)
        return self._registration(event.tenant, event.registration, key, index, adopted)

    def _student(self, student: Source, key: str, index: int | None, adopted: bool) -> Outcome:
        cfg = self.cfg
        if index is None:
            if cfg.create_contact is None:
                return Outcome("skipped", skips=(ACTION_NOT_CONFIGURED,))
            self.portal.create_contact(
                {**apply_mapping(cfg.create_contact, student), crm_state.STUDENT_ID: key}
            )
            return Outcome("synced")
        if cfg.update_contact is None:
            if not adopted:
                return Outcome("skipped", skips=(ACTION_NOT_CONFIGURED,))
            props = {crm_state.STUDENT_ID: key}
        else:
            props = {**apply_mapping(cfg.update_contact, student), crm_state.STUDENT_ID: key}
        self.portal.update_contact(index, props)
        return Outcome("synced")

    def _registration(
        self, tenant: str, registration: Source, key: str, index: int | None, adopted: bool
    ) -> Outcome:
        cfg = self.cfg
        contact_written = index is None or adopted
        if index is None:
            if cfg.create_contact is None:
                return Outcome("skipped", skips=(ACTION_NOT_CONFIGURED,))
            index = self.portal.create_contact(
                {
                    **apply_mapping(cfg.create_contact, registration["student"]),
                    crm_state.STUDENT_ID: key,
                }
            )
        elif adopted:
            self.portal.update_contact(index, {crm_state.STUDENT_ID: key})
        code = deal_code(tenant, registration, cfg.re_registration)
        deal = self.portal.deals.get(code)
        acted, skips = (
            self._new_deal(code, registration, index)
            if deal is None
            else self._existing_deal(deal, registration)
        )
        if deal is not None and contact_written:
            self.portal.deal_contacts[code].add(index)
        if not acted and not contact_written and skips:
            return Outcome("skipped", skips=skips)
        return Outcome("synced", skips=skips)

    def _new_deal(
        self, code: str, registration: Source, contact: int
    ) -> tuple[bool, tuple[str, ...]]:
        cfg = self.cfg
        if cfg.create_deal is None:
            return False, (ACTION_NOT_CONFIGURED,)
        if (age := age_rule(registration, cfg)) is not None:
            return False, (age,)
        if cfg.min_global_code is not None and registration["globalCode"] < cfg.min_global_code:
            return False, (GLOBAL_CODE_BELOW_MINIMUM,)
        stage = stage_for(registration["registrationStatus"], cfg.stages or {})
        skips = (STATUS_NOT_MAPPED,) if cfg.stages is not None and stage is None else ()
        props = apply_mapping(cfg.create_deal, registration)
        props.update(pipeline=cfg.pipeline, dealstage=stage or cfg.first_stage)
        self.portal.deals[code] = props
        self.portal.deal_contacts[code] = {contact}
        return True, skips

    def _existing_deal(
        self, deal: dict[str, str], registration: Source
    ) -> tuple[bool, tuple[str, ...]]:
        cfg = self.cfg
        if cfg.update_deal is None and cfg.stages is None:
            return False, (ACTION_NOT_CONFIGURED,)
        if (age := age_rule(registration, cfg)) is not None:
            return False, (age,)
        if not passes_gate(registration, cfg.status_gate):
            return False, (STUDENT_STATUS_NOT_ALLOWED,)
        props: dict[str, str] = {}
        if cfg.update_deal is not None:
            props = apply_mapping(cfg.update_deal, registration)
            props.pop("dealstage", None)  # only ChangeDealStatus moves a deal's stage
        stage = stage_for(registration["registrationStatus"], cfg.stages or {})
        if stage is not None:
            props["dealstage"] = stage
        deal.update(props)
        skips = (STATUS_NOT_MAPPED,) if cfg.stages is not None and stage is None else ()
        return cfg.update_deal is not None or stage is not None, skips


@dataclass
class OracleRun:
    """Per-record outcomes (in input order) and the final canonical state."""

    outcomes: list[Outcome]
    state: dict[str, Any]


def run(
    records: Sequence[SampleRecord],
    seed: Mapping[str, Any],
    cfg: OracleSettings,
    *,
    partitions: int = DEFAULT_PARTITIONS,
) -> OracleRun:
    """Replay ``records`` in order on a portal holding ``seed``'s contacts.

    ``seed`` is the emulator's seed document (``{"contacts": [{"properties": {...}}]}``).
    DLQ records carry the line index and the (topic, partition, offset) each record gets when
    the file is published to fresh topics with ``partitions`` partitions.
    """
    oracle = Oracle(cfg, [c.get("properties") or {} for c in seed.get("contacts") or ()])
    outcomes = [oracle.apply(record) for record in records]
    places = positions(records, partitions)
    dead = [
        {
            "line": n,
            "topic": records[n].topic,
            "partition": places[n].partition,
            "offset": places[n].offset,
            "key": records[n].key,
            "error_class": o.error_class,
            "reason": o.reason,
            **({"case": records[n].case} if records[n].case else {}),
        }
        for n, o in enumerate(outcomes)
        if o.status == "dead_lettered"
    ]
    contact_props = [
        *crm_state.CONTACT_PROPERTIES,
        *sorted(
            p
            for p in (set(cfg.create_contact or ()) | set(cfg.update_contact or ()))
            if p not in crm_state.CONTACT_PROPERTIES
        ),
    ]
    deal_props = [
        *crm_state.DEAL_PROPERTIES,
        *sorted(
            p
            for p in set(cfg.create_deal or ()) | set(cfg.update_deal or ())
            if p not in crm_state.DEAL_PROPERTIES
        ),
    ]
    state = crm_state.canonical(
        oracle.portal.dump(), contact_properties=contact_props, deal_properties=deal_props
    )
    skips = Counter(rule for o in outcomes for rule in o.skips)
    state["dlq"] = {
        "count": len(dead),
        "by_reason": dict(sorted(Counter(str(d["reason"]) for d in dead).items())),
        "records": dead,
    }
    state["rule_skips"] = dict(sorted(skips.items()))
    return OracleRun(outcomes, state)


def expected_state(
    records: Sequence[SampleRecord],
    seed: Mapping[str, Any],
    cfg: OracleSettings,
    *,
    partitions: int = DEFAULT_PARTITIONS,
) -> dict[str, Any]:
    """The canonical expected state (the content of ``expected_state.json``)."""
    return run(records, seed, cfg, partitions=partitions).state
