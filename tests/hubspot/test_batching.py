"""Coalescing single operations into batch calls, and splitting rejected batches (SPEC section 5).

The flush functions here are fakes: no network, no HubSpot client.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer.errors import (
    DailyBudgetExhaustedError,
    HubSpotAuthError,
    HubSpotConflictError,
    HubSpotError,
    HubSpotTransientError,
    HubSpotValidationError,
)
from consumer.hubspot.batching import Coalescer, split_on_rejection
from tests.factories import PROPERTY

LONG = 60.0  # a linger no test waits for: only a full batch or close() can end it


class FakeFlush:
    """Records every batch; answers each item with ``f"ok:{item}"`` unless told otherwise."""

    def __init__(self, fail: dict[str, BaseException] | None = None) -> None:
        self.batches: list[list[str]] = []
        self.fail = fail or {}
        self.gate: asyncio.Event | None = None

    async def __call__(self, items: list[str]) -> Sequence[str | BaseException]:
        self.batches.append(list(items))
        if self.gate is not None:
            await self.gate.wait()
        return [self.fail.get(item, f"ok:{item}") for item in items]


async def settle(rounds: int = 20) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


# -- Coalescer ------------------------------------------------------------------------------------


async def test_submissions_within_the_linger_share_one_batch() -> None:
    flush = FakeFlush()
    coalescer: Coalescer[str, str] = Coalescer(flush, max_batch=100, linger_s=0.01)

    results = await asyncio.gather(*(coalescer.submit(f"c{n}") for n in range(5)))

    assert results == [f"ok:c{n}" for n in range(5)]
    assert flush.batches == [[f"c{n}" for n in range(5)]]


async def test_identical_inputs_take_one_slot_and_share_the_result() -> None:
    flush = FakeFlush()
    coalescer: Coalescer[str, str] = Coalescer(flush, max_batch=100, linger_s=0.01)

    results = await asyncio.gather(
        coalescer.submit("same"), coalescer.submit("other"), coalescer.submit("same")
    )

    assert list(results) == ["ok:same", "ok:other", "ok:same"]
    assert flush.batches == [["same", "other"]]


async def test_a_full_batch_goes_out_without_waiting_for_the_linger() -> None:
    flush = FakeFlush()
    coalescer: Coalescer[str, str] = Coalescer(flush, max_batch=3, linger_s=LONG)

    results = await asyncio.wait_for(
        asyncio.gather(*(coalescer.submit(f"c{n}") for n in range(3))), timeout=5
    )

    assert results == ["ok:c0", "ok:c1", "ok:c2"]
    assert flush.batches == [["c0", "c1", "c2"]]
    await coalescer.close()


async def test_no_batch_is_larger_than_the_maximum() -> None:
    flush = FakeFlush()
    coalescer: Coalescer[str, str] = Coalescer(flush, max_batch=100, linger_s=0.01)

    results = await asyncio.gather(*(coalescer.submit(f"c{n}") for n in range(250)))

    assert results == [f"ok:c{n}" for n in range(250)]
    assert [len(b) for b in flush.batches] == [100, 100, 50]
    assert [i for b in flush.batches for i in b] == [f"c{n}" for n in range(250)]


@given(st.lists(st.integers(min_value=0, max_value=30), max_size=80), st.integers(1, 10))
@PROPERTY
def test_every_caller_gets_the_result_of_its_own_input(items: list[int], max_batch: int) -> None:
    async def run() -> tuple[list[str], list[list[str]]]:
        flush = FakeFlush()
        coalescer: Coalescer[str, str] = Coalescer(flush, max_batch=max_batch, linger_s=0)
        results = await asyncio.gather(*(coalescer.submit(str(i)) for i in items))
        return list(results), flush.batches

    results, batches = asyncio.run(run())

    assert results == [f"ok:{i}" for i in items]
    for batch in batches:
        assert len(batch) <= max_batch
        assert len(set(batch)) == len(batch), "two inputs for one record in a batch"


async def test_an_input_submitted_after_its_batch_left_goes_into_the_next() -> None:
    flush = FakeFlush()
    flush.gate = asyncio.Event()
    coalescer: Coalescer[str, str] = Coalescer(flush, max_batch=1, linger_s=LONG)
    first = asyncio.ensure_future(coalescer.submit("same"))
    await settle()

    second = asyncio.ensure_future(coalescer.submit("same"))
    await settle()
    flush.gate.set()

    assert list(await asyncio.gather(first, second)) == ["ok:same", "ok:same"]
    assert flush.batches == [["same"], ["same"]]


async def test_a_failed_input_fails_only_its_own_caller() -> None:
    rejection = HubSpotValidationError("bad value", code="INVALID_OPTION")
    flush = FakeFlush(fail={"bad": rejection})
    coalescer: Coalescer[str, str] = Coalescer(flush, max_batch=100, linger_s=0.01)

    results = await asyncio.gather(
        coalescer.submit("good"), coalescer.submit("bad"), return_exceptions=True
    )

    assert list(results) == ["ok:good", rejection]


async def test_a_flush_that_raises_fails_every_caller_of_that_batch() -> None:
    async def broken(items: list[str]) -> list[str]:
        raise HubSpotTransientError("503")

    coalescer: Coalescer[str, str] = Coalescer(broken, max_batch=100, linger_s=0.01)

    results = await asyncio.gather(
        coalescer.submit("a"), coalescer.submit("b"), return_exceptions=True
    )

    assert all(isinstance(r, HubSpotTransientError) for r in results)


@pytest.mark.parametrize("answer", [["ok:a"], ["ok:a", "ok:b", "ok:c"]], ids=["short", "long"])
async def test_a_flush_with_the_wrong_number_of_results_fails_every_caller(
    answer: list[str],
) -> None:
    async def miscounting(items: list[str]) -> list[str]:
        return answer

    coalescer: Coalescer[str, str] = Coalescer(miscounting, max_batch=100, linger_s=0.01)

    results = await asyncio.wait_for(
        asyncio.gather(coalescer.submit("a"), coalescer.submit("b"), return_exceptions=True),
        timeout=5,
    )

    assert all(isinstance(r, RuntimeError) for r in results)


async def test_a_caller_that_gives_up_does_not_cancel_the_others() -> None:
    flush = FakeFlush()
    flush.gate = asyncio.Event()
    coalescer: Coalescer[str, str] = Coalescer(flush, max_batch=2, linger_s=LONG)
    quitter = asyncio.ensure_future(coalescer.submit("a"))
    stayer = asyncio.ensure_future(coalescer.submit("b"))
    await settle()

    quitter.cancel()
    await settle()
    flush.gate.set()

    assert await stayer == "ok:b"
    assert quitter.cancelled()


async def test_an_input_whose_only_caller_gave_up_before_the_batch_left_is_not_sent() -> None:
    flush = FakeFlush()
    gate = Turnstile()
    coalescer: Coalescer[str, str] = Coalescer(flush, max_batch=100, linger_s=0, gate=gate)
    revoked = asyncio.ensure_future(coalescer.submit("revoked"))
    kept = asyncio.ensure_future(coalescer.submit("kept"))
    await settle()

    revoked.cancel()
    await settle()
    gate.open_once()

    assert await kept == "ok:kept"
    assert revoked.cancelled()
    assert flush.batches == [["kept"]]


async def test_an_input_another_caller_still_waits_for_is_sent() -> None:
    flush = FakeFlush()
    gate = Turnstile()
    coalescer: Coalescer[str, str] = Coalescer(flush, max_batch=100, linger_s=0, gate=gate)
    quitter = asyncio.ensure_future(coalescer.submit("shared"))
    stayer = asyncio.ensure_future(coalescer.submit("shared"))
    await settle()

    quitter.cancel()
    await settle()
    gate.open_once()

    assert await stayer == "ok:shared"
    assert flush.batches == [["shared"]]


async def test_a_caller_that_gives_up_after_its_batch_left_leaves_the_batch_as_sent() -> None:
    flush = FakeFlush()
    flush.gate = asyncio.Event()
    coalescer: Coalescer[str, str] = Coalescer(flush, max_batch=2, linger_s=0.01)
    quitter = asyncio.ensure_future(coalescer.submit("a"))
    stayer = asyncio.ensure_future(coalescer.submit("b"))
    await settle()
    assert flush.batches == [["a", "b"]]

    quitter.cancel()
    flush.gate.set()

    assert await stayer == "ok:b"
    again = await coalescer.submit("a")  # a later caller of the same input gets a fresh slot
    assert again == "ok:a"
    assert flush.batches == [["a", "b"], ["a"]]


async def test_the_input_that_fills_a_batch_is_withdrawn_like_any_other_later_on() -> None:
    # without a gate, the submit that fills a batch sends it at once; a later caller of the
    # same input who gives up must still withdraw it
    flush = FakeFlush()
    coalescer: Coalescer[str, str] = Coalescer(flush, max_batch=2, linger_s=0.05)
    assert list(await asyncio.gather(coalescer.submit("a"), coalescer.submit("b"))) == [
        "ok:a",
        "ok:b",
    ]

    quitter = asyncio.ensure_future(coalescer.submit("b"))
    await settle()
    quitter.cancel()
    await asyncio.sleep(0.1)  # past the linger

    assert flush.batches == [["a", "b"]]
    await coalescer.close()


async def test_close_cancels_waiting_and_running_batches() -> None:
    flush = FakeFlush()
    flush.gate = asyncio.Event()
    coalescer: Coalescer[str, str] = Coalescer(flush, max_batch=1, linger_s=LONG)
    running = asyncio.ensure_future(coalescer.submit("running"))
    await settle()
    big: Coalescer[str, str] = Coalescer(FakeFlush(), max_batch=10, linger_s=LONG)
    waiting = asyncio.ensure_future(big.submit("waiting"))
    await settle()

    await coalescer.close()
    await big.close()

    for caller in (running, waiting):
        with pytest.raises(asyncio.CancelledError):
            await caller
    assert flush.batches == [["running"]]


async def test_close_is_safe_twice_and_refuses_later_submissions() -> None:
    coalescer: Coalescer[str, str] = Coalescer(FakeFlush(), max_batch=10, linger_s=0.01)
    await coalescer.close()
    await coalescer.close()

    with pytest.raises(RuntimeError, match="closed"):
        await coalescer.submit("late")


class Turnstile:
    """A gate that lets one batch through each time ``open_once`` is called."""

    def __init__(self, refuse: BaseException | None = None) -> None:
        self.turns = asyncio.Semaphore(0)
        self.refuse = refuse

    def open_once(self) -> None:
        self.turns.release()

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[None]:
        if self.refuse is not None:
            raise self.refuse
        await self.turns.acquire()
        yield


async def test_behind_a_closed_gate_submissions_keep_joining_the_waiting_batch() -> None:
    flush = FakeFlush()
    gate = Turnstile()
    coalescer: Coalescer[str, str] = Coalescer(flush, max_batch=100, linger_s=0, gate=gate)
    callers = [asyncio.ensure_future(coalescer.submit("a"))]
    await settle()
    callers += [asyncio.ensure_future(coalescer.submit(x)) for x in ("b", "c", "d")]
    await settle()
    assert flush.batches == []

    gate.open_once()

    assert list(await asyncio.gather(*callers)) == ["ok:a", "ok:b", "ok:c", "ok:d"]
    assert flush.batches == [["a", "b", "c", "d"]]


async def test_behind_a_gate_every_full_batch_gets_its_own_turn() -> None:
    flush = FakeFlush()
    gate = Turnstile()
    coalescer: Coalescer[str, str] = Coalescer(flush, max_batch=2, linger_s=LONG, gate=gate)
    callers = [asyncio.ensure_future(coalescer.submit(f"c{n}")) for n in range(5)]
    await settle()

    for _ in range(3):
        gate.open_once()
        await settle()
    await coalescer.close()

    assert flush.batches == [["c0", "c1"], ["c2", "c3"]]
    assert [c.result() for c in callers[:4]] == ["ok:c0", "ok:c1", "ok:c2", "ok:c3"]
    with pytest.raises(asyncio.CancelledError):
        await callers[4]  # c4 was waiting for its linger when the coalescer closed


async def test_a_gate_that_refuses_fails_the_batch_it_was_for() -> None:
    spent = DailyBudgetExhaustedError("spent", retry_after_s=300)
    flush = FakeFlush()
    coalescer: Coalescer[str, str] = Coalescer(
        flush, max_batch=100, linger_s=0, gate=Turnstile(refuse=spent)
    )

    results = await asyncio.gather(
        coalescer.submit("a"), coalescer.submit("b"), return_exceptions=True
    )

    assert list(results) == [spent, spent]
    assert flush.batches == []


# -- split_on_rejection ---------------------------------------------------------------------------


class RejectingCall:
    """A batch call HubSpot rejects as a whole when any input in it is bad."""

    def __init__(self, bad: set[int], error: type[HubSpotError] = HubSpotValidationError) -> None:
        self.bad = bad
        self.error = error
        self.calls: list[list[int]] = []

    async def __call__(self, items: list[int]) -> list[str | HubSpotError]:
        self.calls.append(list(items))
        if self.bad & set(items):
            if self.error is HubSpotConflictError:
                raise HubSpotConflictError("duplicate", existing_id="1")
            if self.error is HubSpotValidationError:
                raise HubSpotValidationError("one bad value", code="INVALID_EMAIL")
            raise self.error("whole batch failed")
        return [f"ok:{i}" for i in items]


async def test_a_clean_batch_is_one_call() -> None:
    call = RejectingCall(bad=set())

    results = await split_on_rejection(call, list(range(100)))

    assert results == [f"ok:{i}" for i in range(100)]
    assert len(call.calls) == 1


async def test_one_bad_input_stands_alone_and_the_other_99_are_written() -> None:
    call = RejectingCall(bad={37})

    results = await split_on_rejection(call, list(range(100)))

    assert isinstance(results[37], HubSpotValidationError)
    assert results[:37] + results[38:] == [f"ok:{i}" for i in range(100) if i != 37]
    assert [37] in call.calls
    assert len(call.calls) <= 2 * math.ceil(math.log2(100)) + 1


async def test_a_duplicate_that_fails_the_batch_is_split_out_too() -> None:
    call = RejectingCall(bad={0}, error=HubSpotConflictError)

    results = await split_on_rejection(call, [0, 1, 2])

    assert isinstance(results[0], HubSpotConflictError)
    assert results[1:] == ["ok:1", "ok:2"]


@pytest.mark.parametrize("error", [HubSpotTransientError, HubSpotAuthError])
async def test_a_failure_that_is_not_the_inputs_fault_is_not_split(
    error: type[HubSpotError],
) -> None:
    call = RejectingCall(bad={1}, error=error)

    with pytest.raises(error):
        await split_on_rejection(call, [0, 1, 2, 3])

    assert len(call.calls) == 1


async def test_per_input_errors_in_a_partial_answer_pass_through_unsplit() -> None:
    partial = HubSpotValidationError("bad date", code="INVALID_DATE")

    async def call(items: list[int]) -> list[str | HubSpotError]:
        return [partial if i == 2 else f"ok:{i}" for i in items]

    results = await split_on_rejection(call, [1, 2, 3])

    assert results == ["ok:1", partial, "ok:3"]


@given(
    size=st.integers(min_value=1, max_value=100),
    bad=st.sets(st.integers(min_value=0, max_value=99), max_size=5),
)
@PROPERTY
def test_splitting_isolates_exactly_the_bad_inputs_in_order(size: int, bad: set[int]) -> None:
    items = list(range(size))
    bad = {b for b in bad if b < size}
    call = RejectingCall(bad=bad)

    results = asyncio.run(split_on_rejection(call, items))

    assert len(results) == size
    for item, result in zip(items, results, strict=True):
        if item in bad:
            assert isinstance(result, HubSpotValidationError)
        else:
            assert result == f"ok:{item}"
    depth = math.ceil(math.log2(size)) if size > 1 else 0
    assert len(call.calls) <= 1 + 2 * max(1, len(bad)) * (depth + 1)
