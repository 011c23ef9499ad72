"""The repository contract: responses (one row per responder, tallies, the digest's counts,
reminders) and who was rallied to an alert."""

from __future__ import annotations

from bot.core.model import (
    Action,
    AlertStatus,
    Collective,
    Member,
    Rallied,
    Response,
    ResponseState,
)
from tests.support.builders import Uow, a_collective, a_member, an_alert, at, seed


async def test_response_save_keeps_one_row_per_responder(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, target, helper = world
    alert = an_alert(c, target, 1)
    on_it = Response(alert.id, helper.id, ResponseState.ON_IT, frozenset(), at(1), at(1))
    done = Response(
        alert.id, helper.id, ResponseState.DONE, frozenset({Action.REPORTED}), at(1), at(7)
    )
    await seed(uow, alert, on_it)
    async with uow() as u:
        assert await u.responses.get(alert.id, helper.id) == on_it
        await u.responses.save(done)
        assert await u.responses.get(alert.id, helper.id) == done
        assert await u.responses.for_alert(alert.id) == [done]
        await u.commit()
    async with uow() as u:
        assert await u.responses.for_alerts([alert.id, "nope"]) == [done]
        assert await u.responses.for_alerts([]) == []
        counts, _ = await u.responses.tally(alert.id, 5)
        assert sum(counts.values()) == 1


async def test_responses_for_several_alerts(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, target, helper = world
    one, two = an_alert(c, target, 1), an_alert(c, target, 2)
    r1 = Response(one.id, helper.id, ResponseState.ON_IT, frozenset(), at(2), at(2))
    r2 = Response(one.id, target.id, ResponseState.CANT, frozenset(), at(1), at(1))
    r3 = Response(two.id, helper.id, ResponseState.ON_IT, frozenset(), at(0), at(0))
    await seed(uow, one, two, r1, r2, r3)
    async with uow() as u:
        got = await u.responses.for_alerts([one.id, two.id])
    assert got == sorted([r1, r2, r3], key=lambda r: (r.alert_id, r.first_at, r.member_id))


async def test_a_tally_counts_each_state_and_names_the_first_helpers(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, target, helper = world
    alert, other = an_alert(c, target, 1), an_alert(c, target, 2)
    people = [a_member(c, f"p{n}") for n in range(4)]
    states = [ResponseState.DONE, ResponseState.CANT, ResponseState.ON_IT, ResponseState.ON_IT]
    rows = [
        Response(alert.id, p.id, state, frozenset(), at(9 - n), at(9 - n))
        for n, (p, state) in enumerate(zip(people, states, strict=True))
    ]
    elsewhere = Response(other.id, helper.id, ResponseState.ON_IT, frozenset(), at(0), at(0))
    await seed(uow, *people, alert, other, *rows, elsewhere)
    async with uow() as u:
        counts, named = await u.responses.tally(alert.id, 2)
        assert await u.responses.tally("nope", 2) == (dict.fromkeys(ResponseState, 0), [])
    assert counts == {ResponseState.ON_IT: 2, ResponseState.DONE: 1, ResponseState.CANT: 1}
    # The first two helpers by when they answered ("can't" is counted, never named).
    assert named == [rows[3], rows[2]]


async def test_the_weeks_first_answers_and_help_per_member(uow: Uow) -> None:
    c, other = a_collective(), a_collective()
    ana, ben, cy = a_member(c, "ana"), a_member(c, "ben"), a_member(c, "cy")
    eve = a_member(other, "eve")
    one, two = an_alert(c, ana, 1), an_alert(c, ana, 2)
    theirs = an_alert(other, eve, 1)

    def response(alert_id: str, member: Member, state: ResponseState, first: float) -> Response:
        return Response(alert_id, member.id, state, frozenset(), at(first), at(first + 100))

    rows = [
        response(one.id, ben, ResponseState.ON_IT, 5),
        response(two.id, ben, ResponseState.DONE, 1),
        response(one.id, cy, ResponseState.CANT, 2),
        response(two.id, cy, ResponseState.ON_IT, 60),  # the week's end is left out
        response(one.id, ana, ResponseState.DONE, -1),  # before the week
        response(theirs.id, eve, ResponseState.ON_IT, 3),
    ]
    await seed(uow, c, other, ana, ben, cy, eve, one, two, theirs, *rows)
    async with uow() as u:
        assert await u.responses.first_between(c.id, at(0), at(60)) == [rows[1], rows[2], rows[0]]
        assert await u.responses.helping_per_member(c.id, at(0), at(60)) == {ben.id: 2}
        assert await u.responses.helping_per_member(c.id, at(60), at(61)) == {cy.id: 1}
        assert await u.responses.first_between(c.id, at(61), at(90)) == []


async def test_due_reminders_are_still_on_it_on_active_alerts_and_not_yet_reminded(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, ana, ben = world
    cy, dee = a_member(c, "cy"), a_member(c, "dee")
    active = an_alert(c, ana, 1, status=AlertStatus.ACTIVE)
    review = an_alert(c, ana, 2, status=AlertStatus.SAFETY_REVIEW)

    def on_it(alert_id: str, member: Member, updated: float, **more: object) -> Response:
        return Response(
            alert_id, member.id, ResponseState.ON_IT, frozenset(), at(0), at(updated), **more
        )  # type: ignore[arg-type]

    stale = on_it(active.id, ben, 5)
    staler = on_it(active.id, cy, 1)
    reminded = on_it(active.id, dee, 1, reminded_at=at(2))
    fresh = on_it(active.id, ana, 10)
    elsewhere = on_it(review.id, ben, 1)
    done = Response(review.id, cy.id, ResponseState.DONE, frozenset(), at(0), at(1))
    await seed(uow, cy, dee, active, review, stale, staler, reminded, fresh, elsewhere, done)
    async with uow() as u:
        assert await u.responses.due_reminders(at(10), 10) == [staler, stale]
        assert await u.responses.due_reminders(at(10), 1) == [staler]
        assert await u.responses.due_reminders(at(1), 10) == []


async def test_rallied_in_waves(uow: Uow, world: tuple[Collective, Member, Member]) -> None:
    c, target, helper = world
    alert = an_alert(c, target, 1)
    await seed(uow, alert)
    second = Rallied(alert.id, target.id, 2, at(20))
    first = Rallied(alert.id, helper.id, 1, at(0))
    async with uow() as u:
        await u.rallied.add_many([second, first])
        await u.rallied.add_many([])
        await u.commit()
    async with uow() as u:
        assert await u.rallied.for_alert(alert.id) == [first, second]
        assert await u.rallied.for_alert("nope") == []
