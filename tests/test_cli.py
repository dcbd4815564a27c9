"""The command line's check and plan against the emulator: output, JSON, exit codes.

``cli.main`` runs its own event loop, so it runs in a worker thread while the emulator serves on
the test's loop. The token comes from ``HUBSPOT_TOKEN`` as in production.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from consumer import cli
from sandbox.emulator import DEFAULT_TOKEN, Emulator
from tests.hubspot.test_checks import prepare

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "examples" / "config.yaml").read_text())


@pytest.fixture(autouse=True)
def _token_and_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HUBSPOT_TOKEN", DEFAULT_TOKEN)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers  # cli.main installs the JSON handler on the root logger
    root.setLevel(level)


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator() as running:
        yield running


def write_config(tmp_path: Path, url: str, edit: Any = None) -> Path:
    tree = copy.deepcopy(CONFIG)
    tree["hubspot"]["base_url"] = url
    if edit is not None:
        edit(tree)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


async def main(*argv: str) -> int:
    return await asyncio.to_thread(cli.main, list(argv))


async def test_check_prints_a_readable_report_and_exits_0_on_a_prepared_portal(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await prepare(emulator)
    code = await main("check", "--config", str(write_config(tmp_path, emulator.url)))
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0] == "ok       token: portal 46250011, app 3141592, all 8 required scopes granted"
    assert (
        "ok       actions.CreateContact: 8 of 8 mapped properties exist and can hold their values"
        in out
    )
    assert out[-1] == "configuration OK, 0 warning(s)"


async def test_check_apply_creates_the_own_properties_then_reports_ok(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(write_config(tmp_path, emulator.url))
    assert await main("check", "--config", config) == 1
    before = capsys.readouterr().out
    assert "error    hubspot contacts: the daemon's own properties are missing" in before
    assert await main("check", "--config", config, "--apply") == 0
    after = capsys.readouterr().out.splitlines()
    assert "ok       created property contacts.classter_student_id" in after
    assert "ok       created property deals.classter_deal_code" in after
    assert after[-1] == "configuration OK, 0 warning(s)"


async def test_check_json_lists_config_and_portal_problems_together_and_exits_1(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await prepare(emulator)

    def edit(tree: dict[str, Any]) -> None:
        del tree["actions"]["CreateContact"]
        tree["actions"]["ChangeDealStatus"]["stages"]["Registered"] = "Closed Won"

    config = str(write_config(tmp_path, emulator.url, edit))
    code = await main("check", "--config", config, "--json")
    body = orjson.loads(capsys.readouterr().out)
    assert code == 1
    assert body["ok"] is False
    assert body["errors"] == [
        "actions.CreateDeal: needs actions.CreateContact (a deal needs its contact)",
        "actions.ChangeDealStatus.stages.Registered: stage 'Closed Won' is not a stage id of "
        "pipeline 'default'; it is a stage label, its id is 'closedwon' (stage ids: "
        "appointmentscheduled, qualifiedtobuy, presentationscheduled, decisionmakerboughtin, "
        "contractsent, closedwon, closedlost)",
    ]
    assert body["warnings"] == []


async def test_check_json_reports_a_config_file_error_too(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(write_config(tmp_path, emulator.url, lambda t: t["deals"].update(max_age_days=3)))
    assert await main("check", "--config", config, "--json") == 1
    body = orjson.loads(capsys.readouterr().out)
    assert body["errors"] == ["deals.max_age_days: unknown key"]


async def test_check_with_a_refused_token_exits_1(
    emulator: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "pat-na1-revoked")
    assert await main("check", "--config", str(write_config(tmp_path, emulator.url))) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "error    hubspot token (HUBSPOT_TOKEN or hubspot.token_file): HubSpot does not accept "
        "this token (401: invalid, expired or revoked)"
    )


async def test_run_refuses_cross_key_errors_before_connecting_anywhere(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def edit(tree: dict[str, Any]) -> None:
        del tree["actions"]["CreateContact"]
        tree["actions"]["UpdateContact"] = {"model_mapping": False}

    code = await main("run", "--config", str(write_config(tmp_path, emulator.url, edit)))
    err = capsys.readouterr().err.splitlines()
    assert code == 1
    assert err == [
        "configuration error:",
        "  - actions.CreateDeal: needs actions.CreateContact (a deal needs its contact)",
        "  - actions.UpdateContact: the mapping has no 'email' (model_mapping is off and no "
        "custom_mapping entry writes email)",
    ]
    assert emulator.state.stats.requests == 0


async def test_plan_prints_each_records_decisions_and_writes_and_writes_nothing(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await prepare(emulator)
    student = {"id": 7, "email": " Ana@Example.org", "givenName": "Ana", "surname": "Example"}
    registration = {
        "id": 90,
        "globalCode": 900,
        "student": {**student, "status": {"id": 1, "description": "Registered"}},
        "program": {"id": 40, "description": "Grade 10"},
        "academicPeriod": {"id": 12, "description": "2026-2027"},
        "registrationStatus": {"id": 14, "description": "Registered"},
        "startDate": "2026-09-10",
    }
    envelope = {"schemaVersion": 1, "tenant": "northwind", "occurredAt": "2026-11-01T09:00:00Z"}
    lines = [
        {**envelope, "eventId": "e-1", "eventType": "student.changed", "student": student},
        {
            **envelope,
            "eventId": "e-2",
            "eventType": "registration.changed",
            "registration": registration,
        },
        {**envelope, "eventId": "e-3", "eventType": "student.changed", "student": student},
    ]
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\nnot json\n")
    journal = len(emulator.state.store.journal)
    config = str(write_config(tmp_path, emulator.url))

    assert await main("plan", "--config", config, "--file", str(events)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "line 1  student.changed  event e-1  student northwind:7",
        "  outcome  synced",
        '  write    contact.create northwind:7 {"classter_student_id":"northwind:7",'
        '"email":"ana@example.org","firstname":"Ana","lastname":"Example"}',
        "line 2  registration.changed  event e-2  student northwind:7",
        "  outcome  skipped",
        "  rules    global_code_below_minimum",
        "line 3  student.changed  event e-3  student northwind:7",
        "  outcome  synced",
        "line 4  bad record",
        "  outcome  dead_lettered",
        "  DLQ      bad_input: invalid_json",
        "plan: 4 record(s); nothing was written to HubSpot or Kafka",
        "  outcomes      dead_lettered 1, skipped 1, synced 2",
        "  writes        contact.create 1",
        "  rule skips    global_code_below_minimum 1",
        "  dead letters  invalid_json 1",
    ]
    assert len(emulator.state.store.journal) == journal  # nothing was written

    assert await main("plan", "--config", config, "--file", str(events), "--json") == 0
    rows = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    outcomes = [r.get("outcome") for r in rows[:4]]
    assert outcomes == ["synced", "skipped", "synced", "dead_lettered"]
    assert rows[0]["writes"][0]["op"] == "contact.create"
    assert rows[0]["writes"][0]["id"] == "planned-1"
    assert rows[3]["deadLetter"] == {"errorClass": "bad_input", "reason": "invalid_json"}
    assert rows[4] == {
        "summary": {
            "events": 4,
            "outcomes": {"dead_lettered": 1, "skipped": 1, "synced": 2},
            "writes": {"contact.create": 1},
            "rules": {"global_code_below_minimum": 1},
            "deadLetters": {"invalid_json": 1},
        }
    }


def test_plan_offsets_parse_as_topic_partition_offset() -> None:
    args = cli._parser().parse_args(
        ["plan", "-c", "x.yaml", "--kafka", "--offset", "classter.students:3:120"]
    )
    assert args.offset == [("classter.students", 3, 120)]
    assert args.kafka and args.file is None
    with pytest.raises(SystemExit):
        cli._parser().parse_args(["plan", "-c", "x.yaml", "--kafka", "--offset", "t:x:1"])
    with pytest.raises(SystemExit):
        cli._parser().parse_args(["plan", "-c", "x.yaml"])  # a source is required


async def test_run_names_an_unreadable_token_file_by_its_config_key(
    emulator: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HUBSPOT_TOKEN")
    missing = tmp_path / "secrets" / "token"
    config = write_config(
        tmp_path, emulator.url, lambda t: t["hubspot"].update(token_file=str(missing))
    )

    code = await main("run", "--config", str(config))

    assert code == 1
    assert capsys.readouterr().err.splitlines() == [
        "configuration error:",
        f"  - hubspot.token_file: cannot read {missing}: No such file or directory",
    ]
    assert emulator.state.stats.requests == 0
