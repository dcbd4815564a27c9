"""One event through rules -> mapping -> HubSpot, with the retry policy (SPEC sections 4, 5, 10).

Owns: finding the student's contact (by ``classter_student_id``, then by normalised e-mail),
adopting or creating it, the deal actions a registration earns, skipping writes that would
change nothing, and retrying transient failures with capped, jittered backoff (only this
student's lane waits). ``process_group`` applies several queued events of one student against a
``Session`` (one read and one merged write per record) and falls back to one event at a time
when HubSpot refuses a write they share, so only the event at fault is dead-lettered.
``process`` returns the outcome or raises ``EventRejectedError`` (the event goes to the DLQ) or
``HubSpotAuthError`` (fatal). Must not: know Kafka, offsets or the DLQ.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from consumer import rules
from consumer.config import Settings
from consumer.errors import (
    DailyBudgetExhaustedError,
    EmailConflictError,
    EventRejectedError,
    HubSpotConflictError,
    HubSpotRateLimitError,
    HubSpotTransientError,
    HubSpotValidationError,
)
from consumer.events import Event
from consumer.hubspot.client import HubObject
from consumer.hubspot.schema import PortalSchema
from consumer.hubspot.session import Session
from consumer.mapping import (
    CONTACT_MODEL,
    DEAL_CODE_PROPERTY,
    DEAL_MODEL,
    STUDENT_ID_PROPERTY,
    Getter,
    map_properties,
    table,
)
from consumer.metrics import Metrics

log = logging.getLogger(__name__)
T = TypeVar("T")
A = TypeVar("A")
B = TypeVar("B")


@dataclass(frozen=True, slots=True)
class Outcome:
    """``synced`` when HubSpot holds the event's effect (written, or already so); ``skipped`` when
    rules stopped every action. ``skips`` names the rules met either way."""

    status: str
    skips: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()


class Crm(Protocol):
    """The record operations the pipeline needs. ``hubspot.batching.Gateway`` sends them to
    HubSpot; the dry run (``consumer.plan``) answers reads from HubSpot and records the writes
    on a simulated copy instead, so ``plan`` and ``run`` share every decision made here."""

    async def contact_by(self, id_property: str, value: str) -> HubObject | None: ...
    async def deal_by_code(self, code: str) -> HubObject | None: ...
    async def create_contact(self, properties: dict[str, str]) -> HubObject: ...
    async def update_contact(self, record_id: str, properties: dict[str, str]) -> HubObject: ...
    async def create_deal(self, properties: dict[str, str], contact_id: str) -> HubObject: ...
    async def update_deal(self, record_id: str, properties: dict[str, str]) -> HubObject: ...
    async def associate(self, deal_id: str, contact_id: str) -> None: ...


_MAX_CONFLICT_ATTEMPTS = 5


class _Retry(Exception):
    """A create lost a race (409); look everything up again."""


class _Shared(Exception):
    """HubSpot refused a write several events of a group share: apply them one at a time."""


async def _both(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Await two things concurrently; if one fails, the other is cancelled and awaited."""
    task = asyncio.ensure_future(first)
    try:
        other = await second
    except BaseException:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise
    return await task, other


def _changed(current: HubObject, wanted: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in wanted.items() if current.properties.get(k) != v}


class Pipeline:
    """Applies events to HubSpot; one instance per daemon, called concurrently for many students."""

    def __init__(
        self,
        settings: Settings,
        schema: PortalSchema,
        gateway: Crm,
        metrics: Metrics,
        *,
        now: Callable[[], dt.datetime] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        retry_wait: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self._settings = settings
        self._schema = schema
        self._gw = gateway
        self._metrics = metrics
        self._now = now or (lambda: dt.datetime.now(dt.UTC))
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        # how long a retry must wait so that it keeps off the daily reserve (the limiter's)
        self._retry_wait = retry_wait
        acts = settings.actions
        self._create_contact = (
            table(CONTACT_MODEL, acts.CreateContact) if acts.CreateContact else None
        )
        self._update_contact = (
            table(CONTACT_MODEL, acts.UpdateContact) if acts.UpdateContact else None
        )
        self._create_deal = table(DEAL_MODEL, acts.CreateDeal) if acts.CreateDeal else None
        self._update_deal = table(DEAL_MODEL, acts.UpdateDeal) if acts.UpdateDeal else None

    @staticmethod
    def read_properties(settings: Settings) -> tuple[list[str], list[str]]:
        """Properties to read back so that unchanged writes can be skipped."""
        acts = settings.actions
        contact = {STUDENT_ID_PROPERTY, "email"}
        deal = {DEAL_CODE_PROPERTY, "dealstage", "pipeline"}
        for action in (acts.CreateContact, acts.UpdateContact):
            if action is not None:
                contact |= set(table(CONTACT_MODEL, action))
        for deal_action in (acts.CreateDeal, acts.UpdateDeal):
            if deal_action is not None:
                deal |= set(table(DEAL_MODEL, deal_action))
        return sorted(contact), sorted(deal)

    async def process(self, event: Event) -> Outcome:
        """Apply one event, retrying transient failures; see the module docstring for raises."""
        return await self._with_retries(lambda: self._apply(event, self._gw), event.event_id)

    async def process_group(self, events: Sequence[Event]) -> list[Outcome | EventRejectedError]:
        """Apply several pending events of one student, in order, as one write per record.

        Each event gets its own outcome, or the ``EventRejectedError`` that sends it to the DLQ.
        When HubSpot refuses a write the group shares, the events are applied again one at a
        time, so that only the event at fault is dead-lettered. Raises ``HubSpotAuthError``.
        """
        if len(events) == 1:
            return [await self._one(events[0])]
        try:
            return await self._with_retries(lambda: self._apply_group(events), events[0].event_id)
        except EventRejectedError as exc:  # retries exhausted: for each of them
            return [exc for _ in events]
        except _Shared:
            self._metrics.retries.labels(cause="ungrouped").inc()
            return [await self._one(event) for event in events]

    async def _one(self, event: Event) -> Outcome | EventRejectedError:
        try:
            return await self.process(event)
        except EventRejectedError as exc:
            return exc

    async def _apply_group(self, events: Sequence[Event]) -> list[Outcome | EventRejectedError]:
        session = Session(self._gw, deal_code_property=DEAL_CODE_PROPERTY)
        results: list[Outcome | EventRejectedError] = []
        for event in events:
            try:
                results.append(await self._apply(event, session))
            except EventRejectedError as exc:
                results.append(exc)
        try:
            await session.flush()
        except (HubSpotValidationError, HubSpotConflictError):
            # which event's value it was, or whether a create lost a race, only shows when the
            # events are applied one by one (writes that went through are found, not redone)
            raise _Shared from None
        return results

    async def _with_retries(self, apply: Callable[[], Awaitable[T]], event_id: str) -> T:
        hub = self._settings.hubspot
        attempt = conflicts = 0
        while True:
            try:
                return await apply()
            except (HubSpotRateLimitError, DailyBudgetExhaustedError) as exc:
                # budget waits are not the event's fault: they do not use up its attempts
                cause = (
                    "daily_budget" if isinstance(exc, DailyBudgetExhaustedError) else "rate_limited"
                )
                self._metrics.retries.labels(cause=cause).inc()
                await self._sleep(exc.retry_after_s or self._backoff(1, hub.retry_max_backoff_s))
                continue
            except (HubSpotTransientError, _Retry) as exc:
                attempt += 1
                cause = "conflict" if isinstance(exc, _Retry) else "transient"
                if isinstance(exc, _Retry):
                    # a lost create race resolves on the next look-up; one that keeps recurring
                    # is a conflict HubSpot will not resolve, and must not stall the partition
                    conflicts += 1
                    if conflicts >= _MAX_CONFLICT_ATTEMPTS:
                        raise EventRejectedError(
                            "conflict_unresolved",
                            f"HubSpot reported a conflict {conflicts} times in a row",
                        ) from None
                elif hub.max_attempts is not None and attempt >= hub.max_attempts:
                    raise EventRejectedError(
                        "retries_exhausted",
                        f"gave up after {attempt} attempts: {type(exc).__name__}: {exc}",
                    ) from None
                self._metrics.retries.labels(cause=cause).inc()
                delay = self._backoff(attempt, hub.retry_max_backoff_s)
                if isinstance(exc, HubSpotTransientError) and exc.retry_after_s:
                    delay = max(delay, exc.retry_after_s)
                log.log(
                    logging.WARNING if attempt % 10 == 0 else logging.INFO,
                    "retrying event",
                    extra={
                        "event_id": event_id,
                        "attempt": attempt,
                        "cause": cause,
                        "delay_s": round(delay, 2),
                        "error": str(exc)[:200],
                    },
                )
                await self._sleep(delay)
                while (reserve_wait := self._retry_wait()) > 0:
                    # the rest of the day's budget is kept for first attempts
                    self._metrics.retries.labels(cause="daily_reserve").inc()
                    await self._sleep(reserve_wait)

    def _backoff(self, attempt: int, cap: float) -> float:
        # full jitter on a 0.5 s doubling base, capped
        return self._rng.uniform(0.5, min(cap, 0.5 * 2 ** min(attempt, 32)))

    async def _apply(self, event: Event, gw: Crm) -> Outcome:
        if rules.normalise_email(event.student.email) is None:
            return Outcome("skipped", (rules.NO_EMAIL,))
        try:
            if event.registration is None:
                return await self._student(event, gw)
            return await self._registration(event, gw)
        except HubSpotValidationError as exc:
            raise EventRejectedError(exc.code.lower(), str(exc)) from None

    async def _find_contact(self, event: Event, gw: Crm) -> tuple[HubObject | None, bool]:
        """(contact, adopted): by student id first, then by e-mail; refuses another's contact."""
        found = await gw.contact_by(STUDENT_ID_PROPERTY, event.student_key)
        if found is not None:
            return found, False
        email = rules.normalise_email(event.student.email)
        assert email is not None  # noqa: S101 - _apply returned early without one
        by_email = await gw.contact_by("email", email)
        if by_email is None:
            return None, False
        owner = by_email.properties.get(STUDENT_ID_PROPERTY)
        if owner and owner != event.student_key:
            raise EmailConflictError("the e-mail belongs to a contact of another student")
        return by_email, True

    def _contact_props(self, mapping: dict[str, Getter], event: Event) -> dict[str, str]:
        props = map_properties(mapping, event.student_source, self._schema.properties["contacts"])
        props[STUDENT_ID_PROPERTY] = event.student_key
        return props

    async def _create_contact_for(self, event: Event, gw: Crm) -> HubObject:
        assert self._create_contact is not None  # noqa: S101 - callers check
        try:
            return await gw.create_contact(self._contact_props(self._create_contact, event))
        except HubSpotConflictError:
            raise _Retry from None  # someone created it meanwhile: look it up again

    async def _update_contact_of(self, contact: HubObject, props: dict[str, str], gw: Crm) -> bool:
        changes = _changed(contact, props)
        if not changes:
            return False
        try:
            await gw.update_contact(contact.id, changes)
        except HubSpotConflictError:
            raise EmailConflictError("the new e-mail belongs to another contact") from None
        return True

    async def _student(self, event: Event, gw: Crm) -> Outcome:
        contact, adopted = await self._find_contact(event, gw)
        if contact is None:
            if self._create_contact is None:
                return Outcome("skipped", (rules.ACTION_NOT_CONFIGURED,))
            await self._create_contact_for(event, gw)
            return Outcome("synced", writes=("contact.create",))
        if self._update_contact is None:
            if not adopted:
                return Outcome("skipped", (rules.ACTION_NOT_CONFIGURED,))
            props = {STUDENT_ID_PROPERTY: event.student_key}
        else:
            props = self._contact_props(self._update_contact, event)
        wrote = await self._update_contact_of(contact, props, gw)
        return Outcome("synced", writes=("contact.update",) if wrote else ())

    async def _registration(self, event: Event, gw: Crm) -> Outcome:
        registration = event.registration
        assert registration is not None  # noqa: S101 - dispatched on it
        writes: list[str] = []
        code = rules.deal_code(event.tenant, registration, self._settings.deals.re_registration)
        # the contact and the deal are looked up at once: one wait for HubSpot, not two
        (contact, adopted), deal = await _both(self._find_contact(event, gw), gw.deal_by_code(code))
        if contact is None:
            if self._create_contact is None:
                return Outcome("skipped", (rules.ACTION_NOT_CONFIGURED,))
            contact = await self._create_contact_for(event, gw)
            writes.append("contact.create")
        elif adopted:
            # a registration's snapshot only claims the contact; it never overwrites its fields
            await self._update_contact_of(contact, {STUDENT_ID_PROPERTY: event.student_key}, gw)
            writes.append("contact.adopt")

        today = self._settings.today(self._now())
        decision = rules.decide_deal(
            event.tenant, registration, self._settings, today, deal_exists=deal is not None
        )
        deal_schema = self._schema.properties["deals"]
        pipeline = self._settings.deal_pipeline or "default"
        if deal is None and decision.create and self._create_deal is not None:
            props = map_properties(self._create_deal, event.source, deal_schema)
            stage = decision.stage or self._schema.first_stage(pipeline) or ""
            props.update(pipeline=pipeline, dealstage=stage)
            props[DEAL_CODE_PROPERTY] = code
            try:
                await gw.create_deal(props, contact.id)
            except HubSpotConflictError:
                raise _Retry from None
            writes.append("deal.create")
        elif deal is not None and (decision.update or decision.stage):
            props = {}
            if decision.update and self._update_deal is not None:
                props = map_properties(self._update_deal, event.source, deal_schema)
                props.pop("dealstage", None)  # only ChangeDealStatus moves the stage
            if decision.stage:
                props["dealstage"] = decision.stage
            changes = _changed(deal, props)
            if changes:
                await gw.update_deal(deal.id, changes)
                writes.append("deal.update")
        if deal is not None:
            # Associate an existing deal on every event that finds it: the deal may predate this
            # contact record (created or adopted just now), or have been carried over from
            # before the integration with its code but no contact, and need no other change
            # (SPEC 4: every deal is associated). Associating twice is harmless, and v4
            # association batches do not count toward the ten-second budget (up to 100 pairs a
            # call); an event that only associates keeps its outcome (a rule skip, say).
            await gw.associate(deal.id, contact.id)
            if writes:
                writes.append("deal.associate")
        if (
            not writes
            and decision.skips
            and not (decision.update or decision.stage or decision.create)
        ):
            return Outcome("skipped", decision.skips)
        return Outcome("synced", decision.skips, tuple(writes))
