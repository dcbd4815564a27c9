"""One student's records while a group of their events is applied: read once, write once.

The records behind the session are a fake in memory (no network): it counts every call.
"""

from __future__ import annotations

import itertools

from consumer.hubspot.client import HubObject
from consumer.hubspot.session import Session

CODE = "classter_deal_code"


class FakeRecords:
    """HubSpot as a dict of records; every call is logged as (operation, argument)."""

    def __init__(
        self, contacts: tuple[HubObject, ...] = (), deals: tuple[HubObject, ...] = ()
    ) -> None:
        self.contacts = {c.id: c for c in contacts}
        self.deals = {d.id: d for d in deals}
        self.calls: list[tuple[str, object]] = []
        self._ids = itertools.count(900)

    async def contact_by(self, id_property: str, value: str) -> HubObject | None:
        self.calls.append(("contact_by", (id_property, value)))
        return next(
            (c for c in self.contacts.values() if c.properties.get(id_property) == value), None
        )

    async def deal_by_code(self, code: str) -> HubObject | None:
        self.calls.append(("deal_by_code", code))
        return next((d for d in self.deals.values() if d.properties.get(CODE) == code), None)

    async def create_contact(self, properties: dict[str, str]) -> HubObject:
        self.calls.append(("create_contact", dict(properties)))
        made = HubObject(str(next(self._ids)), dict(properties))
        self.contacts[made.id] = made
        return made

    async def update_contact(self, record_id: str, properties: dict[str, str]) -> HubObject:
        self.calls.append(("update_contact", (record_id, dict(properties))))
        return self.contacts[record_id]

    async def create_deal(self, properties: dict[str, str], contact_id: str) -> HubObject:
        self.calls.append(("create_deal", (dict(properties), contact_id)))
        made = HubObject(str(next(self._ids)), dict(properties))
        self.deals[made.id] = made
        return made

    async def update_deal(self, record_id: str, properties: dict[str, str]) -> HubObject:
        self.calls.append(("update_deal", (record_id, dict(properties))))
        return self.deals[record_id]

    async def associate(self, deal_id: str, contact_id: str) -> None:
        self.calls.append(("associate", (deal_id, contact_id)))


def writes(fake: FakeRecords) -> list[tuple[str, object]]:
    return [c for c in fake.calls if c[0] not in ("contact_by", "deal_by_code")]


async def test_a_created_contact_and_its_later_changes_are_one_create() -> None:
    fake = FakeRecords()
    session = Session(fake, deal_code_property=CODE)

    assert await session.contact_by("classter_student_id", "nw:1") is None
    made = await session.create_contact({"classter_student_id": "nw:1", "phone": "1"})
    again = await session.contact_by("classter_student_id", "nw:1")
    assert again is not None
    assert again.id == made.id
    await session.update_contact(made.id, {"phone": "2", "firstname": "Maria"})
    assert writes(fake) == []  # nothing before flush

    await session.flush()

    assert writes(fake) == [
        ("create_contact", {"classter_student_id": "nw:1", "phone": "2", "firstname": "Maria"})
    ]


async def test_each_record_is_read_once_and_a_miss_is_remembered() -> None:
    fake = FakeRecords(contacts=(HubObject("7", {"email": "a@example.org"}),))
    session = Session(fake, deal_code_property=CODE)

    for _ in range(3):
        assert await session.contact_by("classter_student_id", "nw:1") is None
        found = await session.contact_by("email", "a@example.org")
        assert found is not None
        assert await session.deal_by_code("nw:51") is None

    assert len(fake.calls) == 3


async def test_updates_of_an_existing_record_merge_into_one_update_with_the_last_values() -> None:
    fake = FakeRecords(deals=(HubObject("5", {CODE: "nw:51", "dealstage": "a"}),))
    session = Session(fake, deal_code_property=CODE)
    deal = await session.deal_by_code("nw:51")
    assert deal is not None

    await session.update_deal(deal.id, {"dealstage": "b"})
    await session.update_deal(deal.id, {"dealstage": "closedwon", "amount": "3"})
    seen = await session.deal_by_code("nw:51")
    await session.flush()

    assert seen is not None
    assert seen.properties["dealstage"] == "closedwon"
    assert writes(fake) == [("update_deal", ("5", {"dealstage": "closedwon", "amount": "3"}))]
    assert fake.deals["5"].properties["dealstage"] == "a"  # the session changed a copy only


async def test_a_new_deal_is_created_with_its_new_contacts_real_id_and_not_associated_again() -> (
    None
):
    fake = FakeRecords(deals=(HubObject("5", {CODE: "nw:50"}),))
    session = Session(fake, deal_code_property=CODE)
    contact = await session.create_contact({"classter_student_id": "nw:1"})
    new_deal = await session.create_deal({CODE: "nw:51"}, contact.id)
    await session.associate(new_deal.id, contact.id)  # created associated already
    old_deal = await session.deal_by_code("nw:50")
    assert old_deal is not None
    await session.associate(old_deal.id, contact.id)

    await session.flush()

    created = next(c for c in fake.contacts.values() if c.properties.get("classter_student_id"))
    assert writes(fake) == [
        ("create_contact", {"classter_student_id": "nw:1"}),
        ("create_deal", ({CODE: "nw:51"}, created.id)),
        ("associate", ("5", created.id)),
    ]
