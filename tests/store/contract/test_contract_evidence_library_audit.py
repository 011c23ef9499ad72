"""The repository contract: evidence kept with an alert, the message library with its use
records, and the audit log."""

from __future__ import annotations

import dataclasses

from bot.core.model import (
    AuditEvent,
    Collective,
    Evidence,
    EvidenceKind,
    LibraryUse,
    Member,
)
from tests.support.builders import Uow, an_alert, an_entry, at, new_id, seed


async def test_evidence_and_audit(uow: Uow, world: tuple[Collective, Member, Member]) -> None:
    c, target, helper = world
    alert, other = an_alert(c, target, 1), an_alert(c, target, 2)
    e1 = Evidence(new_id(), alert.id, helper.id, at(2), EvidenceKind.LINK, "https://x", "0" * 64)
    e2 = Evidence(new_id(), alert.id, target.id, at(1), EvidenceKind.NOTE, "note", "1" * 64)
    e3 = Evidence(new_id(), other.id, helper.id, at(1), EvidenceKind.NOTE, "kept", "2" * 64)
    events = [AuditEvent(new_id(), c.id, at(i), None, f"e{i}") for i in range(5)]
    await seed(uow, alert, other, e1, e2, e3, *events)
    async with uow() as u:
        assert await u.evidence.for_alert(alert.id) == [e2, e1]
        assert await u.evidence.anonymise_author(helper.id, "former-member") == 2
        assert [e.added_by_id for e in await u.evidence.for_alert(alert.id)] == [
            target.id,
            "former-member",
        ]
        assert await u.audit.recent(c.id, 2) == [events[4], events[3]]
        assert await u.audit.recent("nope", 2) == []
        assert await u.evidence.delete_for_alert(alert.id) == 2
        assert await u.evidence.for_alert(alert.id) == []
        assert [e.content for e in await u.evidence.for_alert(other.id)] == ["kept"]


async def test_library_entries_round_trip_and_count_uses_once(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, ana, ben = world
    alert = an_alert(c, ana, 1)
    first, second = an_entry(c, 1, added_by_id=ben.id), an_entry(c, 2, approved_by_id=ben.id)
    await seed(uow, alert)
    async with uow() as u:
        assert await u.library.next_number(c.id) == 1
        await u.library.add(first)
        await u.library.add(second)
        assert await u.library.next_number(c.id) == 3
        await u.commit()
    async with uow() as u:
        assert await u.library.get(first.id) == first  # sources keep their order
        assert await u.library.by_number(c.id, 2) == second
        assert [e.number for e in await u.library.for_collective(c.id)] == [1, 2]
        use = LibraryUse(new_id(), c.id, first.id, alert.id, ben.id, at(1))
        assert await u.library.add_use(use)
        again = dataclasses.replace(use, id=new_id(), at=at(2))
        assert not await u.library.add_use(again)  # once per entry, alert and person
        assert await u.library.add_use(
            LibraryUse(new_id(), c.id, first.id, alert.id, ana.id, at(3))
        )
        assert await u.library.add_use(
            LibraryUse(new_id(), c.id, second.id, alert.id, ana.id, at(9))
        )
        await u.commit()
    async with uow() as u:
        stale = await u.library.get(first.id)
        assert stale is not None and stale.uses == 2
        stale.uses = 0  # a copy read before a use must not undo it when saved
        stale.text = "New words."
        await u.library.save(stale)
        await u.commit()
    async with uow() as u:
        saved = await u.library.get(first.id)
        assert saved is not None and saved.uses == 2 and saved.text == "New words."
        ranked = await u.library.most_used(c.id, at(0), at(5), 10)
        assert [(e.number, n) for e, n in ranked] == [(1, 2)]  # the use at 9 is outside
        assert [(e.number, n) for e, n in await u.library.most_used(c.id, at(0), at(10), 1)] == [
            (1, 2)
        ]
        assert await u.library.forget_member(ben.id) == 3  # added m1, approved m2, one use
        await u.commit()
    async with uow() as u:
        rows = await u.library.for_collective(c.id)
        assert all(ben.id not in (e.added_by_id, e.approved_by_id) for e in rows)
        await u.library.delete(first.id)
        await u.commit()
    async with uow() as u:
        assert [e.number for e in await u.library.for_collective(c.id)] == [2]
        assert [(e.number, n) for e, n in await u.library.most_used(c.id, at(0), at(10), 5)] == [
            (2, 1)
        ]
        assert await u.library.next_number(c.id) == 3


async def test_an_entry_added_and_approved_by_one_person_is_forgotten_once_per_column(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, _, ben = world
    entry = an_entry(c, 1, added_by_id=ben.id, approved_by_id=ben.id)
    await seed(uow, entry)
    async with uow() as u:
        # SQL counts an UPDATE per column: the entry twice.
        assert await u.library.forget_member(ben.id) == 2
        got = await u.library.get(entry.id)
        assert got is not None and (got.added_by_id, got.approved_by_id) == (None, None)
