"""HubSpot's request budgets: a rolling 10-second window per token and a daily budget per account.

Owns: counting accepted requests, deciding whether the next one exceeds a budget (and which
policy it hits), and the ``X-HubSpot-RateLimit-*`` header values. The clock is injected (epoch
seconds) so tests move time instead of waiting; the daily budget resets at midnight UTC of that
clock (the emulated portal's time zone is UTC). Must not: know about HTTP or aiohttp.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]

TEN_SECONDLY = "TEN_SECONDLY_ROLLING"
DAILY = "DAILY"
_DAY_S = 86_400


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome for one request: ``policy`` is the exceeded budget, or None when accepted."""

    policy: str | None
    headers: dict[str, str]


class Budget:
    """Per-token rolling windows and one daily counter; limits are read on every call so a
    config change applies at once."""

    def __init__(
        self,
        window_max: Callable[[], int],
        daily_max: Callable[[], int],
        *,
        interval_s: float = 10.0,
        clock: Clock = time.time,
    ) -> None:
        self._window_max = window_max
        self._daily_max = daily_max
        self._interval_s = interval_s
        self._clock = clock
        self._windows: dict[str, deque[float]] = {}
        self._day = self._today()
        self.daily_used = 0

    def _today(self) -> int:
        return int(self._clock() // _DAY_S)

    def _roll(self, token: str, now: float) -> deque[float]:
        window = self._windows.setdefault(token, deque())
        horizon = now - self._interval_s
        while window and window[0] <= horizon:
            window.popleft()
        if self._today() != self._day:
            self._day = self._today()
            self.daily_used = 0
        return window

    def take(self, token: str, *, ten_secondly: bool = True) -> Decision:
        """Count one request when both budgets allow it; otherwise name the exceeded policy.

        ``ten_secondly=False`` is for endpoints HubSpot exempts from the 10-second window
        (association batch calls): they count toward the daily budget only.
        """
        now = self._clock()
        window = self._roll(token, now)
        if self.daily_used >= self._daily_max():
            return Decision(DAILY, self._headers(window))
        if ten_secondly and len(window) >= self._window_max():
            return Decision(TEN_SECONDLY, self._headers(window))
        if ten_secondly:
            window.append(now)
        self.daily_used += 1
        return Decision(None, self._headers(window))

    def peek(self, token: str) -> dict[str, str]:
        """The headers a response would carry now, counting nothing."""
        return self._headers(self._roll(token, self._clock()))

    def _headers(self, window: deque[float]) -> dict[str, str]:
        window_max, daily_max = self._window_max(), self._daily_max()
        return {
            "X-HubSpot-RateLimit-Max": str(window_max),
            "X-HubSpot-RateLimit-Remaining": str(max(0, window_max - len(window))),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self._interval_s * 1000)),
            "X-HubSpot-RateLimit-Daily": str(daily_max),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, daily_max - self.daily_used)),
        }

    def window_used(self) -> dict[str, int]:
        """Requests in the current window, per token (tokens shortened to their first 12 chars)."""
        now = self._clock()
        return {token[:12]: len(self._roll(token, now)) for token in list(self._windows)}

    def reset(self) -> None:
        self._windows.clear()
        self.daily_used = 0
        self._day = self._today()
