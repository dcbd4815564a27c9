"""The one lifespan: build, wire, start, stop, in that order and its reverse.

Owns: acquiring the HTTP port, the HubSpot session, client, limiter and gateway, the portal checks
that must pass before the first event, the pipeline and the Kafka intake; installing signal
handlers for SIGTERM/SIGINT (drain, commit, exit); and the exit code. Everything acquired is
released by one ``AsyncExitStack`` in reverse order. ``plan`` is the dry run's smaller lifespan:
the HubSpot session, the same portal checks, then the planner over a file or a topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry

from consumer.config import Settings
from consumer.errors import (
    ConfigError,
    HubSpotAuthError,
    HubSpotError,
    HubSpotTransientError,
    KafkaUnavailableError,
)
from consumer.health import Probe, build_app
from consumer.hubspot.batching import Gateway
from consumer.hubspot.checks import Report, check_schema, check_settings, check_token
from consumer.hubspot.client import HubSpotClient
from consumer.hubspot.ratelimit import RateLimiter
from consumer.hubspot.schema import PortalSchema, load_schema
from consumer.intake import Intake, read_topics
from consumer.mapping import DEAL_CODE_PROPERTY, STUDENT_ID_PROPERTY
from consumer.metrics import Metrics
from consumer.pipeline import Pipeline
from consumer.plan import Planner, RawRecord, from_file, print_plan
from consumer.scheduler import sleep_without_slot

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_CONFIG = 1
EXIT_AUTH = 2
EXIT_KAFKA = 3


@dataclass
class HubSpotHandle:
    client: HubSpotClient
    limiter: RateLimiter


@contextlib.asynccontextmanager
async def hubspot(settings: Settings, token: str, metrics: Metrics) -> AsyncIterator[HubSpotHandle]:
    """An HTTP session and a client for HubSpot, closed on exit."""
    hub = settings.hubspot
    limiter = RateLimiter(
        budget_share=hub.budget_share,
        daily_reserve=hub.daily_reserve,
        daily_probe_s=hub.daily_probe_s,
        slices=hub.pacing_slices,
        metrics=metrics,
    )
    async with aiohttp.ClientSession(raise_for_status=False) as session:
        yield HubSpotHandle(
            HubSpotClient(
                session,
                hub.base_url,
                token,
                limiter=limiter,
                metrics=metrics,
                api_version=hub.api_version,
                request_timeout_s=hub.request_timeout_s,
                max_concurrent_requests=hub.max_concurrent_requests,
            ),
            limiter,
        )


async def portal_report(
    settings: Settings, client: HubSpotClient, token: str
) -> tuple[Report, PortalSchema | None]:
    """The checks of SPEC section 3 against the portal (shared by ``run``, ``check``, ``plan``)."""
    report = Report()
    check_settings(settings, report)
    before = len(report.errors)
    await check_token(client, token, report)
    if len(report.errors) > before:
        return report, None  # the portal cannot be read with this token
    schema = await load_schema(client)
    check_schema(settings, schema, report)
    return report, schema


def _log_report(report: Report) -> None:
    for warning in report.warnings:
        log.warning("config warning: %s", warning, extra={"problem": warning})
    for problem in report.errors:
        log.critical("config error: %s", problem, extra={"problem": problem})
    if report.errors:
        log.critical(
            "refusing to start: %d configuration error(s); "
            "`classter-hubspot check` prints the full report",
            len(report.errors),
        )


async def _topic_records(
    settings: Settings,
    topics: list[str],
    start: dict[tuple[str, int], int],
    password: str | None,
) -> AsyncIterator[RawRecord]:
    async for record in read_topics(settings.kafka, topics, password=password, start=start):
        where = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
        yield RawRecord(where, record.key, record.value)


def _kafka_failed(exc: KafkaUnavailableError | ConfigError) -> int:
    """Log why the Kafka clients could not start; the exit code that says so."""
    if isinstance(exc, ConfigError):  # a TLS file that cannot be loaded, a missing password
        for problem in exc.problems:
            log.critical("config error", extra={"problem": problem})
        return EXIT_CONFIG
    log.critical("Kafka is not reachable", extra={"error": str(exc)})
    return EXIT_KAFKA


async def plan(
    settings: Settings,
    *,
    token: str,
    out: TextIO,
    file: Path | None = None,
    topics: list[str] | None = None,
    start: dict[tuple[str, int], int] | None = None,
    kafka_password: str | None = None,
    as_json: bool = False,
) -> int:
    """The dry run: print the HubSpot writes the records would make; writes nothing anywhere."""
    metrics = Metrics(CollectorRegistry())
    async with hubspot(settings, token, metrics) as handle:
        try:
            report, schema = await portal_report(settings, handle.client, token)
            _log_report(report)
            if report.token_refused:
                return EXIT_AUTH
            if not report.ok or schema is None:
                return EXIT_CONFIG
            planner = Planner(settings, schema, handle.client.batch_read)
            topics = topics or settings.kafka.topics
            records = (
                from_file(file)
                if file is not None
                else _topic_records(settings, topics, start or {}, kafka_password)
            )
            await print_plan(planner, records, out, as_json=as_json)
        except HubSpotAuthError as exc:
            log.critical("HubSpot refused the token; stopping", extra={"error": str(exc)})
            return EXIT_AUTH
        except HubSpotError as exc:
            log.critical("HubSpot is not reachable", extra={"error": str(exc)})
            return EXIT_CONFIG
        except (KafkaUnavailableError, ConfigError) as exc:
            return _kafka_failed(exc)
    return EXIT_OK


# a replica restarted while HubSpot answers 5xx or 429 waits for it instead of exiting
START_RETRY_S = 60.0


async def portal_report_with_retries(
    settings: Settings, client: HubSpotClient, token: str, *, within_s: float = START_RETRY_S
) -> tuple[Report, PortalSchema | None]:
    """``portal_report``, retrying transient failures (capped backoff) for up to ``within_s``."""
    deadline = time.monotonic() + within_s
    delay = 0.5
    while True:
        try:
            return await portal_report(settings, client, token)
        except HubSpotTransientError as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning(
                "HubSpot not answering at start; retrying",
                extra={"error": str(exc)[:200], "delay_s": delay},
            )
            await asyncio.sleep(max(delay, exc.retry_after_s or 0.0))
            delay = min(delay * 2, 8.0)


async def _listen(runner: web.AppRunner, settings: Settings) -> bool:
    """Bind the HTTP port; False (and one clear log line instead of a traceback) when taken."""
    try:
        await web.TCPSite(runner, settings.http.host, settings.http.port).start()
    except OSError as exc:
        log.critical(
            "cannot listen on the HTTP port",
            extra={"key": "http.port", "port": settings.http.port, "error": exc.strerror},
        )
        return False
    return True


async def run(
    settings: Settings,
    *,
    token: str,
    kafka_password: str | None = None,
    registry: CollectorRegistry | None = None,
    stop: asyncio.Event | None = None,
    install_signals: bool = True,
    on_http_port: Callable[[int], None] | None = None,
) -> int:
    """Run the daemon until SIGTERM/SIGINT (or ``stop``); returns the process exit code.

    ``on_http_port`` is told the port the HTTP server bound (``http.port: 0`` picks a free one).
    """
    metrics = Metrics(registry or CollectorRegistry())
    probe = Probe(started_at=time.time())
    async with contextlib.AsyncExitStack() as stack:
        runner = web.AppRunner(
            build_app(metrics, probe, settings.http.poll_stale_after_s), access_log=None
        )
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        if not await _listen(runner, settings):
            return EXIT_CONFIG
        http_port = int(runner.addresses[0][1])
        if on_http_port is not None:
            on_http_port(http_port)

        handle = await stack.enter_async_context(hubspot(settings, token, metrics))
        try:
            report, schema = await portal_report_with_retries(settings, handle.client, token)
        except HubSpotAuthError as exc:
            log.critical("HubSpot refused the token", extra={"error": str(exc)})
            return EXIT_AUTH
        except HubSpotError as exc:
            log.critical("HubSpot is not reachable at start", extra={"error": str(exc)})
            return EXIT_CONFIG
        _log_report(report)
        if report.token_refused:
            return EXIT_AUTH
        if not report.ok or schema is None:
            return EXIT_CONFIG
        probe.hubspot_ok = True

        contact_props, deal_props = Pipeline.read_properties(settings)
        gateway = Gateway(
            handle.client,
            contact_props=contact_props,
            deal_props=deal_props,
            student_id_property=STUDENT_ID_PROPERTY,
            deal_code_property=DEAL_CODE_PROPERTY,
            max_batch=settings.hubspot.max_batch_size,
            linger_s=settings.hubspot.batch_linger_s,
        )
        stack.push_async_callback(gateway.close)
        # a retry backoff lends its concurrency slot to other students meanwhile
        pipeline = Pipeline(
            settings,
            schema,
            gateway,
            metrics,
            sleep=sleep_without_slot,
            retry_wait=handle.limiter.retry_wait_s,
        )
        intake = Intake(
            settings.kafka,
            metrics,
            pipeline.process,
            password=kafka_password,
            handle_group=pipeline.process_group,
        )
        stack.push_async_callback(intake.close)
        try:
            await intake.start()
        except (KafkaUnavailableError, ConfigError) as exc:
            return _kafka_failed(exc)
        probe.last_poll = lambda: intake.last_poll
        probe.assigned = lambda: len(intake.assigned)
        probe.draining = lambda: intake.draining

        if stop is not None:
            waiter = asyncio.get_running_loop().create_task(stop.wait())
            waiter.add_done_callback(lambda _: intake.stop())
            stack.callback(waiter.cancel)
        if install_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, intake.stop)
                stack.callback(loop.remove_signal_handler, sig)
        log.info(
            "started",
            extra={
                "topics": settings.kafka.topics,
                "group_id": settings.kafka.group_id,
                "http_port": http_port,
            },
        )
        await intake.run()
        if intake.fatal is not None:
            return EXIT_AUTH
        log.info("stopped after drain and commit")
        return EXIT_OK
