"""Command line: run the HubSpot emulator until SIGTERM or SIGINT.

    python -m sandbox.emulator --host 127.0.0.1 --port 31080 [--seed FILE.json]
        [--tier pro|starter|enterprise|unlimited] [--token TOKEN ...] [--daily-limit N]
        [--latency-s S] [--fault-seed N]

Logs one line to stderr when listening. ``--token`` (repeatable) replaces the default token
``pat-na1-sandbox-demo-token``; every token given here has all the daemon's scopes. Owns only
argument parsing and the process lifespan; the emulator itself is ``app.Emulator``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from sandbox.emulator.app import Emulator
from sandbox.emulator.config import DEFAULT_TOKEN, TIERS, EmulatorConfig, TokenGrant
from sandbox.emulator.errors import ApiError

log = logging.getLogger("sandbox.emulator")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.emulator", description="HubSpot CRM API emulator (in-memory)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=31080)
    parser.add_argument("--seed", type=Path, help="JSON seed document (see POST /_emulator/seed)")
    parser.add_argument("--tier", choices=sorted(TIERS), default="pro")
    parser.add_argument(
        "--token",
        action="append",
        default=[],
        help=f"accepted token with all scopes (default {DEFAULT_TOKEN})",
    )
    parser.add_argument("--daily-limit", type=int, help="daily budget (default: the tier's)")
    parser.add_argument("--latency-s", type=float, default=0.0, help="added to every response")
    parser.add_argument("--fault-seed", type=int, default=0)
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace, seed_document: dict[str, Any] | None) -> None:
    config = EmulatorConfig(
        tier=args.tier,
        daily_limit=args.daily_limit,
        latency_s=args.latency_s,
        fault_seed=args.fault_seed,
    )
    if args.token:
        config.tokens = [TokenGrant(token) for token in args.token]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with Emulator(
            config, host=args.host, port=args.port, seed_document=seed_document
        ) as emulator:
            log.info(
                "hubspot emulator listening on %s (tier %s, %d records seeded)",
                emulator.url,
                config.tier,
                sum(len(r) for r in emulator.state.store.records.values()),
            )
            await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    args = parse_args(argv)
    seed_document = None
    try:
        if args.seed is not None:
            seed_document = orjson.loads(args.seed.read_bytes())
        asyncio.run(serve(args, seed_document))
    except (OSError, orjson.JSONDecodeError, ValidationError) as exc:
        log.error("hubspot emulator: %s", exc)  # noqa: TRY400 - a one-line reason, no traceback
        return 2
    except ApiError as exc:
        log.error("hubspot emulator: invalid seed: %s", exc.body.get("message"))  # noqa: TRY400
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
