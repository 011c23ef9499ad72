"""The repository contract: alerts (lookups, the digest's figures, due escalations, purges,
idle alerts and their last activity)."""

from __future__ import annotations

from bot.core.model import (
    AlertStatus,
    CheckIn,
    CheckInStatus,
    CloseReason,
    Collective,
    Evidence,
    EvidenceKind,
    Member,
    Response,
    ResponseState,
)
from bot.core.ports import FirstResponseTimes
from tests.support.builders import (
    Uow,
    a_collective,
    a_member,
    an_alert,
    at,
    new_id,
    seed,
)


async def test_alert_queries(uow: Uow, world: tuple[Collective, Member, Member]) -> None:
    c, target, helper = world
    other = a_collective()
    stranger = a_member(other, "eve")
    one = an_alert(c, target, 1, raised_at=at(0), status=AlertStatus.ACTIVE)
    two = an_alert(c, helper, 2, raised_at=at(10), raised_by_id=target.id)
    three = an_alert(c, target, 3, raised_at=at(20), status=AlertStatus.CLOSED)
    held = an_alert(c, helper, 4, raised_at=at(30), status=AlertStatus.HELD)
    theirs = an_alert(other, stranger, 1, raised_at=at(10))
    await seed(uow, one, two, three, held, other, stranger, theirs)
    async with uow() as u:
        assert await u.alerts.by_number(c.id, 2) == two
        assert await u.alerts.by_number(other.id, 1) == theirs
        assert await u.alerts.by_number(c.id, 9) is None
        assert await u.alerts.lock(two.id) == two
        assert await u.alerts.open_for_collective(c.id) == [one, two, held]
        assert await u.alerts.for_target(target.id) == [one, three]
        assert await u.alerts.raised_by_since(target.id, at(0)) == 3
        assert await u.alerts.raised_by_since(target.id, at(5)) == 2
        assert await u.alerts.raised_by_since(helper.id, at(0)) == 1
        assert await u.alerts.raised_between(c.id, at(0), at(20)) == [one, two]
        assert await u.alerts.raised_between(c.id, at(10), at(30)) == [two, three]
        assert await u.alerts.raised_between(c.id, at(0), at(0)) == []
        many = await u.alerts.many([three.id, "nope", one.id, three.id])
        assert sorted(many, key=lambda a: a.number) == [one, three]
        assert await u.alerts.many([]) == []


async def test_who_raised_alerts_naming_a_link_in_a_window(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, target, helper = world
    other = a_collective()
    stranger = a_member(other, "eve")
    troll, pile = "https://x.example/troll", "https://x.example/pile"
    by_target = an_alert(c, target, 1, raised_at=at(0), links=(troll,))
    by_helper = an_alert(c, helper, 2, raised_at=at(10), raised_by_id=helper.id, links=(pile,))
    late = an_alert(c, helper, 3, raised_at=at(30), raised_by_id=helper.id, links=(troll,))
    theirs = an_alert(other, stranger, 1, raised_at=at(10), links=(troll, pile))
    await seed(uow, by_target, by_helper, late, other, stranger, theirs)
    async with uow() as u:
        assert await u.alerts.raisers_of_links(c.id, frozenset({troll}), at(0), at(20)) == {
            target.id
        }
        both = frozenset({troll, pile})
        assert await u.alerts.raisers_of_links(c.id, both, at(0), at(31)) == {
            target.id,
            helper.id,
        }
        assert await u.alerts.raisers_of_links(c.id, both, at(1), at(30)) == {helper.id}
        assert (
            await u.alerts.raisers_of_links(c.id, frozenset({"https://n.example"}), at(0), at(31))
            == set()
        )


async def test_first_response_times_of_the_alerts_raised_in_a_week(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, target, _ = world
    other = a_collective()
    stranger = a_member(other, "eve")
    quick = an_alert(c, target, 1, raised_at=at(5), activated_at=at(6), first_response_at=at(9))
    unanswered = an_alert(c, target, 2, raised_at=at(1))
    outside = an_alert(c, target, 3, raised_at=at(60))
    await seed(uow, quick, unanswered, outside, other, stranger, an_alert(other, stranger, 1))
    async with uow() as u:
        assert await u.alerts.first_response_times(c.id, at(0), at(60)) == [
            FirstResponseTimes(at(1), None, None),
            FirstResponseTimes(at(5), at(6), at(9)),
        ]
        assert await u.alerts.first_response_times(other.id, at(-1), at(0)) == []


async def test_due_escalations_are_open_due_and_in_order(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, target, _ = world
    active, safety, closed, pending, later, never = (
        an_alert(c, target, 1, status=AlertStatus.ACTIVE, escalate_at=at(5)),
        an_alert(c, target, 2, status=AlertStatus.SAFETY_REVIEW, escalate_at=at(1)),
        an_alert(c, target, 3, status=AlertStatus.CLOSED, escalate_at=at(0)),
        an_alert(c, target, 4, status=AlertStatus.PENDING_CONSENT, escalate_at=at(0)),
        an_alert(c, target, 5, status=AlertStatus.ACTIVE, escalate_at=at(11)),
        an_alert(c, target, 6, status=AlertStatus.ACTIVE, escalate_at=None),
    )
    on_the_dot = an_alert(c, target, 7, status=AlertStatus.ACTIVE, escalate_at=at(10))
    held = an_alert(c, target, 8, status=AlertStatus.HELD, escalate_at=at(3))
    await seed(uow, active, safety, closed, pending, later, never, on_the_dot, held)
    async with uow() as u:
        # A pending consent request's timer is its expiry: due like the others.
        assert await u.alerts.due_escalations(at(10), 10) == [
            pending,
            safety,
            held,
            active,
            on_the_dot,
        ]
        assert await u.alerts.due_escalations(at(10), 2) == [pending, safety]


async def test_closed_alerts_due_for_purge_and_the_forgotten_cases(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, target, _ = world

    def closed(number: int, when: float, reason: CloseReason, **more: object) -> object:
        return an_alert(
            c,
            target,
            number,
            status=AlertStatus.CLOSED,
            closed_at=at(when),
            close_reason=reason,
            **more,
        )

    old = closed(1, 0, CloseReason.RESOLVED)
    older = closed(2, -5, CloseReason.STOOD_DOWN)
    purged = closed(3, -9, CloseReason.RESOLVED, purged_at=at(1))
    recent = closed(4, 10, CloseReason.RESOLVED)
    forgotten = closed(5, -1, CloseReason.FORGOTTEN)
    forgotten_recent = closed(6, 10, CloseReason.FORGOTTEN)
    forgotten_purged = closed(7, -1, CloseReason.FORGOTTEN, purged_at=at(0))
    still_open = an_alert(c, target, 8, closed_at=at(-9))
    await seed(
        uow, old, older, purged, recent, forgotten, forgotten_recent, forgotten_purged, still_open
    )
    async with uow() as u:
        assert await u.alerts.due_purge(at(10), 10) == [older, forgotten, old]
        assert await u.alerts.due_purge(at(10), 1) == [older]
        assert await u.alerts.forgotten_cases(at(10), 10) == [forgotten]
        assert await u.alerts.forgotten_cases(at(-1), 10) == []


async def test_an_alerts_last_activity_and_the_idle_and_noticed_ones(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, ana, ben = world
    answered = an_alert(c, ana, 1, status=AlertStatus.ACTIVE, raised_at=at(0))
    told = an_alert(c, ana, 2, status=AlertStatus.ACTIVE, idle_notice_at=at(3), raised_at=at(1))
    evidenced = an_alert(c, ana, 3, status=AlertStatus.ACTIVE, raised_at=at(2))
    checked = an_alert(c, ana, 4, status=AlertStatus.HELD, raised_at=at(3), kept_open_at=at(4))
    closed = an_alert(
        c, ana, 5, status=AlertStatus.CLOSED, closed_at=at(5), close_reason=CloseReason.RESOLVED
    )
    await seed(
        uow,
        answered,
        told,
        evidenced,
        checked,
        closed,
        Response(answered.id, ben.id, ResponseState.ON_IT, frozenset(), at(1), at(100)),
        Evidence(new_id(), evidenced.id, ben.id, at(50), EvidenceKind.NOTE, "n", "0" * 64),
        CheckIn(new_id(), checked.id, ana.id, at(5), CheckInStatus.ANSWERED, answered_at=at(70)),
    )
    async with uow() as u:
        assert await u.alerts.last_activity(answered.id) == at(100)
        assert await u.alerts.last_activity(told.id) == at(1)
        assert await u.alerts.last_activity(evidenced.id) == at(50)
        assert await u.alerts.last_activity(checked.id) == at(70)
        assert await u.alerts.last_activity("nope") is None
        # told was already told it closes soon; closed is closed.
        assert await u.alerts.idle(at(60), 10) == [evidenced]
        assert await u.alerts.idle(at(200), 10) == [answered, evidenced, checked]
        assert await u.alerts.idle(at(200), 1) == [answered]
        assert await u.alerts.noticed_before(at(4), 10) == [told]
        assert await u.alerts.noticed_before(at(3), 10) == []
