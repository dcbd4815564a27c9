"""Request pacing from HubSpot's rate-limit headers (SPEC sections 5 and 10), on a fake clock."""

from __future__ import annotations

import asyncio
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from consumer.errors import DailyBudgetExhaustedError
from consumer.hubspot.ratelimit import DAILY_PROBE_S, RateLimiter
from consumer.metrics import Metrics
from tests.factories import PROPERTY


class FakeTime:
    """A clock that only moves when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        assert seconds > 0, "the limiter never sleeps for nothing"
        self.now += seconds
        self.slept += seconds
        await asyncio.sleep(0)


def limiter(time: FakeTime, **options: float) -> RateLimiter:
    share = options.pop("budget_share", 1.0)
    reserve = int(options.pop("daily_reserve", 0))
    return RateLimiter(
        budget_share=share, daily_reserve=reserve, clock=time.clock, sleep=time.sleep
    )


def headers(**values: int | str) -> dict[str, str]:
    names = {
        "max": "X-HubSpot-RateLimit-Max",
        "remaining": "X-HubSpot-RateLimit-Remaining",
        "interval": "X-HubSpot-RateLimit-Interval-Milliseconds",
        "daily": "X-HubSpot-RateLimit-Daily",
        "daily_remaining": "X-HubSpot-RateLimit-Daily-Remaining",
    }
    return {names[k]: str(v) for k, v in values.items()}


async def send(rl: RateLimiter, time: FakeTime, count: int, **kw: bool) -> list[float]:
    """Acquire ``count`` times; the fake times at which each request went out."""
    sent = []
    for _ in range(count):
        await rl.acquire(**kw)
        sent.append(time.now)
    return sent


# -- own share of the 10-second budget ------------------------------------------------------------


def test_the_default_budget_is_the_smallest_tier_less_a_margin() -> None:
    assert limiter(FakeTime()).own_cap == 97


@given(
    budget=st.integers(min_value=1, max_value=1000),
    share=st.floats(min_value=0.001, max_value=1.0),
)
@PROPERTY
def test_the_own_cap_is_the_budget_share_less_a_small_margin(budget: int, share: float) -> None:
    rl = limiter(FakeTime(), budget_share=share)
    rl.observe(headers(max=budget))

    assert 1 <= rl.own_cap <= max(1, math.floor(budget * share))
    assert rl.own_cap >= math.floor(budget * share * 0.97)


@pytest.mark.parametrize(
    ("budget", "share", "cap"), [(100, 1.0, 97), (190, 0.5, 92), (250, 1 / 3, 80)]
)
def test_own_cap_examples(budget: int, share: float, cap: int) -> None:
    rl = limiter(FakeTime(), budget_share=share)
    rl.observe(headers(max=budget))

    assert rl.own_cap == cap


async def test_requests_up_to_the_cap_go_out_at_once() -> None:
    time = FakeTime()
    rl = limiter(time)

    await send(rl, time, rl.own_cap)

    assert time.slept == 0


async def test_the_request_after_the_cap_waits_for_the_window_to_roll() -> None:
    time = FakeTime()
    rl = limiter(time)
    first = time.now
    await send(rl, time, rl.own_cap)

    (sent,) = await send(rl, time, 1)

    assert sent >= first + 10.0
    assert sent == pytest.approx(first + 10.0)


@given(
    budget=st.integers(min_value=5, max_value=60),
    share=st.floats(min_value=0.05, max_value=1.0),
    interval_ms=st.sampled_from([1_000, 10_000]),
    extra=st.integers(min_value=1, max_value=40),
)
@PROPERTY
def test_no_window_of_the_interval_ever_holds_more_than_the_own_cap(
    budget: int, share: float, interval_ms: int, extra: int
) -> None:
    time = FakeTime()
    rl = limiter(time, budget_share=share)
    rl.observe(headers(max=budget, interval=interval_ms))
    cap = rl.own_cap

    sent = asyncio.run(send(rl, time, 2 * cap + extra))

    interval = interval_ms / 1000
    for earlier, later in zip(sent, sent[cap:], strict=False):
        assert later - earlier >= interval - 1e-9


@given(slices=st.integers(min_value=2, max_value=40), count=st.integers(min_value=1, max_value=250))
@PROPERTY
def test_with_slices_no_stretch_of_time_gets_more_than_a_slice_plus_its_share(
    slices: int, count: int
) -> None:
    time = FakeTime()
    rl = RateLimiter(slices=slices, clock=time.clock, sleep=time.sleep)
    rl.observe(headers(max=190))

    sent = asyncio.run(send(rl, time, count))

    rate = rl.own_cap / 10.0
    depth = min(rl.own_cap, math.ceil(190 / slices))
    for first in range(0, len(sent), 7):  # every 7th start keeps the check quadratic-light
        for last in range(first, len(sent)):
            # requests first..last went out within sent[last] - sent[first] seconds
            assert last - first + 1 <= depth + rate * (sent[last] - sent[first]) + 1
        assert sum(1 for t in sent[first:] if t < sent[first] + 10.0) <= rl.own_cap


async def test_with_slices_a_backlog_goes_out_steadily_instead_of_in_one_burst() -> None:
    time = FakeTime()
    rl = RateLimiter(slices=4, clock=time.clock, sleep=time.sleep)
    rl.observe(headers(max=190))

    sent = await send(rl, time, rl.own_cap)

    depth = math.ceil(190 / 4)
    assert sum(1 for t in sent if t == sent[0]) == depth  # one slice at once
    assert sent[-1] - sent[0] >= 7.0  # the rest at the window's rate, not in a burst


async def test_a_share_below_one_request_still_lets_one_through_per_window() -> None:
    time = FakeTime()
    rl = limiter(time, budget_share=0.001)

    sent = await send(rl, time, 3)

    assert rl.own_cap == 1
    assert [round(t - sent[0], 6) for t in sent] == [0.0, 10.0, 20.0]


# -- headers --------------------------------------------------------------------------------------


async def test_headers_set_the_budget_and_the_interval() -> None:
    time = FakeTime()
    rl = limiter(time)
    rl.observe(headers(max=10, interval=2_000))
    start = time.now

    sent = await send(rl, time, rl.own_cap + 1)

    assert rl.own_cap == 9
    assert sent[-1] == pytest.approx(start + 2.0)


def test_header_names_are_matched_ignoring_case() -> None:
    rl = limiter(FakeTime())

    rl.observe({"x-hubspot-ratelimit-max": "250"})

    assert rl.own_cap == 242


@pytest.mark.parametrize("value", ["", "lots", "0", "-5", "1.5"])
def test_a_useless_max_header_is_ignored(value: str) -> None:
    rl = limiter(FakeTime())

    rl.observe({"X-HubSpot-RateLimit-Max": value})

    assert rl.own_cap == 97


async def test_a_low_shared_remaining_makes_this_replica_wait_briefly() -> None:
    # other replicas on the same token used the window up: the header says so
    time = FakeTime()
    rl = limiter(time)
    rl.observe(headers(remaining=1))

    await rl.acquire()

    assert 0 < time.slept <= 0.75


async def test_a_healthy_remaining_does_not_slow_anything() -> None:
    time = FakeTime()
    rl = limiter(time)
    rl.observe(headers(remaining=80))

    await send(rl, time, 20)

    assert time.slept == 0


async def test_requests_since_the_header_count_against_the_remaining() -> None:
    time = FakeTime()
    rl = limiter(time)
    rl.observe(headers(max=100, remaining=10))

    await send(rl, time, 7)
    assert time.slept == 0
    await rl.acquire()  # 10 - 7 = 3 left: the margin of a 100 budget

    assert time.slept > 0


def test_headers_feed_the_budget_gauges() -> None:
    registry = CollectorRegistry()
    rl = RateLimiter(metrics=Metrics(registry))

    rl.observe(headers(remaining=42, daily_remaining=123_456))

    def gauge(window: str) -> float | None:
        return registry.get_sample_value(
            "classter_hubspot_hubspot_budget_remaining", {"window": window}
        )

    assert gauge("ten_secondly") == 42
    assert gauge("daily") == 123_456


def test_the_limit_headers_feed_the_budget_limit_gauge_the_daily_alert_divides_by() -> None:
    registry = CollectorRegistry()
    rl = RateLimiter(metrics=Metrics(registry))

    rl.observe(headers(max=190, remaining=12, daily=625_000, daily_remaining=50_000))

    def limit(window: str) -> float | None:
        return registry.get_sample_value(
            "classter_hubspot_hubspot_budget_limit", {"window": window}
        )

    assert limit("ten_secondly") == 190
    assert limit("daily") == 625_000
    rl.observe(headers(daily=1_000_000))
    assert limit("daily") == 1_000_000
    rl.observe(headers(daily="junk"))
    assert limit("daily") == 1_000_000


def test_without_limit_headers_no_budget_limit_is_exported() -> None:
    registry = CollectorRegistry()
    rl = RateLimiter(metrics=Metrics(registry))

    rl.observe(headers(remaining=3))

    assert (
        registry.get_sample_value("classter_hubspot_hubspot_budget_limit", {"window": "daily"})
        is None
    )


# -- reservations (a batch formed only once its request may go) -----------------------------------


async def test_a_reservation_is_used_by_the_first_request_of_its_task() -> None:
    time = FakeTime()
    rl = limiter(time)
    cap = rl.own_cap
    await send(rl, time, cap - 1)

    async with rl.reserved():
        await rl.acquire()  # the reserved request: no second wait, no second count
        assert time.slept == 0
        await rl.acquire()  # the window is full now: this one waits

    assert time.slept > 0


async def test_a_reservation_waits_for_the_window_like_a_request() -> None:
    time = FakeTime()
    rl = limiter(time)
    await send(rl, time, rl.own_cap)

    async with rl.reserved():
        waited = time.slept

    assert waited > 0
    await rl.acquire()  # the unused reservation lapsed; it does not carry over


# -- 429 and 423 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("retry_after", "pause"), [(None, 1.0), (3.0, 3.0), (0.2, 0.2)])
async def test_a_ten_secondly_429_pauses_every_request(
    retry_after: float | None, pause: float
) -> None:
    time = FakeTime()
    rl = limiter(time)
    rl.on_rate_limited("TEN_SECONDLY_ROLLING", retry_after)

    await rl.acquire()

    assert time.slept == pytest.approx(pause)


async def test_a_shorter_pause_never_cuts_a_longer_one() -> None:
    time = FakeTime()
    rl = limiter(time)
    rl.on_rate_limited("TEN_SECONDLY_ROLLING", 5.0)
    rl.on_rate_limited("TEN_SECONDLY_ROLLING", 1.0)
    rl.on_locked(2.0)

    await rl.acquire()

    assert time.slept == pytest.approx(5.0)


@pytest.mark.parametrize(("seconds", "pause"), [(0.0, 2.0), (1.0, 2.0), (2.0, 2.0), (6.5, 6.5)])
async def test_a_423_pauses_at_least_two_seconds(seconds: float, pause: float) -> None:
    time = FakeTime()
    rl = limiter(time)
    rl.on_locked(seconds)

    await rl.acquire()

    assert time.slept == pytest.approx(pause)


async def test_concurrent_callers_all_wait_out_a_pause() -> None:
    time = FakeTime()
    rl = limiter(time)
    rl.on_rate_limited("TEN_SECONDLY_ROLLING", 2.0)
    start = time.now
    done: list[float] = []

    async def one() -> None:
        await rl.acquire()
        done.append(time.now)

    await asyncio.gather(*(one() for _ in range(5)))

    assert len(done) == 5
    assert min(done) >= start + 2.0


@pytest.mark.parametrize(("retry_after", "blocked"), [(None, DAILY_PROBE_S), (60.0, 60.0)])
async def test_a_daily_429_refuses_requests_until_the_probe_time(
    retry_after: float | None, blocked: float
) -> None:
    time = FakeTime()
    rl = limiter(time)
    rl.on_rate_limited("DAILY", retry_after)

    with pytest.raises(DailyBudgetExhaustedError) as caught:
        await rl.acquire()

    assert caught.value.retryable
    assert caught.value.retry_after_s == pytest.approx(blocked)
    time.now += blocked
    await rl.acquire()
    assert time.slept == 0  # a daily block is refused, not slept through


async def test_a_daily_429_does_not_pause_the_ten_second_window() -> None:
    time = FakeTime()
    rl = limiter(time)
    rl.on_rate_limited("DAILY", 1.0)
    time.now += 1.0

    await send(rl, time, 5)

    assert time.slept == 0


# -- the daily budget and its reserve -------------------------------------------------------------


async def test_first_attempts_may_spend_the_daily_budget_to_the_last_call() -> None:
    time = FakeTime()
    rl = limiter(time, daily_reserve=5)
    rl.observe(headers(daily_remaining=3))

    await send(rl, time, 3)

    with pytest.raises(DailyBudgetExhaustedError) as caught:
        await rl.acquire()
    assert caught.value.retry_after_s == DAILY_PROBE_S


async def test_retries_never_spend_the_daily_reserve() -> None:
    time = FakeTime()
    rl = limiter(time, daily_reserve=5)
    rl.observe(headers(daily_remaining=7))

    await send(rl, time, 2, is_retry=True)  # 7 -> 5 left: the reserve

    with pytest.raises(DailyBudgetExhaustedError, match="reserve"):
        await rl.acquire(is_retry=True)
    await rl.acquire()  # a first attempt may still go


@given(
    remaining=st.integers(min_value=0, max_value=40),
    reserve=st.integers(min_value=0, max_value=40),
    retries=st.lists(st.booleans(), max_size=60),
)
@PROPERTY
def test_the_daily_budget_is_never_overspent_and_retries_keep_off_the_reserve(
    remaining: int, reserve: int, retries: list[bool]
) -> None:
    time = FakeTime()
    rl = limiter(time, daily_reserve=reserve)
    rl.observe(headers(max=1000, daily_remaining=remaining))

    async def run() -> tuple[int, int]:
        spent = 0
        retries_sent = 0
        for is_retry in retries:
            left = remaining - spent
            try:
                await rl.acquire(is_retry=is_retry)
            except DailyBudgetExhaustedError:
                assert left <= (reserve if is_retry else 0)
                continue
            assert left > (reserve if is_retry else 0)
            spent += 1
            retries_sent += is_retry
        return spent, retries_sent

    spent, _ = asyncio.run(run())

    assert spent <= remaining


async def test_calls_outside_the_ten_second_window_still_spend_the_daily_budget() -> None:
    time = FakeTime()
    rl = limiter(time)
    rl.observe(headers(daily_remaining=2))

    await rl.acquire(ten_secondly=False)
    await rl.acquire(ten_secondly=False)

    with pytest.raises(DailyBudgetExhaustedError):
        await rl.acquire()


@pytest.mark.parametrize("pause", ["429", "423"])
async def test_a_pause_holds_back_calls_outside_the_ten_second_window_too(pause: str) -> None:
    time = FakeTime()
    rl = limiter(time)
    if pause == "429":
        rl.on_rate_limited("TEN_SECONDLY_ROLLING", 3.0)
    else:
        rl.on_locked(2.0)

    await rl.acquire(ten_secondly=False)

    assert time.slept == pytest.approx(3.0 if pause == "429" else 2.0)


async def test_calls_outside_the_ten_second_window_do_not_wait_for_it() -> None:
    time = FakeTime()
    rl = limiter(time)
    await send(rl, time, rl.own_cap)

    await send(rl, time, 20, ten_secondly=False)

    assert time.slept == 0


async def test_a_fresh_daily_header_replaces_the_local_count() -> None:
    time = FakeTime()
    rl = limiter(time)
    rl.observe(headers(daily_remaining=1))
    await rl.acquire()

    with pytest.raises(DailyBudgetExhaustedError):
        await rl.acquire()

    rl.observe(headers(daily_remaining=500))

    assert len(await send(rl, time, 10)) == 10


async def test_a_spent_day_lets_one_probe_through_every_probe_interval() -> None:
    time = FakeTime()
    rl = RateLimiter(daily_probe_s=60, clock=time.clock, sleep=time.sleep)
    rl.observe(headers(daily_remaining=0))

    with pytest.raises(DailyBudgetExhaustedError) as caught:
        await rl.acquire()
    assert caught.value.retry_after_s == 60
    time.now += 60
    await rl.acquire()  # the probe: its answer tells whether the day was reset
    with pytest.raises(DailyBudgetExhaustedError):
        await rl.acquire()

    rl.observe(headers(daily_remaining=625_000))  # the probe's answer: a new day
    assert len(await send(rl, time, 5)) == 5


async def test_after_a_daily_429_the_first_request_past_the_pause_is_a_probe() -> None:
    time = FakeTime()
    rl = RateLimiter(daily_probe_s=60, clock=time.clock, sleep=time.sleep)
    rl.observe(headers(daily_remaining=0))
    rl.on_rate_limited("DAILY", None)

    with pytest.raises(DailyBudgetExhaustedError):
        await rl.acquire()
    time.now += 60

    await rl.acquire()


def test_retries_wait_while_the_day_is_down_to_the_reserve_but_probe_now_and_then() -> None:
    time = FakeTime()
    rl = RateLimiter(daily_reserve=10, daily_probe_s=60, clock=time.clock, sleep=time.sleep)
    assert rl.retry_wait_s() == 0  # nothing known yet: nothing held back
    rl.observe(headers(daily_remaining=11))
    assert rl.retry_wait_s() == 0

    rl.observe(headers(daily_remaining=10))
    assert rl.retry_wait_s() == 60
    time.now += 30
    assert rl.retry_wait_s() == 30
    time.now += 30
    assert rl.retry_wait_s() == 0  # one retry goes as a probe
    assert rl.retry_wait_s() == 60

    rl.observe(headers(daily_remaining=625_000))
    assert rl.retry_wait_s() == 0


async def test_without_a_daily_header_nothing_is_refused() -> None:
    time = FakeTime()
    rl = limiter(time, daily_reserve=10_000)

    await send(rl, time, 50, is_retry=True)

    assert time.slept == 0
