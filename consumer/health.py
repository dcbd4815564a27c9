"""The HTTP port: ``/metrics`` (Prometheus), ``/healthz`` (liveness), ``/readyz`` (readiness).

Owns: the aiohttp server and what the probes mean. Liveness: the poll loop turned within
``poll_stale_after_s`` (or the daemon is still starting). Readiness: partitions assigned, not
draining, and HubSpot answered at start. Must not: change daemon state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from consumer.metrics import Metrics


@dataclass
class Probe:
    """What the probes read; the app updates it."""

    started_at: float
    hubspot_ok: bool = False
    last_poll: Callable[[], float] = lambda: 0.0
    assigned: Callable[[], int] = lambda: 0
    draining: Callable[[], bool] = lambda: False


def build_app(metrics: Metrics, probe: Probe, stale_after_s: float) -> web.Application:
    async def metrics_view(_: web.Request) -> web.Response:
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        now = time.time()
        last = probe.last_poll()
        reference = last if last else probe.started_at
        if now - reference > stale_after_s:
            return web.json_response(
                {"status": "stale", "last_poll_age_s": round(now - reference)}, status=503
            )
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        reasons = []
        if not probe.hubspot_ok:
            reasons.append("hubspot not checked")
        if probe.assigned() == 0:
            reasons.append("no partitions assigned")
        if probe.draining():
            reasons.append("draining")
        if reasons:
            return web.json_response({"status": "not ready", "reasons": reasons}, status=503)
        return web.json_response({"status": "ready"})

    app = web.Application()
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app
