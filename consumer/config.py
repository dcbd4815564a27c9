"""The one validated configuration tree (SPEC section 3).

Owns: the pydantic models of the YAML config file, strict about keys (an unknown key is an error
that names it), environment overrides (``CLASSTER_HUBSPOT__SECTION__KEY=value``, the value read as
a YAML scalar), the checks that need no HubSpot portal, and reading secrets from the environment
or mounted files. Secrets never come from the file itself. Must not: talk to Kafka or HubSpot.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from consumer.errors import ConfigError

ENV_PREFIX = "CLASSTER_HUBSPOT__"
TOKEN_ENV = "HUBSPOT_TOKEN"  # noqa: S105 - the variable's name, not a secret
KAFKA_PASSWORD_ENV = "KAFKA_SASL_PASSWORD"  # noqa: S105 - a name, not a secret


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class KafkaSettings(_Section):
    bootstrap_servers: str = "localhost:9092"
    group_id: str = "classter-hubspot"
    topics: list[str] = Field(default=["classter.students", "classter.registrations"], min_length=1)
    dlq_topic: str = "classter.dlq"
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    group_instance_id: str | None = None
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password_file: Path | None = None
    # TLS (SSL, SASL_SSL): the CA bundle that signs the brokers' certificates (unset: the
    # system's trust store), and a client certificate and its unencrypted key for mutual TLS.
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_check_hostname: bool = True
    session_timeout_ms: int = Field(default=10_000, ge=1_000)
    heartbeat_interval_ms: int = Field(default=3_000, ge=100)
    max_poll_interval_ms: int = Field(default=300_000, ge=10_000)
    max_poll_records: int = Field(default=500, ge=1)
    # How often the clients refresh cluster metadata: a subscribed topic created after start
    # (and new partitions of one) is seen within this long (aiokafka's default is 5 minutes).
    metadata_max_age_ms: int = Field(default=30_000, ge=500)
    commit_interval_s: float = Field(default=1.0, gt=0)
    # Backpressure: partitions pause when this many events are buffered or in flight.
    max_buffered_events: int = Field(default=5_000, ge=1)
    # Students whose events are processed at once (each student's own events one at a time).
    # Enough of them fill HubSpot batches of 100 at every step of the pipeline.
    max_in_flight_students: int = Field(default=1_000, ge=1)
    # Up to this many queued events of one student are applied together, as one write per
    # record (their contact, their deals); 1 applies every event on its own.
    coalesce_student_events: int = Field(default=20, ge=1)
    # Bound on (newest seen offset - committed offset) per partition before that partition pauses.
    max_uncommitted_per_partition: int = Field(default=10_000, ge=1)
    # Revoked partitions and SIGTERM get this long to finish in-flight work (< the grace period).
    drain_timeout_s: float = Field(default=20.0, gt=0)

    @model_validator(mode="after")
    def _security_consistent(self) -> KafkaSettings:
        protocol = self.security_protocol
        sasl = protocol.startswith("SASL")
        tls = protocol in ("SSL", "SASL_SSL")
        if sasl and not (self.sasl_mechanism and self.sasl_username):
            raise ValueError(
                f"security_protocol {protocol} needs kafka.sasl_mechanism and kafka.sasl_username"
            )
        # a key that the protocol ignores is a mistake in the file (TLS left off, say)
        unused = [
            name
            for name, on in (
                ("sasl_mechanism", sasl),
                ("sasl_username", sasl),
                ("sasl_password_file", sasl),
                ("ssl_cafile", tls),
                ("ssl_certfile", tls),
                ("ssl_keyfile", tls),
            )
            if getattr(self, name) is not None and not on
        ]
        if unused:
            keys = ", ".join(f"kafka.{n}" for n in unused)
            raise ValueError(f"{keys}: not used with security_protocol {protocol}")
        if self.ssl_keyfile is not None and self.ssl_certfile is None:
            raise ValueError("kafka.ssl_keyfile: needs kafka.ssl_certfile (the client certificate)")
        return self


class HubSpotSettings(_Section):
    base_url: str = "https://api.hubapi.com"
    # Path version: "2026-03" style date-based versions, or "v3" for the legacy paths.
    api_version: str = Field(default="2026-03", pattern=r"^(v3|\d{4}-\d{2})$")
    budget_share: float = Field(default=1.0, gt=0, le=1)
    token_file: Path | None = None
    request_timeout_s: float = Field(default=30.0, gt=0)
    max_concurrent_requests: int = Field(default=8, ge=1)
    max_batch_size: int = Field(default=100, ge=1, le=100)
    batch_linger_s: float = Field(default=0.05, ge=0)
    # Retries stop using the daily budget when fewer than this many calls remain today.
    daily_reserve: int = Field(default=5_000, ge=0)
    # Requests are paced by a token bucket refilled at the 10-second budget's rate and holding
    # 1/pacing_slices of it: a backlog cannot spend a whole window in one burst and then stall
    # (1: no bucket, a whole window's budget may go out at once).
    pacing_slices: int = Field(default=4, ge=1, le=1000)
    # With the daily budget spent, one request this often asks HubSpot whether the day was reset.
    daily_probe_s: float = Field(default=300.0, gt=0)
    # Attempts of a transient failure (5xx, timeout, dropped connection) before the event is
    # dead-lettered as retries_exhausted. None (the default): never give up, since a HubSpot
    # outage is not the event's fault; the partition's commits wait and backpressure pauses it.
    max_attempts: int | None = Field(default=None, ge=1)
    retry_max_backoff_s: float = Field(default=60.0, gt=0)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class DealSettings(_Section):
    min_global_code: int | None = None
    max_program_start_age_days: int | None = Field(default=None, ge=0)
    max_semester_start_age_days: int | None = Field(default=None, ge=0)
    update_only_for_student_statuses: list[int | str] = Field(default_factory=list)
    re_registration: Literal["keep_deal_code", "new_deal_code"] = "keep_deal_code"


class MappingEntry(_Section):
    """One HubSpot property from one or more Classter fields (joined by a single space)."""

    hubspot: str = Field(min_length=1)
    classter: list[str] = Field(min_length=1)

    @field_validator("classter", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class ContactAction(_Section):
    model_mapping: bool = True
    custom_mapping: list[MappingEntry] = Field(default_factory=list)


class DealAction(_Section):
    pipeline: str = "default"
    model_mapping: bool = True
    custom_mapping: list[MappingEntry] = Field(default_factory=list)


class ChangeDealStatusAction(_Section):
    pipeline: str = "default"
    # Registration status -> stage id; int keys match the status id, str keys its description.
    stages: dict[int | str, str] = Field(default_factory=dict)


class Actions(_Section):
    CreateContact: ContactAction | None = None
    UpdateContact: ContactAction | None = None
    CreateDeal: DealAction | None = None
    UpdateDeal: DealAction | None = None
    ChangeDealStatus: ChangeDealStatusAction | None = None


class HttpSettings(_Section):
    host: str = "0.0.0.0"  # noqa: S104 - the metrics/probe port must be reachable in a pod
    port: int = Field(default=9464, ge=0, le=65535)
    # /healthz fails when the poll loop has not turned for this long.
    poll_stale_after_s: float = Field(default=60.0, gt=0)


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Settings(_Section):
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    hubspot: HubSpotSettings = Field(default_factory=HubSpotSettings)
    timezone: str = "UTC"
    # Pins "today" for demos and replays of test data; leave unset in production.
    fixed_today: dt.date | None = None
    deals: DealSettings = Field(default_factory=DealSettings)
    actions: Actions = Field(default_factory=Actions)
    http: HttpSettings = Field(default_factory=HttpSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def today(self, now: dt.datetime) -> dt.date:
        """Today's date in the configured zone (or ``fixed_today``); ``now`` must be aware."""
        if self.fixed_today is not None:
            return self.fixed_today
        return now.astimezone(self.zone).date()

    @property
    def deal_pipeline(self) -> str | None:
        """The deals' pipeline: CreateDeal's, else the one UpdateDeal/ChangeDealStatus name."""
        for action in (
            self.actions.CreateDeal,
            self.actions.UpdateDeal,
            self.actions.ChangeDealStatus,
        ):
            if action is not None:
                return action.pipeline
        return None


def semantic_problems(settings: Settings) -> list[str]:
    """Checks across keys that need no HubSpot portal; one message per problem, naming the key."""
    problems: list[str] = []
    acts = settings.actions
    if acts.CreateDeal is not None and acts.CreateContact is None:
        problems.append(
            "actions.CreateDeal: needs actions.CreateContact (a deal needs its contact)"
        )
    for name in ("CreateContact", "UpdateContact"):
        action: ContactAction | None = getattr(acts, name)
        if action is None:
            continue
        mapped = {e.hubspot for e in action.custom_mapping}
        if not action.model_mapping and "email" not in mapped:
            problems.append(
                f"actions.{name}: the mapping has no 'email' (model_mapping is off and "
                "no custom_mapping entry writes email)"
            )
        dupes = sorted(
            {p for p in mapped if [e.hubspot for e in action.custom_mapping].count(p) > 1}
        )
        if dupes:
            problems.append(f"actions.{name}.custom_mapping: property mapped twice: {dupes}")
    # the deals' pipeline is CreateDeal's, else the first deal action's; the others repeat it
    deal_actions = [
        n for n in ("CreateDeal", "UpdateDeal", "ChangeDealStatus") if getattr(acts, n) is not None
    ]
    pipeline = settings.deal_pipeline
    for name in deal_actions[1:]:
        other: DealAction | ChangeDealStatusAction = getattr(acts, name)
        if other.pipeline != pipeline:
            problems.append(
                f"actions.{name}.pipeline: {other.pipeline!r} differs from "
                f"actions.{deal_actions[0]}.pipeline {pipeline!r}"
            )
    return problems


# Keys someone might use to put a secret in the file; each is refused with where it belongs.
_SECRET_KEYS: dict[str, tuple[frozenset[str], str]] = {
    "kafka": (
        frozenset({"sasl_password", "sasl_plain_password", "password", "ssl_password"}),
        f"set {KAFKA_PASSWORD_ENV} or kafka.sasl_password_file (a mounted file)",
    ),
    "hubspot": (
        frozenset({"token", "access_token", "private_app_token", "api_key", "service_key"}),
        f"set {TOKEN_ENV} or hubspot.token_file (a mounted file)",
    ),
}


def _secret_keys(tree: Mapping[str, Any]) -> list[str]:
    """Problems for secrets placed in the file (or its overrides); never shows their values."""
    problems = []
    for section, (keys, where) in _SECRET_KEYS.items():
        node = tree.get(section)
        if not isinstance(node, Mapping):
            continue
        for key in sorted(str(k) for k in node if str(k).lower() in keys):
            problems.append(f"{section}.{key}: secrets never live in the config file; {where}")
    return problems


def _format_validation(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            out.append(f"{loc}: unknown key")
        else:
            shown = err.get("input")
            value = "" if isinstance(shown, dict | list) or shown is None else f" (got {shown!r})"
            out.append(f"{loc}: {err['msg']}{value}")
    return out


def _key(node: dict[Any, Any], part: str, names: Mapping[str, str]) -> Any:
    # Variable names are upper case by convention: match the file's keys and the config's field
    # names (CreateDeal, a stage's "Registered") ignoring case, so every key can be reached.
    for key in node:
        if str(key).lower() == part:
            return key
    return names.get(part, part)


def _apply_env(tree: dict[str, Any], env: Mapping[str, str]) -> list[str]:
    problems = []
    names = {f.lower(): f for section in _Section.__subclasses__() for f in section.model_fields}
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
        if not path:
            problems.append(f"{name}: names no key")
            continue
        node = tree
        for part in path[:-1]:
            child = node.setdefault(_key(node, part, names), {})
            if not isinstance(child, dict):
                problems.append(f"{name}: {part} is not a section")
                break
            node = child
        else:
            node[_key(node, path[-1], names)] = yaml.safe_load(raw) if raw.strip() else None
    return problems


def load_settings(
    path: Path | None, env: Mapping[str, str] | None = None, *, semantic: bool = True
) -> Settings:
    """Read, override from the environment and validate; raise ``ConfigError`` listing problems.

    ``semantic=False`` leaves the cross-key checks (``semantic_problems``) to the caller, so that
    ``check`` can report them together with the portal's problems."""
    env = os.environ if env is None else env
    tree: Any = {}
    if path is not None:
        try:
            tree = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ConfigError([f"{path}: cannot read ({exc.strerror})"]) from None
        except yaml.YAMLError as exc:
            raise ConfigError([f"{path}: not valid YAML ({exc})"]) from None
        if not isinstance(tree, dict):
            raise ConfigError([f"{path}: the top level must be a mapping"])
    problems = _apply_env(tree, env) + _secret_keys(tree)
    if problems:
        raise ConfigError(problems)
    try:
        settings = Settings.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(_format_validation(exc)) from None
    problems = semantic_problems(settings) if semantic else []
    if problems:
        raise ConfigError(problems)
    return settings


def read_secret(
    env_name: str, file: Path | None, env: Mapping[str, str] | None = None, *, key: str
) -> str | None:
    """A secret from the environment, else from a mounted file (stripped); never logged.

    ``key`` is the config key that named ``file`` (``hubspot.token_file``); a file that cannot
    be read is a ``ConfigError`` naming that key, the path and why, never the file's content.
    """
    env = os.environ if env is None else env
    value = (env.get(env_name) or "").strip()
    if value:
        return value
    if file is not None:
        try:
            return file.read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
            raise ConfigError([f"{key}: cannot read {file}: {why}"]) from None
        except UnicodeDecodeError:
            # the exception's text quotes a byte of the secret; say only what is wrong
            raise ConfigError([f"{key}: cannot read {file}: not UTF-8 text"]) from None
    return None


def kafka_password(settings: KafkaSettings, env: Mapping[str, str] | None = None) -> str | None:
    """The SASL password (``KAFKA_SASL_PASSWORD``, else ``kafka.sasl_password_file``).

    None when the protocol uses no SASL; ``ConfigError`` when SASL is on and no password is set.
    """
    if not settings.security_protocol.startswith("SASL"):
        return None
    password = read_secret(
        KAFKA_PASSWORD_ENV, settings.sasl_password_file, env, key="kafka.sasl_password_file"
    )
    if not password:
        raise ConfigError(
            [
                f"kafka password: security_protocol {settings.security_protocol} needs "
                f"{KAFKA_PASSWORD_ENV} or kafka.sasl_password_file"
            ]
        )
    return password


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the config file (committed as ``schemas/config.json``)."""
    schema = Settings.model_json_schema()
    return {
        **schema,
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/classter-hubspot/schemas/config.json",
        "title": "classter-hubspot configuration file",
    }
