"""Request statistics for tests and benchmarks (``GET /_emulator/stats``).

Owns: counters of API requests by method + route template and status, 429s by policy, faults
fired, and per-second request counts (the last ``keep_s`` seconds). Must not: decide anything;
it only records what the gateway reports.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

RATE_POLICIES = ("TEN_SECONDLY_ROLLING", "DAILY")


class Stats:
    """Counters; ``record`` is called once per API request with its final status."""

    def __init__(self, keep_s: int = 3_600) -> None:
        self._keep_s = keep_s
        self.reset()

    def reset(self) -> None:
        self.by_route: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.rate_limited: Counter[str] = Counter({p: 0 for p in RATE_POLICIES})
        self.faults = 0
        self.dropped = 0
        self.requests = 0
        self._per_second: dict[int, list[int]] = {}  # second -> [requests, 2xx, 429]

    def record(self, route: str, status: int, now: float) -> None:
        self.requests += 1
        self.by_route[route][str(status)] += 1
        second = int(now)
        bucket = self._per_second.get(second)
        if bucket is None:
            bucket = self._per_second[second] = [0, 0, 0]
            if len(self._per_second) > self._keep_s:
                del self._per_second[min(self._per_second)]
        bucket[0] += 1
        if 200 <= status < 300:
            bucket[1] += 1
        elif status == 429:
            bucket[2] += 1

    def limited(self, policy: str) -> None:
        self.rate_limited[policy] += 1

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests_total": self.requests,
            "by_route": {route: dict(counts) for route, counts in sorted(self.by_route.items())},
            "rate_limited": dict(self.rate_limited),
            "faults_fired": self.faults,
            "connections_dropped": self.dropped,
            "per_second": [
                {"t": second, "requests": b[0], "ok": b[1], "rate_limited": b[2]}
                for second, b in sorted(self._per_second.items())
            ],
        }
