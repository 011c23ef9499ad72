"""The repository contract: collectives (numbering, lookups, due digests, deletion) and the
platform spaces they are installed in."""

from __future__ import annotations

import dataclasses

import pytest

from bot.core.model import (
    Alert,
    AuditEvent,
    CheckIn,
    Collective,
    Evidence,
    EvidenceKind,
    Identity,
    LibraryUse,
    LinkCode,
    Member,
    Rallied,
    Response,
    ResponseState,
    Space,
)
from tests.support.builders import (
    T0,
    Uow,
    a_collective,
    a_member,
    an_alert,
    an_entry,
    an_outbox_item,
    at,
    new_id,
    seed,
)


async def test_next_alert_number_counts_per_collective(uow: Uow) -> None:
    a, b = a_collective(), a_collective(alert_seq=41)
    await seed(uow, a, b)
    async with uow() as u:
        assert [await u.collectives.next_alert_number(a.id) for _ in range(3)] == [1, 2, 3]
        assert await u.collectives.next_alert_number(b.id) == 42
        await u.commit()
    async with uow() as u:
        assert await u.collectives.next_alert_number(a.id) == 4
        with pytest.raises(LookupError):
            await u.collectives.next_alert_number("nope")


async def test_saving_a_stale_collective_keeps_the_sequence(uow: Uow) -> None:
    c = a_collective()
    await seed(uow, c)
    async with uow() as u:
        stale = await u.collectives.get(c.id)
        assert stale is not None and stale.alert_seq == 0
        assert await u.collectives.next_alert_number(c.id) == 1
        fresh = await u.collectives.get(c.id)
        assert fresh is not None and fresh.alert_seq == 1
        stale.name = "renamed"
        await u.collectives.save(stale)
        await u.commit()
    async with uow() as u:
        got = await u.collectives.get(c.id)
    assert got is not None and (got.name, got.alert_seq) == ("renamed", 1)


async def test_collective_lookups(uow: Uow) -> None:
    b, a = a_collective(name="b"), a_collective(name="a")
    older_b = a_collective(name="b", created_at=at(-1))
    await seed(uow, b, a, older_b)
    async with uow() as u:
        assert await u.collectives.by_name("b") == older_b  # the oldest of that name
        assert await u.collectives.by_name("B") is None  # names are compared exactly
        assert [c.id for c in await u.collectives.all()] == [a.id, *sorted([b.id, older_b.id])]


async def test_due_digests_are_due_oldest_first(uow: Uow) -> None:
    due, later, never, on_the_dot = (
        a_collective(next_digest_at=at(-5)),
        a_collective(next_digest_at=at(11)),
        a_collective(next_digest_at=None),
        a_collective(next_digest_at=at(10)),
    )
    await seed(uow, due, later, never, on_the_dot)
    async with uow() as u:
        assert await u.collectives.due_digests(at(10), 10) == [due, on_the_dot]
        assert await u.collectives.due_digests(at(10), 1) == [due]
        assert await u.collectives.due_digests(at(-6), 10) == []


async def test_deleting_a_collective_takes_every_row_of_it_and_nothing_else(uow: Uow) -> None:
    async def populate(c: Collective) -> tuple[Member, Member, list[object]]:
        ana, ben = a_member(c, "ana"), a_member(c, "ben")
        alert = an_alert(c, ana, 1)
        entry = an_entry(c, 1)
        rows: list[object] = [
            c,
            Space(new_id(), c.id, "slack", f"T-{c.id}"),
            ana,
            ben,
            Identity(new_id(), ben.id, "slack", f"T-{c.id}", "U2"),
            LinkCode(f"code-{c.id}", ben.id, at(5)),
            alert,
            Response(alert.id, ben.id, ResponseState.ON_IT, frozenset(), at(1), at(1)),
            Rallied(alert.id, ben.id, 1, at(0)),
            CheckIn(new_id(), alert.id, ana.id, at(5)),
            Evidence(new_id(), alert.id, ben.id, at(2), EvidenceKind.NOTE, "n", "0" * 64),
            AuditEvent(new_id(), c.id, T0, None, "x"),
            an_outbox_item(c, key=f"rally:{c.id}"),
            entry,
        ]
        await seed(uow, *rows)
        async with uow() as u:
            assert await u.library.add_use(
                LibraryUse(new_id(), c.id, entry.id, alert.id, ben.id, T0)
            )
            await u.commit()
        return ana, ben, rows

    doomed, kept = a_collective(), a_collective()
    gone_rows = await populate(doomed)
    kept_rows = await populate(kept)
    async with uow() as u:
        await u.collectives.delete(doomed.id)
        await u.commit()

    async def found(c: Collective, ana: Member, ben: Member, rows: list[object]) -> list[object]:
        alert = next(r for r in rows if isinstance(r, Alert))
        checkin = next(r for r in rows if isinstance(r, CheckIn))
        async with uow() as u:
            return [
                await u.collectives.get(c.id),
                await u.spaces.for_collective(c.id),
                await u.members.many([ana.id, ben.id]),
                await u.identities.for_members([ben.id]),
                await u.link_codes.get(f"code-{c.id}"),
                await u.alerts.get(alert.id),
                await u.responses.for_alert(alert.id),
                await u.rallied.for_alert(alert.id),
                await u.checkins.get(checkin.id),
                await u.evidence.for_alert(alert.id),
                await u.audit.recent(c.id, 10),
                await u.outbox.posted(f"rally:{c.id}"),
                await u.library.for_collective(c.id),
                await u.library.most_used(c.id, at(-1), at(1), 5),
            ]

    assert all(not x for x in await found(doomed, *gone_rows))
    assert all(await found(kept, *kept_rows))


async def test_space_lookups_save_and_delete(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, _, _ = world
    other = a_collective()
    slack = Space(new_id(), c.id, "slack", "T1")
    discord = Space(new_id(), c.id, "discord", "G1", rally_channel="1")
    elsewhere = Space(new_id(), other.id, "slack", "T2")
    await seed(uow, other, slack, discord, elsewhere)
    async with uow() as u:
        assert await u.spaces.find("slack", "T1") == slack
        assert await u.spaces.find("slack", "t1") is None
        assert await u.spaces.for_collective(c.id) == [discord, slack]
        slack.rally_channel = "C9"
        await u.spaces.save(slack)
        await u.commit()
    async with uow() as u:
        assert await u.spaces.find("slack", "T1") == slack
        await u.spaces.delete(discord.id)
        await u.spaces.delete("nope")
        await u.commit()
    async with uow() as u:
        assert await u.spaces.get(discord.id) is None
        assert await u.spaces.for_collective(c.id) == [slack]


async def test_removed_spaces_their_deletions_and_channel_checks(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, _, _ = world
    other = a_collective()

    def space(platform: str, **changes: object) -> Space:
        s = Space(new_id(), c.id, platform, new_id())
        return dataclasses.replace(s, **changes)  # type: ignore[arg-type]

    gone_soon = space("slack", removed_at=at(-10), delete_at=at(5))
    gone_later = space("discord", removed_at=at(-10), delete_at=at(30))
    theirs = Space(new_id(), other.id, "slack", "T9", removed_at=at(-1), delete_at=at(1))
    check_due = space("slack", check_at=at(2))
    check_first = space("discord", check_at=at(1))
    check_later = space("slack", check_at=at(20))
    check_removed = space("slack", check_at=at(0), removed_at=at(-1), delete_at=at(60))
    never = space("slack")
    await seed(
        uow,
        other,
        gone_soon,
        gone_later,
        theirs,
        check_due,
        check_first,
        check_later,
        check_removed,
        never,
    )
    async with uow() as u:
        removed = [gone_soon, gone_later, theirs, check_removed]
        assert await u.spaces.removed() == sorted(removed, key=lambda s: s.id)
        assert await u.spaces.due_deletions(at(5), 10) == [theirs, gone_soon]
        assert await u.spaces.due_deletions(at(5), 1) == [theirs]
        assert await u.spaces.due_checks(at(10), 10, ["slack", "discord"]) == [
            check_first,
            check_due,
        ]
        assert await u.spaces.due_checks(at(10), 10, ["slack"]) == [check_due]
        assert await u.spaces.due_checks(at(10), 1, ["slack", "discord"]) == [check_first]
        assert await u.spaces.due_checks(at(10), 10, []) == []
