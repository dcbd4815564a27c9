"""``plan`` over the sample makes exactly the writes that the daemon then makes.

What "the same writes" means here, exactly: the emulator journals every write it commits (creates
and updates with the properties as stored, associations). After ``plan`` (which must add nothing
to that journal, nor commit or produce anything in Kafka) the daemon runs over the same records;
its journal is then mapped to the records' daemon keys (``classter_student_id``,
``classter_deal_code``; HubSpot ids differ from the plan's ``planned-N`` ids) and compared with the
plan, per record and in order: the same operations with the same properties, nothing more and
nothing less. The order across records is not compared (students proceed concurrently).

One student's records of two topics may reach a real daemon in any interleaving, and the writes
(not the final state, see ``sandbox/sample/generate.py``) depend on it. So the sample is published
to one topic with one partition, in file order: the daemon then receives each student's records
in the order ``plan`` reads the file. Dead letters and rule skips are compared too, and the final
state with the sample's expected state.
"""

from __future__ import annotations

import io
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from consumer import app
from sandbox import crm_state
from sandbox.emulator import Emulator, EmulatorConfig
from sandbox.kafka_ops import Record, ensure_topics, group_lag, publish, read_all
from sandbox.sample.records import read_jsonl
from tests.integration.harness import TOKEN, Stack

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample"
Write = tuple[str, str, str, str | None, dict[str, str]]  # op, kind, key, contact key, properties


def planned_writes(rows: list[dict[str, Any]]) -> list[Write]:
    out: list[Write] = []
    for row in rows:
        for w in row.get("writes", []):
            kind = w["op"].split(".")[0]
            out.append((w["op"], kind, w["record"], w.get("contact"), w["properties"]))
    return out


def journal_writes(journal: list[dict[str, Any]], dump: dict[str, Any]) -> list[Write]:
    """The emulator's journal in the plan's terms: records named by their daemon keys."""
    key: dict[str, str] = {}
    for c in dump["contacts"]:
        props = c["properties"]
        key[c["id"]] = props.get("classter_student_id") or f"email:{props.get('email')}"
    for d in dump["deals"]:
        key[d["id"]] = d["properties"]["classter_deal_code"]
    out: list[Write] = []
    for entry in journal:
        kind = "contact" if entry["type"] == "contacts" else "deal"
        if entry["op"] == "associate":
            _, contact_id, _ = entry["to"]
            out.append(("deal.associate", "deal", key[entry["id"]], key[contact_id], {}))
            continue
        contacts = [i for t, i, _ in entry["associations"] if t == "contacts"]
        contact = key[contacts[0]] if contacts else None
        op = f"{kind}.{entry['op']}"
        out.append((op, kind, key[entry["id"]], contact, entry["properties"]))
    return out


def by_record(writes: list[Write]) -> dict[tuple[str, str], list[Write]]:
    grouped: dict[tuple[str, str], list[Write]] = defaultdict(list)
    for write in writes:
        grouped[(write[1], write[2])].append(write)
    return dict(grouped)


async def plan_rows(settings: Any, **source: Any) -> list[dict[str, Any]]:
    out = io.StringIO()
    code = await app.plan(settings, token=TOKEN, out=out, as_json=True, **source)
    assert code == 0
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


async def test_plan_of_the_sample_makes_exactly_the_writes_the_daemon_then_makes(
    kafka_bootstrap: str, unique: Callable[[str], str]
) -> None:
    seed = json.loads((SAMPLE / "portal_seed.json").read_text())
    records = read_jsonl(SAMPLE / "events.jsonl")
    topic, dlq, group = unique("sample"), unique("dlq"), unique("group")
    # pacing is not under test here: a budget the run never meets keeps the test short
    async with Emulator(EmulatorConfig(tier="unlimited"), seed_document=seed) as emulator:
        stack = Stack(kafka_bootstrap, emulator.url, topic, topic, dlq, group)
        await ensure_topics(kafka_bootstrap, [topic, dlq], partitions=1)
        # plan shows the writes of events applied one at a time; the daemon would otherwise merge
        # the writes of a student's events that happen to be queued together (fewer, never more)
        settings = stack.settings(kafka={"topics": [topic], "coalesce_student_events": 1})
        await stack.prepare(settings)
        journal = emulator.state.store.journal
        before = len(journal)

        from_file = await plan_rows(settings, file=SAMPLE / "events.jsonl")
        assert len(journal) == before, "plan wrote to HubSpot"
        *events, summary = from_file
        assert len(events) == len(records)

        await publish(kafka_bootstrap, [Record(topic, r.key_bytes, r.value) for r in records])
        from_topic = await plan_rows(settings, topics=[topic])
        assert len(journal) == before, "plan wrote to HubSpot"
        # the topic holds the file's records in order: the same plan, record for record
        strip = [{k: v for k, v in row.items() if k != "source"} for row in from_topic]
        assert strip == [{k: v for k, v in row.items() if k != "source"} for row in from_file]
        assert [row["source"]["offset"] for row in from_topic[:-1]] == list(range(len(records)))
        tail = await plan_rows(settings, topics=[topic], start={(topic, 0): len(records) - 3})
        assert [r["source"]["offset"] for r in tail[:-1]] == [len(records) - n for n in (3, 2, 1)]
        # nothing committed for the daemon's group, nothing produced
        assert sum((await group_lag(kafka_bootstrap, group, [topic])).values()) == len(records)
        assert await read_all(kafka_bootstrap, dlq) == []

        run = await stack.run(settings)
        assert run.code == 0
        dump = emulator.state.store.dump()
        done = journal_writes(journal[before:], dump)

    planned = planned_writes(events)
    assert Counter(w[0] for w in planned) == Counter(w[0] for w in done)
    assert by_record(planned) == by_record(done)

    dead = {
        int(r.headers["x-source-offset"]): r.headers["x-error-reason"].decode()
        for r in await read_all(kafka_bootstrap, dlq)
    }
    predicted = {
        row["source"]["line"] - 1: row["deadLetter"]["reason"]
        for row in events
        if row["outcome"] == "dead_lettered"
    }
    assert dead == predicted
    rules = {
        rule: run.metric("classter_hubspot_rule_skips_total", rule=rule)
        for rule in summary["summary"]["rules"]
    }
    assert rules == summary["summary"]["rules"]

    expected = json.loads((SAMPLE / "expected_state.json").read_text())
    state = crm_state.canonical(dump)
    assert state["contacts"] == expected["contacts"]
    assert state["deals"] == expected["deals"]
    assert state["unmanaged_contacts"] == expected["unmanaged_contacts"]
    assert summary["summary"]["rules"] == expected["rule_skips"]
