"""The emulator's settings: API tier, rate-limit budgets, accepted tokens and their scopes.

Owns: the tier table (HubSpot's published limits for privately distributed apps), the default
sandbox token, and validation of settings changed through ``PUT /_emulator/config``. Must not:
hold runtime state (budget counters live in ``budget``, records in ``store``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Tier = Literal["starter", "pro", "enterprise", "unlimited"]

DEFAULT_TOKEN = "pat-na1-sandbox-demo-token"  # noqa: S105 - a public sandbox token, not a secret
HUB_ID = 46_250_011
APP_ID = 3_141_592
USER_ID = 2_718_281

ALL_SCOPES: tuple[str, ...] = (
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.schemas.contacts.read",
    "crm.schemas.contacts.write",
    "crm.schemas.deals.read",
    "crm.schemas.deals.write",
)

# (requests per rolling 10 s per app, requests per day per account); reference section 7.
# "unlimited" is not a HubSpot tier: a budget so large that benchmarks never meet it, still
# announced in the headers so a client's pacing sees a real number.
TIERS: dict[str, tuple[int, int]] = {
    "starter": (100, 250_000),
    "pro": (190, 625_000),
    "enterprise": (190, 1_000_000),
    "unlimited": (1_000_000, 1_000_000_000),
}
INTERVAL_S = 10.0


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """One accepted token and what it may do."""

    token: str
    scopes: frozenset[str] = frozenset(ALL_SCOPES)
    hub_id: int = HUB_ID
    app_id: int = APP_ID
    user_id: int = USER_ID
    # False: a credential the private-app token-info endpoint does not describe (a service key,
    # for which HubSpot's answer is not documented); the API itself still accepts it
    introspectable: bool = True


@dataclass(slots=True)
class EmulatorConfig:
    """Everything that shapes the emulator's answers; mutable through the control API."""

    tier: Tier = "pro"
    tokens: list[TokenGrant] = field(default_factory=lambda: [TokenGrant(DEFAULT_TOKEN)])
    ten_secondly_max: int | None = None  # None: the tier's value
    daily_limit: int | None = None  # None: the tier's value
    latency_s: float = 0.0
    fault_seed: int = 0

    def grant(self, token: str) -> TokenGrant | None:
        for grant in self.tokens:
            if grant.token == token:
                return grant
        return None

    @property
    def window_max(self) -> int:
        return self.ten_secondly_max if self.ten_secondly_max is not None else TIERS[self.tier][0]

    @property
    def daily_max(self) -> int:
        return self.daily_limit if self.daily_limit is not None else TIERS[self.tier][1]


class TokenModel(BaseModel):
    """A token as the control API accepts it."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1)
    scopes: list[str] = Field(default_factory=lambda: list(ALL_SCOPES))
    hub_id: int = HUB_ID


class ConfigPatch(BaseModel):
    """Body of ``PUT /_emulator/config``: only the given keys change.

    Setting ``tier`` resets ``ten_secondly_max`` and ``daily_limit`` to that tier's values
    unless they are given in the same body.
    """

    model_config = ConfigDict(extra="forbid")

    tier: Tier | None = None
    ten_secondly_max: int | None = Field(default=None, ge=1)
    daily_limit: int | None = Field(default=None, ge=1)
    daily_used: int | None = Field(default=None, ge=0)
    tokens: list[TokenModel] | None = None
    latency_s: float | None = Field(default=None, ge=0, le=120)
    fault_seed: int | None = None

    def apply(self, config: EmulatorConfig) -> None:
        fields = self.model_fields_set
        if self.tier is not None:
            config.tier = self.tier
            config.ten_secondly_max = None
            config.daily_limit = None
        if "ten_secondly_max" in fields:
            config.ten_secondly_max = self.ten_secondly_max
        if "daily_limit" in fields:
            config.daily_limit = self.daily_limit
        if self.tokens is not None:
            config.tokens = [
                TokenGrant(t.token, frozenset(t.scopes), t.hub_id) for t in self.tokens
            ]
        if self.latency_s is not None:
            config.latency_s = self.latency_s
        if self.fault_seed is not None:
            config.fault_seed = self.fault_seed


def describe(config: EmulatorConfig) -> dict[str, object]:
    """The config as ``GET /_emulator/config`` shows it (a sandbox: tokens are not secret)."""
    return {
        "tier": config.tier,
        "ten_secondly_max": config.window_max,
        "interval_ms": int(INTERVAL_S * 1000),
        "daily_limit": config.daily_max,
        "latency_s": config.latency_s,
        "fault_seed": config.fault_seed,
        "tokens": [
            {"token": g.token, "scopes": sorted(g.scopes), "hub_id": g.hub_id}
            for g in config.tokens
        ],
    }
