"""The checks that ``run``, ``check`` and ``plan`` share (SPEC sections 3 and 10): config vs portal.

Owns: ``Report`` (errors block ``run``, warnings do not, info says what passed) and the checks:
the token's validity and scopes (private-app token info), the daemon's own properties and their
unique values, every mapped property (exists, writable, and its type can hold what the mapped
Classter fields carry, enumeration options included), the deals' pipeline and every stage of
``ChangeDealStatus`` (a stage given by its label is reported with its id), and the cross-key
rules of ``config.semantic_problems``. Every problem is one line that names the config key.
Must not: change the portal (``schema.apply_own_properties`` does, for ``check --apply``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from consumer.config import ContactAction, DealAction, Settings, semantic_problems
from consumer.errors import HubSpotAuthError, HubSpotValidationError
from consumer.events import Registration, Student
from consumer.hubspot.client import HubSpotClient
from consumer.hubspot.schema import OWN_PROPERTIES, UNIQUE_PROPERTIES, PortalSchema
from consumer.mapping import CONTACT_SOURCES, DEAL_SOURCES, PropertySpec, source_kind, sources

REQUIRED_SCOPES = (
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.schemas.contacts.read",
    "crm.schemas.contacts.write",
    "crm.schemas.deals.read",
    "crm.schemas.deals.write",
)
TOKEN_KEY = "hubspot token (HUBSPOT_TOKEN or hubspot.token_file)"  # noqa: S105 - a label
# the kinds of Classter value each HubSpot property type holds without a per-event surprise
_HOLDS = {
    "number": {"number"},
    "date": {"date"},
    "datetime": {"date"},
    "bool": {"bool"},
}
_SHOWN_OPTIONS = 8


@dataclass
class Report:
    """The outcome of the checks: errors block ``run``, warnings do not."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    info: list[str] = field(default_factory=list)
    token_refused: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


async def check_token(client: HubSpotClient, token: str, report: Report) -> None:
    try:
        info = await client.token_info(token)
    except (HubSpotAuthError, HubSpotValidationError):
        try:
            await client.get_properties("contacts")
        except HubSpotAuthError:
            report.token_refused = True
            report.errors.append(
                f"{TOKEN_KEY}: HubSpot does not accept this token "
                "(401: invalid, expired or revoked)"
            )
            return
        # the API takes it, the token-info endpoint does not describe it (a service key?)
        report.warnings.append(
            f"{TOKEN_KEY}: HubSpot accepts the token but its token-info endpoint does not "
            "describe it (a service key?), so its scopes cannot be checked in advance; a "
            "missing scope will stop the daemon at its first refused call"
        )
        return
    scopes = set(info.get("scopes") or [])
    missing = [s for s in REQUIRED_SCOPES if s not in scopes]
    if missing:
        report.errors.append(
            f"{TOKEN_KEY}: the private app lacks the scope(s) {', '.join(missing)}; "
            "add them to the app (Settings > Integrations > Private Apps > Scopes)"
        )
    else:
        report.info.append(
            f"token: portal {info.get('hubId')}, app {info.get('appId')}, "
            f"all {len(REQUIRED_SCOPES)} required scopes granted"
        )


def check_settings(settings: Settings, report: Report) -> None:
    """The checks that need no portal (``config.semantic_problems``)."""
    report.errors.extend(semantic_problems(settings))


def check_schema(settings: Settings, schema: PortalSchema, report: Report) -> None:
    """Compare the configuration with the portal; append one line per problem."""
    _check_own(schema, report)
    acts = settings.actions
    contact_actions: list[tuple[str, ContactAction | None]] = [
        ("CreateContact", acts.CreateContact),
        ("UpdateContact", acts.UpdateContact),
    ]
    deal_actions: list[tuple[str, DealAction | None]] = [
        ("CreateDeal", acts.CreateDeal),
        ("UpdateDeal", acts.UpdateDeal),
    ]
    for name, action in contact_actions:
        if action is not None:
            _check_mapping(f"actions.{name}", "contacts", action, schema, report)
    for name, deal_action in deal_actions:
        if deal_action is not None:
            _check_mapping(f"actions.{name}", "deals", deal_action, schema, report)
    _check_pipeline(settings, schema, report)


def _check_own(schema: PortalSchema, report: Report) -> None:
    for object_type, defs in OWN_PROPERTIES.items():
        have = schema.properties.get(object_type, {})
        missing = [d["name"] for d in defs if d["name"] not in have]
        if missing:
            report.errors.append(
                f"hubspot {object_type}: the daemon's own properties are missing: "
                f"{', '.join(missing)} (`classter-hubspot check --apply` creates them)"
            )
        key = UNIQUE_PROPERTIES[object_type]
        spec = have.get(key)
        if spec is None:
            continue
        if key not in schema.unique.get(object_type, set()):
            report.errors.append(
                f"hubspot {object_type}: property {key} exists but does not require unique "
                "values (hasUniqueValue); delete it and run `classter-hubspot check --apply`"
            )
        elif spec.type != "string":
            report.errors.append(
                f"hubspot {object_type}: property {key} is of type {spec.type}; it holds "
                "'tenant:id' text and must be a string property"
            )
        else:
            report.info.append(f"{object_type}: {key} exists with unique values")
        if not missing:
            report.info.append(f"{object_type}: all {len(defs)} classter_* properties exist")


def _kind(object_type: str, paths: tuple[str, ...]) -> tuple[str, list[str]]:
    """The kind of value a mapping entry produces, and its paths the contract does not know."""
    root = Student if object_type == "contacts" else Registration
    kinds = [source_kind(root, p) for p in paths]
    unknown = [p for p, k in zip(paths, kinds, strict=True) if k == "unknown"]
    if len(paths) > 1:
        return "joined", unknown  # several fields joined by spaces: text
    return kinds[0], unknown


def _options(spec: PropertySpec) -> str:
    shown = sorted(spec.options)[:_SHOWN_OPTIONS]
    more = len(spec.options) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _check_mapping(
    key: str,
    object_type: str,
    action: ContactAction | DealAction,
    schema: PortalSchema,
    report: Report,
) -> None:
    props = schema.properties.get(object_type, {})
    model = CONTACT_SOURCES if object_type == "contacts" else DEAL_SOURCES
    custom = {e.hubspot: n for n, e in enumerate(action.custom_mapping)}
    own = {d["name"] for d in OWN_PROPERTIES[object_type]}
    mapped = sources(model, action)
    fine = 0
    for prop, paths in mapped.items():
        where = (
            f"{key}.custom_mapping[{custom[prop]}]" if prop in custom else f"{key}.model_mapping"
        )
        spec = props.get(prop)
        if spec is None:
            if prop in own and prop not in custom:
                continue  # reported once, as a missing own property
            report.errors.append(f"{where}: HubSpot {object_type} property {prop!r} does not exist")
            continue
        if spec.read_only:
            report.errors.append(f"{where}: HubSpot property {prop!r} is read-only")
            continue
        errors = len(report.errors)
        kind, unknown = _kind(object_type, paths)
        if unknown:
            report.warnings.append(
                f"{where}: {', '.join(repr(p) for p in unknown)} is not a field of the event "
                f"contract; it writes nothing to {prop!r} unless Classter sends it"
            )
        _check_type(where, prop, spec, (kind, paths), report)
        fine += len(report.errors) == errors
    report.info.append(
        f"{key}: {fine} of {len(mapped)} mapped properties exist and can hold their values"
    )


def _check_type(
    where: str,
    prop: str,
    spec: PropertySpec,
    source: tuple[str, tuple[str, ...]],
    report: Report,
) -> None:
    kind, paths = source
    fields = " + ".join(paths)
    if kind in ("list", "object"):
        report.errors.append(
            f"{where}: {fields} is {'an' if kind == 'object' else 'a'} {kind} in the event "
            "contract and writes nothing; map a field inside it instead"
        )
        return
    if spec.type in _HOLDS:
        if kind in _HOLDS[spec.type]:
            return
        if kind in ("open", "unknown"):
            report.warnings.append(
                f"{where}: {prop!r} is a {spec.type} property and {fields} is free-form; "
                f"an event whose value is not a {spec.type} is dead-lettered"
            )
            return
        shown = "several fields joined by spaces" if kind == "joined" else f"{kind} values"
        report.errors.append(
            f"{where}: HubSpot property {prop!r} is of type {spec.type} and cannot hold "
            f"{fields} ({shown})"
        )
        return
    if spec.type == "enumeration":
        if not spec.options:
            report.errors.append(f"{where}: enumeration property {prop!r} has no options")
        elif kind == "bool":
            missing = sorted({"true", "false"} - spec.options)
            if missing:
                report.errors.append(
                    f"{where}: enumeration {prop!r} lacks the option(s) {', '.join(missing)} "
                    f"for the yes/no field {fields} (options: {_options(spec)})"
                )
        elif kind in ("joined", "date"):
            shown = "several fields joined by spaces" if kind == "joined" else "dates"
            report.errors.append(
                f"{where}: HubSpot property {prop!r} is an enumeration (options: "
                f"{_options(spec)}) and cannot hold {fields} ({shown})"
            )
        else:
            report.warnings.append(
                f"{where}: {prop!r} is an enumeration; each value of {fields} must equal one "
                f"of its option values ({_options(spec)}), else the event is dead-lettered "
                "(invalid_option)"
            )


def _check_pipeline(settings: Settings, schema: PortalSchema, report: Report) -> None:
    acts = settings.actions
    pipeline = settings.deal_pipeline
    if pipeline is None:
        return
    owner = next(
        n for n in ("CreateDeal", "UpdateDeal", "ChangeDealStatus") if getattr(acts, n) is not None
    )
    if pipeline not in schema.pipelines:
        by_label = {label: pid for pid, label in schema.pipeline_labels.items()}
        hint = (
            f"; it is a pipeline label, its id is {by_label[pipeline]!r}"
            if pipeline in by_label
            else ""
        )
        known = ", ".join(f"{p} ({lab})" for p, lab in sorted(schema.pipeline_labels.items()))
        report.errors.append(
            f"actions.{owner}.pipeline: deal pipeline {pipeline!r} does not exist{hint} "
            f"(pipelines: {known})"
        )
        return
    stage_ids = schema.pipelines[pipeline]
    if not stage_ids:
        report.errors.append(f"actions.{owner}.pipeline: pipeline {pipeline!r} has no stages")
        return
    report.info.append(
        f"actions.{owner}.pipeline: {pipeline!r} ({schema.pipeline_labels.get(pipeline)}) "
        f"exists; new deals without a mapped stage start in {stage_ids[0]!r}"
    )
    if acts.ChangeDealStatus is None:
        return
    labels = schema.stage_labels.get(pipeline, {})
    folded = {label.casefold(): sid for label, sid in labels.items()}
    bad = 0
    for status, stage in acts.ChangeDealStatus.stages.items():
        if stage in stage_ids:
            continue
        bad += 1
        match = labels.get(stage) or folded.get(stage.casefold())
        hint = f"; it is a stage label, its id is {match!r}" if match else ""
        report.errors.append(
            f"actions.ChangeDealStatus.stages.{status}: stage {stage!r} is not a stage id of "
            f"pipeline {pipeline!r}{hint} (stage ids: {', '.join(stage_ids)})"
        )
    if not bad:
        report.info.append(
            f"actions.ChangeDealStatus.stages: all {len(acts.ChangeDealStatus.stages)} "
            f"stages are stage ids of {pipeline!r}"
        )
