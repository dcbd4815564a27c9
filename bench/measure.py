"""Arithmetic on what the emulator and the daemon report: request counts, windows, percentiles.

Owns: the difference of two ``/_emulator/stats`` snapshots by kind of request (the sync's object
and association calls, the 429s, the requests that count toward the 10-second window),
utilisation of the window, and percentiles. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def _routes(stats: Mapping[str, Any]) -> dict[str, Counter[str]]:
    return {route: Counter(counts) for route, counts in stats.get("by_route", {}).items()}


@dataclass(frozen=True)
class Requests:
    """API requests between two stats snapshots."""

    by_route: dict[str, Counter[str]]

    @classmethod
    def between(cls, before: Mapping[str, Any], after: Mapping[str, Any]) -> Requests:
        old, new = _routes(before), _routes(after)
        out = {}
        for route, counts in new.items():
            diff = counts - old.get(route, Counter())
            if diff:
                out[route] = diff
        return cls(out)

    def _sum(self, *, routes: str = "", exclude_status: Sequence[str] = ()) -> int:
        return sum(
            n
            for route, counts in self.by_route.items()
            if routes in route
            for status, n in counts.items()
            if status not in exclude_status
        )

    @property
    def total(self) -> int:
        return self._sum()

    @property
    def sync(self) -> int:
        """Object and association calls: what syncing events costs (not the start-up checks)."""
        return self._sum(routes="/objects/") + self._sum(routes="/associations/")

    @property
    def rate_limited(self) -> int:
        return sum(counts.get("429", 0) for counts in self.by_route.values())

    @property
    def windowed(self) -> int:
        """Requests the 10-second window counted: accepted (not 429), not an exempt route."""
        return sum(
            n
            for route, counts in self.by_route.items()
            if not _exempt(route)
            for status, n in counts.items()
            if status not in ("429", "0")
        )

    def by_operation(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for route, counts in self.by_route.items():
            out[_operation(route)] += sum(counts.values())
        return dict(sorted(out.items()))


def _exempt(route: str) -> bool:
    # HubSpot's v4 association batch endpoints do not count toward the 10-second window
    return "/associations/" in route and "/batch/" in route


def _operation(route: str) -> str:
    method, _, path = route.partition(" ")
    parts = path.strip("/").split("/")
    if "batch" in parts:
        kind = "associations" if "associations" in parts else "objects"
        return f"{kind} batch/{parts[-1]}"
    return f"{method} {'/'.join(p for p in parts if not p.startswith('{'))}"


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by the nearest-rank method; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]
