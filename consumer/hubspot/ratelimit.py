"""Request pacing from HubSpot's rate-limit headers (SPEC section 5).

Owns: when the next request may be sent. It keeps this replica under its share of the rolling
10-second budget (``X-HubSpot-RateLimit-Max`` x ``budget_share``), backs off when the shared
``-Remaining`` (all replicas on one token) runs low, obeys 429/423 pauses, and refuses retries once
the daily budget is down to the reserve. Clock and sleep are injected so it is tested without
waiting. Must not: send requests or know about aiohttp.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from consumer.errors import DailyBudgetExhaustedError
from consumer.metrics import Metrics

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

DEFAULT_MAX = 100  # the smallest tier's budget, until HubSpot's headers say more
DEFAULT_INTERVAL_S = 10.0
TEN_SECONDLY_PAUSE_S = 1.0  # HubSpot does not document Retry-After on 429; a short pause suffices
DAILY_PROBE_S = 300.0  # when the daily budget is spent, probe again this often (no reset time)


class RateLimiter:
    """Paces this replica's requests; one instance per daemon, shared by every HTTP call."""

    def __init__(
        self,
        *,
        budget_share: float = 1.0,
        daily_reserve: int = 0,
        daily_probe_s: float = DAILY_PROBE_S,
        slices: int = 1,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        metrics: Metrics | None = None,
    ) -> None:
        self._share = budget_share
        self._reserve = daily_reserve
        self._probe_s = daily_probe_s
        self._slices = max(1, slices)
        self._tokens = float("inf")  # the bucket starts full (capped on first use)
        self._tokens_at = 0.0
        self._clock = clock
        self._sleep = sleep
        self._metrics = metrics
        self._max = DEFAULT_MAX
        self._interval = DEFAULT_INTERVAL_S
        self._sent: deque[float] = deque()
        self._remaining: int | None = None
        self._remaining_at = 0.0
        self._sent_since_header = 0
        self._daily_remaining: int | None = None
        self._daily_sent_since = 0
        self._blocked_until = 0.0
        self._daily_blocked_until = 0.0
        self._daily_probe_at: float | None = None  # next request let through to re-read the day
        self._retry_probe_at: float | None = None
        self._lock = asyncio.Lock()
        self._prepaid: set[asyncio.Task[Any]] = set()

    @property
    def own_cap(self) -> int:
        """Requests this replica may send per window: its share, less a 3% safety margin."""
        return max(1, math.floor(self._max * self._share * 0.97))

    def _margin(self) -> int:
        return max(1, math.ceil(self._max * 0.03))

    def _wait_for_ten_secondly(self, now: float) -> float:
        while self._sent and self._sent[0] <= now - self._interval:
            self._sent.popleft()
        if len(self._sent) >= self.own_cap:
            return self._sent[0] + self._interval - now
        if self._slices > 1:
            # a token bucket spreads the window's budget: it refills at the window's rate and
            # holds one slice of it, so a backlog cannot spend a whole window in one burst and
            # then stall for the rest of it (every stage of every event would wait that out),
            # while a lull of a few seconds can still be made up
            rate = self.own_cap / self._interval
            # a slice of the token's window, not of this replica's share: replicas with a small
            # share still make up their lulls; the window check above caps each one's total
            depth = float(max(1, min(self.own_cap, math.ceil(self._max / self._slices))))
            self._tokens = min(depth, self._tokens + (now - self._tokens_at) * rate)
            self._tokens_at = now
            if self._tokens < 1 - 1e-6:  # a tolerance: float sums must not wait for nothing
                return (1 - self._tokens) / rate
        if self._remaining is not None:
            estimate = self._remaining - self._sent_since_header
            fresh = now - self._remaining_at < 0.5
            if estimate <= self._margin() and fresh:
                # other replicas are using the shared budget: wait for their window to roll
                return 0.25
        return 0.0

    def _check_daily(self, now: float, is_retry: bool) -> bool:
        """Raise when the day's budget refuses a request; True when it goes as a probe."""
        if now < self._daily_blocked_until:
            raise DailyBudgetExhaustedError(
                "HubSpot's daily budget is spent", retry_after_s=self._daily_blocked_until - now
            )
        if self._daily_remaining is None:
            return False
        left = self._daily_remaining - self._daily_sent_since
        floor = self._reserve if is_retry else 0
        if left > floor:
            return False
        # Refused. Only a response tells when the day has been reset, so one request goes
        # through every ``daily_probe_s`` to ask; the first refusal starts that clock.
        if self._daily_probe_at is not None and now >= self._daily_probe_at:
            self._daily_probe_at = now + self._probe_s
            return True
        if self._daily_probe_at is None:
            self._daily_probe_at = now + self._probe_s
        why = "down to the reserve kept from retries" if is_retry else "spent"
        raise DailyBudgetExhaustedError(
            f"HubSpot's daily budget is {why}", retry_after_s=self._daily_probe_at - now
        )

    def retry_wait_s(self) -> float:
        """0 when a retry may spend the daily budget now; else how long it should wait first.

        Retries keep off the last ``daily_reserve`` calls of the day, which stay for first
        attempts; one retry every ``daily_probe_s`` may still go, so that waiting retries
        find out when the day has been reset even if no first attempt is sent meanwhile.
        """
        if self._daily_remaining is None:
            return 0.0
        if self._daily_remaining - self._daily_sent_since > self._reserve:
            self._retry_probe_at = None
            return 0.0
        now = self._clock()
        if self._retry_probe_at is not None and now >= self._retry_probe_at:
            self._retry_probe_at = now + self._probe_s
            return 0.0
        if self._retry_probe_at is None:
            self._retry_probe_at = now + self._probe_s
        return self._retry_probe_at - now

    async def acquire(self, *, ten_secondly: bool = True, is_retry: bool = False) -> None:
        """Wait until a request may be sent; raise ``DailyBudgetExhaustedError`` when it may not."""
        task = asyncio.current_task()
        if ten_secondly and task in self._prepaid:
            self._prepaid.discard(task)  # ``reserved`` already waited for and counted this one
            return
        probe = self._check_daily(self._clock(), is_retry)
        if not ten_secondly:
            # outside the 10-second window, but a 429/423 pause still holds for every request
            while (wait := self._blocked_until - self._clock()) > 0:
                await self._sleep(min(wait, 1.0))
            self._daily_sent_since += 1
            return
        async with self._lock:
            while True:
                now = self._clock()
                wait = max(self._blocked_until - now, self._wait_for_ten_secondly(now))
                if wait <= 0:
                    break
                await self._sleep(min(wait, 1.0))
            if not probe:
                self._check_daily(self._clock(), is_retry)  # it may have run out meanwhile
            self._sent.append(self._clock())
            self._tokens -= 1
            self._sent_since_header += 1
            self._daily_sent_since += 1

    @contextlib.asynccontextmanager
    async def reserved(self) -> AsyncIterator[None]:
        """Wait for (and count) one request of the 10-second budget before it is built.

        The first ``acquire`` the current task makes inside the block uses the reservation
        instead of waiting again; an unused reservation lapses on exit. The batching layer
        forms a batch only once its request may go, so the wait fills the batch.
        """
        await self.acquire()
        task = asyncio.current_task()
        if task is not None:
            self._prepaid.add(task)
        try:
            yield
        finally:
            self._prepaid.discard(task)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Learn the budget from a response's ``X-HubSpot-RateLimit-*`` headers."""
        lower = {k.lower(): v for k, v in headers.items()}

        def num(name: str) -> int | None:
            try:
                return int(lower[f"x-hubspot-ratelimit-{name}"])
            except (KeyError, ValueError):
                return None

        if (limit := num("max")) is not None and limit > 0:
            self._max = limit
        if (interval := num("interval-milliseconds")) is not None and interval > 0:
            self._interval = interval / 1000
        if (remaining := num("remaining")) is not None:
            self._remaining = remaining
            self._remaining_at = self._clock()
            self._sent_since_header = 0
        if (daily := num("daily-remaining")) is not None:
            self._daily_remaining = daily
            self._daily_sent_since = 0
            if daily > 0:
                self._daily_probe_at = None
        if self._metrics is not None:
            if self._remaining is not None:
                self._metrics.budget_remaining.labels(window="ten_secondly").set(self._remaining)
            if self._daily_remaining is not None:
                self._metrics.budget_remaining.labels(window="daily").set(self._daily_remaining)
            # the limits themselves, so that "remaining / limit" can be alerted on
            if limit is not None and limit > 0:
                self._metrics.budget_limit.labels(window="ten_secondly").set(limit)
            if (daily_limit := num("daily")) is not None and daily_limit > 0:
                self._metrics.budget_limit.labels(window="daily").set(daily_limit)

    def on_rate_limited(self, policy: str, retry_after_s: float | None) -> None:
        """A 429: pause everyone for ``Retry-After`` or a policy-specific wait."""
        now = self._clock()
        if policy == "DAILY":
            # pause until the reset; HubSpot does not say when that is, so ask again (one
            # request) at the announced Retry-After or after ``daily_probe_s``
            self._daily_blocked_until = now + (retry_after_s or self._probe_s)
            self._daily_probe_at = self._daily_blocked_until
            return
        self._blocked_until = max(
            self._blocked_until, now + (retry_after_s or TEN_SECONDLY_PAUSE_S)
        )

    def on_locked(self, seconds: float) -> None:
        """A 423 Locked: HubSpot asks for at least 2 s before the next request."""
        self._blocked_until = max(self._blocked_until, self._clock() + max(2.0, seconds))
