"""Per-student lanes under a global concurrency cap (SPEC section 4, "Ordering")."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict

import pytest

from consumer.scheduler import Scheduler, sleep_without_slot


async def settle(rounds: int = 20) -> None:
    """Let every ready task run until the loop is quiet."""
    for _ in range(rounds):
        await asyncio.sleep(0)


class Gated:
    """A handler that records what it runs and waits for the test to release each item."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.finished: list[str] = []
        self.cancelled: list[str] = []
        self.gates: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.active = 0
        self.peak = 0

    async def __call__(self, item: str) -> None:
        self.started.append(item)
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await self.gates[item].wait()
        except asyncio.CancelledError:
            self.cancelled.append(item)
            raise
        finally:
            self.active -= 1
        self.finished.append(item)

    def release(self, *items: str) -> None:
        for item in items:
            self.gates[item].set()


async def test_items_of_one_lane_run_one_at_a_time_in_submission_order() -> None:
    handler = Gated()
    scheduler: Scheduler[str] = Scheduler(handler, max_concurrency=10)
    for item in ("a1", "a2", "a3"):
        scheduler.submit("a", item)

    await settle()
    assert handler.started == ["a1"]
    handler.release("a2", "a3")  # releasing later items first changes nothing
    await settle()
    assert handler.started == ["a1"]
    handler.release("a1")

    assert await scheduler.drain(5)
    assert handler.finished == ["a1", "a2", "a3"]
    assert handler.peak == 1


async def test_different_lanes_run_concurrently() -> None:
    handler = Gated()
    scheduler: Scheduler[str] = Scheduler(handler, max_concurrency=10)
    scheduler.submit("a", "a1")
    scheduler.submit("b", "b1")

    await settle()

    assert sorted(handler.started) == ["a1", "b1"]
    assert scheduler.running == 2
    handler.release("b1")
    await settle()
    assert handler.finished == ["b1"]  # b does not wait for a
    handler.release("a1")
    assert await scheduler.drain(5)


async def test_no_more_than_the_cap_run_at_once() -> None:
    handler = Gated()
    scheduler: Scheduler[str] = Scheduler(handler, max_concurrency=3)
    for n in range(10):
        scheduler.submit(n, f"i{n}")

    await settle()

    assert handler.active == 3
    assert scheduler.running == 3
    for n in range(10):
        handler.release(f"i{n}")
    assert await scheduler.drain(5)
    assert handler.peak == 3
    assert sorted(handler.finished) == sorted(f"i{n}" for n in range(10))


async def test_random_work_keeps_per_lane_order_and_the_cap() -> None:
    rng = random.Random(7)
    seen: dict[int, list[int]] = defaultdict(list)
    active = 0
    peak = 0

    async def handler(item: tuple[int, int]) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(rng.random() / 1000)
        seen[item[0]].append(item[1])
        active -= 1

    scheduler: Scheduler[tuple[int, int]] = Scheduler(handler, max_concurrency=4)
    submitted: dict[int, list[int]] = defaultdict(list)
    for n in range(200):
        lane = rng.randrange(12)
        submitted[lane].append(n)
        scheduler.submit(lane, (lane, n))
        if n % 17 == 0:
            await asyncio.sleep(0)

    assert await scheduler.drain(10)
    assert seen == submitted
    assert peak <= 4
    assert scheduler.size == 0


async def test_a_lane_that_empties_can_be_used_again() -> None:
    handler = Gated()
    scheduler: Scheduler[str] = Scheduler(handler, max_concurrency=2)
    scheduler.submit("a", "first")
    handler.release("first")
    assert await scheduler.drain(5)

    scheduler.submit("a", "second")
    handler.release("second")

    assert await scheduler.drain(5)
    assert handler.finished == ["first", "second"]


async def test_size_counts_queued_and_running_items() -> None:
    handler = Gated()
    scheduler: Scheduler[str] = Scheduler(handler, max_concurrency=5)
    for item in ("a1", "a2", "a3"):
        scheduler.submit("a", item)
    scheduler.submit("b", "b1")

    await settle()

    assert (scheduler.running, scheduler.queued, scheduler.size) == (2, 2, 4)
    handler.release("a1", "a2", "a3", "b1")
    assert await scheduler.drain(5)
    assert (scheduler.running, scheduler.queued, scheduler.size) == (0, 0, 0)


async def test_size_counts_items_waiting_for_a_slot() -> None:
    handler = Gated()
    scheduler: Scheduler[str] = Scheduler(handler, max_concurrency=1)
    for lane in ("a", "b", "c"):
        scheduler.submit(lane, f"{lane}1")

    await settle()

    try:
        assert scheduler.running == 1
        assert scheduler.size == 3
    finally:
        await scheduler.close()


async def test_drop_removes_items_waiting_for_a_slot() -> None:
    handler = Gated()
    scheduler: Scheduler[str] = Scheduler(handler, max_concurrency=1)
    for lane in ("a", "b", "c"):
        scheduler.submit(lane, f"{lane}1")
    await settle()

    try:
        dropped = scheduler.drop(lambda item: item != "a1")  # a1 holds the only slot
        assert sorted(dropped) == ["b1", "c1"]
    finally:
        await scheduler.close()


# -- drop, drain, close ---------------------------------------------------------------------------


async def test_drop_removes_matching_queued_items_but_not_running_ones() -> None:
    handler = Gated()
    scheduler: Scheduler[str] = Scheduler(handler, max_concurrency=5)
    for item in ("p0-a1", "p1-a2", "p0-a3"):
        scheduler.submit("a", item)
    scheduler.submit("b", "p1-b1")
    await settle()

    dropped = scheduler.drop(lambda item: item.startswith("p0"))

    assert dropped == ["p0-a3"]  # p0-a1 is running: it finishes
    handler.release("p0-a1", "p1-a2", "p1-b1")
    assert await scheduler.drain(5)
    assert sorted(handler.finished) == ["p0-a1", "p1-a2", "p1-b1"]


async def test_drop_of_a_whole_lane_leaves_no_trace() -> None:
    handler = Gated()
    scheduler: Scheduler[str] = Scheduler(handler, max_concurrency=5)
    for item in ("a1", "a2"):
        scheduler.submit("a", item)
    await settle()

    assert scheduler.drop(lambda item: item == "a2") == ["a2"]
    handler.release("a1")

    assert await scheduler.drain(5)
    assert scheduler.size == 0
    assert handler.finished == ["a1"]


async def test_drain_is_true_at_once_when_idle() -> None:
    scheduler: Scheduler[str] = Scheduler(Gated(), max_concurrency=1)

    assert await scheduler.drain(0.01)


async def test_drain_is_false_when_the_deadline_passes_first() -> None:
    handler = Gated()
    scheduler: Scheduler[str] = Scheduler(handler, max_concurrency=1)
    scheduler.submit("a", "stuck")

    assert await scheduler.drain(0.02) is False

    assert scheduler.running == 1  # drain does not cancel anything
    handler.release("stuck")
    assert await scheduler.drain(5)


async def test_close_cancels_running_work_and_forgets_queued_work() -> None:
    handler = Gated()
    scheduler: Scheduler[str] = Scheduler(handler, max_concurrency=5)
    for item in ("a1", "a2"):
        scheduler.submit("a", item)
    await settle()

    await scheduler.close()

    assert handler.cancelled == ["a1"]
    assert handler.started == ["a1"]
    assert (scheduler.size, scheduler.running) == (0, 0)
    assert await scheduler.drain(0.01)


async def test_close_is_safe_to_call_twice() -> None:
    scheduler: Scheduler[str] = Scheduler(Gated(), max_concurrency=1)
    scheduler.submit("a", "a1")
    await settle()

    await scheduler.close()
    await scheduler.close()

    assert scheduler.size == 0


async def test_nothing_can_be_submitted_after_close() -> None:
    scheduler: Scheduler[str] = Scheduler(Gated(), max_concurrency=1)
    await scheduler.close()

    with pytest.raises(RuntimeError, match="closed"):
        scheduler.submit("a", "late")


# -- cancelling running items, lending slots ------------------------------------------------------


async def test_cancelling_a_running_item_stops_only_it_and_its_lane_goes_on() -> None:
    handler = Gated()
    scheduler: Scheduler[str] = Scheduler(handler, max_concurrency=10)
    for lane, item in (("a", "a1"), ("a", "a2"), ("b", "b1")):
        scheduler.submit(lane, item)
    await settle()
    assert sorted(handler.started) == ["a1", "b1"]

    cancelled = await scheduler.cancel(lambda item: item == "a1")

    assert cancelled == 1
    assert handler.cancelled == ["a1"]
    await settle()
    assert handler.started[-1] == "a2", "the next item of the lane runs"
    handler.release("a2", "b1")
    assert await scheduler.drain(1.0)
    assert sorted(handler.finished) == ["a2", "b1"]
    assert await scheduler.cancel(lambda _: True) == 0
    await scheduler.close()


async def test_a_handler_sleeping_without_its_slot_lets_other_lanes_run() -> None:
    gate = asyncio.Event()
    ran: list[str] = []

    async def handler(item: str) -> None:
        if item == "retrying":
            while not gate.is_set():
                await sleep_without_slot(0.01)  # a retry backoff
        ran.append(item)

    scheduler: Scheduler[str] = Scheduler(handler, max_concurrency=1)
    scheduler.submit("a", "retrying")
    await settle()
    scheduler.submit("b", "other")

    await asyncio.sleep(0.1)
    assert ran == ["other"], "the other lane got the only slot while the first one waited"
    gate.set()
    assert await scheduler.drain(1.0)
    assert ran == ["other", "retrying"]
    await scheduler.close()


async def test_a_handler_holding_its_slot_blocks_other_lanes_at_the_cap() -> None:
    # the counterpart of the test above: the cap holds for handlers that do not lend the slot
    gate = asyncio.Event()
    ran: list[str] = []

    async def handler(item: str) -> None:
        if item == "busy":
            await gate.wait()
        ran.append(item)

    scheduler: Scheduler[str] = Scheduler(handler, max_concurrency=1)
    scheduler.submit("a", "busy")
    await settle()
    scheduler.submit("b", "other")
    await asyncio.sleep(0.05)
    assert ran == []
    gate.set()
    assert await scheduler.drain(1.0)
    assert ran == ["busy", "other"]
    await scheduler.close()
