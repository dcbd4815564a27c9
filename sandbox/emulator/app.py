"""The emulator as an aiohttp application, and ``Emulator``, which runs it for tests and tools.

Owns: the gateway every API request passes, in this order: token (401) and scopes (403), fault
rules (which may stall, drop the connection or answer instead), the budgets (429 with
``policyName``; accepted requests carry the ``X-HubSpot-RateLimit-*`` headers), the configured
extra latency, then the route's handler; ``ApiError`` becomes HubSpot's JSON error; every API
request is counted in the stats by method, route template and status. Control routes
(``/_emulator/``) skip all of it. Must not: hold HubSpot rules (``routes`` and below do).
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Any

from aiohttp import web

from sandbox.emulator import control, routes
from sandbox.emulator.budget import Clock
from sandbox.emulator.config import EmulatorConfig
from sandbox.emulator.errors import (
    ApiError,
    error_body,
    invalid_authentication,
    missing_scopes,
    rate_limited,
)
from sandbox.emulator.faults import FaultRule
from sandbox.emulator.routes import ROUTES, RouteSpec, reply
from sandbox.emulator.state import STATE, EmulatorState, SeedDocument, build_state, seed

_NO_CREDENTIALS = (
    "Authentication credentials not found. This API supports OAuth 2.0 "
    "authentication and you can find more details at "
    "https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
_FAULT_MESSAGES = {
    500: "internal error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    423: "The resource is locked; wait at least 2 seconds before retrying.",
}


def _fault_answer(rule: FaultRule, headers: dict[str, str]) -> ApiError:
    extra = {"Retry-After": f"{rule.retry_after_s:g}"} if rule.retry_after_s is not None else {}
    if rule.status == 429:
        error = rate_limited(rule.policy, headers)
        error.headers.update(extra)
        return error
    category = "LOCKED" if rule.status == 423 else "INTERNAL_ERROR"
    return ApiError(rule.status, error_body(category, _FAULT_MESSAGES[rule.status]), extra)


def _token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise invalid_authentication(_NO_CREDENTIALS)
    return token.strip()


async def _serve(
    request: web.Request,
    handler: routes.Handler,
    spec: RouteSpec,
    state: EmulatorState,
    template: str,
) -> web.StreamResponse:
    token: str | None = None
    if spec.auth:
        token = _token(request)
        grant = state.config.grant(token)
        if grant is None:
            raise invalid_authentication(_NO_CREDENTIALS)
        required = spec.scopes(request) if spec.scopes else []
        if required and grant.scopes.isdisjoint(required):
            raise missing_scopes(required)
    rule = state.faults.pick(request.method, request.path)
    if rule is not None:
        state.stats.faults += 1
        if rule.kind == "stall":
            await asyncio.sleep(rule.delay_s)
        elif rule.kind == "drop":
            state.stats.dropped += 1
            state.stats.record(template, 0, state.clock())
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError  # aiohttp drops the request silently
        else:
            if rule.status == 429:
                state.stats.limited(rule.policy)
            raise _fault_answer(rule, state.budget.peek(token) if token else {})
    headers: dict[str, str] = {}
    if spec.counted and token is not None:
        decision = state.budget.take(token, ten_secondly=spec.ten_secondly)
        headers = decision.headers
        if decision.policy is not None:
            state.stats.limited(decision.policy)
            raise rate_limited(decision.policy, headers)
    if state.config.latency_s > 0:
        await asyncio.sleep(state.config.latency_s)
    try:
        response = await handler(request)
    except ApiError as exc:
        response = reply(exc.status, exc.body, exc.headers)
    response.headers.update(headers)
    return response


@web.middleware
async def gateway(request: web.Request, handler: routes.Handler) -> web.StreamResponse:
    state = request.app[STATE]
    route = request.match_info.route
    spec = request.app[ROUTES].get(route)
    if spec is None:
        try:
            return await handler(request)
        except ApiError as exc:
            return reply(exc.status, exc.body, exc.headers)
        except web.HTTPException as exc:
            if request.path.startswith(control.PREFIX):
                raise
            category = "OBJECT_NOT_FOUND" if exc.status == 404 else "VALIDATION_ERROR"
            return reply(
                exc.status, error_body(category, f"{exc.reason}: {request.method} {request.path}")
            )
    template = f"{request.method} {route.resource.canonical if route.resource else '?'}"
    try:
        response = await _serve(request, handler, spec, state, template)
    except ApiError as exc:
        response = reply(exc.status, exc.body, exc.headers)
    state.stats.record(template, response.status, state.clock())
    return response


def make_app(
    config: EmulatorConfig | None = None,
    *,
    clock: Clock = time.time,
    seed_document: dict[str, Any] | None = None,
) -> web.Application:
    """A fresh emulated portal as an aiohttp application."""
    state = build_state(config or EmulatorConfig(), clock)
    if seed_document:
        seed(state, SeedDocument.model_validate(seed_document))
    app = web.Application(middlewares=[gateway], client_max_size=16 * 1024 * 1024)
    app[STATE] = state
    routes.register(app)
    control.register(app)
    return app


class Emulator:
    """Runs the emulator on ``host:port`` (0: an ephemeral port) inside ``async with``.

    ``url`` is the base URL to give a client; ``state`` is the live portal for assertions.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock = time.time,
        seed_document: dict[str, Any] | None = None,
    ) -> None:
        self._app = make_app(config, clock=clock, seed_document=seed_document)
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None

    @property
    def state(self) -> EmulatorState:
        return self._app[STATE]

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    async def start(self) -> None:
        runner = web.AppRunner(self._app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def close(self) -> None:
        """Stop serving; safe to call twice."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
