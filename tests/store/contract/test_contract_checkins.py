"""The repository contract: check-ins (due ones, a person's batch, a message's group, when
each person was last asked, the digest's week)."""

from __future__ import annotations

from bot.core.model import CheckIn, CheckInStatus, Collective, Member
from tests.support.builders import Uow, a_collective, a_member, an_alert, at, new_id, seed


async def test_due_checkins_are_scheduled_due_and_in_order(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, target, _ = world
    alert = an_alert(c, target, 1)
    late = CheckIn(new_id(), alert.id, target.id, at(9))
    early = CheckIn(new_id(), alert.id, target.id, at(1))
    sent = CheckIn(new_id(), alert.id, target.id, at(0), status=CheckInStatus.SENT)
    future = CheckIn(new_id(), alert.id, target.id, at(11))
    on_the_dot = CheckIn(new_id(), alert.id, target.id, at(10))
    await seed(uow, alert, late, early, sent, future, on_the_dot)
    async with uow() as u:
        assert await u.checkins.due(at(10), 10) == [early, late, on_the_dot]
        assert await u.checkins.due(at(10), 1) == [early]
        assert await u.checkins.for_alert(alert.id) == [sent, early, late, on_the_dot, future]
        early.status = CheckInStatus.SENT
        await u.checkins.save(early)
        assert await u.checkins.due(at(10), 10) == [late, on_the_dot]
        await u.commit()
    async with uow() as u:
        assert await u.checkins.get(early.id) == early


async def test_a_persons_due_check_ins_their_group_and_when_they_were_last_asked(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, target, helper = world
    first, second = an_alert(c, target, 1), an_alert(c, target, 2)
    a = CheckIn(new_id(), first.id, target.id, at(5))
    b = CheckIn(new_id(), second.id, target.id, at(1))
    later = CheckIn(new_id(), second.id, target.id, at(50))
    theirs = CheckIn(new_id(), first.id, helper.id, at(1))
    asked = CheckIn(
        new_id(), first.id, target.id, at(0), CheckInStatus.SENT, sent_at=at(3), group_id="g1"
    )
    older = CheckIn(
        new_id(), second.id, target.id, at(0), CheckInStatus.SENT, sent_at=at(2), group_id="g1"
    )
    await seed(uow, first, second, a, b, later, theirs, asked, older)
    async with uow() as u:
        assert await u.checkins.scheduled_for([target.id], at(10)) == [b, a]
        both = await u.checkins.scheduled_for([target.id, helper.id], at(10))
        assert both == sorted([theirs, b, a], key=lambda ch: (ch.due_at, ch.id))
        assert await u.checkins.scheduled_for([], at(10)) == []
        group = await u.checkins.in_group("g1")
        assert group == sorted([asked, older], key=lambda ch: (ch.due_at, ch.id))
        assert await u.checkins.in_group("nope") == []
        last = await u.checkins.last_sent([target.id, helper.id])
        assert last == {target.id: at(3)}
        assert last[target.id].tzinfo is not None
        assert await u.checkins.last_sent([]) == {}


async def test_the_check_ins_that_fell_due_in_a_week(uow: Uow) -> None:
    c, other = a_collective(), a_collective()
    ana, eve = a_member(c, "ana"), a_member(other, "eve")
    one, theirs = an_alert(c, ana, 1), an_alert(other, eve, 1)
    inside = CheckIn(new_id(), one.id, ana.id, at(30), CheckInStatus.SENT, sent_at=at(30))
    first = CheckIn(new_id(), one.id, ana.id, at(0))
    at_the_end = CheckIn(new_id(), one.id, ana.id, at(60))
    before = CheckIn(new_id(), one.id, ana.id, at(-1))
    elsewhere = CheckIn(new_id(), theirs.id, eve.id, at(10))
    await seed(uow, c, other, ana, eve, one, theirs, inside, first, at_the_end, before, elsewhere)
    async with uow() as u:
        assert await u.checkins.due_between(c.id, at(0), at(60)) == [first, inside]
        assert await u.checkins.due_between(other.id, at(0), at(60)) == [elsewhere]
