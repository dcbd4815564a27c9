"""The control API under ``/_emulator/`` (no auth, never rate limited or faulted).

Owns: the endpoints tests, the demo and benchmarks use to inspect and steer the emulator:

- ``GET  /_emulator/state``   records, associations and created (non-HubSpot) properties, groups
  and pipelines: the canonical dump.
- ``POST /_emulator/reset``   ``{"properties": false}``: empty records and associations, zero the
  budgets and stats, drop fault rules; ``true`` also drops created properties, groups, pipelines.
- ``POST /_emulator/seed``    a ``SeedDocument``; answers the created names and ids.
- ``GET|PUT /_emulator/faults``  the fault rules (``FaultPlan`` or a bare list of rules).
- ``GET  /_emulator/stats``   request counts by route and status, 429s by policy, budgets,
  per-second counts, record counts.
- ``GET|PUT /_emulator/config``  tier, limits, ``daily_used``, tokens, ``latency_s``, fault seed.

Must not: bypass validation when seeding (seeded records obey the same rules as API writes).
"""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from sandbox.emulator.config import ConfigPatch, describe
from sandbox.emulator.errors import bad_request
from sandbox.emulator.faults import FaultPlan
from sandbox.emulator.routes import read_json, reply
from sandbox.emulator.state import STATE, EmulatorState, SeedDocument, seed

PREFIX = "/_emulator"
M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], body: Any) -> M:
    try:
        return model.model_validate(body if body is not None else {})
    except ValidationError as exc:
        raise bad_request(f"Invalid control request: {exc.errors(include_url=False)}") from None


def dump(state: EmulatorState) -> dict[str, Any]:
    """The canonical state: what the demo prints and tests assert on."""
    out = state.store.dump()
    catalog = state.catalog
    out["properties"] = {
        t: [p.to_json(catalog.options_of(t, p)) for p in catalog.custom_properties(t)]
        for t in catalog.properties
    }
    out["groups"] = {
        t: [
            g for g in groups.values() if g["name"] not in ("contactinformation", "dealinformation")
        ]
        for t, groups in catalog.groups.items()
    }
    out["pipelines"] = [p for p in catalog.pipelines.values() if p["id"] != "default"]
    return out


def budget_numbers(state: EmulatorState) -> dict[str, Any]:
    config, budget = state.config, state.budget
    return {
        "tier": config.tier,
        "ten_secondly_max": config.window_max,
        "daily_limit": config.daily_max,
        "daily_used": budget.daily_used,
        "daily_remaining": max(0, config.daily_max - budget.daily_used),
        "window_used": budget.window_used(),
    }


async def get_state(request: web.Request) -> web.StreamResponse:
    return reply(200, dump(request.app[STATE]))


async def post_reset(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    properties = bool(body.get("properties")) if isinstance(body, dict) else False
    request.app[STATE].reset(properties=properties)
    return reply(200, {"reset": True, "properties": properties})


async def post_seed(request: web.Request) -> web.StreamResponse:
    document = _parse(SeedDocument, await read_json(request))
    return reply(200, seed(request.app[STATE], document))


async def get_faults(request: web.Request) -> web.StreamResponse:
    return reply(200, request.app[STATE].faults.describe())


async def put_faults(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    body = await read_json(request)
    plan = _parse(FaultPlan, {"rules": body} if isinstance(body, list) else body)
    state.faults.install(plan, state.config.fault_seed)
    return reply(200, state.faults.describe())


async def get_stats(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    out = state.stats.snapshot()
    out["budget"] = budget_numbers(state)
    out["objects"] = {t: len(r) for t, r in state.store.records.items()}
    out["associations"] = sum(len(v) for v in state.store.links.values()) // 2
    return reply(200, out)


async def get_config(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    return reply(200, {**describe(state.config), "daily_used": state.budget.daily_used})


async def put_config(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    patch = _parse(ConfigPatch, await read_json(request))
    patch.apply(state.config)
    if patch.daily_used is not None:
        state.budget.daily_used = patch.daily_used
    return reply(200, {**describe(state.config), "daily_used": state.budget.daily_used})


def register(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/state", get_state)
    app.router.add_post(f"{PREFIX}/reset", post_reset)
    app.router.add_post(f"{PREFIX}/seed", post_seed)
    app.router.add_get(f"{PREFIX}/faults", get_faults)
    app.router.add_put(f"{PREFIX}/faults", put_faults)
    app.router.add_get(f"{PREFIX}/stats", get_stats)
    app.router.add_get(f"{PREFIX}/config", get_config)
    app.router.add_put(f"{PREFIX}/config", put_config)
