"""Many events' HubSpot operations coalesced into few batch calls (SPEC section 5).

Owns: ``Coalescer`` (collects single operations for up to ``linger_s`` or ``max_batch`` inputs,
sends one batch, hands each caller its own result; identical inputs share one slot, so a batch
never holds two inputs for one record) and ``split_on_rejection`` (a batch HubSpot rejects as a
whole is halved until the bad input stands alone, so one bad record never holds back the other
99). ``Gateway`` offers the per-record operations the pipeline needs on top of the client.
Must not: retry or decide what an error means for an event (the pipeline does).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

from consumer.errors import HubSpotConflictError, HubSpotError, HubSpotValidationError
from consumer.hubspot.client import HubObject, HubSpotClient

I = TypeVar("I", bound=Hashable)  # noqa: E741 - conventional type-variable name
R = TypeVar("R")
Flush = Callable[[list[I]], Awaitable[Sequence[R | BaseException]]]
Gate = Callable[[], contextlib.AbstractAsyncContextManager[None]]


class Coalescer(Generic[I, R]):
    """Batches ``submit(item)`` calls into ``flush(items)`` calls.

    Without a ``gate`` a batch is what was submitted within ``linger_s`` (or the first
    ``max_batch`` items). With a ``gate`` (an async context manager factory: the limiter's
    ``reserved``), a batch is formed only once the gate has let it through: while the
    limiter holds requests back, submissions keep joining the waiting batch, so a request
    spent under budget pressure carries as many inputs as there are (up to ``max_batch``).
    """

    def __init__(
        self,
        flush: Flush[I, R],
        *,
        max_batch: int = 100,
        linger_s: float = 0.05,
        gate: Gate | None = None,
    ) -> None:
        self._flush = flush
        self._max = max_batch
        self._linger = linger_s
        self._gate = gate
        self._pending: dict[I, asyncio.Future[R]] = {}
        self._callers: dict[I, int] = {}  # how many submit() calls wait on each pending input
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting = 0  # senders waiting at the gate, each for one batch
        self._closed = False

    async def submit(self, item: I) -> R:
        if self._closed:
            raise RuntimeError("coalescer is closed")
        future = self._pending.get(item)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._pending[item] = future
            self._callers[item] = 1
            self._kick()  # may send the batch, and take the item, at once
        else:
            self._callers[item] += 1
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            self._withdraw(item, future)
            raise

    def _withdraw(self, item: I, future: asyncio.Future[R]) -> None:
        """A caller gave up (its partition was revoked, say). An input not yet sent that nobody
        else waits for leaves the batch, so no write goes out for a caller that is gone; one
        already sent cannot be called back."""
        if self._pending.get(item) is not future:
            return  # already taken into a batch, or the coalescer closed
        left = self._callers[item] - 1
        if left:
            self._callers[item] = left
            return
        del self._pending[item], self._callers[item]
        future.cancel()

    def _kick(self) -> None:
        """Start a sender for every full batch nobody waits for; otherwise arm the linger."""
        if not self._pending:
            return
        if len(self._pending) // self._max > self._waiting:
            self._send()
        elif self._waiting == 0 and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._linger, self._send)

    def _take(self) -> dict[I, asyncio.Future[R]]:
        batch: dict[I, asyncio.Future[R]] = {}
        for item in list(self._pending)[: self._max]:
            batch[item] = self._pending.pop(item)
            self._callers.pop(item, None)
        return batch

    def _send(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        if self._gate is None:
            # no gate: the batch is what is pending now; later submissions go to the next one
            task = asyncio.get_running_loop().create_task(self._run(self._take()))
            self._kick()
        else:
            self._waiting += 1
            task = asyncio.get_running_loop().create_task(self._gated())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _gated(self) -> None:
        assert self._gate is not None  # noqa: S101 - only started with a gate
        entered = False
        try:
            async with self._gate():
                entered = True
                self._waiting -= 1
                batch = self._take()
                self._kick()
                await self._run(batch)
        except asyncio.CancelledError:
            if not entered:
                self._waiting -= 1
            raise
        except Exception as exc:
            if entered:
                raise
            # the gate refused (the daily budget is spent, say): the batch it was for fails
            self._waiting -= 1
            self._fail(self._take(), exc)
            self._kick()

    @staticmethod
    def _fail(batch: dict[I, asyncio.Future[R]], exc: BaseException) -> None:
        for future in batch.values():
            if not future.done():
                future.set_exception(exc)

    async def _run(self, batch: dict[I, asyncio.Future[R]]) -> None:
        if not batch:
            return
        items = list(batch)
        try:
            results = await self._flush(items)
        except BaseException as exc:
            self._fail(batch, exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        if len(results) != len(items):
            # a broken flush must fail its callers, not leave the unmatched ones waiting forever
            self._fail(
                batch, RuntimeError(f"flush returned {len(results)} results for {len(items)} items")
            )
            return
        for item, result in zip(items, results, strict=True):
            future = batch[item]
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def close(self) -> None:
        """Cancel pending and running batches; safe to call twice."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        self._callers.clear()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def split_on_rejection(
    call: Callable[[list[I]], Awaitable[Sequence[R | HubSpotError]]], items: list[I]
) -> list[R | HubSpotError]:
    """Run ``call``; when HubSpot rejects the whole batch, halve it until the bad input is alone."""
    try:
        return list(await call(items))
    except (HubSpotValidationError, HubSpotConflictError) as exc:
        if len(items) == 1:
            return [exc]
    middle = len(items) // 2
    left = await split_on_rejection(call, items[:middle])
    right = await split_on_rejection(call, items[middle:])
    return left + right


class _Frozen(dict[str, Any]):
    """A hashable snapshot of a write's inputs (identical writes coalesce)."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted((k, repr(v)) for k, v in self.items())))


class Gateway:
    """Per-record HubSpot operations, coalesced into batch calls."""

    def __init__(
        self,
        client: HubSpotClient,
        *,
        contact_props: Sequence[str],
        deal_props: Sequence[str],
        student_id_property: str,
        deal_code_property: str,
        max_batch: int = 100,
        linger_s: float = 0.05,
    ) -> None:
        self._client = client
        self._contact_props = list(contact_props)
        self._deal_props = list(deal_props)
        self._sid = student_id_property
        self._code = deal_code_property
        self._reads: dict[tuple[str, str], Coalescer[str, HubObject | None]] = {}
        self._max_batch, self._linger_s = max_batch, linger_s
        # calls that count toward the 10-second window form their batch once the limiter lets
        # them go; association batches are exempt from the window and only linger
        self._create_contacts: Coalescer[_Frozen, HubObject] = self._batcher(
            lambda xs: self._create("contacts", xs, self._sid)
        )
        self._create_deals: Coalescer[_Frozen, HubObject] = self._batcher(
            lambda xs: self._create("deals", xs, self._code)
        )
        self._update_contacts: Coalescer[_Frozen, HubObject] = self._batcher(
            lambda xs: self._update("contacts", xs)
        )
        self._update_deals: Coalescer[_Frozen, HubObject] = self._batcher(
            lambda xs: self._update("deals", xs)
        )
        self._associate: Coalescer[tuple[str, str], None] = self._batcher(self._assoc, gated=False)

    def _batcher(self, flush: Flush[I, R], *, gated: bool = True) -> Coalescer[I, R]:
        # calls that count toward the 10-second window form their batch once the limiter lets
        # them go; association batches are exempt from the window and only linger
        return Coalescer(
            flush,
            max_batch=self._max_batch,
            linger_s=self._linger_s,
            gate=self._client.reserved if gated else None,
        )

    def _reader(self, object_type: str, id_property: str) -> Coalescer[str, HubObject | None]:
        key = (object_type, id_property)
        if key not in self._reads:
            props = self._contact_props if object_type == "contacts" else self._deal_props

            async def flush(ids: list[str]) -> list[HubObject | None]:
                found = await self._client.batch_read(
                    object_type, id_property, ids, sorted({*props, id_property})
                )
                return [found.get(i) for i in ids]

            self._reads[key] = self._batcher(flush)
        return self._reads[key]

    async def _create(
        self, object_type: str, items: list[_Frozen], key: str
    ) -> list[HubObject | HubSpotError]:
        return await split_on_rejection(
            lambda xs: self._client.batch_create(object_type, [dict(x) for x in xs], key), items
        )

    async def _update(
        self, object_type: str, items: list[_Frozen]
    ) -> list[HubObject | HubSpotError]:
        return await split_on_rejection(
            lambda xs: self._client.batch_update(object_type, [dict(x) for x in xs]), items
        )

    async def _assoc(self, pairs: list[tuple[str, str]]) -> list[HubSpotError | None]:
        return await split_on_rejection(self._client.associate_deals_to_contacts, pairs)

    # -- what the pipeline calls --------------------------------------------------------------
    async def contact_by(self, id_property: str, value: str) -> HubObject | None:
        return await self._reader("contacts", id_property).submit(value)

    async def deal_by_code(self, code: str) -> HubObject | None:
        return await self._reader("deals", self._code).submit(code)

    async def create_contact(self, properties: dict[str, str]) -> HubObject:
        return await self._create_contacts.submit(_Frozen(properties=_Frozen(properties)))

    async def update_contact(self, record_id: str, properties: dict[str, str]) -> HubObject:
        return await self._update_contacts.submit(
            _Frozen(id=record_id, properties=_Frozen(properties))
        )

    async def create_deal(self, properties: dict[str, str], contact_id: str) -> HubObject:
        association = (
            {
                "to": {"id": contact_id},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
            },
        )
        return await self._create_deals.submit(
            _Frozen(properties=_Frozen(properties), associations=association)
        )

    async def update_deal(self, record_id: str, properties: dict[str, str]) -> HubObject:
        return await self._update_deals.submit(
            _Frozen(id=record_id, properties=_Frozen(properties))
        )

    async def associate(self, deal_id: str, contact_id: str) -> None:
        await self._associate.submit((deal_id, contact_id))

    async def close(self) -> None:
        coalescers: list[Coalescer[Any, Any]] = [
            *self._reads.values(),
            self._create_contacts,
            self._create_deals,
            self._update_contacts,
            self._update_deals,
            self._associate,
        ]
        for coalescer in coalescers:
            await coalescer.close()
