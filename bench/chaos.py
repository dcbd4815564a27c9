"""The long chaos run: ``python -m bench.chaos`` (one command; figures to docs/reliability.md).

3 replicas of the daemon over two 6-partition topics and about 20,000 events, a random replica
SIGKILLed every few seconds and restarted, the emulator injecting 5% 5xx, 429 bursts, 2-second
stalls and dropped connections, the dedicated broker (ports 31492/31493) restarted once; then
the CRM state, the DLQ and the committed offsets are checked (``sandbox.chaos``). Exit 0 when
every check passed. ``--students 380 --publish-s 30 --chaos-s 45`` is the short run of the
test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import platform
import sys
from pathlib import Path

from sandbox.chaos import Chaos, Plan, Result, render

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "reliability.md"

HEAD = """# Reliability: nothing lost, nothing duplicated

What SPEC sections 6 and 7 promise, measured under real faults by `python -m bench.chaos`
(`sandbox/chaos.py`). The test suite runs the same scenario at about 2,000 events
(`tests/integration/test_chaos.py`); this page holds the figures of the long run.

## The scenario

- A dedicated Apache Kafka broker (KRaft, one node, ports 31492/31493), two topics of 6
  partitions (`students`, `registrations`) and a DLQ topic; restarted once in the middle of the
  run while replicas are consuming and the publisher is paused.
- The HubSpot emulator as its own process with fault rules: every {burst_every_s:g} s, for
  {burst_s:g} s, every request answers 429 (`TEN_SECONDLY_ROLLING`); at all times
  {fault_pct:g}% 5xx (500, 502, 503, 504 alike), {stall_pct:g}% of requests stalled
  {stall_s:g} s, {drop_pct:g}% of connections dropped without an answer.
- {replicas} replicas of the real daemon (`python -m consumer run`, static membership through
  `group_instance_id`, drain deadline 5 s); every {kill_lo:g} to {kill_hi:g} s one of them, at
  random, gets SIGKILL and is started again after 0.3 to 1 s.
- The generated sample (`sandbox.sample`, seed {seed}, {students} students, with its bad
  records) trickles in over {publish_s:g} s; kills go on for at least {chaos_s:g} s.
- Afterwards every replica gets SIGTERM and must exit 0; then the emulator's CRM state is
  compared with the oracle's (`sandbox/sample/oracle.py`): every contact and deal exactly once,
  with the right properties, stage and association; the DLQ must hold exactly the records the
  oracle dead-letters (by source topic, partition and offset, with the same reason); the
  group's committed offsets must be at the end of every partition.

## Figures of the last long run

Run on {when} ({machine}), command: `{command}`

| | |
|---|---|
"""

TAIL = """

## Reading the figures

- "faults seen" counts the replicas' own log lines (a replica killed by SIGKILL loses nothing
  of that count: the logs are files). Every fault kind the emulator injected shows up as a
  retried event; the broker restart as aiokafka reconnecting (and at times a failed commit),
  then redelivery of what was not committed.
- A bad record redelivered because its replica died after its letter and before the commit
  that would have passed it is not dead-lettered again: the commit before carried a mark of the
  DLQ, and the partition's next owner reads the DLQ from there and passes over the records whose
  letter it finds (`classter_hubspot_dlq_repeats_skipped_total`; the replicas log "its
  letter is in the DLQ already"). A partition whose commit has no mark yet is committed with
  one before its first letter. A DLQ record "repeated after a kill" would be one written all the
  same, possible when that commit fails (a rebalance under way) or a replica cannot read the DLQ;
  `replay-dlq` republishes each source record once per run (it skips repeats by
  `x-source-topic/partition/offset`). Before the mark (run of 2026-12-04 00:25 UTC), 26 of 38
  DLQ records were repeats.
- A replica that starts while the broker is down exits 3 ("Kafka is not reachable") and is
  started again, as Kubernetes would; one that starts during a 429 burst or a 5xx retries its
  start-up checks for up to 60 s instead of exiting.
- HubSpot holds no duplicate because every write is found-or-created by a unique property
  (`classter_student_id`, `classter_deal_code`) and e-mail, never search-then-create; a 409
  from a concurrent create is resolved by a fresh lookup.

## The other delivery tests (in the suite)

- `tests/integration/test_hostile_input.py`: 267 hostile records (`sandbox/hostile.py`: not
  JSON, truncated UTF-8, wrong types, missing fields, 600 kB values, null keys, tombstones,
  unknown event types, schema versions, keys that disagree with the student id, an address
  HubSpot refuses) between valid records on the same partitions: each is dead-lettered once with
  its reason, the valid ones sync, the offsets reach the end.
- `tests/integration/test_shutdown.py`: SIGTERM with work in flight exits 0 within the drain
  deadline; nothing below the committed offsets is missing; a rerun finishes the rest once.
- `tests/integration/test_rebalance.py`: a second static member joins mid-run; partitions move,
  both exit 0, every contact and deal exists once, each deal on its student's contact.
- `tests/integration/test_replay_dlq.py`: `replay-dlq` with `--dry-run`, `--reason`, `--limit`
  and a second group; a rerun republishes nothing twice.
- `tests/test_offsets.py`: the commit point against a set model (hypothesis state machine) and
  every completion order of small partitions.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    parser.add_argument("--students", type=int, default=3_800, help="about 5.3 events each")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--publish-s", type=float, default=150.0)
    parser.add_argument("--chaos-s", type=float, default=180.0)
    parser.add_argument("--broker-restart-at-s", type=float, default=60.0)
    parser.add_argument("--timeout-s", type=float, default=1_200.0)
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the figures")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    plan = Plan(
        students=args.students,
        seed=args.seed,
        replicas=args.replicas,
        publish_s=args.publish_s,
        chaos_s=args.chaos_s,
        broker_restart_at_s=args.broker_restart_at_s,
        timeout_s=args.timeout_s,
    )
    result: Result = asyncio.run(Chaos(plan).run())
    table = render(result, plan)
    print(table)
    if result.state_diff or result.dlq_diff:
        for line in (result.state_diff + result.dlq_diff)[:40]:
            print(f"  {line}")
    if not args.no_write:
        command = "python -m bench.chaos " + " ".join(argv if argv is not None else sys.argv[1:])
        head = HEAD.format(
            burst_every_s=plan.burst_every_s,
            burst_s=plan.burst_s,
            fault_pct=plan.fault_5xx * 100,
            stall_pct=plan.stall_p * 100,
            stall_s=plan.stall_s,
            drop_pct=plan.drop_p * 100,
            replicas=plan.replicas,
            kill_lo=plan.kill_every_s[0],
            kill_hi=plan.kill_every_s[1],
            seed=plan.seed,
            students=plan.students,
            publish_s=plan.publish_s,
            chaos_s=plan.chaos_s,
            when=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            machine=f"{platform.machine()}, {platform.python_implementation()} "
            f"{platform.python_version()}",
            command=command.strip(),
        )
        args.out.write_text(head + table + TAIL)
        print(f"wrote {args.out}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
