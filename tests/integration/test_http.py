"""The daemon's HTTP port (SPEC section 8): ``/metrics``, ``/healthz``, ``/readyz``, served by the
running daemon and scraped over HTTP; the exposition is parsed by prometheus_client's parser."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sandbox.kafka_ops import Record
from tests.integration import builders as b
from tests.integration.harness import Stack

pytestmark = pytest.mark.integration
P = "classter_hubspot_"


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, str, Any]:
    async with session.get(url) as resp:
        body = await resp.text()
        return resp.status, resp.headers.get("Content-Type", ""), body


async def test_metrics_health_and_readiness_are_served_by_the_running_daemon(
    stack: Stack,
) -> None:
    await stack.publish(
        [
            b.record(stack.students, b.student_changed(1)),
            b.record(stack.registrations, b.registration_changed(501, 1)),
            b.record(stack.students, b.student_changed(2, email=None)),
            b.record(
                stack.registrations,
                b.registration_changed(
                    503, 3, registrationStatus={"id": 18, "description": "Waiting List"}
                ),
            ),
            Record(stack.students, b"4", b"not JSON"),
        ]
    )
    async with stack.running() as daemon, aiohttp.ClientSession() as session:
        await stack.caught_up(daemon)
        status, content_type, text = await _get(session, f"{daemon.http_url}/metrics")
        health = await _get(session, f"{daemon.http_url}/healthz")
        ready = await _get(session, f"{daemon.http_url}/readyz")
    assert stack.runs[-1].code == 0

    assert status == 200
    assert content_type.startswith("text/plain")
    samples = _samples(text)
    finished = P + "events_finished_total"
    assert _value(samples, finished, outcome="synced") == 3
    assert _value(samples, finished, outcome="skipped") == 1
    assert _value(samples, finished, outcome="dead_lettered") == 1
    assert _value(samples, P + "rule_skips_total", rule="no_email") == 1
    assert _value(samples, P + "rule_skips_total", rule="status_not_mapped") == 1
    assert _value(samples, P + "dlq_writes_total", reason="invalid_json") == 1
    consumed = P + "events_consumed_total"
    assert _value(samples, consumed, topic=stack.students) == 3
    assert _value(samples, consumed, topic=stack.registrations) == 2
    writes = sum(
        v
        for (name, labels), v in samples.items()
        if name == P + "hubspot_requests_total" and ("status_class", "2xx") in labels
    )
    assert writes > 0
    # bounded labels: never a student id or an e-mail address
    for _, labels in samples:
        for _, label_value in labels:
            assert "@" not in label_value and "northwind" not in label_value

    assert health[0] == 200 and '"ok"' in health[2]
    assert ready[0] == 200 and '"ready"' in ready[2]
