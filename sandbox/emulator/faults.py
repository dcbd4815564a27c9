"""Fault injection: rules that make matching API requests fail, stall or lose their connection.

Owns: the rule model accepted by ``PUT /_emulator/faults``, matching a request against the
rules in order, and the seeded random source, so a run with the same seed and the same request
sequence fires the same faults. Must not: build HTTP responses (``app`` turns a fired rule into
one) or touch budgets and records.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FaultKind = Literal["status", "stall", "drop", "locked"]


class FaultRule(BaseModel):
    """One rule. It matches a request by ``method`` and ``path_contains`` (both optional) and
    then fires with ``probability``, at most ``count`` times (no limit when ``count`` is None).

    - ``status``: answer ``status`` (500, 502, 503, 504, 429 or 423); a 429 carries HubSpot's
      rate-limit body for ``policy``.
    - ``locked``: answer 423 Locked.
    - ``stall``: sleep ``delay_s``, then serve the request normally.
    - ``drop``: close the connection without a response.

    ``retry_after_s`` adds a ``Retry-After`` header (seconds) to a ``status``/``locked`` answer.
    """

    model_config = ConfigDict(extra="forbid")

    kind: FaultKind = "status"
    status: Literal[500, 502, 503, 504, 429, 423] = 503
    policy: Literal["TEN_SECONDLY_ROLLING", "DAILY"] = "TEN_SECONDLY_ROLLING"
    probability: float = Field(default=1.0, ge=0.0, le=1.0)
    count: int | None = Field(default=None, ge=0)
    path_contains: str | None = None
    method: str | None = None
    delay_s: float = Field(default=2.0, ge=0.0, le=600.0)
    retry_after_s: float | None = Field(default=None, ge=0.0)

    @model_validator(mode="after")
    def _locked_is_423(self) -> FaultRule:
        if self.kind == "locked":
            self.status = 423
        return self

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path_contains is None or self.path_contains in path


class FaultPlan(BaseModel):
    """Body of ``PUT /_emulator/faults``: the rules (replacing the old ones) and an optional
    seed for the random source. A bare JSON list is accepted as ``{"rules": [...]}``."""

    model_config = ConfigDict(extra="forbid")

    rules: list[FaultRule] = Field(default_factory=list)
    seed: int | None = None


@dataclass(slots=True)
class _Armed:
    rule: FaultRule
    matched: int = 0
    fired: int = 0


class Faults:
    """The active rules and how often each matched and fired."""

    def __init__(self, seed: int = 0) -> None:
        self._seed = seed
        self._rng = random.Random(seed)
        self._rules: list[_Armed] = []

    def install(self, plan: FaultPlan, default_seed: int) -> None:
        """Replace the rules; the random source restarts from the plan's seed (or the default)."""
        self._seed = plan.seed if plan.seed is not None else default_seed
        self._rng = random.Random(self._seed)
        self._rules = [_Armed(rule) for rule in plan.rules]

    def clear(self, seed: int) -> None:
        self.install(FaultPlan(), seed)

    def pick(self, method: str, path: str) -> FaultRule | None:
        """The first rule that fires for this request, counting matches and firings."""
        for armed in self._rules:
            rule = armed.rule
            if not rule.matches(method, path):
                continue
            armed.matched += 1
            if rule.count is not None and armed.fired >= rule.count:
                continue
            if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                continue
            armed.fired += 1
            return rule
        return None

    @property
    def fired_total(self) -> int:
        return sum(armed.fired for armed in self._rules)

    def describe(self) -> dict[str, Any]:
        return {
            "seed": self._seed,
            "rules": [
                {**armed.rule.model_dump(), "matched": armed.matched, "fired": armed.fired}
                for armed in self._rules
            ],
        }
