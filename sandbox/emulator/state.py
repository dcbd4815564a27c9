"""One emulated portal: the parts wired together, plus seeding and resetting it.

Owns: ``EmulatorState`` (config, clock, catalog, store, budget, faults, stats), its aiohttp app
key, the seed document accepted by ``--seed`` and ``POST /_emulator/seed``, and ``reset``.
Must not: serve HTTP (``app``, ``routes`` and ``control`` do).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from sandbox.emulator import defaults
from sandbox.emulator.budget import Budget, Clock
from sandbox.emulator.catalog import Catalog
from sandbox.emulator.config import INTERVAL_S, EmulatorConfig
from sandbox.emulator.errors import ItemError, bad_request
from sandbox.emulator.faults import Faults
from sandbox.emulator.stats import Stats
from sandbox.emulator.store import Store
from sandbox.emulator.values import iso_ms

ObjectType = Literal["contacts", "deals"]
DEFAULT_FIELD_TYPE = {
    "string": "text",
    "number": "number",
    "bool": "booleancheckbox",
    "enumeration": "select",
    "date": "date",
    "datetime": "date",
    "phone_number": "phonenumber",
}


@dataclass(slots=True)
class EmulatorState:
    """Everything the handlers share; one per app."""

    config: EmulatorConfig
    clock: Clock
    catalog: Catalog
    store: Store
    budget: Budget
    faults: Faults
    stats: Stats

    def now(self) -> str:
        return iso_ms(dt.datetime.fromtimestamp(self.clock(), tz=dt.UTC))

    def reset(self, *, properties: bool = False) -> None:
        """Empty the records and associations; zero the budgets and stats; drop fault rules.
        With ``properties``, custom properties, groups and pipelines go too."""
        if properties:
            self.catalog.reset_all()
        self.store.reset()
        self.budget.reset()
        self.stats.reset()
        self.faults.clear(self.config.fault_seed)


STATE = web.AppKey("emulator_state", EmulatorState)


def build_state(config: EmulatorConfig, clock: Clock = time.time) -> EmulatorState:
    def now() -> str:
        return iso_ms(dt.datetime.fromtimestamp(clock(), tz=dt.UTC))

    catalog = Catalog(now)
    budget = Budget(
        lambda: config.window_max, lambda: config.daily_max, interval_s=INTERVAL_S, clock=clock
    )
    return EmulatorState(
        config, clock, catalog, Store(catalog, now), budget, Faults(config.fault_seed), Stats()
    )


class SeedRecord(BaseModel):
    """A pre-existing record (a marketing lead, say): HubSpot's create-input shape."""

    model_config = ConfigDict(extra="forbid")

    properties: dict[str, Any] = Field(default_factory=dict)
    associations: list[dict[str, Any]] | None = None


class SeedDocument(BaseModel):
    """What a portal starts with besides HubSpot's defaults. Properties are ``PropertyCreate``
    bodies; ``label``, ``fieldType`` and ``groupName`` may be left out (a missing group is
    created). Pipelines are deal pipelines ``{"id"?, "label", "stages": [{"id"?, "label"}]}``."""

    model_config = ConfigDict(extra="forbid")

    properties: dict[ObjectType, list[dict[str, Any]]] = Field(default_factory=dict)
    pipelines: list[dict[str, Any]] = Field(default_factory=list)
    contacts: list[SeedRecord] = Field(default_factory=list)
    deals: list[SeedRecord] = Field(default_factory=list)


def seed(state: EmulatorState, document: SeedDocument) -> dict[str, Any]:
    """Apply a seed document; returns the created property names and record ids.

    Records are validated like API writes: an invalid one raises ``ApiError`` (400 or 409)
    naming its position, after the ones before it were created."""
    created: dict[str, Any] = {"properties": {}, "pipelines": [], "contacts": [], "deals": []}
    for otype, defs in document.properties.items():
        names = created["properties"].setdefault(otype, [])
        for definition in defs:
            names.append(_seed_property(state, otype, definition))
        state.store.reindex(otype)
    for n, pipeline in enumerate(document.pipelines):
        created["pipelines"].append(
            state.catalog.add_pipeline(pipeline, str(900_000 + len(state.catalog.pipelines) + n))[
                "id"
            ]
        )
    for otype, records in (("contacts", document.contacts), ("deals", document.deals)):
        for n, record in enumerate(records):
            try:
                plan = state.store.plan_create(otype, record.properties, record.associations)
            except ItemError as exc:
                error = exc.as_api_error()
                error.body["message"] = f"seed {otype}[{n}]: {error.body['message']}"
                raise error from None
            created[otype].append(state.store.commit(plan).id)
    return created


def _seed_property(state: EmulatorState, otype: str, definition: dict[str, Any]) -> str:
    body = dict(definition)
    kind = str(body.get("type", "string"))
    body.setdefault("type", kind)
    body.setdefault("label", body.get("name"))
    body.setdefault("fieldType", DEFAULT_FIELD_TYPE.get(kind, "text"))
    body.setdefault("groupName", defaults.GROUPS[otype][0]["name"])
    if not isinstance(body.get("name"), str):
        raise bad_request("seed: every property needs a name")
    if body["groupName"] not in state.catalog.groups[otype]:
        state.catalog.create_group(otype, {"name": body["groupName"], "label": body["groupName"]})
    return state.catalog.create_property(otype, body).name
