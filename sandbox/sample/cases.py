"""The named scenario cases of the sample (``examples/sample/CASES.md``).

Owns: the hand-built students, registrations, marketing leads and bad records that put each
rule of SPEC sections 4, 7 and 10 at its boundary relative to the demo config
(``fixed_today: 2026-11-15``, Europe/Athens), and each case's stated expectation in two forms:
prose for reviewers and ``Expect`` values that a test checks against the oracle. Case students
have fixed ids (2601-2641, both tenants), so the cases do not move when the bulk grows.
Deterministic: no randomness.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from sandbox.sample.records import REGISTRATIONS_TOPIC, STUDENTS_TOPIC, SampleRecord
from sandbox.sample.world import (
    APPLICANT,
    BRIDGING,
    BRIDGING_STREAM,
    DEFERRED,
    GENERAL,
    GRADES,
    HARBOUR_CAMPUS,
    HARBOURVIEW,
    HUMANITIES,
    HV_PRE_REGISTERED,
    HV_REGISTERED,
    INTERVIEW,
    NORTHWIND,
    PRE_REGISTERED,
    REGISTERED,
    S_APPLICANT,
    S_ENROLLED,
    S_PRE_REGISTERED,
    S_REGISTERED,
    S_WITHDRAWN,
    SCIENCE,
    SEASIDE_CAMPUS,
    SUMMER,
    SUMMER_STREAM,
    WAITING_LIST,
    WITHDRAWN,
    Emails,
    Enrolment,
    Person,
    Ref,
    Timeline,
    at,
    enrolment,
)

D = dt.date
DEFAULT_BIRTH = D(2011, 3, 14)
Props = Mapping[str, str] | None


@dataclass(frozen=True)
class Expect:
    """What the final state must hold: property subsets, or None for "no such record"."""

    contacts: Mapping[str, Props] = field(default_factory=dict)
    deals: Mapping[str, Props] = field(default_factory=dict)
    dlq: tuple[str, ...] = ()
    unmanaged_emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    """One scenario: its students, the prose expectation, and the checked expectation under
    ``keep_deal_code`` (the demo config) and, where it differs, under ``new_deal_code``."""

    id: str
    title: str
    students: tuple[str, ...]
    expected: str
    expect: Expect
    expect_new_deal_code: Expect | None = None


@dataclass
class CaseSet:
    cases: list[Case]
    leads: list[dict[str, Any]]
    persons: list[Person]


LEADS: list[dict[str, Any]] = [
    # adopted by a student event (C06)
    {
        "email": "nikos.theodorou@example.org",
        "firstname": "Nikos",
        "lastname": "Theodorou",
        "mobilephone": "+30 690 000 9606",
        "lifecyclestage": "lead",
    },
    # adopted by a registration only (C07)
    {
        "email": "kostas.alexiou@example.org",
        "firstname": "Kostas",
        "lastname": "Alexiou",
        "mobilephone": "+30 690 000 9607",
        "lifecyclestage": "lead",
    },
    # the family address: adopted by one sibling, wanted by the other (C08)
    {
        "email": "papadakis.family@example.org",
        "firstname": "Katerina",
        "lastname": "Papadaki",
        "lifecyclestage": "lead",
    },
    # never adopted (U01)
    {
        "email": "irene.markou@example.org",
        "firstname": "Irene",
        "lastname": "Markou",
        "lifecyclestage": "lead",
    },
    {
        "email": "sotiris.galanis@example.org",
        "firstname": "Sotiris",
        "lastname": "Galanis",
        "lifecyclestage": "lead",
    },
    {
        "email": "amelia.pemberton@example.org",
        "firstname": "Amelia",
        "lastname": "Pemberton",
        "lifecyclestage": "subscriber",
    },
    {
        "email": "eleni.vlachou.parent@example.org",
        "firstname": "Eleni",
        "lastname": "Vlachou",
        "lifecyclestage": "lead",
    },
]


class _Builder:
    def __init__(self, tl: Timeline, emails: Emails) -> None:
        self.tl = tl
        self.emails = emails
        self.cases: list[Case] = []
        self.persons: list[Person] = []
        self._seq = 900

    def person(
        self,
        sid: int,
        given: str,
        surname: str,
        *,
        tenant: str = NORTHWIND,
        email: str | None = "auto",
        middle: str | None = None,
        gender: str = "Female",
        birth: D = DEFAULT_BIRTH,
        status: Ref | None = S_APPLICANT,
        mobile: str | None = "auto",
    ) -> Person:
        address = self.emails.make(given, surname) if email == "auto" else email
        person = Person(
            tenant=tenant,
            id=sid,
            email=address,
            given=given,
            surname=surname,
            middle=middle,
            gender=gender,
            birth=birth,
            mobile=f"+30 690 000 {sid:04d}" if mobile == "auto" else mobile,
            status=status,
            external_id=f"SIS-{sid}",
        )
        self.persons.append(person)
        return person

    def reg(
        self,
        person: Person,
        reg_id: int,
        year: int = 2026,
        grade: int = 10,
        stream: Ref | None = GENERAL,
        **kwargs: Any,
    ) -> Enrolment:
        self._seq += 1
        program = kwargs.pop("program", GRADES[grade])
        return enrolment(person, reg_id, year, program, stream, seq=self._seq, **kwargs)

    def add(self, case: Case) -> None:
        self.cases.append(case)


def _keys(*persons: Person) -> tuple[str, ...]:
    return tuple(p.key for p in persons)


def _identity_cases(b: _Builder) -> None:  # noqa: PLR0915 - one straight script of events
    tl = b.tl
    # C01 registration before student
    p = b.person(2601, "Sofia", "Nikolaidou", middle="Anna", status=S_PRE_REGISTERED)
    r = b.reg(p, 51801)
    tl.registration(at(D(2026, 3, 2), 10, 0), r, PRE_REGISTERED, case="C01")
    tl.student(at(D(2026, 3, 2), 10, 5), p, case="C01")
    p.status = S_REGISTERED
    tl.registration(at(D(2026, 9, 1), 9, 0), r, REGISTERED, case="C01")
    tl.student(at(D(2026, 9, 1), 9, 3), p, case="C01")
    b.add(
        Case(
            "C01",
            "A registration arrives before its student's first student event",
            _keys(p),
            "The registration creates the contact from its snapshot (firstname 'Sofia'); "
            "the student event then updates it with the full record ('Sofia Anna'). In the "
            "other order the student event creates it and the registration finds it by id: "
            "the same final contact, one deal 51801 in closedwon.",
            Expect(
                {
                    p.key: {
                        "firstname": "Sofia Anna",
                        "classter_student_status": "Registered",
                        "mobilephone": "+30 690 000 2601",
                    }
                },
                {"northwind:51801": {"dealstage": "closedwon", "contact": p.key}},
            ),
        )
    )

    # C02 no e-mail, then a student event brings it
    p = b.person(2602, "Dimitris", "Karagiannis", gender="Male", email=None)
    r = b.reg(p, 51802)
    tl.student(at(D(2026, 1, 12), 11, 0), p, case="C02")
    tl.registration(at(D(2026, 1, 12), 11, 10), r, APPLICANT, case="C02")
    p.email = b.emails.make("Dimitris", "Karagiannis")
    tl.student(at(D(2026, 2, 20), 9, 30), p, case="C02")
    p.status = S_PRE_REGISTERED
    tl.registration(at(D(2026, 4, 15), 10, 0), r, PRE_REGISTERED, case="C02")
    tl.student(at(D(2026, 4, 15), 10, 2), p, case="C02")
    b.add(
        Case(
            "C02",
            "No e-mail at first; a later student event brings it",
            _keys(p),
            "The first student event and the first registration event have no e-mail: both "
            "skipped (no_email x2), nothing written. The student event with the e-mail "
            "creates the contact; the next registration creates deal 51802, in "
            "qualifiedtobuy (Pre-registered).",
            Expect(
                {
                    p.key: {
                        "email": "dimitris.karagiannis@example.org",
                        "classter_student_status": "Pre-registered",
                    }
                },
                {
                    "northwind:51802": {
                        "dealstage": "qualifiedtobuy",
                        "classter_registration_status": "Pre-registered",
                    }
                },
            ),
        )
    )

    # C03 whitespace-only e-mail; the registration brings the address
    p = b.person(2603, "Eleni", "Vlachou", email="   ", status=S_PRE_REGISTERED)
    r = b.reg(p, 51803)
    tl.student(at(D(2026, 2, 3), 12, 0), p, case="C03")
    p.email = b.emails.make("Eleni", "Vlachou")
    tl.registration(at(D(2026, 5, 11), 10, 0), r, PRE_REGISTERED, case="C03")
    b.add(
        Case(
            "C03",
            "A whitespace-only e-mail is no e-mail; a registration brings the address",
            _keys(p),
            "The student event's e-mail is '   ': skipped (no_email). The registration's "
            "snapshot carries the address: it creates the contact from the snapshot only "
            "(firstname 'Eleni', status 'Pre-registered', no mobile phone, no date of birth) "
            "and deal 51803 in qualifiedtobuy. The parent's lead "
            "eleni.vlachou.parent@example.org is a different address and stays unmanaged.",
            Expect(
                {
                    p.key: {
                        "email": "eleni.vlachou@example.org",
                        "firstname": "Eleni",
                        "classter_student_status": "Pre-registered",
                    }
                },
                {"northwind:51803": {"dealstage": "qualifiedtobuy"}},
                unmanaged_emails=("eleni.vlachou.parent@example.org",),
            ),
        )
    )

    # C04 e-mail change
    p = b.person(
        2604, "Georgios", "Stavrou", gender="Male", email=b.emails.reserve("g.stavrou@example.org")
    )
    r = b.reg(p, 51804)
    tl.student(at(D(2026, 1, 20), 9, 0), p, case="C04")
    tl.registration(at(D(2026, 1, 20), 9, 5), r, APPLICANT, case="C04")
    p.email = b.emails.reserve("georgios.stavrou@example.org")
    p.status = S_PRE_REGISTERED
    tl.student(at(D(2026, 6, 2), 14, 0), p, case="C04")
    tl.registration(at(D(2026, 6, 2), 14, 5), r, PRE_REGISTERED, case="C04")
    p.status = S_REGISTERED
    tl.registration(at(D(2026, 9, 3), 9, 0), r, REGISTERED, case="C04")
    tl.student(at(D(2026, 9, 3), 9, 2), p, case="C04")
    b.add(
        Case(
            "C04",
            "An e-mail change updates the same contact",
            _keys(p),
            "One contact, found by classter_student_id, whose e-mail moves from "
            "g.stavrou@example.org to georgios.stavrou@example.org; no contact keeps the old "
            "address. Deal 51804: created at Applicant in appointmentscheduled "
            "(status_not_mapped), the Pre-registered change is refused by the gate (student "
            "status Pre-registered), Registered moves it to closedwon.",
            Expect(
                {p.key: {"email": "georgios.stavrou@example.org"}},
                {"northwind:51804": {"dealstage": "closedwon"}},
            ),
        )
    )

    # C05 mixed case and whitespace
    p = b.person(
        2605,
        "Ioanna",
        "Karagianni",
        email=b.emails.reserve("  Ioanna.Karagianni@Example.ORG "),
        status=S_REGISTERED,
    )
    r = b.reg(p, 51805, grade=11, stream=SCIENCE)
    tl.student(at(D(2026, 8, 27), 10, 0), p, case="C05")
    tl.registration(
        at(D(2026, 8, 27), 10, 30),
        r,
        REGISTERED,
        case="C05",
        snapshot={**p.snapshot(), "email": "IOANNA.KARAGIANNI@EXAMPLE.ORG"},
    )
    b.add(
        Case(
            "C05",
            "Mixed-case e-mail with spaces, and a differently cased snapshot",
            _keys(p),
            "Both spellings normalise to ioanna.karagianni@example.org: one contact with "
            "that address, deal 51805 created directly in closedwon.",
            Expect(
                {p.key: {"email": "ioanna.karagianni@example.org"}},
                {"northwind:51805": {"dealstage": "closedwon", "contact": p.key}},
            ),
        )
    )

    # C06 lead adopted by a student event
    p = b.person(
        2606,
        "Nikolaos",
        "Theodorou",
        middle="Ioannis",
        gender="Male",
        email="Nikos.Theodorou@example.org",
    )
    r = b.reg(p, 51806, grade=9)
    tl.student(at(D(2026, 2, 10), 16, 0), p, case="C06")
    tl.registration(at(D(2026, 2, 10), 16, 20), r, APPLICANT, case="C06")
    p.status = S_REGISTERED
    tl.registration(at(D(2026, 9, 2), 9, 0), r, REGISTERED, case="C06")
    tl.student(at(D(2026, 9, 2), 9, 1), p, case="C06")
    b.add(
        Case(
            "C06",
            "A marketing lead with the student's e-mail is adopted by a student event",
            _keys(p),
            "The seeded lead nikos.theodorou@example.org ('Nikos', mobile +30 690 000 9606) "
            "becomes the student's contact: classter_student_id set and UpdateContact's "
            "mapping applied (firstname 'Nikolaos Ioannis', Classter's mobile). No second "
            "contact. Deal 51806 ends in closedwon.",
            Expect(
                {
                    p.key: {
                        "email": "nikos.theodorou@example.org",
                        "firstname": "Nikolaos Ioannis",
                        "mobilephone": "+30 690 000 2606",
                    }
                },
                {"northwind:51806": {"dealstage": "closedwon", "contact": p.key}},
            ),
        )
    )

    # C07 lead adopted by a registration only
    p = b.person(
        2607,
        "Konstantinos",
        "Alexiou",
        gender="Male",
        email="kostas.alexiou@example.org",
        status=S_PRE_REGISTERED,
    )
    r = b.reg(p, 51807, grade=9)
    tl.registration(at(D(2026, 4, 22), 11, 0), r, PRE_REGISTERED, case="C07")
    p.status = S_REGISTERED
    tl.registration(at(D(2026, 9, 4), 10, 0), r, REGISTERED, case="C07")
    b.add(
        Case(
            "C07",
            "A marketing lead is adopted by a registration (no student event)",
            _keys(p),
            "The registration's snapshot only claims the lead: classter_student_id is set, "
            "the lead's own values stay (firstname 'Kostas', mobile +30 690 000 9607) and "
            "nothing else is written (no classter_student_status). Deal 51807: "
            "qualifiedtobuy, then closedwon.",
            Expect(
                {p.key: {"firstname": "Kostas", "mobilephone": "+30 690 000 9607"}},
                {"northwind:51807": {"dealstage": "closedwon", "contact": p.key}},
            ),
        )
    )

    # C08 the family address: adopted by A, B's change to it is a conflict
    # the seeded lead already holds this address (reserved with LEADS): not reserved again
    a = b.person(2608, "Anna", "Papadaki", email="Papadakis.Family@example.org")
    ra = b.reg(a, 51808, grade=9)
    tl.student(at(D(2026, 1, 15), 18, 0), a, case="C08")
    tl.registration(at(D(2026, 1, 15), 18, 10), ra, APPLICANT, case="C08")
    a.status = S_REGISTERED
    tl.registration(at(D(2026, 9, 1), 10, 0), ra, REGISTERED, case="C08")
    tl.student(at(D(2026, 9, 1), 10, 1), a, case="C08")
    bb = b.person(
        2609, "Petros", "Papadakis", gender="Male", birth=D(2009, 7, 2), status=S_REGISTERED
    )
    old = b.reg(
        bb,
        47809,
        year=2025,
        grade=11,
        stream=SCIENCE,
        from_re_registration=True,
        previous_id=46809,
        first_id=45809,
    )
    new = b.reg(
        bb,
        51809,
        grade=12,
        stream=SCIENCE,
        from_re_registration=True,
        previous_id=47809,
        first_id=45809,
    )
    tl.registration(at(D(2025, 9, 1), 9, 0), old, REGISTERED, case="C08")
    tl.student(at(D(2026, 3, 1), 12, 0), bb, case="C08")
    tl.registration(at(D(2026, 5, 6), 9, 0), new, PRE_REGISTERED, case="C08")
    tl.registration(at(D(2026, 9, 1), 9, 30), new, REGISTERED, case="C08")
    own = bb.email
    bb.email = "papadakis.family@example.org"
    tl.student(at(D(2026, 11, 2), 17, 45), bb, case="C08")
    b.add(
        Case(
            "C08",
            "Siblings and the family address: adoption, then an email_conflict",
            _keys(a, bb),
            "The seeded lead papadakis.family@example.org (the mother, 'Katerina') is "
            "adopted by Anna (2608), whose Classter e-mail is that address. Her brother "
            "Petros (2609) has his own contact; on 2 November his e-mail is changed to the "
            "family address, which another contact owns: that event is dead-lettered "
            "(email_conflict) and his contact keeps its address. The outcome does not depend "
            "on which sibling Kafka delivers first, because the lead owns the address from "
            "the start. Petros's 2025-2026 registration 47809 is too old for a deal; his "
            "re-registration 51809 (first registration 45809) makes deal northwind:45809 "
            "under keep_deal_code (northwind:51809 under new_deal_code).",
            Expect(
                {
                    a.key: {"email": "papadakis.family@example.org", "firstname": "Anna"},
                    bb.key: {"email": str(own)},
                },
                {
                    "northwind:51808": {"dealstage": "closedwon", "contact": a.key},
                    "northwind:45809": {
                        "dealstage": "closedwon",
                        "contact": bb.key,
                        "classter_program": "Grade 12",
                    },
                    "northwind:51809": None,
                    "northwind:47809": None,
                },
                dlq=("email_conflict",),
            ),
            Expect(
                {},
                {"northwind:51809": {"dealstage": "closedwon"}, "northwind:45809": None},
                dlq=("email_conflict",),
            ),
        )
    )


def _tenant_cases(b: _Builder) -> None:
    tl = b.tl
    nw = b.person(2637, "Maria", "Georgiou", middle="Eleni", status=S_REGISTERED)
    hv = b.person(2637, "Chloe", "Whitfield", tenant=HARBOURVIEW, status=S_REGISTERED)
    rn = b.reg(nw, 51877)
    rh = b.reg(hv, 51877, location=HARBOUR_CAMPUS)
    tl.student(at(D(2026, 8, 28), 9, 0), nw, case="C09")
    tl.registration(at(D(2026, 8, 28), 9, 5), rn, REGISTERED, case="C09")
    tl.student(at(D(2026, 8, 28), 9, 10), hv, case="C09")
    tl.registration(at(D(2026, 8, 28), 9, 15), rh, HV_REGISTERED, case="C09")
    extra = []
    for sid, given, surname in ((2601, "James", "Pemberton"), (2602, "Lucy", "Hartley")):
        h = b.person(
            sid,
            given,
            surname,
            tenant=HARBOURVIEW,
            status=S_REGISTERED,
            gender="Male" if given == "James" else "Female",
        )
        hr = b.reg(h, 51800 + sid - 2600, location=HARBOUR_CAMPUS)
        tl.student(at(D(2026, 8, 31), 10, sid - 2600), h, case="C09")
        tl.registration(at(D(2026, 8, 31), 11, sid - 2600), hr, HV_REGISTERED, case="C09")
        extra.append(h)
    b.add(
        Case(
            "C09",
            "Tenant isolation: the same student and registration ids in two tenants",
            _keys(nw, hv, *extra),
            "northwind:2637 and harbourview:2637 are two contacts; registration 51877 of "
            "each tenant makes two deals (northwind:51877, harbourview:51877), each "
            "associated with its own tenant's contact. harbourview:2601/2602 and their "
            "deals 51801/51802 sit beside northwind's. Harbourview's 'Registered' has id 7: "
            "it matches the stage table by description (closedwon).",
            Expect(
                {
                    nw.key: {"firstname": "Maria Eleni"},
                    hv.key: {"firstname": "Chloe"},
                    "harbourview:2601": {"firstname": "James"},
                },
                {
                    "northwind:51877": {"contact": nw.key, "dealstage": "closedwon"},
                    "harbourview:51877": {
                        "contact": hv.key,
                        "dealstage": "closedwon",
                        "classter_location": "Harbour Campus",
                    },
                    "harbourview:51801": {"contact": "harbourview:2601"},
                },
            ),
        )
    )

    p = b.person(
        2638, "Oliver", "Hartley", tenant=HARBOURVIEW, gender="Male", status=S_PRE_REGISTERED
    )
    r = b.reg(p, 51878, location=HARBOUR_CAMPUS)
    tl.student(at(D(2026, 6, 9), 10, 0), p, case="C10")
    tl.registration(at(D(2026, 6, 9), 10, 5), r, HV_PRE_REGISTERED, case="C10")
    b.add(
        Case(
            "C10",
            "Stage table: an id match wins over a description match",
            _keys(p),
            "Harbourview's 'Pre-registered' has id 3. The stage table maps 3 -> "
            "presentationscheduled and 'Pre-registered' -> qualifiedtobuy; the id wins: "
            "deal harbourview:51878 starts in presentationscheduled.",
            Expect({}, {"harbourview:51878": {"dealstage": "presentationscheduled"}}),
        )
    )


def _age_cases(b: _Builder) -> None:
    tl = b.tl
    # D01 / D02 global code
    p1 = b.person(2611, "Christos", "Makris", gender="Male", status=S_REGISTERED)
    r1 = b.reg(p1, 51811, global_code=999)
    tl.student(at(D(2026, 7, 1), 9, 0), p1, case="D01")
    tl.registration(at(D(2026, 7, 1), 9, 5), r1, REGISTERED, case="D01")
    b.add(
        Case(
            "D01",
            "Global code 999 (below min_global_code 1000)",
            _keys(p1),
            "Registration 51811 was carried over from the legacy system with global code "
            "999: the contact exists, no deal (global_code_below_minimum).",
            Expect({p1.key: {"lastname": "Makris"}}, {"northwind:51811": None}),
        )
    )
    p2 = b.person(2612, "Athina", "Makri", status=S_REGISTERED)
    r2 = b.reg(p2, 51812, global_code=1000)
    tl.student(at(D(2026, 7, 1), 10, 0), p2, case="D02")
    tl.registration(at(D(2026, 7, 1), 10, 5), r2, REGISTERED, case="D02")
    b.add(
        Case(
            "D02",
            "Global code 1000 (equal to min_global_code)",
            _keys(p2),
            "Equal creates: deal northwind:51812 in closedwon.",
            Expect({}, {"northwind:51812": {"dealstage": "closedwon"}}),
        )
    )

    # D03 program start exactly 365 days ago, then a re-registration moves the deal on
    p = b.person(
        2613, "Leonidas", "Pappas", gender="Male", birth=D(2011, 1, 30), status=S_PRE_REGISTERED
    )
    r = b.reg(
        p,
        47813,
        year=2025,
        program=BRIDGING,
        stream=BRIDGING_STREAM,
        start=D(2025, 11, 15),
        semesters=None,
    )
    tl.student(at(D(2025, 11, 3), 9, 0), p, case="D03")
    tl.registration(at(D(2025, 11, 3), 9, 10), r, PRE_REGISTERED, case="D03")
    p.status = S_REGISTERED
    tl.registration(at(D(2025, 11, 15), 8, 30), r, REGISTERED, case="D03")
    tl.student(at(D(2025, 11, 15), 8, 31), p, case="D03")
    rr = b.reg(p, 51813, grade=10, from_re_registration=True, previous_id=47813, first_id=47813)
    tl.registration(at(D(2026, 5, 18), 12, 0), rr, PRE_REGISTERED, case="D03")
    tl.registration(at(D(2026, 9, 2), 12, 0), rr, REGISTERED, case="D03")
    b.add(
        Case(
            "D03",
            "Program start exactly 365 days ago passes; keep_deal_code moves the deal on",
            _keys(p),
            "Bridging Year 47813 (rolling intake, no semesters) started 2025-11-15, exactly "
            "365 days before 2026-11-15: deal northwind:47813 is created (qualifiedtobuy) and "
            "won. The re-registration 51813 into Grade 10 (first registration 47813) updates "
            "that same deal: dealname and program become Grade 10 2026-2027, the stage goes "
            "back to qualifiedtobuy and ends in closedwon. Under new_deal_code the "
            "re-registration gets its own deal northwind:51813 and 47813 stays Bridging Year.",
            Expect(
                {},
                {
                    "northwind:47813": {
                        "classter_program": "Grade 10",
                        "classter_academic_period": "2026-2027",
                        "dealname": "Leonidas Pappas - Grade 10 - 2026-2027",
                        "dealstage": "closedwon",
                    },
                    "northwind:51813": None,
                },
            ),
            Expect(
                {},
                {
                    "northwind:47813": {
                        "classter_program": "Bridging Year",
                        "dealstage": "closedwon",
                    },
                    "northwind:51813": {"classter_program": "Grade 10", "dealstage": "closedwon"},
                },
            ),
        )
    )

    # D04 program start 366 days ago; the re-registration names only its previous registration
    p = b.person(2614, "Zoë", "O'Neill-Pappa", birth=D(2011, 5, 5), status=S_PRE_REGISTERED)
    r = b.reg(
        p,
        47814,
        year=2025,
        program=BRIDGING,
        stream=BRIDGING_STREAM,
        start=D(2025, 11, 14),
        semesters=None,
    )
    tl.student(at(D(2025, 11, 2), 9, 0), p, case="D04")
    tl.registration(at(D(2025, 11, 2), 9, 10), r, PRE_REGISTERED, case="D04")
    p.status = S_REGISTERED
    tl.registration(at(D(2025, 11, 14), 8, 30), r, REGISTERED, case="D04")
    tl.student(at(D(2025, 11, 14), 8, 31), p, case="D04")
    rr = b.reg(p, 51814, grade=10, from_re_registration=True, previous_id=47814)
    tl.registration(at(D(2026, 5, 19), 12, 0), rr, PRE_REGISTERED, case="D04")
    tl.registration(at(D(2026, 9, 2), 12, 5), rr, REGISTERED, case="D04")
    b.add(
        Case(
            "D04",
            "Program start 366 days ago blocks; re-registration without firstRegistrationId",
            _keys(p),
            "Bridging Year 47814 started 2025-11-14, 366 days ago: both its events are "
            "skipped (program_start_too_old). The re-registration 51814 gives only "
            "previousRegistrationId 47814, so under keep_deal_code its code is "
            "northwind:47814: that deal is created now, for Grade 10 (qualifiedtobuy, then "
            "closedwon). Under new_deal_code it is northwind:51814. The name 'Zoë "
            "O'Neill-Pappa' travels unchanged.",
            Expect(
                {p.key: {"firstname": "Zoë", "lastname": "O'Neill-Pappa"}},
                {
                    "northwind:47814": {"classter_program": "Grade 10", "dealstage": "closedwon"},
                    "northwind:51814": None,
                },
            ),
            Expect({}, {"northwind:51814": {"dealstage": "closedwon"}, "northwind:47814": None}),
        )
    )

    # D05 / D06 semester start 180 vs 181 days ago
    for sid, given, day, case in (
        (2615, "Spyros", D(2026, 5, 19), "D05"),
        (2616, "Vasiliki", D(2026, 5, 18), "D06"),
    ):
        p = b.person(
            sid,
            given,
            "Antoniou",
            gender="Male" if given == "Spyros" else "Female",
            status=S_PRE_REGISTERED,
        )
        r = b.reg(
            p,
            47800 + sid - 2600,
            year=2025,
            program=SUMMER,
            stream=SUMMER_STREAM,
            start=day,
            end=D(2026, 7, 31),
            semesters=((321, "Summer Term", day),),
            location=SEASIDE_CAMPUS,
        )
        tl.student(at(D(2026, 5, 4), 9, sid - 2600), p, case=case)
        tl.registration(at(D(2026, 5, 4), 10, sid - 2600), r, PRE_REGISTERED, case=case)
        p.status = S_REGISTERED
        tl.registration(at(day, 8, 0), r, REGISTERED, case=case)
        tl.student(at(day, 8, 1), p, case=case)
    b.add(
        Case(
            "D05",
            "A semester that started exactly 180 days ago passes",
            ("northwind:2615",),
            "Summer Bridge 47815: program and its only semester start 2026-05-19, exactly "
            "180 days before today: deal northwind:47815, qualifiedtobuy then closedwon.",
            Expect({}, {"northwind:47815": {"dealstage": "closedwon"}}),
        )
    )
    b.add(
        Case(
            "D06",
            "A semester that started 181 days ago blocks",
            ("northwind:2616",),
            "Summer Bridge 47816 starts 2026-05-18: the program rule passes (well within 365 "
            "days) but the semester is 181 days old: both events skipped "
            "(semester_start_too_old), no deal.",
            Expect({"northwind:2616": {"lastname": "Antoniou"}}, {"northwind:47816": None}),
        )
    )

    # D07 any semester: a mid-year joiner
    p = b.person(
        2617, "Harry", "Thornton", gender="Male", birth=D(2009, 10, 1), status=S_REGISTERED
    )
    r = b.reg(p, 47817, year=2025, grade=11, stream=HUMANITIES, start=D(2026, 1, 12))
    tl.student(at(D(2026, 1, 12), 9, 0), p, case="D07")
    tl.registration(at(D(2026, 1, 12), 9, 5), r, REGISTERED, case="D07")
    b.add(
        Case(
            "D07",
            "Any semester counts: a mid-year joiner",
            _keys(p),
            "Registration 47817 starts 2026-01-12 (the program rule passes) but lists the "
            "year's semesters, the first from 2025-09-08: semester_start_too_old, no deal.",
            Expect({p.key: {"firstname": "Harry"}}, {"northwind:47817": None}),
        )
    )


def _gate_cases(b: _Builder) -> None:
    tl = b.tl

    def applicant_then(
        sid: int,
        given: str,
        surname: str,
        case: str,
        *,
        final: Ref,
        final_status: dict[str, Any] | None,
        gender: str = "Female",
        first: Ref = APPLICANT,
        interview: bool = False,
    ) -> Person:
        p = b.person(
            sid,
            given,
            surname,
            gender=gender,
            status=S_PRE_REGISTERED if first == PRE_REGISTERED else S_APPLICANT,
        )
        r = b.reg(p, 51800 + sid - 2600)
        tl.student(at(D(2026, 2, 16), 9, sid - 2600), p, case=case)
        tl.registration(at(D(2026, 2, 16), 10, sid - 2600), r, first, case=case)
        if interview:
            tl.registration(at(D(2026, 3, 9), 10, sid - 2600), r, INTERVIEW, case=case)
        snap = p.snapshot()
        if final_status is None:
            snap.pop("status", None)
        else:
            snap["status"] = final_status
        tl.registration(at(D(2026, 9, 1), 11, sid - 2600), r, final, case=case, snapshot=snap)
        return p

    p = applicant_then(
        2618,
        "Emily",
        "Ashworth",
        "D08",
        final=REGISTERED,
        final_status={"id": 1, "description": "Registered"},
        interview=True,
    )
    b.add(
        Case(
            "D08",
            "Gate passes by description ('Registered')",
            _keys(p),
            "Deal 51818 is created at Applicant in appointmentscheduled (status_not_mapped); "
            "Interview Scheduled (id 3) is refused by the gate (student status Applicant); "
            "Registered with student status {1, 'Registered'} passes by description: "
            "closedwon.",
            Expect(
                {},
                {
                    "northwind:51818": {
                        "dealstage": "closedwon",
                        "classter_registration_status": "Registered",
                    }
                },
            ),
        )
    )
    p = applicant_then(
        2619,
        "Michalis",
        "Oikonomou",
        "D09",
        final=REGISTERED,
        final_status={"id": 5, "description": "Enrolled"},
        gender="Male",
    )
    b.add(
        Case(
            "D09",
            "Gate passes by id (5, 'Enrolled')",
            _keys(p),
            "Student status {5, 'Enrolled'} passes by id: deal 51819 closedwon.",
            Expect({}, {"northwind:51819": {"dealstage": "closedwon"}}),
        )
    )
    p = applicant_then(
        2620,
        "Despoina",
        "Christodoulou",
        "D10",
        final=PRE_REGISTERED,
        final_status={"id": 2, "description": "Pre-registered"},
    )
    b.add(
        Case(
            "D10",
            "Gate refuses student status {2, 'Pre-registered'}",
            _keys(p),
            "Deal 51820 stays as created at Applicant: appointmentscheduled, "
            "classter_registration_status 'Applicant' (UpdateDeal is gated too).",
            Expect(
                {},
                {
                    "northwind:51820": {
                        "dealstage": "appointmentscheduled",
                        "classter_registration_status": "Applicant",
                    }
                },
            ),
        )
    )
    p = applicant_then(
        2621,
        "Thomas",
        "Langley",
        "D11",
        final=REGISTERED,
        final_status={"id": 1},
        gender="Male",
        first=PRE_REGISTERED,
    )
    b.add(
        Case(
            "D11",
            "Gate: a status id without description does not match 'Registered'",
            _keys(p),
            "Created in qualifiedtobuy (Pre-registered). The Registered event's student "
            "status is {id: 1} with no description; the gate's string entry matches "
            "descriptions only and 1 is not an id entry: refused, stays qualifiedtobuy.",
            Expect({}, {"northwind:51821": {"dealstage": "qualifiedtobuy"}}),
        )
    )
    p = applicant_then(
        2622,
        "Lucy",
        "Brennan",
        "D12",
        final=REGISTERED,
        final_status={"description": "Registered"},
        first=PRE_REGISTERED,
    )
    b.add(
        Case(
            "D12",
            "Gate: a description without id matches 'Registered'",
            _keys(p),
            "Student status {description: 'Registered'}: passes, deal 51822 closedwon.",
            Expect({}, {"northwind:51822": {"dealstage": "closedwon"}}),
        )
    )
    p = applicant_then(
        2623,
        "Alexandros",
        "Kyriakidis",
        "D13",
        final=REGISTERED,
        final_status=None,
        gender="Male",
        first=PRE_REGISTERED,
    )
    b.add(
        Case(
            "D13",
            "Gate: a missing student status does not pass",
            _keys(p),
            "The Registered event's snapshot has no status: refused "
            "(student_status_not_allowed); deal 51823 stays qualifiedtobuy.",
            Expect({}, {"northwind:51823": {"dealstage": "qualifiedtobuy"}}),
        )
    )


def _stage_cases(b: _Builder) -> None:
    tl = b.tl
    p = b.person(2624, "Georgia", "Dimitriou", status=S_APPLICANT)
    r = b.reg(p, 51824)
    tl.student(at(D(2026, 6, 15), 9, 0), p, case="D14")
    tl.registration(at(D(2026, 6, 15), 9, 5), r, WAITING_LIST, case="D14")
    b.add(
        Case(
            "D14",
            "Unmapped registration status on a new deal",
            _keys(p),
            "'Waiting List' (18) is not in the stage table: deal 51824 starts in the "
            "pipeline's first stage, appointmentscheduled (status_not_mapped counted).",
            Expect(
                {},
                {
                    "northwind:51824": {
                        "dealstage": "appointmentscheduled",
                        "classter_registration_status": "Waiting List",
                    }
                },
            ),
        )
    )

    p = b.person(2625, "Daniel", "Marlow", gender="Male", status=S_REGISTERED)
    r = b.reg(p, 51825, grade=11, stream=SCIENCE)
    tl.student(at(D(2026, 8, 26), 9, 0), p, case="D15")
    tl.registration(at(D(2026, 8, 26), 9, 5), r, REGISTERED, case="D15")
    r.stream, r.location = HUMANITIES, SEASIDE_CAMPUS
    tl.registration(at(D(2026, 10, 5), 13, 0), r, DEFERRED, case="D15")
    b.add(
        Case(
            "D15",
            "Unmapped status on an existing deal: UpdateDeal runs, the stage stays",
            _keys(p),
            "Deal 51825 is won; the 'Deferred Entry' event (unmapped, student Registered) "
            "updates the deal's properties (stream Humanities, Seaside Campus, registration "
            "status 'Deferred Entry') but never its stage: still closedwon "
            "(status_not_mapped counted).",
            Expect(
                {},
                {
                    "northwind:51825": {
                        "dealstage": "closedwon",
                        "classter_stream": "Humanities",
                        "classter_location": "Seaside Campus",
                        "classter_registration_status": "Deferred Entry",
                    }
                },
            ),
        )
    )

    p = b.person(2626, "Katerina", "Pappa", status=S_PRE_REGISTERED)
    r = b.reg(p, 51826)
    tl.student(at(D(2026, 3, 23), 9, 0), p, case="D16")
    tl.registration(at(D(2026, 3, 23), 9, 5), r, PRE_REGISTERED, case="D16")
    b.add(
        Case(
            "D16",
            "A new deal starts in its mapped stage though the gate would refuse a change",
            _keys(p),
            "Student status Pre-registered would fail the gate, but creation is not gated: "
            "deal 51826 starts in qualifiedtobuy.",
            Expect({}, {"northwind:51826": {"dealstage": "qualifiedtobuy"}}),
        )
    )

    p = b.person(2627, "Panagiotis", "Athanasiou", gender="Male", status=S_APPLICANT)
    r = b.reg(p, 51827)
    tl.student(at(D(2026, 4, 6), 9, 0), p, case="D17")
    tl.registration(at(D(2026, 4, 6), 9, 5), r, INTERVIEW, case="D17")
    b.add(
        Case(
            "D17",
            "Stage by status id (3)",
            _keys(p),
            "'Interview Scheduled' has id 3, mapped by the integer key 3: deal 51827 starts "
            "in presentationscheduled.",
            Expect({}, {"northwind:51827": {"dealstage": "presentationscheduled"}}),
        )
    )

    p = b.person(2628, "Olivia", "Caldwell", birth=D(2010, 2, 2), status=S_REGISTERED)
    r = b.reg(p, 51828, grade=11, stream=SCIENCE)
    moved = b.reg(p, 51838, grade=11, stream=HUMANITIES)
    tl.student(at(D(2026, 8, 25), 9, 0), p, case="D18")
    tl.registration(at(D(2026, 8, 25), 9, 5), r, REGISTERED, case="D18")
    tl.registration(at(D(2026, 9, 21), 12, 0), moved, REGISTERED, case="D18")
    tl.registration(at(D(2026, 9, 21), 12, 30), r, WITHDRAWN, case="D18")
    b.add(
        Case(
            "D18",
            "Withdrawn with the gate passing: closedlost (a stream change)",
            _keys(p),
            "Olivia moves from Science to Humanities: the new registration 51838 makes its "
            "own deal (closedwon); the old one, 51828, is withdrawn while her student status "
            "is still Registered, so it moves to closedlost.",
            Expect(
                {},
                {
                    "northwind:51828": {"dealstage": "closedlost"},
                    "northwind:51838": {"dealstage": "closedwon", "contact": p.key},
                },
            ),
        )
    )

    p = b.person(2629, "Stavros", "Michailidis", gender="Male", status=S_REGISTERED)
    r = b.reg(p, 51829)
    tl.student(at(D(2026, 8, 25), 10, 0), p, case="D19")
    tl.registration(at(D(2026, 8, 25), 10, 5), r, REGISTERED, case="D19")
    p.status = S_WITHDRAWN
    tl.registration(at(D(2026, 10, 20), 15, 0), r, WITHDRAWN, case="D19")
    tl.student(at(D(2026, 10, 20), 15, 1), p, case="D19")
    b.add(
        Case(
            "D19",
            "Withdrawn when the student's own status is Withdrawn: the gate refuses",
            _keys(p),
            "Stavros leaves the school: the Withdrawn event's student status is "
            "{6, 'Withdrawn'}, not in the gate, so deal 51829 stays closedwon "
            "(student_status_not_allowed). His contact shows classter_student_status "
            "'Withdrawn'.",
            Expect(
                {p.key: {"classter_student_status": "Withdrawn"}},
                {
                    "northwind:51829": {
                        "dealstage": "closedwon",
                        "classter_registration_status": "Registered",
                    }
                },
            ),
        )
    )

    p = b.person(2630, "Irene", "Konstantinidou", birth=D(2009, 4, 4), status=S_REGISTERED)
    old = b.reg(
        p,
        47830,
        year=2025,
        grade=11,
        stream=SCIENCE,
        from_re_registration=True,
        previous_id=46830,
        first_id=45830,
    )
    new = b.reg(
        p,
        51830,
        grade=12,
        stream=SCIENCE,
        from_re_registration=True,
        previous_id=47830,
        first_id=45830,
        location=SEASIDE_CAMPUS,
    )
    tl.registration(at(D(2025, 6, 3), 9, 0), old, PRE_REGISTERED, case="D20")
    tl.registration(at(D(2025, 9, 2), 9, 0), old, REGISTERED, case="D20")
    tl.registration(at(D(2026, 5, 5), 9, 0), new, PRE_REGISTERED, case="D20")
    p.status = S_ENROLLED
    tl.registration(at(D(2026, 9, 3), 9, 0), new, REGISTERED, case="D20")
    tl.student(at(D(2026, 9, 3), 9, 1), p, case="D20")
    b.add(
        Case(
            "D20",
            "A three-year chain under keep_deal_code",
            _keys(p),
            "Irene's 2025-2026 registration 47830 and her 2026-2027 re-registration 51830 "
            "both name first registration 45830 (Grade 9, 2023, before the data starts). "
            "The 2025-2026 events are too old (program_start_too_old); the 2026-2027 ones "
            "create and win deal northwind:45830 for Grade 12 (new_deal_code: "
            "northwind:51830). Her last status, {5, 'Enrolled'}, passes the gate by id.",
            Expect(
                {p.key: {"classter_student_status": "Enrolled"}},
                {
                    "northwind:45830": {
                        "dealstage": "closedwon",
                        "classter_program": "Grade 12",
                        "classter_location": "Seaside Campus",
                    },
                    "northwind:51830": None,
                    "northwind:47830": None,
                },
            ),
            Expect({}, {"northwind:51830": {"dealstage": "closedwon"}, "northwind:45830": None}),
        )
    )


def _bad_records(b: _Builder) -> None:
    tl = b.tl
    p = b.person(2640, "Andreas", "Ioannou", gender="Male", status=S_REGISTERED)
    r = b.reg(p, 51840)
    tl.student(at(D(2026, 3, 3), 8, 0), p, case="B00")
    tl.registration(at(D(2026, 3, 3), 8, 5), r, REGISTERED, case="B00")

    def event(moment: dt.datetime, kind: str = "student") -> dict[str, Any]:
        env = tl.envelope(
            "student.changed" if kind == "student" else "registration.changed", NORTHWIND, moment
        )
        if kind == "student":
            env["student"] = p.student_json()
        else:
            env["registration"] = r.json(REGISTERED)
        return env

    def put(n: int, topic: str, key: str | None, value: bytes | None, case: str) -> None:
        tl.add(at(D(2026, 3, 3), 12, n), SampleRecord(topic, key, value, case))

    def dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)

    whole = dumps(event(at(D(2026, 3, 3), 12, 0)))
    put(1, STUDENTS_TOPIC, "2640", whole[: len(whole) // 2], "B01")
    put(
        2,
        REGISTRATIONS_TOPIC,
        "2640",
        dumps(event(at(D(2026, 3, 3), 12, 2), "registration")).decode().encode("utf-16"),
        "B02",
    )
    put(3, STUDENTS_TOPIC, "2640", b'["student.changed", 2640]', "B03")
    put(4, STUDENTS_TOPIC, "2640", None, "B04")
    missing = event(at(D(2026, 3, 3), 12, 5), "registration")
    del missing["registration"]["registrationStatus"]
    put(5, REGISTRATIONS_TOPIC, "2640", dumps(missing), "B05")
    wrong = event(at(D(2026, 3, 3), 12, 6), "registration")
    wrong["registration"]["globalCode"] = "51840"
    put(6, REGISTRATIONS_TOPIC, "2640", dumps(wrong), "B06")
    unknown = event(at(D(2026, 3, 3), 12, 7))
    unknown["eventType"] = "student.deleted"
    put(7, STUDENTS_TOPIC, "2640", dumps(unknown), "B07")
    future = event(at(D(2026, 3, 3), 12, 8))
    future["schemaVersion"] = 2
    put(8, STUDENTS_TOPIC, "2640", dumps(future), "B08")
    put(9, STUDENTS_TOPIC, "2641", dumps(event(at(D(2026, 3, 3), 12, 9))), "B09")
    put(
        10,
        REGISTRATIONS_TOPIC,
        None,
        dumps(event(at(D(2026, 3, 3), 12, 10), "registration")),
        "B10",
    )
    naive = event(at(D(2026, 3, 3), 12, 11))
    naive["occurredAt"] = "2026-03-03T12:11:00"
    put(11, STUDENTS_TOPIC, "2640", dumps(naive), "B11")
    kinds = [
        ("B01", "Invalid JSON (a value cut in half)", "invalid_json"),
        ("B02", "Not UTF-8 (a value encoded as UTF-16)", "invalid_json"),
        ("B03", "JSON that is not an object", "schema_invalid"),
        ("B04", "Tombstone (null value)", "tombstone"),
        ("B05", "Missing required field (registrationStatus)", "schema_invalid"),
        ("B06", "Wrong type (globalCode as a string)", "schema_invalid"),
        ("B07", "Unknown eventType (student.deleted)", "unknown_event_type"),
        ("B08", "Unsupported schemaVersion (2)", "unsupported_schema_version"),
        ("B09", "Key disagreeing with the student id (key 2641, student 2640)", "key_mismatch"),
        ("B10", "Missing record key", "missing_key"),
        ("B11", "Timestamp without offset", "schema_invalid"),
    ]
    for case_id, title, reason in kinds:
        b.add(
            Case(
                case_id,
                f"Bad record: {title}",
                _keys(p),
                f"Dead-lettered with x-error-class bad_input, x-error-reason {reason}; the "
                "partition moves on; nothing is written.",
                Expect(dlq=(reason,)),
            )
        )
    b.add(
        Case(
            "B00",
            "The student the bad records are about",
            _keys(p),
            "Andreas's valid events sync normally (contact, deal 51840 closedwon): the bad "
            "records beside them change nothing.",
            Expect(
                {p.key: {"firstname": "Andreas"}}, {"northwind:51840": {"dealstage": "closedwon"}}
            ),
        )
    )


def _leads_case(b: _Builder) -> None:
    unadopted = tuple(str(lead["email"]) for lead in LEADS[3:])
    b.add(
        Case(
            "U01",
            "Marketing leads that no student claims",
            (),
            "These seeded contacts have no classter_student_id at the end and are listed "
            "under unmanaged_contacts: " + ", ".join(unadopted) + ".",
            Expect(unmanaged_emails=unadopted),
        )
    )


def build_cases(tl: Timeline, emails: Emails) -> CaseSet:
    """Add every case's events to ``tl``; returns the cases, the leads to seed, the persons."""
    for lead in LEADS:
        emails.reserve(str(lead["email"]))
    b = _Builder(tl, emails)
    _identity_cases(b)
    _tenant_cases(b)
    _age_cases(b)
    _gate_cases(b)
    _stage_cases(b)
    _bad_records(b)
    _leads_case(b)
    return CaseSet(sorted(b.cases, key=lambda c: c.id), [dict(x) for x in LEADS], b.persons)
