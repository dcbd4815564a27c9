"""The dry run (``classter-hubspot plan``, SPEC section 8): events in, the HubSpot writes out.

Owns: ``DryRun``, the pipeline's record operations (``pipeline.Crm``) answered from HubSpot
reads and recorded on a simulated copy of the portal instead of being sent (created records get
``planned-N`` ids, unique values are enforced as HubSpot would, so a later event sees the effect
of an earlier one exactly as in a real run); reading events from a JSONL file; planning each
record with the daemon's own ``events.decode_record`` and ``Pipeline.process`` (so ``plan`` and
``run`` cannot drift apart); and printing the plan for people or as JSON Lines. Must not: write to
HubSpot (it holds only a read function, never the client) or to Kafka (topics are read through
``intake.read_topics``, which has no consumer group and no producer).

Not predicted: HubSpot's own value checks beyond the mapping's (an e-mail address HubSpot finds
malformed, say), and the order in which a real run interleaves one student's records of two
topics (see ``docs/check-and-plan.md``).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
from collections import Counter
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Sequence,
)
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import orjson
from prometheus_client import CollectorRegistry

from consumer import rules
from consumer.config import Settings
from consumer.errors import (
    BadInputError,
    EventRejectedError,
    HubSpotAuthError,
    HubSpotConflictError,
    HubSpotTransientError,
)
from consumer.events import Event, decode_record
from consumer.hubspot.client import HubObject
from consumer.hubspot.schema import PortalSchema
from consumer.mapping import DEAL_CODE_PROPERTY, STUDENT_ID_PROPERTY
from consumer.metrics import Metrics
from consumer.pipeline import Pipeline

Reader = Callable[[str, str, Sequence[str], Sequence[str]], Awaitable[dict[str, HubObject]]]
UNIQUE = {"contacts": ("email", STUDENT_ID_PROPERTY), "deals": (DEAL_CODE_PROPERTY,)}
READ_BATCH = 100
CHUNK = 500


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as Kafka holds it; ``where`` says where it came from (topic or file line)."""

    where: dict[str, Any]
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class PlannedWrite:
    """One HubSpot write the event would make. ``record``/``contact`` name records by their
    daemon key (``classter_student_id``, ``classter_deal_code``), else ``email:...``;
    ``id`` is the HubSpot id, or ``planned-N`` for a record this plan creates."""

    op: str  # contact.create, contact.update, deal.create, deal.update, deal.associate
    record: str
    id: str
    properties: dict[str, str]
    contact: str | None = None

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op, "record": self.record, "id": self.id}
        if self.contact is not None:
            out["contact"] = self.contact
        out["properties"] = self.properties
        return out


@dataclass(slots=True)
class EventPlan:
    """What one record would do: ``outcome`` is ``synced``, ``skipped`` or ``dead_lettered``."""

    where: dict[str, Any]
    outcome: str
    event_id: str | None = None
    event_type: str | None = None
    student: str | None = None
    rules: tuple[str, ...] = ()
    writes: list[PlannedWrite] = field(default_factory=list)
    dead_letter: dict[str, str] | None = None

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.where,
            "eventId": self.event_id,
            "eventType": self.event_type,
            "student": self.student,
            "outcome": self.outcome,
            "rules": list(self.rules),
            "writes": [w.json() for w in self.writes],
        }
        if self.dead_letter is not None:
            out["deadLetter"] = self.dead_letter
        return out


def _norm(prop: str, value: str | None) -> str | None:
    if value is None:
        return None
    return value.strip().lower() if prop == "email" else value


class DryRun:
    """A simulated portal over the real one: reads go to HubSpot once (cached), writes stay here.

    ``writes`` collects the writes since the last ``take()``; the planner takes them per event.
    """

    def __init__(self, read: Reader, *, contact_props: Sequence[str], deal_props: Sequence[str]):
        self._read = read
        self._props = {"contacts": list(contact_props), "deals": list(deal_props)}
        self._real: dict[tuple[str, str, str], HubObject | None] = {}
        self._real_by_id: dict[str, HubObject] = {}
        self._records: dict[str, tuple[str, dict[str, str | None]]] = {}  # id -> (type, props)
        self._index: dict[tuple[str, str, str], str] = {}  # (type, unique prop, value) -> id
        self._planned = 0
        self.writes: list[PlannedWrite] = []

    # -- reads --------------------------------------------------------------------------------
    async def prefetch(self, wanted: Iterable[tuple[str, str, str]]) -> None:
        """Read ``(type, property, value)`` keys not read yet, ``READ_BATCH`` per request."""
        todo: dict[tuple[str, str], list[str]] = {}
        for otype, prop, value in wanted:
            key = _norm(prop, value)
            if key is not None and (otype, prop, key) not in self._real:
                bucket = todo.setdefault((otype, prop), [])
                if key not in bucket:
                    bucket.append(key)
        for (otype, prop), values in todo.items():
            for start in range(0, len(values), READ_BATCH):
                chunk = values[start : start + READ_BATCH]
                props = sorted({*self._props[otype], prop})
                found = await self._read(otype, prop, chunk, props)
                for value in chunk:
                    self._real[(otype, prop, value)] = hit = found.get(value)
                    if hit is not None:
                        self._real_by_id.setdefault(hit.id, hit)

    async def _find(self, otype: str, prop: str, value: str) -> HubObject | None:
        key = _norm(prop, value)
        assert key is not None  # noqa: S101 - callers pass a value
        planned = self._index.get((otype, prop, key))
        if planned is not None:
            return self._view(planned)
        if (otype, prop, key) not in self._real:
            await self.prefetch([(otype, prop, key)])
        real = self._real[(otype, prop, key)]
        if real is None:
            return None
        if real.id in self._records:
            # simulated since it was read: it answers only if it still holds that value
            current = self._records[real.id][1].get(prop)
            return self._view(real.id) if _norm(prop, current) == key else None
        return real

    def _view(self, record_id: str) -> HubObject:
        return HubObject(record_id, dict(self._records[record_id][1]))

    async def contact_by(self, id_property: str, value: str) -> HubObject | None:
        return await self._find("contacts", id_property, value)

    async def deal_by_code(self, code: str) -> HubObject | None:
        return await self._find("deals", DEAL_CODE_PROPERTY, code)

    # -- writes (simulated) -------------------------------------------------------------------
    async def _claim(self, otype: str, record_id: str | None, props: dict[str, str]) -> None:
        for prop in UNIQUE[otype]:
            if props.get(prop):
                owner = await self._find(otype, prop, props[prop])
                if owner is not None and owner.id != record_id:
                    raise HubSpotConflictError(
                        f"{prop} already taken (simulated). Existing ID: {owner.id}",
                        existing_id=owner.id,
                    )

    async def _adopt(self, otype: str, record_id: str) -> dict[str, str | None]:
        """The simulated copy of a real record, made on its first write."""
        if record_id not in self._records:
            real = self._real_by_id.get(record_id)
            props = dict(real.properties) if real is not None else {}
            self._records[record_id] = (otype, props)
            for prop in UNIQUE[otype]:
                if props.get(prop):
                    self._index[(otype, prop, str(_norm(prop, props[prop])))] = record_id
        return self._records[record_id][1]

    def _set(self, otype: str, record_id: str, props: dict[str, str]) -> None:
        current = self._records[record_id][1]
        for prop in UNIQUE[otype]:
            if prop in props:
                old = _norm(prop, current.get(prop))
                if old is not None and self._index.get((otype, prop, old)) == record_id:
                    del self._index[(otype, prop, old)]
                self._index[(otype, prop, str(_norm(prop, props[prop])))] = record_id
        current.update(props)

    def _label(self, record_id: str) -> str:
        otype, props = self._records[record_id]
        key = props.get(STUDENT_ID_PROPERTY if otype == "contacts" else DEAL_CODE_PROPERTY)
        if key:
            return key
        email = props.get("email")
        return f"email:{email}" if email else record_id

    async def _create(self, otype: str, props: dict[str, str]) -> HubObject:
        await self._claim(otype, None, props)
        self._planned += 1
        record_id = f"planned-{self._planned}"
        self._records[record_id] = (otype, {})
        self._set(otype, record_id, props)
        return self._view(record_id)

    async def _update(self, otype: str, record_id: str, props: dict[str, str]) -> HubObject:
        await self._adopt(otype, record_id)
        await self._claim(otype, record_id, props)
        self._set(otype, record_id, props)
        return self._view(record_id)

    async def create_contact(self, properties: dict[str, str]) -> HubObject:
        made = await self._create("contacts", properties)
        self.writes.append(
            PlannedWrite("contact.create", self._label(made.id), made.id, dict(properties))
        )
        return made

    async def update_contact(self, record_id: str, properties: dict[str, str]) -> HubObject:
        made = await self._update("contacts", record_id, properties)
        self.writes.append(
            PlannedWrite("contact.update", self._label(record_id), record_id, dict(properties))
        )
        return made

    async def create_deal(self, properties: dict[str, str], contact_id: str) -> HubObject:
        await self._adopt("contacts", contact_id)
        made = await self._create("deals", properties)
        self.writes.append(
            PlannedWrite(
                "deal.create",
                self._label(made.id),
                made.id,
                dict(properties),
                contact=self._label(contact_id),
            )
        )
        return made

    async def update_deal(self, record_id: str, properties: dict[str, str]) -> HubObject:
        made = await self._update("deals", record_id, properties)
        self.writes.append(
            PlannedWrite("deal.update", self._label(record_id), record_id, dict(properties))
        )
        return made

    async def associate(self, deal_id: str, contact_id: str) -> None:
        await self._adopt("deals", deal_id)
        await self._adopt("contacts", contact_id)
        self.writes.append(
            PlannedWrite(
                "deal.associate", self._label(deal_id), deal_id, {}, contact=self._label(contact_id)
            )
        )

    def take(self) -> list[PlannedWrite]:
        out, self.writes = self.writes, []
        return out


# -- sources ------------------------------------------------------------------------------------
def _line_record(n: int, line: bytes) -> RawRecord:
    where: dict[str, Any] = {"line": n}
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return RawRecord(where, None, line)
    if isinstance(obj, dict) and ({"value", "raw", "raw_b64"} & obj.keys()):
        # the sample's record format: {"topic", "key", "value" | "raw" | "raw_b64"}
        if isinstance(obj.get("topic"), str):
            where["topic"] = obj["topic"]
        key = obj.get("key")
        key_bytes = key.encode() if isinstance(key, str) else None
        if "raw_b64" in obj:
            value: bytes | None = base64.b64decode(str(obj["raw_b64"]))
        elif "raw" in obj:
            value = str(obj["raw"]).encode()
        else:
            value = None if obj["value"] is None else orjson.dumps(obj["value"])
        return RawRecord(where, key_bytes, value)
    # a bare event: keyed by its student id, as Classter publishes it
    body = obj.get("student") if isinstance(obj, dict) else None
    if isinstance(obj, dict) and isinstance(obj.get("registration"), dict):
        body = obj["registration"].get("student")
    sid = body.get("id") if isinstance(body, dict) else None
    return RawRecord(where, str(sid).encode() if isinstance(sid, int) else None, line)


def read_jsonl(path: Path) -> Iterator[RawRecord]:
    """Records of a JSONL file: bare events, or the sample's ``{"topic","key","value"}`` lines."""
    with path.open("rb") as handle:
        for n, line in enumerate(handle, start=1):
            if line.strip():
                yield _line_record(n, line.rstrip(b"\r\n"))


async def _aiter(records: Iterable[RawRecord]) -> AsyncIterator[RawRecord]:
    for record in records:
        yield record


def from_file(path: Path) -> AsyncIterator[RawRecord]:
    return _aiter(read_jsonl(path))


# -- planning -----------------------------------------------------------------------------------
class Planner:
    """Plans records one at a time, in order, through the daemon's own pipeline."""

    def __init__(
        self,
        settings: Settings,
        schema: PortalSchema,
        read: Reader,
        *,
        now: Callable[[], dt.datetime] | None = None,
    ) -> None:
        contact_props, deal_props = Pipeline.read_properties(settings)
        self._settings = settings
        self.dry = DryRun(read, contact_props=contact_props, deal_props=deal_props)
        self._pipeline = Pipeline(settings, schema, self.dry, Metrics(CollectorRegistry()), now=now)

    def _keys(self, events: Iterable[Event]) -> Iterator[tuple[str, str, str]]:
        for event in events:
            yield ("contacts", STUDENT_ID_PROPERTY, event.student_key)
            email = rules.normalise_email(event.student.email)
            if email:
                yield ("contacts", "email", email)
            if event.registration is not None:
                policy = self._settings.deals.re_registration
                code = rules.deal_code(event.tenant, event.registration, policy)
                yield ("deals", DEAL_CODE_PROPERTY, code)

    async def plan(self, records: AsyncIterator[RawRecord]) -> AsyncGenerator[EventPlan]:
        """One ``EventPlan`` per record; raises ``HubSpotAuthError`` if HubSpot refuses reads."""
        chunk: list[RawRecord] = []
        async for record in records:
            chunk.append(record)
            if len(chunk) >= CHUNK:
                for planned in await self._chunk(chunk):
                    yield planned
                chunk = []
        for planned in await self._chunk(chunk):
            yield planned

    async def _chunk(self, records: list[RawRecord]) -> list[EventPlan]:
        decoded: list[Event | BadInputError] = []
        for record in records:
            try:
                decoded.append(decode_record(record.key, record.value))
            except BadInputError as exc:
                decoded.append(exc)
        # only an optimisation: on a transient error each lookup reads alone, with the
        # pipeline's retries
        with contextlib.suppress(HubSpotTransientError):
            await self.dry.prefetch(self._keys(e for e in decoded if isinstance(e, Event)))
        return [await self._one(r, d) for r, d in zip(records, decoded, strict=True)]

    async def _one(self, record: RawRecord, decoded: Event | BadInputError) -> EventPlan:
        if isinstance(decoded, BadInputError):
            letter = {"errorClass": decoded.error_class, "reason": decoded.reason}
            return EventPlan(record.where, "dead_lettered", dead_letter=letter)
        event = decoded
        plan = EventPlan(
            record.where,
            "synced",
            event_id=event.event_id,
            event_type=event.event_type,
            student=event.student_key,
        )
        try:
            outcome = await self._pipeline.process(event)
        except HubSpotAuthError:
            raise
        except EventRejectedError as exc:
            plan.outcome = "dead_lettered"
            plan.dead_letter = {"errorClass": exc.error_class, "reason": exc.reason}
        else:
            plan.outcome = outcome.status
            plan.rules = outcome.skips
        plan.writes = self.dry.take()
        return plan


# -- output -------------------------------------------------------------------------------------
def _where(where: dict[str, Any]) -> str:
    if "partition" in where:
        return f"{where['topic']}[{where['partition']}]@{where['offset']}"
    return f"line {where['line']}" + (f" ({where['topic']})" if "topic" in where else "")


def render(plan: EventPlan) -> str:
    """One event's plan for people."""
    head = f"{_where(plan.where)}  {plan.event_type or 'bad record'}"
    if plan.event_id is not None:
        head += f"  event {plan.event_id}  student {plan.student}"
    lines = [head, f"  outcome  {plan.outcome}"]
    if plan.rules:
        lines.append(f"  rules    {', '.join(plan.rules)}")
    if plan.dead_letter is not None:
        lines.append(f"  DLQ      {plan.dead_letter['errorClass']}: {plan.dead_letter['reason']}")
    for write in plan.writes:
        target = write.record if write.id.startswith("planned-") else f"{write.record} #{write.id}"
        if write.contact is not None:
            target += f" -> contact {write.contact}"
        props = orjson.dumps(write.properties, option=orjson.OPT_SORT_KEYS).decode()
        lines.append(f"  write    {write.op} {target}" + (f" {props}" if write.properties else ""))
    return "\n".join(lines)


@dataclass
class Summary:
    events: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    writes: Counter[str] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)

    def add(self, plan: EventPlan) -> None:
        self.events += 1
        self.outcomes[plan.outcome] += 1
        self.writes.update(w.op for w in plan.writes)
        self.rules.update(plan.rules)
        if plan.dead_letter is not None:
            self.dead_letters[plan.dead_letter["reason"]] += 1

    def json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "outcomes": dict(sorted(self.outcomes.items())),
            "writes": dict(sorted(self.writes.items())),
            "rules": dict(sorted(self.rules.items())),
            "deadLetters": dict(sorted(self.dead_letters.items())),
        }

    def render(self) -> str:
        def counts(c: Counter[str]) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(c.items())) or "none"

        return "\n".join(
            [
                f"plan: {self.events} record(s); nothing was written to HubSpot or Kafka",
                f"  outcomes      {counts(self.outcomes)}",
                f"  writes        {counts(self.writes)}",
                f"  rule skips    {counts(self.rules)}",
                f"  dead letters  {counts(self.dead_letters)}",
            ]
        )


async def print_plan(
    planner: Planner, records: AsyncIterator[RawRecord], out: TextIO, *, as_json: bool
) -> Summary:
    """Plan every record and print it (JSON Lines with a final ``{"summary": ...}`` line)."""
    summary = Summary()
    async with contextlib.aclosing(planner.plan(records)) as plans:
        async for plan in plans:
            summary.add(plan)
            if as_json:
                out.write(orjson.dumps(plan.json()).decode() + "\n")
            else:
                out.write(render(plan) + "\n")
    if as_json:
        out.write(orjson.dumps({"summary": summary.json()}).decode() + "\n")
    else:
        out.write(summary.render() + "\n")
    return summary
