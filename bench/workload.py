"""The benchmarks' workloads, built from the sample generator's people and calendar.

Owns: the standard workload (``standard``: every student has one ``student.changed`` and two
``registration.changed`` events, in Classter's time order, as a backlog), the live workload of
the latency benchmark (``live_schedule`` / ``live_event``: the same three events per student with
``occurredAt`` stamped at publish time) and the topic names of one benchmark run. Names, e-mail
addresses and calendars come from ``sandbox.sample`` (invented people, ``@example.org``).
Deterministic for a seed; no I/O.

Each student: an application (``student.changed``, status Pre-registered), the registration
at Pre-registered a few minutes later (creates the deal), and the registration at Registered in
late August (moves the deal's stage). With ``examples/config.yaml`` every student ends as one
contact and one deal in ``closedwon``.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from sandbox.sample.bulk import Bulk
from sandbox.sample.records import (
    STUDENTS_TOPIC,
    SampleRecord,
    event_record,
)
from sandbox.sample.world import (
    GENERAL,
    GRADES,
    MAIN_CAMPUS,
    PRE_REGISTERED,
    REGISTERED,
    S_PRE_REGISTERED,
    S_REGISTERED,
    UPPER_STREAMS,
    Emails,
    Enrolment,
    Person,
    Timeline,
    enrolment,
)

FIRST_REGISTRATION_ID = 600_000  # clear of the sample's own registration ids
EVENTS_PER_STUDENT = 3


@dataclass(frozen=True)
class Topics:
    """The topics of one benchmark run (fresh names, so runs never see each other's data)."""

    students: str
    registrations: str
    dlq: str

    @classmethod
    def for_run(cls, run: str) -> Topics:
        return cls(f"bench.{run}.students", f"bench.{run}.registrations", f"bench.{run}.dlq")

    @property
    def sources(self) -> list[str]:
        return [self.students, self.registrations]

    def rename(self, record: SampleRecord) -> SampleRecord:
        topic = self.students if record.topic == STUDENTS_TOPIC else self.registrations
        return SampleRecord(topic, record.key, record.value)


class _People:
    """Students and their registrations, one per index."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.timeline = Timeline(seed)
        self.bulk = Bulk(self.rng, self.timeline, Emails())

    def student(self, index: int) -> tuple[Person, Enrolment]:
        grade = self.rng.choice((9, 10, 11, 12))
        person = self.bulk.person(index, grade)
        stream = self.rng.choice(UPPER_STREAMS) if grade >= 11 else GENERAL
        reg = enrolment(
            person,
            FIRST_REGISTRATION_ID + index,
            2026,
            GRADES[grade],
            stream,
            seq=index + 1,
            location=MAIN_CAMPUS,
        )
        return person, reg


def standard(students: int, *, seed: int = 11) -> list[SampleRecord]:
    """``students`` x 3 records in Classter's time order (the standard workload)."""
    people = _People(seed)
    tl, bulk = people.timeline, people.bulk
    for index in range(students):
        person, reg = people.student(index)
        person.status = S_PRE_REGISTERED
        applied = bulk.moment(bulk.day(dt.date(2026, 3, 2), dt.date(2026, 6, 26)))
        tl.student(applied, person)
        tl.registration(bulk.later(applied, 30), reg, PRE_REGISTERED)
        person.status = S_REGISTERED
        registered = bulk.moment(bulk.day(dt.date(2026, 8, 24), dt.date(2026, 9, 4)))
        tl.registration(registered, reg, REGISTERED)
    return tl.records()


@dataclass(frozen=True)
class LiveEvent:
    """One event of the live workload: when to publish it (seconds after the start) and what."""

    at_s: float
    kind: str  # "student", "created" (first registration) or "registered"
    index: int


def live_schedule(rate_per_s: float, duration_s: float) -> list[LiveEvent]:
    """Events at ``rate_per_s`` for ``duration_s``: a student's application, its registration
    half a second later and the registration's next status five seconds after that."""
    starts = int(rate_per_s * duration_s / EVENTS_PER_STUDENT)
    step = EVENTS_PER_STUDENT / rate_per_s
    out = []
    for index in range(starts):
        t = index * step
        out += [
            LiveEvent(t, "student", index),
            LiveEvent(t + 0.5, "created", index),
            LiveEvent(t + 5.5, "registered", index),
        ]
    return sorted((e for e in out if e.at_s < duration_s), key=lambda e: (e.at_s, e.index))


class LiveWorkload:
    """Builds the live events; ``occurredAt`` is the moment of building (millisecond precision)."""

    def __init__(self, topics: Topics, seed: int = 13) -> None:
        self._people = _People(seed)
        self._topics = topics
        self._made: dict[int, tuple[Person, Enrolment]] = {}

    def _student(self, index: int) -> tuple[Person, Enrolment]:
        if index not in self._made:
            self._made[index] = self._people.student(index)
        return self._made[index]

    def record(self, event: LiveEvent, now: dt.datetime) -> tuple[str, SampleRecord]:
        """(event id, record) for ``event`` happening at ``now``."""
        person, reg = self._student(event.index)
        body: dict[str, Any] = {
            "schemaVersion": 1,
            "eventId": f"live-{event.kind}-{event.index}",
            "eventType": "student.changed" if event.kind == "student" else "registration.changed",
            "occurredAt": now.isoformat(timespec="milliseconds"),
            "tenant": person.tenant,
        }
        if event.kind == "student":
            person.status = S_PRE_REGISTERED
            body["student"] = person.student_json()
            topic = self._topics.students
        else:
            person.status = S_PRE_REGISTERED if event.kind == "created" else S_REGISTERED
            status = PRE_REGISTERED if event.kind == "created" else REGISTERED
            body["registration"] = reg.json(status)
            topic = self._topics.registrations
        return str(body["eventId"]), event_record(topic, str(person.id), body)

    def person(self, index: int) -> Person:
        return self._student(index)[0]
