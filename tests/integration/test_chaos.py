"""The short chaos run (``sandbox/chaos.py``): 3 replicas, about 2,000 events, SIGKILLs every few
seconds, 5xx, 429 bursts, stalls and dropped connections from the emulator, one broker restart.

Runs on a dedicated broker (ports 31492/31493, state under ``.cache/chaos``): it is restarted,
so it must never be the shared test broker. The long run with its figures is ``bench/chaos.py``.
"""

from __future__ import annotations

import pytest

from sandbox.chaos import Chaos, Plan, render

pytestmark = pytest.mark.integration


@pytest.mark.timeout(300)
async def test_nothing_is_lost_or_duplicated_under_kills_faults_and_a_broker_restart() -> None:
    plan = Plan()
    result = await Chaos(plan).run()
    report = render(result, plan)

    # the chaos happened: otherwise the checks below prove nothing
    assert result.kills >= 3, report
    assert result.broker_restarts == 1, report
    for kind in ("http 429", "stall", "drop"):
        assert result.faults_injected[kind] > 0, f"no {kind} injected\n{report}"
    assert sum(result.faults_injected[f"http {s}"] for s in (500, 502, 503, 504)) > 0, report
    assert result.seen["event retried (transient HubSpot failure)"] > 0, report

    assert result.events >= 1_900
    assert not result.state_diff, f"{report}\n" + "\n".join(result.state_diff[:30])
    assert result.duplicate_records == 0, report
    assert not result.dlq_diff, f"{report}\n" + "\n".join(result.dlq_diff[:30])
    assert result.dlq_records - result.dlq_duplicates == result.bad_expected, report
    assert result.lag and not any(result.lag.values()), report
    assert result.final_exit_codes == [0] * plan.replicas, report
