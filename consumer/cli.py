"""The command line: parse arguments, load config and secrets, run one command; no logic.

Commands (SPEC section 8): ``run`` (the daemon), ``check [--apply] [--json]`` (the portal checks
of section 3, optionally creating the daemon's own properties) and ``schema`` (print the JSON
Schemas of the event contract and of the config file). Exit codes: 0 ok, 1 configuration error
or failed check, 2 HubSpot refused the token, 3 Kafka unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson
from prometheus_client import CollectorRegistry

from consumer import app, config, events, logs
from consumer.errors import ConfigError, HubSpotAuthError, HubSpotError
from consumer.hubspot.schema import Report, apply_own_properties
from consumer.metrics import Metrics


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="classter-hubspot",
        description="Keep HubSpot CRM contacts and deals in step with Classter events on Kafka.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="run the daemon until SIGTERM")
    check = sub.add_parser("check", help="check the config against the HubSpot portal")
    for cmd in (run, check):
        cmd.add_argument("--config", "-c", type=Path, required=True, help="the YAML config file")
    check.add_argument(
        "--apply",
        action="store_true",
        help="create the daemon's own custom properties when missing",
    )
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    schema = sub.add_parser("schema", help="print the JSON Schemas (event contract, config)")
    schema.add_argument(
        "which",
        nargs="?",
        choices=["event", "config"],
        default=None,
        help="one schema only (default: both, as one JSON object)",
    )
    return parser


def _load(path: Path) -> tuple[config.Settings, str]:
    settings = config.load_settings(path)
    token = config.read_secret(config.TOKEN_ENV, settings.hubspot.token_file)
    if not token:
        raise ConfigError([f"hubspot token: set {config.TOKEN_ENV} or hubspot.token_file"])
    return settings, token


def _print_config_error(exc: ConfigError) -> None:
    print("configuration error:", file=sys.stderr)
    for problem in exc.problems:
        print(f"  - {problem}", file=sys.stderr)


async def _check(settings: config.Settings, token: str, apply: bool) -> Report:
    metrics = Metrics(CollectorRegistry())
    async with app.hubspot(settings, token, metrics) as handle:
        report, schema = await app.portal_report(settings, handle.client, token)
        if apply and schema is not None:
            created = await apply_own_properties(handle.client, schema)
            if created:
                # check again, so the report describes the portal as it now is
                report, _ = await app.portal_report(settings, handle.client, token)
                report.info.extend(f"created property {name}" for name in created)
        return report


def _print_report(report: Report, as_json: bool) -> None:
    if as_json:
        body = {
            "ok": report.ok,
            "errors": report.errors,
            "warnings": report.warnings,
            "info": report.info,
        }
        sys.stdout.write(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    for line in report.info:
        print(f"ok       {line}")
    for line in report.warnings:
        print(f"warning  {line}")
    for line in report.errors:
        print(f"error    {line}")
    verdict = "configuration OK" if report.ok else f"{len(report.errors)} error(s)"
    print(f"{verdict}, {len(report.warnings)} warning(s)")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "schema":
        schemas = {"event": events.json_schema(), "config": config.json_schema()}
        body = schemas[args.which] if args.which else schemas
        sys.stdout.write(
            orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"
        )
        return app.EXIT_OK
    try:
        settings, token = _load(args.config)
    except ConfigError as exc:
        _print_config_error(exc)
        return app.EXIT_CONFIG
    logs.setup(settings.logging.level)
    if args.command == "check":
        try:
            report = asyncio.run(_check(settings, token, args.apply))
        except HubSpotAuthError:
            report = Report(errors=["hubspot token: HubSpot refused it (401/403)"])
        except HubSpotError as exc:
            report = Report(errors=[f"hubspot: {exc}"])
        _print_report(report, args.json)
        return app.EXIT_OK if report.ok else app.EXIT_CONFIG
    try:
        password = config.read_secret(config.KAFKA_PASSWORD_ENV, settings.kafka.sasl_password_file)
    except ConfigError as exc:
        _print_config_error(exc)
        return app.EXIT_CONFIG
    return asyncio.run(app.run(settings, token=token, kafka_password=password))
