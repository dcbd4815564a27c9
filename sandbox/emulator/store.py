"""The portal's records: contacts and deals, their unique-value indexes and their associations.

Owns: in-memory state and the two-step write protocol the batch endpoints build on: ``plan_*``
checks one write against the current state (values through ``checks``; uniqueness of ``email``
and of every ``hasUniqueValue`` property; association targets) without changing anything, and
``commit`` applies a plan. Ids
come from one counter shared by all object types. ``journal`` lists every committed write and
every association made, in order, with the properties as stored (tests compare it with what a
dry run planned). Pure state: no HTTP, no clock of its own (timestamps come from the injected
``now``). Must not: decide batch semantics (``writes``).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sandbox.emulator import defaults
from sandbox.emulator.catalog import Catalog
from sandbox.emulator.checks import as_property_values, checked_changes
from sandbox.emulator.errors import ItemError, conflict

FIRST_ID = 1001
INVERSE_TYPE = {3: 4, 4: 3}


@dataclass(slots=True)
class Record:
    id: str
    otype: str
    properties: dict[str, str]
    created_at: str
    updated_at: str


@dataclass(slots=True)
class Plan:
    """One checked write: a create (``record`` None) or an update of ``record``."""

    otype: str
    changes: dict[str, str]
    record: Record | None = None
    links: list[tuple[str, str, int]] = field(default_factory=list)  # (to type, to id, type id)


class Claims:
    """Unique values taken by earlier inputs of one batch that is checked before it commits."""

    def __init__(self) -> None:
        self._held: dict[tuple[str, str], str] = {}
        self._inputs = 0

    def holder(self, record_id: str | None) -> str:
        if record_id is not None:
            return record_id
        self._inputs += 1
        return f"input#{self._inputs}"

    def claim(self, prop: str, key: str, holder: str) -> bool:
        return self._held.setdefault((prop, key), holder) == holder


def unique_key(prop: str, value: str) -> str:
    return value.strip().lower() if prop == "email" else value


class Store:
    """Records by type and id, unique indexes, and associations in both directions."""

    def __init__(self, catalog: Catalog, now: Callable[[], str]) -> None:
        self.catalog = catalog
        self._now = now
        self.reset()

    def reset(self) -> None:
        self.records: dict[str, dict[str, Record]] = {t: {} for t in defaults.TYPE_IDS}
        self._order: dict[str, list[int]] = {t: [] for t in defaults.TYPE_IDS}
        self._unique: dict[str, dict[str, dict[str, str]]] = {t: {} for t in defaults.TYPE_IDS}
        self.links: dict[tuple[str, str], dict[tuple[str, str], set[int]]] = {}
        self.journal: list[dict[str, Any]] = []
        self._next = FIRST_ID

    # -- reads --------------------------------------------------------------------------------
    def get(self, otype: str, record_id: str) -> Record | None:
        return self.records[otype].get(record_id)

    def find(self, otype: str, prop: str, value: str) -> Record | None:
        """A record by id (``prop`` hs_object_id) or by a unique property's value."""
        if prop == "hs_object_id":
            return self.get(otype, value)
        owner = self._unique[otype].get(prop, {}).get(unique_key(prop, value))
        return self.records[otype].get(owner) if owner else None

    def page(self, otype: str, limit: int, after: str | None) -> tuple[list[Record], str | None]:
        order = self._order[otype]
        start = bisect.bisect_right(order, int(after)) if after and after.isdigit() else 0
        chunk = order[start : start + limit]
        more = start + limit < len(order)
        return [self.records[otype][str(i)] for i in chunk], (str(chunk[-1]) if more else None)

    def view(self, record: Record, wanted: Iterable[str] | None = None) -> dict[str, Any]:
        """A record as HubSpot answers it; ``wanted`` None shows every stored property."""
        if wanted is None:
            props: dict[str, str | None] = dict(record.properties)
        else:
            names = [*wanted, "hs_object_id", "createdate", defaults.LAST_MODIFIED[record.otype]]
            props = {n: record.properties.get(n) for n in names}
        return {
            "id": record.id,
            "properties": props,
            "createdAt": record.created_at,
            "updatedAt": record.updated_at,
            "archived": False,
        }

    def associations_of(self, otype: str, record_id: str, to_type: str) -> dict[str, set[int]]:
        return {
            tid: types
            for (tt, tid), types in self.links.get((otype, record_id), {}).items()
            if tt == to_type
        }

    # -- planning -----------------------------------------------------------------------------
    def plan_create(
        self, otype: str, raw: Any, associations: Any = None, claims: Claims | None = None
    ) -> Plan:
        changes = checked_changes(self.catalog, otype, as_property_values(raw), None)
        plan = Plan(otype, changes, None, self._links(otype, associations))
        self._check_unique(plan, claims)
        return plan

    def plan_update(self, record: Record, raw: Any, claims: Claims | None = None) -> Plan:
        changes = checked_changes(
            self.catalog, record.otype, as_property_values(raw), record.properties
        )
        plan = Plan(record.otype, changes, record)
        self._check_unique(plan, claims)
        return plan

    def _links(self, otype: str, associations: Any) -> list[tuple[str, str, int]]:
        if associations is None:
            return []
        if not isinstance(associations, list | tuple):
            raise ItemError(400, "VALIDATION_ERROR", "associations must be a list")
        links: list[tuple[str, str, int]] = []
        missing: list[str] = []
        for assoc in associations:
            if (
                not isinstance(assoc, dict)
                or not isinstance(assoc.get("to"), dict)
                or not isinstance(assoc.get("types"), list)
            ):
                raise ItemError(
                    400,
                    "VALIDATION_ERROR",
                    'each association needs "to": {"id"} and "types": [...]',
                )
            to_id = str(assoc["to"].get("id", ""))
            for spec in assoc["types"]:
                raw_type = spec.get("associationTypeId") if isinstance(spec, dict) else None
                type_id = raw_type if isinstance(raw_type, int) else -1
                category = spec.get("associationCategory") if isinstance(spec, dict) else None
                to_type = defaults.ASSOCIATION_TYPES.get((otype, type_id))
                if to_type is None or category != "HUBSPOT_DEFINED":
                    raise ItemError(
                        400,
                        "VALIDATION_ERROR",
                        f"{category} association type {raw_type} is not valid from {otype}",
                    )
                if to_id not in self.records[to_type]:
                    missing.append(to_id)
                links.append((to_type, to_id, type_id))
        if missing:
            raise ItemError(
                400,
                "VALIDATION_ERROR",
                "One or more associations are invalid",
                context={"ids": missing},
                sub_category="crm.associations.INVALID_OBJECT_IDS",
            )
        return links

    def _check_unique(self, plan: Plan, claims: Claims | None) -> None:
        unique = self.catalog.unique_names(plan.otype)
        self_id = plan.record.id if plan.record else None
        holder = claims.holder(self_id) if claims is not None else ""
        for prop, value in plan.changes.items():
            if prop not in unique or not value:
                continue
            key = unique_key(prop, value)
            owner = self._unique[plan.otype].get(prop, {}).get(key)
            if owner is not None and owner != self_id:
                if prop == "email":
                    raise conflict(f"Contact already exists. Existing ID: {owner}")
                raise conflict(
                    f"A {defaults.SINGULAR[plan.otype]} with {prop} '{value}' "
                    f"already exists. Existing ID: {owner}"
                )
            if claims is not None and not claims.claim(prop, key, holder):
                raise conflict(f"Two inputs of this batch have {prop} '{value}'")

    # -- commit -------------------------------------------------------------------------------
    def commit(self, plan: Plan) -> Record:
        now = self._now()
        if plan.record is None:
            record_id = str(self._next)
            self._next += 1
            props = {k: v for k, v in plan.changes.items() if v != ""}
            props.setdefault("createdate", now)
            props["hs_object_id"] = record_id
            props[defaults.LAST_MODIFIED[plan.otype]] = now
            record = Record(record_id, plan.otype, props, now, now)
            self.records[plan.otype][record_id] = record
            self._order[plan.otype].append(int(record_id))
            self._index(record, {}, props)
        else:
            record = plan.record
            before = dict(record.properties)
            for name, value in plan.changes.items():
                if value == "":
                    record.properties.pop(name, None)
                else:
                    record.properties[name] = value
            record.properties[defaults.LAST_MODIFIED[plan.otype]] = now
            record.updated_at = now
            self._index(record, before, record.properties)
        for to_type, to_id, type_id in plan.links:
            self.associate(plan.otype, record.id, to_type, to_id, type_id)
        self.journal.append(
            {
                "op": "create" if plan.record is None else "update",
                "type": plan.otype,
                "id": record.id,
                "properties": dict(plan.changes),
                "associations": [[t, i, n] for t, i, n in plan.links],
            }
        )
        return record

    def _index(self, record: Record, before: dict[str, str], after: dict[str, str]) -> None:
        index = self._unique[record.otype]
        for prop in self.catalog.unique_names(record.otype):
            old, new = before.get(prop), after.get(prop)
            if old == new:
                continue
            if old:
                index.get(prop, {}).pop(unique_key(prop, old), None)
            if new:
                index.setdefault(prop, {})[unique_key(prop, new)] = record.id

    def reindex(self, otype: str) -> None:
        """Rebuild the unique indexes (after a unique property is created)."""
        self._unique[otype] = {}
        for record in self.records[otype].values():
            self._index(record, {}, record.properties)

    def associate(
        self, from_type: str, from_id: str, to_type: str, to_id: str, type_id: int
    ) -> bool:
        """Link both directions; False when the link already existed (a no-op)."""
        forward = self.links.setdefault((from_type, from_id), {}).setdefault(
            (to_type, to_id), set()
        )
        existed = type_id in forward
        forward.add(type_id)
        reverse = self.links.setdefault((to_type, to_id), {}).setdefault(
            (from_type, from_id), set()
        )
        reverse.add(INVERSE_TYPE.get(type_id, type_id))
        return not existed

    # -- dump ---------------------------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for otype, records in self.records.items():
            out[otype] = [
                {
                    "id": r.id,
                    "properties": dict(r.properties),
                    "createdAt": r.created_at,
                    "updatedAt": r.updated_at,
                }
                for r in sorted(records.values(), key=lambda r: int(r.id))
            ]
        out["associations"] = sorted(
            (
                {"fromType": ft, "fromId": fid, "toType": tt, "toId": tid, "associationTypeId": t}
                for (ft, fid), targets in self.links.items()
                for (tt, tid), types in targets.items()
                for t in sorted(types)
            ),
            key=lambda a: (a["fromType"], int(a["fromId"]), int(a["toId"])),
        )
        return out
