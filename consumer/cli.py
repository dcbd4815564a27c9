"""The command line: parse arguments, load config and secrets, run one command; no logic.

Commands (SPEC section 8): ``run`` (the daemon), ``check [--apply] [--json]`` (the portal checks
of section 3, optionally creating the daemon's own properties), ``plan`` (the dry run: the writes
that records of a JSONL file or of the topics would make), ``replay-dlq`` (republish
dead-lettered records to their source topics; ``consumer.replay``) and ``schema`` (print the JSON
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

from consumer import app, config, events, logs, replay
from consumer.errors import ConfigError, HubSpotAuthError, HubSpotError, KafkaUnavailableError
from consumer.hubspot.checks import Report
from consumer.hubspot.schema import apply_own_properties
from consumer.intake import DlqPort
from consumer.metrics import Metrics


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="classter-hubspot",
        description="Keep HubSpot CRM contacts and deals in step with Classter events on Kafka.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="run the daemon until SIGTERM")
    check = sub.add_parser("check", help="check the config against the HubSpot portal")
    plan = sub.add_parser(
        "plan", help="dry run: print the HubSpot writes that events would make, writing nothing"
    )
    for cmd in (run, check, plan):
        cmd.add_argument("--config", "-c", type=Path, required=True, help="the YAML config file")
    source = plan.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", type=Path, help="read records from this JSONL file")
    source.add_argument(
        "--kafka",
        action="store_true",
        help="read the topics from the earliest offsets to their current end, without a "
        "consumer group (commits nothing)",
    )
    plan.add_argument(
        "--topic",
        action="append",
        help="with --kafka: a topic to read (repeatable; default: kafka.topics)",
    )
    plan.add_argument(
        "--offset",
        action="append",
        type=_offset,
        default=[],
        metavar="TOPIC:PARTITION:OFFSET",
        help="with --kafka: start this partition here instead of the earliest offset",
    )
    plan.add_argument("--json", action="store_true", help="print JSON Lines, then a summary line")
    check.add_argument(
        "--apply",
        action="store_true",
        help="create the daemon's own custom properties when missing",
    )
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    replay_dlq = sub.add_parser(
        "replay-dlq",
        help="republish DLQ records to their source topics (after a fix)",
        description="Republish records of kafka.dlq_topic to the topic named by their "
        "x-source-topic header, with their original key, value and headers (without the DLQ's "
        "x-* headers). Progress is committed for the replay's own consumer group, so running it "
        "again goes on where it stopped; records a filter excludes are passed over for that "
        "group too (use another --group to go over them again).",
    )
    replay_dlq.add_argument("--config", "-c", type=Path, required=True, help="the YAML config file")
    replay_dlq.add_argument(
        "--group",
        help="consumer group that records the replay's progress (default: <group_id>-replay)",
    )
    replay_dlq.add_argument(
        "--reason", action="append", help="only records with this x-error-reason (repeatable)"
    )
    replay_dlq.add_argument(
        "--error-class",
        action="append",
        help="only records with this x-error-class (repeatable)",
    )
    replay_dlq.add_argument(
        "--limit", type=int, help="republish at most this many records, then stop"
    )
    replay_dlq.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be republished; publish and commit nothing",
    )
    schema = sub.add_parser("schema", help="print the JSON Schemas (event contract, config)")
    schema.add_argument(
        "which",
        nargs="?",
        choices=["event", "config"],
        default=None,
        help="one schema only (default: both, as one JSON object)",
    )
    return parser


def _offset(text: str) -> tuple[str, int, int]:
    head, _, offset = text.rpartition(":")
    topic, _, partition = head.rpartition(":")
    if not (topic and partition.isdigit() and offset.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r}: expected TOPIC:PARTITION:OFFSET")
    return topic, int(partition), int(offset)


def _load(path: Path, *, semantic: bool = True) -> tuple[config.Settings, str]:
    settings = config.load_settings(path, semantic=semantic)
    token = config.read_secret(
        config.TOKEN_ENV, settings.hubspot.token_file, key="hubspot.token_file"
    )
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
                report.info[:0] = [f"created property {name}" for name in created]
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


def _replay_dlq(args: argparse.Namespace) -> int:
    # no HubSpot token needed: a replay only moves records between Kafka topics
    try:
        settings = config.load_settings(args.config)
        password = config.kafka_password(settings.kafka)
    except ConfigError as exc:
        _print_config_error(exc)
        return app.EXIT_CONFIG
    if args.limit is not None and args.limit < 1:
        _print_config_error(ConfigError(["--limit: must be at least 1"]))
        return app.EXIT_CONFIG
    logs.setup(settings.logging.level)
    kafka = settings.kafka
    group = args.group or f"{kafka.group_id}-replay"
    filters = replay.Filters(
        reasons=replay.parse_list(args.reason), error_classes=replay.parse_list(args.error_class)
    )
    mode = " (dry run)" if args.dry_run else ""
    print(f"replay-dlq: {kafka.dlq_topic} -> source topics, progress in group {group}{mode}")

    async def go() -> replay.Report:
        async with DlqPort(kafka, group_id=group, password=password) as port:
            return await replay.replay(
                port,
                dlq_topic=kafka.dlq_topic,
                filters=filters,
                limit=args.limit,
                dry_run=args.dry_run,
                say=print,
            )

    try:
        report = asyncio.run(go())
    except KafkaUnavailableError as exc:
        print(f"replay-dlq: Kafka: {exc}", file=sys.stderr)
        return app.EXIT_KAFKA
    print(report.summary())
    return app.EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "schema":
        schemas = {"event": events.json_schema(), "config": config.json_schema()}
        body = schemas[args.which] if args.which else schemas
        sys.stdout.write(
            orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"
        )
        return app.EXIT_OK
    if args.command == "replay-dlq":
        return _replay_dlq(args)
    try:
        # check reports the cross-key problems together with the portal's
        settings, token = _load(args.config, semantic=args.command != "check")
    except ConfigError as exc:
        if args.command == "check":
            _print_report(Report(errors=list(exc.problems)), args.json)
        else:
            _print_config_error(exc)
        return app.EXIT_CONFIG
    password = None
    # run and plan from a topic connect to Kafka; plan from a file and check do not
    if args.command == "run" or (args.command == "plan" and args.file is None):
        try:
            password = config.kafka_password(settings.kafka)
        except ConfigError as exc:
            _print_config_error(exc)
            return app.EXIT_CONFIG
    # the secrets are redacted from every log line, whichever library writes it
    logs.setup(settings.logging.level, secrets=(token, password))
    if args.command == "check":
        try:
            report = asyncio.run(_check(settings, token, args.apply))
        except HubSpotAuthError as exc:
            report = Report(errors=[f"hubspot token: HubSpot refused it: {exc}"])
        except HubSpotError as exc:
            report = Report(errors=[f"hubspot.base_url: HubSpot did not answer: {exc}"])
        _print_report(report, args.json)
        return app.EXIT_OK if report.ok else app.EXIT_CONFIG
    if args.command == "plan":
        return asyncio.run(
            app.plan(
                settings,
                token=token,
                out=sys.stdout,
                file=args.file,
                topics=args.topic,
                start={(t, p): o for t, p, o in args.offset},
                kafka_password=password,
                as_json=args.json,
            )
        )
    return asyncio.run(app.run(settings, token=token, kafka_password=password))
