"""One student's HubSpot records while several of their pending events are applied together.

Owns: ``Records`` (the per-record operations of the pipeline's ``Crm``: ``Gateway`` writes
through, ``Session`` defers) and ``Session``: it reads each record once (by ``classter_student_id``,
e-mail or deal code), answers later lookups from what it read and what the earlier events of
the group would have written, and merges every write of the group into one write per record:
one create (or one update) of the contact, one per deal, one association per pair. ``flush``
sends them in dependency order (contacts, then deals that need their contact's id, then
associations). Must not: decide what an event means (the pipeline does) or retry.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Protocol

from consumer.hubspot.client import HubObject

_NEW = "new:"  # prefix of ids of records this session will create


class Records(Protocol):
    async def contact_by(self, id_property: str, value: str) -> HubObject | None: ...
    async def deal_by_code(self, code: str) -> HubObject | None: ...
    async def create_contact(self, properties: dict[str, str]) -> HubObject: ...
    async def update_contact(self, record_id: str, properties: dict[str, str]) -> HubObject: ...
    async def create_deal(self, properties: dict[str, str], contact_id: str) -> HubObject: ...
    async def update_deal(self, record_id: str, properties: dict[str, str]) -> HubObject: ...
    async def associate(self, deal_id: str, contact_id: str) -> None: ...


def _norm(value: str | None, id_property: str) -> str | None:
    if value is None:
        return None
    return value.strip().lower() if id_property == "email" else value


def _values(record: HubObject) -> dict[str, str]:
    return {k: v for k, v in record.properties.items() if v is not None}


@dataclass
class _Kind:
    """Known records of one object type: what HubSpot holds plus this group's pending writes."""

    records: dict[str, HubObject] = field(default_factory=dict)  # by id (or provisional id)
    asked: set[tuple[str, str]] = field(default_factory=set)  # lookups already sent
    updates: dict[str, dict[str, str]] = field(default_factory=dict)  # existing id -> changes
    links: dict[str, str] = field(default_factory=dict)  # provisional deal id -> contact id

    def find(self, id_property: str, value: str) -> HubObject | None:
        for record in self.records.values():
            if _norm(record.properties.get(id_property), id_property) == value:
                return record
        return None

    def keep(self, found: HubObject) -> HubObject:
        if found.id not in self.records:
            # a copy: the batch layer may hand the same object to other students' lookups
            self.records[found.id] = HubObject(found.id, dict(found.properties))
        return self.records[found.id]

    def change(self, record_id: str, properties: dict[str, str]) -> HubObject:
        record = self.records[record_id]
        record.properties.update(properties)
        if not record_id.startswith(_NEW):
            self.updates.setdefault(record_id, {}).update(properties)
        return record


class Session:
    """``Records`` for one student's group of events; nothing reaches HubSpot before ``flush``."""

    def __init__(self, gateway: Records, *, deal_code_property: str) -> None:
        self._gw = gateway
        self._code = deal_code_property
        self._contacts = _Kind()
        self._deals = _Kind()
        self._associations: dict[tuple[str, str], None] = {}
        self._ids = itertools.count(1)

    async def contact_by(self, id_property: str, value: str) -> HubObject | None:
        known = self._contacts.find(id_property, value)
        if known is not None or (id_property, value) in self._contacts.asked:
            return known
        self._contacts.asked.add((id_property, value))
        found = await self._gw.contact_by(id_property, value)
        return None if found is None else self._contacts.keep(found)

    async def deal_by_code(self, code: str) -> HubObject | None:
        known = self._deals.find(self._code, code)
        if known is not None or (self._code, code) in self._deals.asked:
            return known
        self._deals.asked.add((self._code, code))
        found = await self._gw.deal_by_code(code)
        return None if found is None else self._deals.keep(found)

    def _new(self, kind: _Kind, properties: dict[str, str]) -> HubObject:
        record = HubObject(f"{_NEW}{next(self._ids)}", dict(properties))
        kind.records[record.id] = record
        return record

    async def create_contact(self, properties: dict[str, str]) -> HubObject:
        return self._new(self._contacts, properties)

    async def update_contact(self, record_id: str, properties: dict[str, str]) -> HubObject:
        return self._contacts.change(record_id, properties)

    async def create_deal(self, properties: dict[str, str], contact_id: str) -> HubObject:
        record = self._new(self._deals, properties)
        self._deals.links[record.id] = contact_id
        return record

    async def update_deal(self, record_id: str, properties: dict[str, str]) -> HubObject:
        return self._deals.change(record_id, properties)

    async def associate(self, deal_id: str, contact_id: str) -> None:
        if self._deals.links.get(deal_id) != contact_id:  # a new deal is created associated
            self._associations[(deal_id, contact_id)] = None

    @property
    def writes(self) -> int:
        """How many writes ``flush`` will send."""
        created = sum(r.startswith(_NEW) for k in (self._contacts, self._deals) for r in k.records)
        updated = len(self._contacts.updates) + len(self._deals.updates)
        return created + updated + len(self._associations)

    async def flush(self) -> None:
        """Send the merged writes; HubSpot's errors propagate (the pipeline decides)."""
        real: dict[str, str] = {}
        for record_id, record in self._contacts.records.items():
            if record_id.startswith(_NEW):
                real[record_id] = (await self._gw.create_contact(_values(record))).id
        for record_id, changes in self._contacts.updates.items():
            await self._gw.update_contact(record_id, changes)
        for record_id, record in self._deals.records.items():
            if record_id.startswith(_NEW):
                contact = self._deals.links[record_id]
                created = await self._gw.create_deal(_values(record), real.get(contact, contact))
                real[record_id] = created.id
        for record_id, changes in self._deals.updates.items():
            await self._gw.update_deal(record_id, changes)
        for deal_id, contact_id in self._associations:
            await self._gw.associate(real.get(deal_id, deal_id), real.get(contact_id, contact_id))
