"""Per-student lanes under a global concurrency cap (SPEC section 4, "Ordering").

Owns: running work items of one lane (one student) strictly one after another in submission
order (or, with a group handler, the items queued in a lane together, in order, as one call),
different lanes concurrently up to ``max_concurrency``, dropping queued items on request
(revoked partitions), cancelling running items on request (revoked partitions past their drain
deadline, so a late write of an old owner cannot land after the new owner's), and draining with
a deadline. A handler that waits (a retry backoff) calls ``sleep_without_slot`` so that its
concurrency slot serves other lanes meanwhile. Knows no Kafka, no HubSpot: an item is opaque
and the handler decides what it means. Every task it starts, it cancels and awaits.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections import deque
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class _Hold:
    """The concurrency slot a running item holds, so a waiting handler can lend it out."""

    __slots__ = ("held", "slots")

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self.slots = slots
        self.held = False


_hold: contextvars.ContextVar[_Hold | None] = contextvars.ContextVar("scheduler_hold", default=None)


async def sleep_without_slot(delay_s: float) -> None:
    """``asyncio.sleep`` that gives the caller's concurrency slot back while it sleeps.

    Called from a scheduler's handler (a retry backoff), other lanes run in the freed slot; the
    slot is taken again before it returns. Elsewhere it is a plain sleep.
    """
    hold = _hold.get()
    if hold is None or not hold.held:
        await asyncio.sleep(delay_s)
        return
    hold.slots.release()
    hold.held = False
    try:
        await asyncio.sleep(delay_s)
    finally:
        await hold.slots.acquire()  # cancelled here: held stays False, nothing is released twice
        hold.held = True


class Scheduler(Generic[T]):
    """Lanes of items keyed by ``lane``; ``handler`` is awaited for each item."""

    def __init__(
        self,
        handler: Callable[[T], Coroutine[Any, Any, None]] | None = None,
        *,
        max_concurrency: int,
        group_handler: Callable[[list[T]], Coroutine[Any, Any, None]] | None = None,
        max_group: int = 1,
    ) -> None:
        """``handler`` takes one item at a time; ``group_handler`` instead takes up to
        ``max_group`` items of one lane that were queued together (give exactly one)."""
        if (handler is None) == (group_handler is None):
            raise ValueError("give exactly one of handler and group_handler")
        self._handler = handler
        self._group_handler = group_handler
        self._max_group = max_group if group_handler is not None else 1
        self._slots = asyncio.Semaphore(max_concurrency)
        self._lanes: dict[Hashable, deque[T]] = {}
        self._workers: dict[Hashable, asyncio.Task[None]] = {}
        self._current: dict[Hashable, tuple[list[T], asyncio.Task[None]]] = {}
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False

    @property
    def queued(self) -> int:
        return sum(len(q) for q in self._lanes.values())

    @property
    def running(self) -> int:
        return self._running

    @property
    def size(self) -> int:
        """Items queued or running."""
        return self.queued + self._running

    def submit(self, lane: Hashable, item: T) -> None:
        """Queue ``item`` behind earlier items of the same lane; never blocks."""
        if self._closed:
            raise RuntimeError("scheduler is closed")
        self._lanes.setdefault(lane, deque()).append(item)
        self._idle.clear()
        if lane not in self._workers:
            self._workers[lane] = asyncio.get_running_loop().create_task(self._work(lane))

    async def _work(self, lane: Hashable) -> None:
        try:
            while self._lanes.get(lane):
                # the slot first: a waiting item stays queued, so it is counted and droppable
                hold = _Hold(self._slots)
                await self._slots.acquire()
                hold.held = True
                try:
                    queue = self._lanes.get(lane)
                    if not queue:
                        break  # dropped while waiting for the slot
                    # the lane's queued items, up to max_group, go together and in order
                    items = [queue.popleft() for _ in range(min(len(queue), self._max_group))]
                    self._running += len(items)
                    try:
                        await self._run_one(lane, items, hold)
                    finally:
                        self._running -= len(items)
                finally:
                    if hold.held:
                        self._slots.release()
        finally:
            if not self._lanes.get(lane):
                self._lanes.pop(lane, None)
            self._workers.pop(lane, None)
            if not self._workers:
                self._idle.set()

    async def _run_one(self, lane: Hashable, items: list[T], hold: _Hold) -> None:
        # the items run in a task of their own, so that they alone can be cancelled (``cancel``)
        context = contextvars.copy_context()
        context.run(_hold.set, hold)
        if self._group_handler is not None:
            work = self._group_handler(items)
        else:
            assert self._handler is not None  # noqa: S101 - one of them is set
            work = self._handler(items[0])
        task = asyncio.get_running_loop().create_task(work, context=context)
        self._current[lane] = (items, task)
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise
        finally:
            self._current.pop(lane, None)
        if task.cancelled():
            log.info("running item cancelled; the lane goes on")
        elif (exc := task.exception()) is not None:
            # a handler is meant to finish its items itself; one that fails must not strand
            # the rest of its lane
            log.error("lane handler failed; the lane goes on", exc_info=exc)

    def drop(self, predicate: Callable[[T], bool]) -> list[T]:
        """Remove queued (not running) items that match; returns them."""
        dropped: list[T] = []
        for lane, queue in list(self._lanes.items()):
            dropped.extend(i for i in queue if predicate(i))
            self._lanes[lane] = deque(i for i in queue if not predicate(i))
        return dropped

    async def cancel(self, predicate: Callable[[T], bool]) -> int:
        """Cancel running items that match (with the items running together with them) and wait
        until they have stopped; returns how many tasks.

        Their lanes go on with the next queued item.
        """
        tasks = [task for items, task in self._current.values() if any(predicate(i) for i in items)]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        return len(tasks)

    async def drain(self, timeout_s: float) -> bool:
        """Wait until every lane is empty; False when the deadline passed first."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Cancel every lane and wait for them; safe to call twice."""
        self._closed = True
        self._lanes.clear()
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        for task in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
