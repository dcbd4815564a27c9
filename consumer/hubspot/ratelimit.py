"""Request pacing from HubSpot's rate-limit headers (SPEC section 5).

Owns: when the next request may be sent. It keeps this replica under its share of the rolling
10-second budget (``X-HubSpot-RateLimit-Max`` x ``budget_share``), backs off when the shared
``-Remaining`` (all replicas on one token) runs low, obeys 429/423 pauses, and refuses retries once
the daily budget is down to the reserve. Clock and sleep are injected so it is tested without
waiting. Must not: send requests or know about aiohttp.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping

from consumer.errors import DailyBudgetExhaustedError
from consumer.metrics import Metrics

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

DEFAULT_MAX = 100  # the smallest tier's budget, until HubSpot's headers say more
DEFAULT_INTERVAL_S = 10.0
TEN_SECONDLY_PAUSE_S = 1.0  # HubSpot does not document Retry-After on 429; a short pause suffices
DAILY_PROBE_S = 300.0  # after a DAILY 429, probe again this often (the reset time is not sent)


class RateLimiter:
    """Paces this replica's requests; one instance per daemon, shared by every HTTP call."""

    def __init__(
        self,
        *,
        budget_share: float = 1.0,
        daily_reserve: int = 0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        metrics: Metrics | None = None,
    ) -> None:
        self._share = budget_share
        self._reserve = daily_reserve
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
        self._lock = asyncio.Lock()

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
        if self._remaining is not None:
            estimate = self._remaining - self._sent_since_header
            fresh = now - self._remaining_at < 0.5
            if estimate <= self._margin() and fresh:
                # other replicas are using the shared budget: wait for their window to roll
                return 0.25
        return 0.0

    def _check_daily(self, now: float, is_retry: bool) -> None:
        if now < self._daily_blocked_until:
            raise DailyBudgetExhaustedError(
                "HubSpot's daily budget is spent", retry_after_s=self._daily_blocked_until - now
            )
        if self._daily_remaining is None:
            return
        left = self._daily_remaining - self._daily_sent_since
        floor = self._reserve if is_retry else 0
        if left <= floor:
            why = "down to the reserve kept from retries" if is_retry else "spent"
            raise DailyBudgetExhaustedError(
                f"HubSpot's daily budget is {why}", retry_after_s=DAILY_PROBE_S
            )

    async def acquire(self, *, ten_secondly: bool = True, is_retry: bool = False) -> None:
        """Wait until a request may be sent; raise ``DailyBudgetExhaustedError`` when it may not."""
        self._check_daily(self._clock(), is_retry)
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
            self._check_daily(self._clock(), is_retry)
            self._sent.append(self._clock())
            self._sent_since_header += 1
            self._daily_sent_since += 1

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
        if self._metrics is not None:
            if self._remaining is not None:
                self._metrics.budget_remaining.labels(window="ten_secondly").set(self._remaining)
            if self._daily_remaining is not None:
                self._metrics.budget_remaining.labels(window="daily").set(self._daily_remaining)

    def on_rate_limited(self, policy: str, retry_after_s: float | None) -> None:
        """A 429: pause everyone for ``Retry-After`` or a policy-specific wait."""
        now = self._clock()
        if policy == "DAILY":
            self._daily_blocked_until = now + (retry_after_s or DAILY_PROBE_S)
            return
        self._blocked_until = max(
            self._blocked_until, now + (retry_after_s or TEN_SECONDLY_PAUSE_S)
        )

    def on_locked(self, seconds: float) -> None:
        """A 423 Locked: HubSpot asks for at least 2 s before the next request."""
        self._blocked_until = max(self._blocked_until, self._clock() + max(2.0, seconds))
