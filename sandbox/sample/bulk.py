"""The bulk of the sample: a seeded population of northwind students and their registrations.

Owns: the kinds of student life in the two academic periods (continuing and re-registering,
graduating, leaving, newly admitted, applying late, never giving an e-mail), names, dates and
the events each kind produces. Every student's events are built so that the final CRM state
does not depend on how Kafka interleaves that student's two topics (see ``CASES.md``): each
registration snapshot is a subset of the student's later student events, e-mail addresses are
unique across the portal, and a student's contact is never claimed by another student.
Deterministic for a given ``random.Random``; no I/O.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from sandbox.sample.world import (
    APPLICANT,
    COMPLETED,
    GENERAL,
    GRADES,
    INTERVIEW,
    MAIN_CAMPUS,
    NORTHWIND,
    PRE_REGISTERED,
    REGISTERED,
    S_APPLICANT,
    S_ENROLLED,
    S_GRADUATED,
    S_PRE_REGISTERED,
    S_REGISTERED,
    S_WITHDRAWN,
    SEASIDE_CAMPUS,
    UPPER_STREAMS,
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

FIRST_STUDENT_ID = 3001
MAX_BULK = 20_000  # registration ids below leave room for this many students
FEMALE = (
    "Maria",
    "Eleni",
    "Katerina",
    "Sofia",
    "Georgia",
    "Dimitra",
    "Ioanna",
    "Anna",
    "Christina",
    "Vasiliki",
    "Nikoletta",
    "Despoina",
    "Athina",
    "Zoe",
    "Irene",
    "Myrto",
    "Danai",
    "Marina",
    "Fotini",
    "Angeliki",
)
MALE = (
    "Giorgos",
    "Dimitris",
    "Nikos",
    "Kostas",
    "Yannis",
    "Alexandros",
    "Panagiotis",
    "Christos",
    "Stavros",
    "Michalis",
    "Thanasis",
    "Vasilis",
    "Petros",
    "Leonidas",
    "Spyros",
    "Andreas",
    "Orestis",
    "Aris",
    "Markos",
    "Stelios",
)
ENGLISH_FEMALE = ("Emily", "Olivia", "Charlotte", "Lucy", "Amelia", "Grace", "Hannah", "Chloe")
ENGLISH_MALE = ("James", "Oliver", "Thomas", "Daniel", "Harry", "William", "Samuel", "Jack")
# Greek surnames in their (male, female) forms
GREEK_SURNAMES = (
    ("Papadopoulos", "Papadopoulou"),
    ("Georgiou", "Georgiou"),
    ("Nikolaidis", "Nikolaidou"),
    ("Konstantinidis", "Konstantinidou"),
    ("Vlachos", "Vlachou"),
    ("Karagiannis", "Karagianni"),
    ("Oikonomou", "Oikonomou"),
    ("Pappas", "Pappa"),
    ("Alexiou", "Alexiou"),
    ("Makris", "Makri"),
    ("Dimitriou", "Dimitriou"),
    ("Ioannou", "Ioannou"),
    ("Christodoulou", "Christodoulou"),
    ("Antoniou", "Antoniou"),
    ("Kyriakidis", "Kyriakidou"),
    ("Theodorou", "Theodorou"),
    ("Stavrou", "Stavrou"),
    ("Panagiotopoulos", "Panagiotopoulou"),
    ("Athanasiou", "Athanasiou"),
    ("Michailidis", "Michailidou"),
    ("Lambrou", "Lambrou"),
    ("Sotiropoulos", "Sotiropoulou"),
    ("Galanis", "Galani"),
    ("Markou", "Markou"),
    ("Zervas", "Zerva"),
)
ENGLISH_SURNAMES = (
    "Whitfield",
    "Ashworth",
    "Pemberton",
    "Hartley",
    "Caldwell",
    "Brennan",
    "Fairbanks",
    "Thornton",
    "Langley",
    "Marlow",
    "Penrose",
    "Holloway",
)
KINDS = ("continuing", "graduating", "leaving", "newcomer", "late_applicant")
KIND_WEIGHTS = (0.55, 0.12, 0.05, 0.22, 0.06)
D = dt.date


@dataclass
class _Ids:
    """Registration ids by academic year (``base + index``) and code sequences."""

    seq: dict[tuple[int, int], int] = field(default_factory=dict)

    def next_seq(self, program: int, year: int) -> int:
        n = self.seq.get((program, year), 0) + 1
        self.seq[(program, year)] = n
        return n


def reg_id(year: int, index: int) -> int:
    """The registration id of bulk student ``index`` in the year starting ``year``
    (2022-2026; 2027 stands for a second registration in 2026-2027)."""
    return 120_000 + (year - 2022) * MAX_BULK + index


class Bulk:
    """Adds ``count`` students' events to a timeline."""

    def __init__(self, rng: random.Random, tl: Timeline, emails: Emails) -> None:
        self.rng = rng
        self.tl = tl
        self.emails = emails
        self.ids = _Ids()
        self.people: dict[int, Person] = {}

    # -- helpers ---------------------------------------------------------------------------
    def day(self, first: D, last: D) -> D:
        return first + dt.timedelta(days=self.rng.randint(0, (last - first).days))

    def moment(self, day: D) -> dt.datetime:
        return at(day, self.rng.randint(8, 17), self.rng.randrange(0, 60))

    def later(self, moment: dt.datetime, minutes: int = 3) -> dt.datetime:
        return moment + dt.timedelta(minutes=self.rng.randint(1, minutes))

    def person(self, index: int, grade_2026: int) -> Person:
        rng = self.rng
        female = rng.random() < 0.5
        english = rng.random() < 0.15
        if english:
            given = rng.choice(ENGLISH_FEMALE if female else ENGLISH_MALE)
            surname = rng.choice(ENGLISH_SURNAMES)
        else:
            given = rng.choice(FEMALE if female else MALE)
            surname = rng.choice(GREEK_SURNAMES)[1 if female else 0]
        middle = rng.choice(FEMALE if female else MALE) if rng.random() < 0.3 else None
        born = 2026 - grade_2026 - 5
        birth = self.day(D(born - 1, 9, 1), D(born, 8, 31))
        email = self.emails.make(given, surname)
        style = rng.random()
        if style < 0.04:
            email = email.capitalize()
        elif style < 0.06:
            email = f" {email} "
        sid = FIRST_STUDENT_ID + index
        custom: dict[str, Any] | None = None
        if rng.random() < 0.08:
            custom = {"customFieldTxt1": "Scholarship"}
        elif rng.random() < 0.1:
            custom = {"customFieldDropDown2": {"id": 768, "description": "Bus route 3"}}
        person = Person(
            tenant=NORTHWIND,
            id=sid,
            email=email,
            given=given,
            surname=surname,
            middle=middle,
            gender="Female" if female else "Male",
            birth=birth,
            mobile=f"+30 690 00{sid // 10000} {sid % 10000:04d}" if rng.random() < 0.8 else None,
            status=S_REGISTERED,
            external_id=f"SIS-{sid}" if rng.random() < 0.9 else None,
            custom=custom,
        )
        self.people[sid] = person
        return person

    def reg(
        self, person: Person, rid: int, year: int, grade: int, stream: Ref, **kwargs: Any
    ) -> Enrolment:
        program = GRADES[grade]
        return enrolment(
            person,
            rid,
            year,
            program,
            stream,
            seq=self.ids.next_seq(program.id or 0, year),
            **kwargs,
        )

    def status(self, moment: dt.datetime, person: Person, status: Ref) -> None:
        """The student's derived status changes: Classter emits a student event too."""
        person.status = status
        self.tl.student(moment, person)

    def stream(self, grade: int) -> Ref:
        return self.rng.choice(UPPER_STREAMS) if grade >= 11 else GENERAL

    def location(self) -> Ref:
        return SEASIDE_CAMPUS if self.rng.random() < 0.25 else MAIN_CAMPUS

    # -- kinds -----------------------------------------------------------------------------
    def add(self, index: int) -> None:
        kind = self.rng.choices(KINDS, KIND_WEIGHTS)[0]
        getattr(self, f"_{kind}")(index)
        if self.rng.random() < 0.2:
            self._profile_update(index)

    def _year_2025(
        self, person: Person, index: int, grade: int, stream: Ref, location: Ref
    ) -> Enrolment:
        """The 2025-2026 registration and its events (all too old for deals on 2026-11-15)."""
        tl, rng = self.tl, self.rng
        if grade == 9:
            reg = self.reg(person, reg_id(2025, index), 2025, 9, stream, location=location)
            person.status = S_APPLICANT
            applied = self.moment(self.day(D(2025, 5, 5), D(2025, 6, 20)))
            tl.student(applied, person)
            tl.registration(self.later(applied, 30), reg, APPLICANT)
            pre = self.moment(applied.date() + dt.timedelta(days=rng.randint(20, 45)))
            self.status(pre, person, S_PRE_REGISTERED)
            tl.registration(self.later(pre), reg, PRE_REGISTERED)
        else:
            first = reg_id(2025 - (grade - 9), index)
            previous = reg_id(2024, index)
            reg = self.reg(
                person,
                reg_id(2025, index),
                2025,
                grade,
                stream,
                location=location,
                from_re_registration=True,
                previous_id=previous,
                first_id=first if first != previous or rng.random() < 0.5 else None,
            )
            tl.registration(
                self.moment(self.day(D(2025, 5, 5), D(2025, 6, 30))), reg, PRE_REGISTERED
            )
        registered = self.moment(self.day(D(2025, 8, 25), D(2025, 9, 5)))
        if person.status != S_REGISTERED:
            self.status(registered, person, S_REGISTERED)
        tl.registration(self.later(registered), reg, REGISTERED)
        return reg

    def _continuing(self, index: int) -> None:
        rng, tl = self.rng, self.tl
        grade = rng.choice((9, 10, 11))
        person = self.person(index, grade + 1)
        location = self.location()
        old = self._year_2025(person, index, grade, self.stream(grade), location)
        stream = old.stream if grade + 1 == 12 and old.stream else self.stream(grade + 1)
        chain_first = old.first_id or old.previous_id or old.id
        new = self.reg(
            person,
            reg_id(2026, index),
            2026,
            grade + 1,
            stream,
            location=location,
            from_re_registration=True,
            previous_id=old.id,
            first_id=chain_first if chain_first != old.id or rng.random() < 0.5 else None,
        )
        tl.registration(self.moment(self.day(D(2026, 4, 1), D(2026, 6, 15))), new, PRE_REGISTERED)
        fate = rng.random()
        if fate < 0.05:
            return  # still Pre-registered: paperwork outstanding
        registered = self.moment(self.day(D(2026, 8, 24), D(2026, 9, 4)))
        if rng.random() < 0.15:
            self.status(registered, person, S_ENROLLED)
        tl.registration(self.later(registered), new, REGISTERED)
        if fate < 0.11 and grade + 1 >= 11:
            moved_at = self.moment(self.day(D(2026, 9, 14), D(2026, 9, 30)))
            other = rng.choice([s for s in UPPER_STREAMS if s != stream])
            moved = self.reg(person, reg_id(2027, index), 2026, grade + 1, other, location=location)
            tl.registration(moved_at, moved, REGISTERED)
            tl.registration(self.later(moved_at, 45), new, WITHDRAWN)
        elif fate < 0.15:
            left = self.moment(self.day(D(2026, 10, 1), D(2026, 11, 10)))
            tl.registration(
                left, new, WITHDRAWN, snapshot={**person.snapshot(), "status": S_WITHDRAWN.json()}
            )
            self.status(self.later(left), person, S_WITHDRAWN)

    def _graduating(self, index: int) -> None:
        person = self.person(index, 13)
        reg = self._year_2025(person, index, 12, self.stream(12), self.location())
        done = self.moment(self.day(D(2026, 6, 22), D(2026, 6, 30)))
        person.status = S_GRADUATED
        self.tl.registration(done, reg, COMPLETED)
        self.tl.student(self.later(done), person)

    def _leaving(self, index: int) -> None:
        grade = self.rng.choice((9, 10, 11))
        person = self.person(index, grade + 1)
        reg = self._year_2025(person, index, grade, self.stream(grade), self.location())
        left = self.moment(self.day(D(2026, 6, 22), D(2026, 7, 15)))
        person.status = S_WITHDRAWN
        self.tl.registration(left, reg, WITHDRAWN)
        self.tl.student(self.later(left), person)

    def _newcomer(self, index: int) -> None:
        rng, tl = self.rng, self.tl
        grade = rng.choices((9, 10, 11, 12), (0.55, 0.2, 0.15, 0.1))[0]
        person = self.person(index, grade)
        if rng.random() < 0.03:
            person.email = None  # a young pupil without an address: every event is skipped
        reg = self.reg(
            person, reg_id(2026, index), 2026, grade, self.stream(grade), location=self.location()
        )
        applied = self.moment(self.day(D(2025, 11, 3), D(2026, 5, 29)))
        fast_track = rng.random() < 0.25  # a sibling: pre-registered straight away
        person.status = S_PRE_REGISTERED if fast_track else S_APPLICANT
        tl.student(applied, person)
        tl.registration(self.later(applied, 30), reg, PRE_REGISTERED if fast_track else APPLICANT)
        moment = applied
        if not fast_track:
            if rng.random() < 0.5:
                moment = self.moment(moment.date() + dt.timedelta(days=rng.randint(10, 30)))
                tl.registration(moment, reg, INTERVIEW)
            moment = self.moment(moment.date() + dt.timedelta(days=rng.randint(20, 45)))
            self.status(moment, person, S_PRE_REGISTERED)
            tl.registration(self.later(moment), reg, PRE_REGISTERED)
        fate = rng.random()
        if fate < 0.1:
            declined = self.moment(moment.date() + dt.timedelta(days=rng.randint(10, 40)))
            person.status = S_WITHDRAWN
            tl.registration(declined, reg, WITHDRAWN)
            tl.student(self.later(declined), person)
        elif fate < 0.15:
            return
        else:
            registered = self.moment(self.day(D(2026, 8, 24), D(2026, 9, 7)))
            self.status(registered, person, S_REGISTERED)
            tl.registration(self.later(registered), reg, REGISTERED)

    def _late_applicant(self, index: int) -> None:
        rng, tl = self.rng, self.tl
        grade = rng.choice((9, 10, 11, 12))
        person = self.person(index, grade)
        person.status = S_APPLICANT
        reg = self.reg(
            person, reg_id(2026, index), 2026, grade, self.stream(grade), location=self.location()
        )
        applied = self.moment(self.day(D(2026, 9, 15), D(2026, 10, 31)))
        tl.student(applied, person)
        tl.registration(self.later(applied, 30), reg, APPLICANT)
        if rng.random() < 0.4:
            tl.registration(
                self.moment(applied.date() + dt.timedelta(days=rng.randint(3, 10))),
                reg,
                WAITING_LIST,
            )

    def _profile_update(self, index: int) -> None:
        """A later change of mobile phone, while the student's status stays what it is."""
        person = self.people[FIRST_STUDENT_ID + index]
        if person.email is None:
            return
        person.mobile = f"+30 690 01{person.id // 10000} {person.id % 10000:04d}"
        self.tl.student(self.moment(self.day(D(2026, 11, 2), D(2026, 11, 13))), person)
