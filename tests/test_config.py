"""The config file (SPEC section 3): strict keys, env overrides, cross-key checks, secrets."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from consumer.config import (
    KafkaSettings,
    Settings,
    kafka_password,
    load_settings,
    read_secret,
    semantic_problems,
)
from consumer.errors import ConfigError
from tests.factories import make_settings

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "config.yaml"

MINIMAL_ACTIONS: dict[str, Any] = {
    "CreateContact": {"model_mapping": True},
    "UpdateContact": {"model_mapping": True},
    "CreateDeal": {"pipeline": "default"},
    "UpdateDeal": {"pipeline": "default"},
    "ChangeDealStatus": {"pipeline": "default", "stages": {"Registered": "closedwon"}},
}


def write(tmp_path: Path, tree: object) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tree), encoding="utf-8")
    return path


def problems_of(path: Path | None, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env or {})
    return caught.value.problems


# -- loading --------------------------------------------------------------------------------------


def test_the_example_config_loads_with_the_spec_shape() -> None:
    settings = load_settings(EXAMPLE, {})

    assert settings.kafka.topics == ["classter.students", "classter.registrations"]
    assert settings.kafka.auto_offset_reset == "earliest"
    assert settings.timezone == "Europe/Athens"
    assert settings.deals.min_global_code == 1000
    assert settings.deals.update_only_for_student_statuses == ["Registered", 5]
    assert settings.deals.re_registration == "keep_deal_code"
    assert settings.actions.CreateContact is not None
    assert settings.actions.CreateContact.custom_mapping[0].classter == ["givenName", "middleName"]
    assert settings.actions.ChangeDealStatus is not None
    stages = settings.actions.ChangeDealStatus.stages
    assert stages["Registered"] == "closedwon"
    assert stages[3] == "presentationscheduled"
    assert "3" not in stages  # an integer key stays an integer: it matches the status id


def test_no_file_gives_the_defaults() -> None:
    settings = load_settings(None, {})

    assert settings == Settings()
    assert settings.hubspot.base_url == "https://api.hubapi.com"
    assert settings.hubspot.budget_share == 1.0
    assert settings.actions.CreateDeal is None


def test_an_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing yet\n", encoding="utf-8")

    assert load_settings(path, {}) == Settings()


def test_a_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"

    (problem,) = problems_of(missing)

    assert str(missing) in problem
    assert "cannot read" in problem


def test_a_file_that_is_not_yaml_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("kafka: [unclosed\n", encoding="utf-8")

    (problem,) = problems_of(path)

    assert problem.startswith(f"{path}: not valid YAML")


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", "12\n"])
def test_a_top_level_other_than_a_mapping_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "list.yaml"
    path.write_text(text, encoding="utf-8")

    assert problems_of(path) == [f"{path}: the top level must be a mapping"]


# -- strict keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tree", "named"),
    [
        ({"kafkaa": {}}, "kafkaa"),
        ({"kafka": {"bootstrap_server": "x:1"}}, "kafka.bootstrap_server"),
        ({"hubspot": {"tokenfile": "/run/token"}}, "hubspot.tokenfile"),
        ({"deals": {"min_globalcode": 3}}, "deals.min_globalcode"),
        ({"actions": {"DeleteDeal": {}}}, "actions.DeleteDeal"),
        ({"actions": {"createcontact": {}}}, "actions.createcontact"),
        ({"actions": {"CreateContact": {"mapping": []}}}, "actions.CreateContact.mapping"),
        (
            {
                "actions": {
                    "UpdateContact": {"custom_mapping": [{"hubspot": "a", "classter": "b", "x": 1}]}
                }
            },
            "actions.UpdateContact.custom_mapping.0.x",
        ),
        ({"actions": {"ChangeDealStatus": {"stage": {}}}}, "actions.ChangeDealStatus.stage"),
    ],
)
def test_an_unknown_key_is_an_error_that_names_it(
    tmp_path: Path, tree: dict[str, Any], named: str
) -> None:
    assert problems_of(write(tmp_path, tree)) == [f"{named}: unknown key"]


def test_every_unknown_key_is_reported_at_once(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, {"a": 1, "kafka": {"b": 2}}))

    assert sorted(problems) == ["a: unknown key", "kafka.b: unknown key"]


@pytest.mark.parametrize(
    ("tree", "named", "shown"),
    [
        ({"kafka": {"auto_offset_reset": "newest"}}, "kafka.auto_offset_reset", "'newest'"),
        ({"kafka": {"security_protocol": "TLS"}}, "kafka.security_protocol", "'TLS'"),
        ({"kafka": {"topics": []}}, "kafka.topics", ""),
        ({"hubspot": {"budget_share": 0}}, "hubspot.budget_share", "0"),
        ({"hubspot": {"budget_share": 1.5}}, "hubspot.budget_share", "1.5"),
        ({"hubspot": {"base_url": "api.hubapi.com"}}, "hubspot.base_url", "'api.hubapi.com'"),
        ({"hubspot": {"max_batch_size": 101}}, "hubspot.max_batch_size", "101"),
        ({"hubspot": {"api_version": "v4"}}, "hubspot.api_version", "'v4'"),
        ({"timezone": "Europe/Atlantis"}, "timezone", "Europe/Atlantis"),
        ({"deals": {"max_program_start_age_days": -1}}, "deals.max_program_start_age_days", "-1"),
        ({"deals": {"re_registration": "keep"}}, "deals.re_registration", "'keep'"),
        ({"fixed_today": "tomorrow"}, "fixed_today", "'tomorrow'"),
        ({"logging": {"level": "TRACE"}}, "logging.level", "'TRACE'"),
        ({"http": {"port": 70000}}, "http.port", "70000"),
    ],
)
def test_a_bad_value_is_an_error_that_names_the_key_and_value(
    tmp_path: Path, tree: dict[str, Any], named: str, shown: str
) -> None:
    (problem, *_) = problems_of(write(tmp_path, tree))

    assert problem.startswith(f"{named}: ")
    assert shown in problem


def test_sasl_needs_a_mechanism_and_a_user(tmp_path: Path) -> None:
    (problem,) = problems_of(write(tmp_path, {"kafka": {"security_protocol": "SASL_SSL"}}))

    assert problem.startswith("kafka: ")
    assert "kafka.sasl_mechanism and kafka.sasl_username" in problem


def test_sasl_with_a_mechanism_and_a_user_is_accepted(tmp_path: Path) -> None:
    tree = {
        "kafka": {
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": "classter",
        }
    }

    assert load_settings(write(tmp_path, tree), {}).kafka.sasl_username == "classter"


def test_a_trailing_slash_of_the_base_url_is_dropped() -> None:
    assert make_settings(hubspot={"base_url": "http://127.0.0.1:1/"}).hubspot.base_url == (
        "http://127.0.0.1:1"
    )


def test_a_mapping_source_may_be_one_field_or_a_list() -> None:
    settings = make_settings(
        actions={
            "CreateContact": {
                "custom_mapping": [
                    {"hubspot": "lastname", "classter": "surname"},
                    {"hubspot": "firstname", "classter": ["givenName", "middleName"]},
                ]
            }
        }
    )

    assert settings.actions.CreateContact is not None
    entries = settings.actions.CreateContact.custom_mapping
    assert [e.classter for e in entries] == [["surname"], ["givenName", "middleName"]]


@pytest.mark.parametrize(
    ("section", "key", "where"),
    [
        ("kafka", "sasl_password", "KAFKA_SASL_PASSWORD or kafka.sasl_password_file"),
        ("kafka", "password", "KAFKA_SASL_PASSWORD or kafka.sasl_password_file"),
        ("kafka", "sasl_plain_password", "KAFKA_SASL_PASSWORD or kafka.sasl_password_file"),
        ("hubspot", "token", "HUBSPOT_TOKEN or hubspot.token_file"),
        ("hubspot", "access_token", "HUBSPOT_TOKEN or hubspot.token_file"),
    ],
)
def test_a_secret_in_the_file_is_refused_with_where_it_belongs(
    tmp_path: Path, section: str, key: str, where: str
) -> None:
    (problem,) = problems_of(write(tmp_path, {section: {key: "s3cret-in-file"}}))

    assert problem.startswith(f"{section}.{key}: secrets never live in the config file")
    assert where in problem
    assert "s3cret-in-file" not in problem


def test_a_secret_given_as_a_config_override_is_refused_too() -> None:
    env = {"CLASSTER_HUBSPOT__KAFKA__SASL_PASSWORD": "s3cret-in-env"}
    with pytest.raises(ConfigError) as caught:
        load_settings(EXAMPLE, env)

    (problem,) = caught.value.problems
    assert problem.startswith("kafka.sasl_password: secrets never live in the config file")
    assert "s3cret-in-env" not in str(caught.value)


def test_other_keys_of_no_section_are_still_just_unknown(tmp_path: Path) -> None:
    assert problems_of(write(tmp_path, {"hubspot": {"password": "x"}})) == [
        "hubspot.password: unknown key"
    ]


# -- environment overrides ------------------------------------------------------------------------


def test_an_environment_variable_overrides_one_value_of_the_file() -> None:
    settings = load_settings(
        EXAMPLE, {"CLASSTER_HUBSPOT__KAFKA__BOOTSTRAP_SERVERS": "kafka-0.kafka:9092"}
    )

    assert settings.kafka.bootstrap_servers == "kafka-0.kafka:9092"
    assert settings.kafka.group_id == "classter-hubspot-demo"  # the rest of the section stays


@pytest.mark.parametrize(
    ("name", "raw", "read"),
    [
        ("CLASSTER_HUBSPOT__HUBSPOT__BUDGET_SHARE", "0.5", lambda s: s.hubspot.budget_share == 0.5),
        (
            "CLASSTER_HUBSPOT__DEALS__MIN_GLOBAL_CODE",
            "2000",
            lambda s: s.deals.min_global_code == 2000,
        ),
        (
            "CLASSTER_HUBSPOT__DEALS__MIN_GLOBAL_CODE",
            "null",
            lambda s: s.deals.min_global_code is None,
        ),
        ("CLASSTER_HUBSPOT__DEALS__MIN_GLOBAL_CODE", "", lambda s: s.deals.min_global_code is None),
        ("CLASSTER_HUBSPOT__KAFKA__TOPICS", "[a, b]", lambda s: s.kafka.topics == ["a", "b"]),
        (
            "CLASSTER_HUBSPOT__DEALS__UPDATE_ONLY_FOR_STUDENT_STATUSES",
            "[Registered, 7]",
            lambda s: s.deals.update_only_for_student_statuses == ["Registered", 7],
        ),
        (
            "CLASSTER_HUBSPOT__KAFKA__GROUP_INSTANCE_ID",
            "classter-hubspot-0",
            lambda s: s.kafka.group_instance_id == "classter-hubspot-0",
        ),
        ("CLASSTER_HUBSPOT__TIMEZONE", "UTC", lambda s: s.timezone == "UTC"),
        (
            "CLASSTER_HUBSPOT__FIXED_TODAY",
            "2027-01-31",
            lambda s: s.fixed_today == dt.date(2027, 1, 31),
        ),
        ("CLASSTER_HUBSPOT__HTTP__PORT", "8080", lambda s: s.http.port == 8080),
        ("classter_hubspot__http__port", "8080", lambda s: s.http.port == 31090),
        ("OTHER__HTTP__PORT", "8080", lambda s: s.http.port == 31090),
    ],
)
def test_an_override_is_read_as_a_yaml_scalar(name: str, raw: str, read: Any) -> None:
    settings = load_settings(EXAMPLE, {name: raw})

    assert read(settings)


def test_an_override_may_create_a_section_the_file_lacks(tmp_path: Path) -> None:
    path = write(tmp_path, {"timezone": "UTC"})

    settings = load_settings(path, {"CLASSTER_HUBSPOT__LOGGING__LEVEL": "DEBUG"})

    assert settings.logging.level == "DEBUG"


def test_an_override_works_without_a_file() -> None:
    settings = load_settings(None, {"CLASSTER_HUBSPOT__KAFKA__GROUP_ID": "g"})

    assert settings.kafka.group_id == "g"


def test_an_override_reaches_mixed_case_keys_of_actions_and_stages() -> None:
    env = {
        "CLASSTER_HUBSPOT__ACTIONS__CREATEDEAL__PIPELINE": "admissions",
        "CLASSTER_HUBSPOT__ACTIONS__UPDATEDEAL__PIPELINE": "admissions",
        "CLASSTER_HUBSPOT__ACTIONS__CHANGEDEALSTATUS__PIPELINE": "admissions",
        "CLASSTER_HUBSPOT__ACTIONS__CHANGEDEALSTATUS__STAGES__REGISTERED": "appointmentscheduled",
        "CLASSTER_HUBSPOT__ACTIONS__CHANGEDEALSTATUS__STAGES__3": "contractsent",
    }

    settings = load_settings(EXAMPLE, env)

    assert settings.actions.CreateDeal is not None
    assert settings.actions.CreateDeal.pipeline == "admissions"
    assert settings.actions.ChangeDealStatus is not None
    stages = settings.actions.ChangeDealStatus.stages
    assert stages["Registered"] == "appointmentscheduled"
    assert stages[3] == "contractsent"
    assert "registered" not in stages


def test_an_override_may_switch_an_action_on() -> None:
    settings = load_settings(
        None,
        {
            "CLASSTER_HUBSPOT__ACTIONS__UPDATECONTACT__MODEL_MAPPING": "true",
        },
    )

    assert settings.actions.UpdateContact is not None


def test_an_override_of_an_unknown_key_is_named() -> None:
    problems = problems_of(EXAMPLE, {"CLASSTER_HUBSPOT__KAFKA__BOGUS": "1"})

    assert problems == ["kafka.bogus: unknown key"]


def test_an_override_with_a_bad_value_names_key_and_value() -> None:
    (problem,) = problems_of(EXAMPLE, {"CLASSTER_HUBSPOT__HUBSPOT__BUDGET_SHARE": "2"})

    assert problem.startswith("hubspot.budget_share: ")
    assert "(got 2)" in problem


def test_an_override_that_names_no_key_is_refused() -> None:
    assert problems_of(EXAMPLE, {"CLASSTER_HUBSPOT__": "x"}) == ["CLASSTER_HUBSPOT__: names no key"]


def test_an_override_below_a_plain_value_is_refused() -> None:
    problems = problems_of(EXAMPLE, {"CLASSTER_HUBSPOT__TIMEZONE__NAME": "UTC"})

    assert problems == ["CLASSTER_HUBSPOT__TIMEZONE__NAME: timezone is not a section"]


def test_the_process_environment_is_read_when_none_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLASSTER_HUBSPOT__KAFKA__GROUP_ID", "from-env")

    assert load_settings(EXAMPLE).kafka.group_id == "from-env"


# -- checks across keys ---------------------------------------------------------------------------


def test_the_example_config_has_no_cross_key_problems() -> None:
    assert semantic_problems(load_settings(EXAMPLE, {})) == []


def test_create_deal_needs_create_contact() -> None:
    settings = make_settings(actions={"CreateDeal": {}})

    assert semantic_problems(settings) == [
        "actions.CreateDeal: needs actions.CreateContact (a deal needs its contact)"
    ]


@pytest.mark.parametrize("action", ["CreateContact", "UpdateContact"])
def test_a_contact_action_without_email_in_its_mapping_is_refused(action: str) -> None:
    settings = make_settings(
        actions={
            action: {
                "model_mapping": False,
                "custom_mapping": [{"hubspot": "firstname", "classter": "givenName"}],
            }
        }
    )

    (problem,) = semantic_problems(settings)

    assert problem.startswith(f"actions.{action}: the mapping has no 'email'")


@pytest.mark.parametrize("action", ["CreateContact", "UpdateContact"])
def test_a_custom_email_entry_satisfies_a_contact_action_without_the_model(action: str) -> None:
    settings = make_settings(
        actions={
            action: {
                "model_mapping": False,
                "custom_mapping": [{"hubspot": "email", "classter": "customFields.workEmail"}],
            }
        }
    )

    assert semantic_problems(settings) == []


def test_the_model_mapping_brings_the_email() -> None:
    assert semantic_problems(make_settings(actions={"CreateContact": {}})) == []


def test_a_property_mapped_twice_in_one_action_is_refused() -> None:
    entry = {"hubspot": "firstname", "classter": "givenName"}
    settings = make_settings(actions={"UpdateContact": {"custom_mapping": [entry, entry]}})

    assert semantic_problems(settings) == [
        "actions.UpdateContact.custom_mapping: property mapped twice: ['firstname']"
    ]


@pytest.mark.parametrize("other", ["UpdateDeal", "ChangeDealStatus"])
def test_a_deal_action_on_another_pipeline_than_create_deal_is_refused(other: str) -> None:
    actions = dict(MINIMAL_ACTIONS, **{other: {"pipeline": "renewals"}})

    assert semantic_problems(make_settings(actions=actions)) == [
        f"actions.{other}.pipeline: 'renewals' differs from actions.CreateDeal.pipeline 'default'"
    ]


def test_update_and_status_actions_must_agree_on_the_pipeline_without_create_deal() -> None:
    settings = make_settings(
        actions={"UpdateDeal": {"pipeline": "default"}, "ChangeDealStatus": {"pipeline": "other"}}
    )

    assert semantic_problems(settings) == [
        "actions.ChangeDealStatus.pipeline: 'other' differs from actions.UpdateDeal.pipeline "
        "'default'"
    ]


def test_every_cross_key_problem_is_reported_at_once(tmp_path: Path) -> None:
    tree = {
        "actions": {
            "UpdateContact": {"model_mapping": False},
            "CreateDeal": {"pipeline": "a"},
            "UpdateDeal": {"pipeline": "b"},
        }
    }

    problems = problems_of(write(tmp_path, tree))

    assert [p.split(":")[0] for p in problems] == [
        "actions.CreateDeal",
        "actions.UpdateContact",
        "actions.UpdateDeal.pipeline",
    ]


def test_the_deals_pipeline_is_create_deals_else_the_first_deal_action() -> None:
    assert make_settings(actions=MINIMAL_ACTIONS).deal_pipeline == "default"
    assert make_settings(actions={"ChangeDealStatus": {"pipeline": "p"}}).deal_pipeline == "p"
    assert make_settings(actions={"CreateContact": {}}).deal_pipeline is None


def test_a_config_error_lists_every_problem_in_its_message() -> None:
    error = ConfigError(["a: unknown key", "b: bad"])

    assert str(error) == "invalid configuration:\n  - a: unknown key\n  - b: bad"


# -- today ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "zone", "today"),
    [
        (dt.datetime(2026, 9, 1, 20, 59, tzinfo=dt.UTC), "Europe/Athens", dt.date(2026, 9, 1)),
        (dt.datetime(2026, 9, 1, 21, 0, tzinfo=dt.UTC), "Europe/Athens", dt.date(2026, 9, 2)),
        (dt.datetime(2026, 9, 1, 21, 0, tzinfo=dt.UTC), "UTC", dt.date(2026, 9, 1)),
        (dt.datetime(2026, 9, 1, 3, 0, tzinfo=dt.UTC), "America/New_York", dt.date(2026, 8, 31)),
    ],
)
def test_today_is_counted_in_the_configured_zone(
    now: dt.datetime, zone: str, today: dt.date
) -> None:
    assert make_settings(timezone=zone).today(now) == today


def test_a_fixed_today_wins_over_the_clock() -> None:
    settings = make_settings(fixed_today="2026-11-15")

    assert settings.today(dt.datetime(2030, 1, 1, tzinfo=dt.UTC)) == dt.date(2026, 11, 15)


# -- secrets --------------------------------------------------------------------------------------

TOKEN_KEY = "hubspot.token_file"


def test_a_secret_comes_from_the_environment_first(tmp_path: Path) -> None:
    file = tmp_path / "token"
    file.write_text("from-file\n", encoding="utf-8")

    assert (
        read_secret("HUBSPOT_TOKEN", file, {"HUBSPOT_TOKEN": " from-env\n"}, key=TOKEN_KEY)
        == "from-env"
    )


def test_a_secret_comes_from_a_mounted_file_stripped(tmp_path: Path) -> None:
    file = tmp_path / "token"
    file.write_text("  pat-na1-abc\n\n", encoding="utf-8")

    assert read_secret("HUBSPOT_TOKEN", file, {}, key=TOKEN_KEY) == "pat-na1-abc"


@pytest.mark.parametrize("blank", ["", "   ", "\n"])
def test_a_blank_environment_variable_falls_back_to_the_file(tmp_path: Path, blank: str) -> None:
    file = tmp_path / "token"
    file.write_text("from-file", encoding="utf-8")

    assert (
        read_secret("HUBSPOT_TOKEN", file, {"HUBSPOT_TOKEN": blank}, key=TOKEN_KEY) == "from-file"
    )


def test_no_secret_anywhere_is_none(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")

    assert read_secret("HUBSPOT_TOKEN", None, {}, key=TOKEN_KEY) is None
    assert read_secret("HUBSPOT_TOKEN", empty, {}, key=TOKEN_KEY) is None
    assert read_secret("HUBSPOT_TOKEN", None, {"HUBSPOT_TOKEN": "  "}, key=TOKEN_KEY) is None


def test_a_missing_secret_file_names_the_config_key_the_path_and_why(tmp_path: Path) -> None:
    missing = tmp_path / "missing"

    with pytest.raises(ConfigError) as caught:
        read_secret("HUBSPOT_TOKEN", missing, {}, key=TOKEN_KEY)

    assert caught.value.problems == [
        f"hubspot.token_file: cannot read {missing}: No such file or directory"
    ]


def test_a_secret_path_that_is_a_directory_is_named_as_such(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        read_secret("HUBSPOT_TOKEN", tmp_path, {}, key=TOKEN_KEY)

    assert caught.value.problems == [f"hubspot.token_file: cannot read {tmp_path}: Is a directory"]


def test_a_secret_file_that_is_not_utf8_is_refused_without_quoting_it(tmp_path: Path) -> None:
    file = tmp_path / "token"
    file.write_bytes(b"pat-na1-\xff\xfesecret")

    with pytest.raises(ConfigError) as caught:
        read_secret("HUBSPOT_TOKEN", file, {}, key=TOKEN_KEY)

    assert caught.value.problems == [f"hubspot.token_file: cannot read {file}: not UTF-8 text"]
    assert "secret" not in str(caught.value).replace(str(file), "")
    assert "0xff" not in str(caught.value)


def test_the_environment_wins_over_an_unreadable_secret_file(tmp_path: Path) -> None:
    env = {"HUBSPOT_TOKEN": "from-env"}

    assert read_secret("HUBSPOT_TOKEN", tmp_path / "missing", env, key=TOKEN_KEY) == "from-env"


def test_an_unreadable_kafka_password_file_names_its_config_key(tmp_path: Path) -> None:
    missing = tmp_path / "kafka-password"
    kafka = KafkaSettings(
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="classter-hubspot",
        sasl_password_file=missing,
    )

    with pytest.raises(ConfigError) as caught:
        kafka_password(kafka, {})

    assert caught.value.problems == [
        f"kafka.sasl_password_file: cannot read {missing}: No such file or directory"
    ]


def test_the_process_environment_holds_the_secret_when_none_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "pat-na1-from-process")

    assert read_secret("HUBSPOT_TOKEN", None, key=TOKEN_KEY) == "pat-na1-from-process"
