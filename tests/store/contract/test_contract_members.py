"""The repository contract: members, the names a unit of work has seen, their platform
identities and link codes."""

from __future__ import annotations

import pytest

from bot.core.model import (
    CheckIn,
    Collective,
    Identity,
    LinkCode,
    Member,
    MemberStatus,
    Response,
    ResponseState,
)
from tests.support.builders import (
    Uow,
    a_collective,
    a_member,
    an_alert,
    at,
    new_id,
    seed,
)


async def test_for_collective_leaves_out_the_forgotten_and_sorts_by_handle(uow: Uow) -> None:
    c, other = a_collective(), a_collective()
    members = [a_member(c, h) for h in ("mo", "al", "zoe")]
    forgotten = a_member(c, "zed", status=MemberStatus.FORGOTTEN)
    suspended = a_member(c, "yan", status=MemberStatus.SUSPENDED)
    pending = a_member(c, "bo", status=MemberStatus.PENDING)
    await seed(uow, c, other, *members, forgotten, suspended, pending, a_member(other, "cy"))
    async with uow() as u:
        got = await u.members.for_collective(c.id)
    assert [m.handle for m in got] == ["al", "bo", "mo", "yan", "zoe"]


async def test_member_lookups(uow: Uow, world: tuple[Collective, Member, Member]) -> None:
    c, target, helper = world
    async with uow() as u:
        assert await u.members.by_handle(c.id, "ben") == helper
        assert await u.members.by_handle(c.id, "Ben") is None  # handles compare exactly
        assert await u.members.by_handle("nope", "ben") is None
        assert await u.members.many([helper.id, "nope", target.id, helper.id]) == [helper, target]
        assert await u.members.many([]) == []
        locked = await u.members.lock_many([helper.id, "nope", target.id, helper.id])
        assert locked == sorted([helper, target], key=lambda m: m.id)  # in id order
        assert await u.members.lock_many([]) == []


async def test_marking_a_wave_rallied_updates_members_already_read(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    _, target, helper = world
    async with uow() as u:
        before = await u.members.get(helper.id)
        assert before is not None and before.last_rallied_at is None
        await u.members.mark_rallied([helper.id, "nope"], at(5))
        await u.members.mark_rallied([], at(6))
        after = await u.members.get(helper.id)
        assert after is not None and after.last_rallied_at == at(5)
        await u.commit()
    async with uow() as u:
        assert [m.last_rallied_at for m in await u.members.many([target.id, helper.id])] == [
            None,
            at(5),
        ]


async def test_a_unit_of_work_knows_the_names_it_read_or_wrote(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, ana, ben = world
    gone = a_member(c, "gus", status=MemberStatus.FORGOTTEN)
    await seed(uow, gone)
    async with uow() as u:
        assert u.members.seen() == {}  # each transaction starts with nothing read
        await u.members.get(ana.id)
        await u.members.get(gone.id)
        assert u.members.seen() == {ana.id: "Ana"}
        zoe = a_member(c, "zoe", status=MemberStatus.PENDING)
        await u.members.add(zoe)
        assert u.members.seen() == {ana.id: "Ana", zoe.id: "Zoe"}
        names = await u.members.display_names([ben.id, gone.id, "nope"])
        assert names == {ben.id: "Ben"}  # the forgotten are left out
        assert await u.members.display_names([]) == {}
        assert u.members.seen() == {ana.id: "Ana", zoe.id: "Zoe", ben.id: "Ben"}
        ana.status = MemberStatus.FORGOTTEN
        await u.members.save(ana)
        assert u.members.seen() == {zoe.id: "Zoe", ben.id: "Ben"}
        await u.members.delete(zoe.id)
        assert u.members.seen() == {ben.id: "Ben"}
    async with uow() as u:
        assert u.members.seen() == {}


async def test_the_digests_people_joined_in_the_week_or_waiting(uow: Uow) -> None:
    c, other = a_collective(), a_collective()
    rows = [
        a_member(c, "ana", display_name="Zora", joined_at=at(0)),
        a_member(c, "ben", display_name="Abe", joined_at=at(59)),
        a_member(c, "cy", joined_at=at(60)),  # the week's end is left out
        a_member(c, "dee", joined_at=at(-1)),
        a_member(c, "eve", status=MemberStatus.PENDING, joined_at=at(-500)),
        a_member(c, "fay", status=MemberStatus.PENDING, display_name="Ada", joined_at=at(10)),
        a_member(c, "gus", status=MemberStatus.FORGOTTEN, joined_at=at(1)),
        a_member(c, "hal", status=MemberStatus.SUSPENDED, joined_at=at(1)),
        a_member(other, "ivy", joined_at=at(1)),
    ]
    await seed(uow, c, other, *rows)
    async with uow() as u:
        joined, waiting = await u.members.digest_people(c.id, at(0), at(60))
        assert (joined, waiting) == (["Abe", "Zora"], ["Ada", "Eve"])
        assert set(u.members.seen().values()) == {"Abe", "Zora", "Ada", "Eve"}


async def test_expired_join_requests_oldest_first(uow: Uow) -> None:
    c = a_collective()
    old, older, fresh = (
        a_member(c, "old", status=MemberStatus.PENDING, joined_at=at(-10)),
        a_member(c, "older", status=MemberStatus.PENDING, joined_at=at(-20)),
        a_member(c, "fresh", status=MemberStatus.PENDING, joined_at=at(0)),
    )
    active = a_member(c, "act", joined_at=at(-30))
    await seed(uow, c, old, older, fresh, active)
    async with uow() as u:
        assert await u.members.expired_requests(at(0), 5) == [older, old]  # at(0) is not before
        assert await u.members.expired_requests(at(0), 1) == [older]
        assert await u.members.expired_requests(at(-20), 5) == []


async def test_deleting_a_request_takes_its_identities_and_codes_and_an_alert_refuses(
    uow: Uow, world: tuple[Collective, Member, Member], refused: type[Exception]
) -> None:
    c, ana, _ = world
    zoe = a_member(c, "zoe", status=MemberStatus.PENDING)
    await seed(
        uow,
        zoe,
        Identity(new_id(), zoe.id, "console", "local", "zoe"),
        LinkCode("zoe-code", zoe.id, at(5)),
        an_alert(c, ana, 1),
    )
    async with uow() as u:
        await u.members.delete(zoe.id)
        await u.commit()
    async with uow() as u:
        assert await u.members.get(zoe.id) is None
        assert await u.identities.for_members([zoe.id]) == []
        assert await u.link_codes.get("zoe-code") is None
    with pytest.raises(refused):  # an alert points at ana: the foreign key refuses
        async with uow() as u:
            await u.members.delete(ana.id)
    async with uow() as u:
        assert await u.members.get(ana.id) == ana


async def test_identities(uow: Uow, world: tuple[Collective, Member, Member]) -> None:
    c, target, helper = world
    other = a_collective()
    stranger = a_member(other, "eve")
    slack = Identity(new_id(), target.id, "slack", "T1", "U1")
    discord = Identity(new_id(), target.id, "discord", "G1", "1")
    theirs = Identity(new_id(), helper.id, "slack", "T1", "U2")
    elsewhere = Identity(new_id(), stranger.id, "slack", "T1", "U3")
    await seed(uow, other, stranger, slack, discord, theirs, elsewhere)
    async with uow() as u:
        assert await u.identities.find("slack", "T1", "U2") == theirs
        assert await u.identities.find("slack", "T1", "u2") is None
        assert await u.identities.for_members([target.id]) == [discord, slack]
        assert len(await u.identities.for_members([target.id, helper.id])) == 3
        assert await u.identities.for_members([]) == []
        in_t1 = await u.identities.in_workspace(c.id, "slack", "T1")
        assert in_t1 == sorted([slack, theirs], key=lambda i: (i.member_id, i.id))
        assert await u.identities.in_workspace(c.id, "slack", "T2") == []
        assert await u.identities.delete([slack.id, "nope", discord.id]) == 2
        assert await u.identities.delete([]) == 0
        assert await u.identities.for_members([target.id]) == []


async def test_delete_for_member_counts_what_it_removed(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, target, helper = world
    alert, other_alert = an_alert(c, target, 1), an_alert(c, target, 2)
    await seed(
        uow,
        alert,
        other_alert,
        Identity(new_id(), helper.id, "slack", "T1", "U2"),
        Identity(new_id(), helper.id, "discord", "G1", "2"),
        Identity(new_id(), target.id, "slack", "T1", "U1"),
        LinkCode("one", helper.id, at(5)),
        LinkCode("two", helper.id, at(5)),
        LinkCode("three", target.id, at(5)),
        Response(alert.id, helper.id, ResponseState.ON_IT, frozenset(), at(1), at(1)),
        Response(other_alert.id, helper.id, ResponseState.CANT, frozenset(), at(1), at(1)),
        Response(alert.id, target.id, ResponseState.ON_IT, frozenset(), at(1), at(1)),
        CheckIn(new_id(), alert.id, helper.id, at(5)),
        CheckIn(new_id(), alert.id, target.id, at(5)),
    )
    async with uow() as u:
        assert await u.identities.delete_for_member(helper.id) == 2
        assert await u.link_codes.delete_for_member(helper.id) == 2
        assert await u.responses.delete_for_member(helper.id) == 2
        assert await u.checkins.delete_for_member(helper.id) == 1
        assert await u.identities.delete_for_member(helper.id) == 0
        await u.link_codes.delete("three")
        await u.link_codes.delete("nope")
        await u.commit()
    async with uow() as u:
        assert await u.identities.for_members([helper.id]) == []
        assert len(await u.identities.for_members([target.id])) == 1
        assert await u.link_codes.get("one") is None and await u.link_codes.get("three") is None
        assert [r.member_id for r in await u.responses.for_alert(alert.id)] == [target.id]
        assert [x.member_id for x in await u.checkins.for_alert(alert.id)] == [target.id]


async def test_expired_link_codes_go(uow: Uow, world: tuple[Collective, Member, Member]) -> None:
    _, ana, ben = world
    await seed(
        uow,
        LinkCode("past", ana.id, at(-1)),
        LinkCode("now", ben.id, at(0)),
        LinkCode("later", ana.id, at(1)),
    )
    async with uow() as u:
        assert await u.link_codes.delete_expired(at(0)) == 2  # expiring now counts
        assert await u.link_codes.get("later") == LinkCode("later", ana.id, at(1))
        assert await u.link_codes.get("now") is None
