"""The invented Classter school behind the sample: catalog, students, registrations, a timeline.

Owns: the lookup values of the tenants (academic periods, programs, streams, campuses,
registration and student statuses), ``Person`` and ``Enrolment`` (a student and one of their
registrations, with the JSON the contract-v1 events carry), e-mail allocation (unique across
the whole portal), and ``Timeline``, which stamps events with Europe/Athens times and returns
them as Kafka records in publish order. Every name and address is invented (example.org only).
Pure and deterministic: no clock, no I/O; event ids derive from the dataset seed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
import uuid
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.sample.records import (
    REGISTRATIONS_TOPIC,
    STUDENTS_TOPIC,
    SampleRecord,
    event_record,
)

ATHENS = ZoneInfo("Europe/Athens")
NORTHWIND = "northwind"
HARBOURVIEW = "harbourview"


@dataclass(frozen=True, slots=True)
class Ref:
    """A Classter lookup value; either part may be missing (to exercise the rules)."""

    id: int | None
    description: str | None

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.id is not None:
            out["id"] = self.id
        if self.description is not None:
            out["description"] = self.description
        return out


@dataclass(frozen=True, slots=True)
class Term:
    """One academic period's calendar: program dates and semester starts."""

    period: Ref
    start: dt.date
    end: dt.date
    semesters: tuple[tuple[int, str, dt.date], ...]


TERM_2025 = Term(
    Ref(11, "2025-2026"),
    dt.date(2025, 9, 8),
    dt.date(2026, 6, 19),
    ((301, "Semester A", dt.date(2025, 9, 8)), (302, "Semester B", dt.date(2026, 2, 2))),
)
TERM_2026 = Term(
    Ref(12, "2026-2027"),
    dt.date(2026, 9, 7),
    dt.date(2027, 6, 18),
    ((311, "Semester A", dt.date(2026, 9, 7)), (312, "Semester B", dt.date(2027, 2, 1))),
)
TERMS = {2025: TERM_2025, 2026: TERM_2026}

GRADES = {
    9: Ref(39, "Grade 9"),
    10: Ref(40, "Grade 10"),
    11: Ref(41, "Grade 11"),
    12: Ref(42, "Grade 12"),
}
GENERAL = Ref(70, "General")
SCIENCE = Ref(77, "Science")
HUMANITIES = Ref(78, "Humanities")
ECONOMICS = Ref(79, "Economics")
UPPER_STREAMS = (SCIENCE, HUMANITIES, ECONOMICS)
BRIDGING = Ref(45, "Bridging Year")  # rolling intake, no semesters
BRIDGING_STREAM = Ref(85, "Intensive English")
SUMMER = Ref(47, "Summer Bridge")
SUMMER_STREAM = Ref(86, "Summer Intensive")
MAIN_CAMPUS = Ref(1, "Main Campus")
SEASIDE_CAMPUS = Ref(2, "Seaside Campus")
HARBOUR_CAMPUS = Ref(1, "Harbour Campus")

# Registration statuses (per program). Northwind's ids; harbourview numbers them differently.
APPLICANT = Ref(11, "Applicant")
INTERVIEW = Ref(3, "Interview Scheduled")
PRE_REGISTERED = Ref(12, "Pre-registered")
REGISTERED = Ref(14, "Registered")
WITHDRAWN = Ref(16, "Withdrawn")
WAITING_LIST = Ref(18, "Waiting List")
DEFERRED = Ref(19, "Deferred Entry")
COMPLETED = Ref(20, "Completed")
HV_PRE_REGISTERED = Ref(3, "Pre-registered")
HV_REGISTERED = Ref(7, "Registered")

# Student statuses (derived by Classter from the student's programs).
S_REGISTERED = Ref(1, "Registered")
S_PRE_REGISTERED = Ref(2, "Pre-registered")
S_APPLICANT = Ref(3, "Applicant")
S_ENROLLED = Ref(5, "Enrolled")
S_WITHDRAWN = Ref(6, "Withdrawn")
S_GRADUATED = Ref(7, "Graduated")


def ascii_slug(text: str) -> str:
    """Lower-case ASCII letters, digits and hyphens of a name (for e-mail local parts)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(c for c in plain.lower() if c.isalnum() or c == "-")


class Emails:
    """Allocates e-mail addresses unique (after normalisation) across the whole portal."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def reserve(self, address: str) -> str:
        normal = address.strip().lower()
        if normal in self._used:
            raise ValueError(f"e-mail {normal} is allocated twice")
        self._used.add(normal)
        return address

    def make(self, given: str, surname: str) -> str:
        stem = f"{ascii_slug(given)}.{ascii_slug(surname)}"
        n = 1
        while True:
            address = f"{stem}{n if n > 1 else ''}@example.org"
            if address not in self._used:
                return self.reserve(address)
            n += 1


@dataclass
class Person:
    """A student as Classter holds them now; events copy the current values."""

    tenant: str
    id: int
    email: str | None
    given: str
    surname: str
    middle: str | None = None
    gender: str | None = None
    birth: dt.date | None = None
    mobile: str | None = None
    status: Ref | None = None
    external_id: str | None = None
    custom: dict[str, Any] | None = None

    @property
    def key(self) -> str:
        return f"{self.tenant}:{self.id}"

    def student_json(self) -> dict[str, Any]:
        """The ``student`` object of ``student.changed``: absent optional fields are left out,
        except ``middleName``, which is sent as null (both forms occur in the contract)."""
        out: dict[str, Any] = {"id": self.id}
        if self.email is not None:
            out["email"] = self.email
        out["givenName"] = self.given
        out["middleName"] = self.middle
        out["surname"] = self.surname
        optional: dict[str, Any] = {
            "gender": self.gender,
            "dateOfBirth": self.birth.isoformat() if self.birth else None,
            "mobilePhone": self.mobile,
            "status": self.status.json() if self.status else None,
            "externalId": self.external_id,
            "customFields": self.custom,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        out["profileUrl"] = (
            f"https://{self.tenant}.classter.example.org/Student/Edit?code={self.id}"
        )
        return out

    def snapshot(self) -> dict[str, Any]:
        """A registration's snapshot of the student: a subset of ``student_json``."""
        out: dict[str, Any] = {
            "id": self.id,
            "email": self.email,
            "givenName": self.given,
            "surname": self.surname,
        }
        if self.status is not None:
            out["status"] = self.status.json()
        return out


@dataclass
class Enrolment:
    """One registration of one student in one educational program."""

    person: Person
    id: int
    code: str
    program: Ref
    stream: Ref | None
    period: Ref
    location: Ref
    start: dt.date | None
    end: dt.date | None
    semesters: tuple[tuple[int, str, dt.date], ...] | None
    global_code: int | None = None
    from_re_registration: bool = False
    previous_id: int | None = None
    first_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def json(self, status: Ref, snapshot: dict[str, Any] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "globalCode": self.global_code if self.global_code is not None else self.id,
            "code": self.code,
            "student": snapshot if snapshot is not None else self.person.snapshot(),
            "program": self.program.json(),
            "stream": self.stream.json() if self.stream else None,
            "academicPeriod": self.period.json(),
            "location": self.location.json(),
            "registrationStatus": status.json(),
            "startDate": self.start.isoformat() if self.start else None,
            "endDate": self.end.isoformat() if self.end else None,
        }
        if self.semesters is not None:
            out["semesters"] = [
                {"id": i, "description": d, "startDate": s.isoformat()}
                for i, d, s in self.semesters
            ]
        out["fromReRegistration"] = self.from_re_registration
        out["previousRegistrationId"] = self.previous_id
        out["firstRegistrationId"] = self.first_id
        out.update(self.extra)
        return out


def enrolment(
    person: Person,
    reg_id: int,
    year: int,
    program: Ref,
    stream: Ref | None,
    *,
    seq: int,
    location: Ref = MAIN_CAMPUS,
    **kwargs: Any,
) -> Enrolment:
    """A registration in ``program`` for the academic year starting in ``year``, with that
    year's calendar unless ``start``/``end``/``semesters`` are given."""
    term = TERMS[year]
    prefix = "NW" if person.tenant == NORTHWIND else "HV"
    abbrev = {39: "G9", 40: "G10", 41: "G11", 42: "G12", 45: "BY", 47: "SB"}.get(
        program.id or 0, "EP"
    )
    kwargs.setdefault("start", term.start)
    kwargs.setdefault("end", term.end)
    kwargs.setdefault("semesters", term.semesters)
    return Enrolment(
        person=person,
        id=reg_id,
        code=f"{prefix}-{abbrev}-{year}-{seq:04d}",
        program=program,
        stream=stream,
        period=term.period,
        location=location,
        **kwargs,
    )


def at(day: dt.date, hour: int = 9, minute: int = 0) -> dt.datetime:
    """A wall-clock moment in Athens (the offset, +02:00 or +03:00, follows from the date)."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=ATHENS)


class Timeline:
    """Events stamped with times; ``records()`` gives them in publish (time) order."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._count = 0
        self._items: list[tuple[dt.datetime, int, SampleRecord]] = []

    def _event_id(self) -> str:
        digest = hashlib.sha256(f"classter-sample/{self._seed}/{self._count}".encode()).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    def envelope(self, event_type: str, tenant: str, moment: dt.datetime) -> dict[str, Any]:
        return {
            "schemaVersion": 1,
            "eventId": self._event_id(),
            "eventType": event_type,
            "occurredAt": moment.isoformat(timespec="seconds"),
            "tenant": tenant,
        }

    def add(self, moment: dt.datetime, record: SampleRecord) -> None:
        self._items.append((moment, self._count, record))
        self._count += 1

    def student(
        self,
        moment: dt.datetime,
        person: Person,
        *,
        case: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A ``student.changed`` event with the person's current values (or ``body``)."""
        event = self.envelope("student.changed", person.tenant, moment)
        event["student"] = body if body is not None else person.student_json()
        self.add(moment, event_record(STUDENTS_TOPIC, str(person.id), event, case))
        return event

    def registration(
        self,
        moment: dt.datetime,
        reg: Enrolment,
        status: Ref,
        *,
        case: str | None = None,
        snapshot: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A ``registration.changed`` event; the snapshot is the person's current one."""
        event = self.envelope("registration.changed", reg.person.tenant, moment)
        event["registration"] = reg.json(status, snapshot)
        self.add(moment, event_record(REGISTRATIONS_TOPIC, str(reg.person.id), event, case))
        return event

    def records(self) -> list[SampleRecord]:
        return [r for _, _, r in sorted(self._items, key=lambda item: (item[0], item[1]))]
