"""Per-student lanes under a global concurrency cap (SPEC section 4, "Ordering").

Owns: running work items of one lane (one student) strictly one after another in submission
order, different lanes concurrently up to ``max_concurrency``, dropping queued items on request
(revoked partitions), and draining with a deadline. Knows no Kafka, no HubSpot: an item is
opaque and the handler decides what it means. Every task it starts, it cancels and awaits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class Scheduler(Generic[T]):
    """Lanes of items keyed by ``lane``; ``handler`` is awaited for each item."""

    def __init__(self, handler: Callable[[T], Awaitable[None]], *, max_concurrency: int) -> None:
        self._handler = handler
        self._slots = asyncio.Semaphore(max_concurrency)
        self._lanes: dict[Hashable, deque[T]] = {}
        self._workers: dict[Hashable, asyncio.Task[None]] = {}
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
                async with self._slots:
                    queue = self._lanes.get(lane)
                    if not queue:
                        break  # dropped while waiting for the slot
                    item = queue.popleft()
                    self._running += 1
                    try:
                        await self._handler(item)
                    except Exception:
                        # a handler is meant to finish its items itself; one that fails must not
                        # strand the rest of its lane
                        log.exception("lane handler failed; the lane goes on")
                    finally:
                        self._running -= 1
        finally:
            if not self._lanes.get(lane):
                self._lanes.pop(lane, None)
            self._workers.pop(lane, None)
            if not self._workers:
                self._idle.set()

    def drop(self, predicate: Callable[[T], bool]) -> list[T]:
        """Remove queued (not running) items that match; returns them."""
        dropped: list[T] = []
        for lane, queue in list(self._lanes.items()):
            dropped.extend(i for i in queue if predicate(i))
            self._lanes[lane] = deque(i for i in queue if not predicate(i))
        return dropped

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
