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


class Coalescer(Generic[I, R]):
    """Batches ``submit(item)`` calls into ``flush(items)`` calls."""

    def __init__(self, flush: Flush[I, R], *, max_batch: int = 100, linger_s: float = 0.05) -> None:
        self._flush = flush
        self._max = max_batch
        self._linger = linger_s
        self._pending: dict[I, asyncio.Future[R]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    async def submit(self, item: I) -> R:
        if self._closed:
            raise RuntimeError("coalescer is closed")
        future = self._pending.get(item)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._pending[item] = future
            if len(self._pending) >= self._max:
                self._send()
            elif self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(self._linger, self._send)
        return await asyncio.shield(future)

    def _send(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: dict[I, asyncio.Future[R]]) -> None:
        items = list(batch)
        try:
            results = await self._flush(items)
        except BaseException as exc:
            for future in batch.values():
                if not future.done():
                    future.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        if len(results) != len(items):
            # a broken flush must fail its callers, not leave the unmatched ones waiting forever
            broken = RuntimeError(f"flush returned {len(results)} results for {len(items)} items")
            for future in batch.values():
                if not future.done():
                    future.set_exception(broken)
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
        self._create_contacts: Coalescer[_Frozen, HubObject] = Coalescer(
            lambda xs: self._create("contacts", xs, self._sid),
            max_batch=max_batch,
            linger_s=linger_s,
        )
        self._create_deals: Coalescer[_Frozen, HubObject] = Coalescer(
            lambda xs: self._create("deals", xs, self._code), max_batch=max_batch, linger_s=linger_s
        )
        self._update_contacts: Coalescer[_Frozen, HubObject] = Coalescer(
            lambda xs: self._update("contacts", xs), max_batch=max_batch, linger_s=linger_s
        )
        self._update_deals: Coalescer[_Frozen, HubObject] = Coalescer(
            lambda xs: self._update("deals", xs), max_batch=max_batch, linger_s=linger_s
        )
        self._associate: Coalescer[tuple[str, str], None] = Coalescer(
            self._assoc, max_batch=max_batch, linger_s=linger_s
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

            self._reads[key] = Coalescer(flush, max_batch=self._max_batch, linger_s=self._linger_s)
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
