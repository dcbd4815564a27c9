"""The committed JSON Schemas (SPEC section 1) against the pydantic models they are written from."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs in the dev tools (types-jsonschema)
import orjson
import pytest
import yaml

from consumer import cli, config, events
from consumer.errors import BadInputError, ConfigError
from tests.factories import KEY, encode, registration_event, student_event

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS: dict[str, tuple[Path, Callable[[], dict[str, Any]]]] = {
    "event": (ROOT / "schemas" / "event.v1.json", events.json_schema),
    "config": (ROOT / "schemas" / "config.json", config.json_schema),
}
EXAMPLE = ROOT / "examples" / "config.yaml"


def validator(which: str) -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMAS[which][0].read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def schema_errors(which: str, instance: object) -> list[str]:
    return [e.message for e in validator(which).iter_errors(instance)]


# -- drift ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", sorted(SCHEMAS))
def test_the_committed_schema_matches_its_model(which: str) -> None:
    path, build = SCHEMAS[which]
    expected = orjson.dumps(build(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"

    assert path.read_bytes() == expected, (
        f"{path.relative_to(ROOT)} has drifted from its pydantic model; regenerate it with "
        f"`.venv/bin/classter-hubspot schema {which} > {path.relative_to(ROOT)}` and commit it"
    )


@pytest.mark.parametrize("which", sorted(SCHEMAS))
def test_the_committed_schema_is_what_the_schema_command_prints(
    which: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["schema", which]) == 0

    printed = capsys.readouterr().out
    assert printed.encode() == SCHEMAS[which][0].read_bytes()


@pytest.mark.parametrize("which", sorted(SCHEMAS))
def test_the_committed_schema_is_a_valid_draft_2020_12_schema(which: str) -> None:
    schema = json.loads(SCHEMAS[which][0].read_text(encoding="utf-8"))

    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


# -- the config schema ----------------------------------------------------------------------------


def example_as_json() -> Any:
    # the document a schema validator sees: YAML read, then JSON (mapping keys become strings)
    return json.loads(json.dumps(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))))


def test_the_example_config_validates_against_the_schema() -> None:
    assert schema_errors("config", example_as_json()) == []


def test_the_example_config_loads() -> None:
    settings = config.load_settings(EXAMPLE, {})

    assert config.semantic_problems(settings) == []


@pytest.mark.parametrize(
    "tree",
    [
        {"kafka": {"bogus": 1}},
        {"actions": {"DeleteDeal": {}}},
        {"hubspot": {"budget_share": 2}},
        {"deals": {"re_registration": "sometimes"}},
    ],
)
def test_what_the_loader_refuses_the_schema_refuses(tree: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tree), encoding="utf-8")

    with pytest.raises(ConfigError):
        config.load_settings(path, {})
    assert schema_errors("config", tree) != []


# -- the event schema -----------------------------------------------------------------------------


@pytest.mark.parametrize("sample", [student_event(), registration_event()], ids=["student", "reg"])
def test_the_spec_samples_validate_and_decode(sample: dict[str, Any]) -> None:
    assert schema_errors("event", sample) == []

    event = events.decode_record(KEY, encode(sample))

    assert event.event_type == sample["eventType"]


def test_unknown_extra_fields_are_allowed_by_schema_and_decoder() -> None:
    sample = registration_event(colour="blue")
    sample["trace"] = {"id": "t-1"}

    assert schema_errors("event", sample) == []
    assert events.decode_record(KEY, encode(sample)).event_id == "e-2"


def test_the_schema_declares_an_rfc3339_timestamp() -> None:
    schema = json.loads(SCHEMAS["event"][0].read_text(encoding="utf-8"))

    for kind in ("StudentChanged", "RegistrationChanged"):
        assert schema["$defs"][kind]["properties"]["occurredAt"]["format"] == "date-time"


@pytest.mark.parametrize(
    "sample",
    [
        dict(student_event(), schemaVersion=2),
        dict(student_event(), schemaVersion=True),
        dict(student_event(), eventType="student.deleted"),
        dict(student_event(), eventId=""),
        student_event(id="2637"),
        student_event(dateOfBirth="2008-02-30"),
        registration_event(globalCode="51877"),
        registration_event(fromReRegistration="yes"),
        {k: v for k, v in registration_event().items() if k != "tenant"},
        dict(registration_event(), tenant="north:wind"),
        dict(student_event(), tenant=" "),
        dict(student_event(), tenant="northwind "),
    ],
    ids=[
        "version-2",
        "version-true",
        "unknown-type",
        "empty-id",
        "string-id",
        "bad-date",
        "string-code",
        "string-flag",
        "no-tenant",
        "colon-tenant",
        "blank-tenant",
        "padded-tenant",
    ],
)
def test_what_the_decoder_refuses_the_schema_refuses(sample: dict[str, Any]) -> None:
    with pytest.raises(BadInputError):
        events.decode_record(KEY, encode(sample))
    assert schema_errors("event", sample) != []


def test_a_registration_without_its_required_fields_is_refused_by_both() -> None:
    for field in ("id", "globalCode", "student", "registrationStatus"):
        sample = registration_event()
        del sample["registration"][field]

        with pytest.raises(BadInputError):
            events.decode_record(KEY, encode(sample))
        assert schema_errors("event", sample) != [], field
