"""The repository contract, part one: a unit of work's transaction, round trips of every
entity, and the keys and unique values each store refuses to repeat."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from bot.core.model import (
    Action,
    AlertStatus,
    AuditEvent,
    Channel,
    CheckIn,
    CheckInAnswer,
    CheckInStatus,
    CloseReason,
    Collective,
    EntryStatus,
    Evidence,
    EvidenceKind,
    Help,
    Identity,
    Kind,
    LinkCode,
    Member,
    MemberStatus,
    OutboxStatus,
    Rallied,
    Response,
    ResponseState,
    Role,
    Severity,
    Space,
    Venue,
    Visibility,
)
from tests.support.builders import (
    CEST,
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


async def test_every_entity_round_trips_with_every_field_set(uow: Uow) -> None:
    c = a_collective(alert_seq=7, created_at=datetime(2025, 3, 1, 14, 0, 0, 123456, tzinfo=CEST))
    space = Space(new_id(), c.id, "slack", "T1", rally_channel="C1", leads_channel="C2")
    target = a_member(
        c,
        "ana",
        status=MemberStatus.SUSPENDED,
        roles=frozenset({Role.LEAD, Role.SAFETY_LEAD, Role.RESPONDER}),
        available=False,
        paused_until=at(60),
        quiet_start=22 * 60,
        quiet_end=7 * 60,
        timezone="Europe/Paris",
        skills=frozenset({"counter", "report", "document"}),
        prefers_dm=True,
        preferred_platform="discord",
        last_rallied_at=at(5),
    )
    helper = a_member(c, "ben")
    identity = Identity(new_id(), target.id, "discord", "G1", "123456789012345678")
    code = LinkCode("ABC-123", target.id, at(15))
    alert = an_alert(
        c,
        target,
        1,
        raised_by_id=helper.id,
        links=("https://x.example/b", "https://x.example/a"),
        kinds=frozenset({Kind.THREAT, Kind.DOXXING}),
        severity=Severity.CRITICAL,
        help_wanted=frozenset({Help.REPORT, Help.DOCUMENT, Help.QUIET}),
        visibility=Visibility.LEADS,
        venue=Venue.REVIEW_SITE,
        target_post="https://x.example/own",
        note="they found my clinic address",
        anonymous=True,
        status=AlertStatus.CLOSED,
        consented_at=at(1),
        activated_at=at(2),
        first_response_at=at(3),
        escalation_step=2,
        escalate_at=at(40),
        last_escalated_at=at(20),
        safety_lead_id=target.id,
        safety_lead_ok=True,
        target_ok=True,
        delegates=frozenset({helper.id, "someone"}),
        checkins_paused=True,
        closed_at=at(90),
        close_reason=CloseReason.RESOLVED,
        closed_by_id=target.id,
        idle_notice_at=at(80),
        kept_open_at=at(70),
    )
    response = Response(
        alert.id, helper.id, ResponseState.DONE, frozenset(Action), first_at=at(3), updated_at=at(9)
    )
    rallied = Rallied(alert.id, helper.id, 2, at(2))
    checkin = CheckIn(
        new_id(),
        alert.id,
        target.id,
        due_at=at(1440),
        status=CheckInStatus.ANSWERED,
        sent_at=at(1441),
        answer=CheckInAnswer.NEED_HELP,
        answered_at=at(1450),
    )
    evidence = Evidence(new_id(), alert.id, helper.id, at(4), EvidenceKind.CASE, "X-42", "ab" * 32)
    event = AuditEvent(
        new_id(), c.id, at(4), helper.id, "alert.raise", alert.id, target.id, {"k": "v"}
    )
    item = an_outbox_item(
        c,
        status=OutboxStatus.SENT,
        attempts=3,
        ref="1700000000.000100",
        sent_at=at(1),
        last_error="429",
        payload={"nested": {"list": [1, "two", None, True]}, "channel": Channel.RALLY.value},
        about=(target.id, helper.id),
    )
    entry = an_entry(
        c,
        1,
        added_by_id=helper.id,
        status=EntryStatus.APPROVED,
        approved_by_id=target.id,
        approved_at=at(6),
        uses=4,
    )
    await seed(
        uow, c, space, target, helper, identity, code, alert, response, rallied, checkin, evidence
    )
    await seed(uow, event, item, entry)

    async with uow() as u:
        got_collective = await u.collectives.get(c.id)
        assert got_collective == c
        assert await u.spaces.get(space.id) == space
        assert await u.members.get(target.id) == target
        assert await u.identities.find("discord", "G1", "123456789012345678") == identity
        assert await u.link_codes.get(code.code) == code
        got = await u.alerts.get(alert.id)
        assert got == alert
        assert await u.responses.get(alert.id, helper.id) == response
        assert await u.rallied.for_alert(alert.id) == [rallied]
        assert await u.checkins.get(checkin.id) == checkin
        assert await u.evidence.for_alert(alert.id) == [evidence]
        assert await u.audit.recent(c.id, 10) == [event]
        assert await u.outbox.posted(item.key) == [item]
        assert await u.library.get(entry.id) == entry  # sources keep their order

    # Times come back in UTC, whatever zone they were written in.
    assert got_collective is not None and got_collective.created_at.tzinfo is UTC
    assert got is not None
    assert got.raised_at.tzinfo is UTC and got.closed_at is not None
    assert got.closed_at.tzinfo is UTC
    assert isinstance(got.kinds, frozenset) and isinstance(got.links, tuple)
    assert got.links == ("https://x.example/b", "https://x.example/a")  # order kept
    assert all(type(k) is Kind for k in got.kinds)
    assert type(got.close_reason) is CloseReason


async def test_defaults_and_nones_round_trip(uow: Uow) -> None:
    c = a_collective()
    space = Space(new_id(), c.id, "console", "local")
    m = a_member(c, "ana")
    alert = an_alert(c, m, 1, links=(), kinds=frozenset(), help_wanted=frozenset())
    checkin = CheckIn(new_id(), alert.id, m.id, at(10))
    event = AuditEvent(new_id(), c.id, T0, None, "collective.create")
    await seed(uow, c, space, m, alert, checkin, event)
    async with uow() as u:
        assert await u.spaces.get(space.id) == space
        assert await u.members.get(m.id) == m
        assert await u.alerts.get(alert.id) == alert
        assert await u.checkins.get(checkin.id) == checkin
        assert await u.audit.recent(c.id, 1) == [event]


async def test_missing_rows_are_none(uow: Uow) -> None:
    async with uow() as u:
        assert await u.collectives.get("nope") is None
        assert await u.collectives.by_name("nope") is None
        assert await u.spaces.get("nope") is None
        assert await u.spaces.find("slack", "nope") is None
        assert await u.members.get("nope") is None
        assert await u.members.by_handle("nope", "nope") is None
        assert await u.identities.find("slack", "T1", "nope") is None
        assert await u.link_codes.get("nope") is None
        assert await u.alerts.get("nope") is None
        assert await u.alerts.lock("nope") is None
        assert await u.alerts.by_number("nope", 1) is None
        assert await u.responses.get("nope", "nope") is None
        assert await u.checkins.get("nope") is None
        assert await u.library.get("nope") is None
        assert await u.library.by_number("nope", 1) is None
        assert await u.outbox.ref_for("k", "slack", "T1", "C1") is None


async def test_nothing_is_visible_before_commit_and_rollback_discards(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, _, _ = world
    cam, dee = a_member(c, "cam"), a_member(c, "dee")
    async with uow() as u:
        await u.members.add(cam)
        assert await u.members.get(cam.id) == cam
        await u.rollback()
        assert await u.members.get(cam.id) is None
        await u.members.add(dee)
        await u.commit()
    async with uow() as u:
        assert await u.members.get(dee.id) == dee
        await u.members.add(cam)  # left without commit: rolled back
    with pytest.raises(RuntimeError):
        async with uow() as u:
            await u.collectives.add(a_collective())
            raise RuntimeError
    async with uow() as u:
        assert await u.members.get(cam.id) is None
        assert [x.id for x in await u.collectives.all()] == [c.id]


async def test_a_change_not_saved_is_lost_and_a_saved_one_kept(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    _, ana, _ = world
    async with uow() as u:
        got = await u.members.get(ana.id)
        assert got is not None
        got.display_name = "Changed"
        await u.commit()
    async with uow() as u:
        got = await u.members.get(ana.id)
        assert got is not None and got.display_name == "Ana"
        got.display_name = "Saved"
        await u.members.save(got)
        got.display_name = "After save"
        await u.commit()
    async with uow() as u:
        got = await u.members.get(ana.id)
        assert got is not None and got.display_name == "Saved"


async def test_save_updates_in_place_and_adds_what_is_new(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, target, helper = world
    alert = an_alert(c, target, 1)
    async with uow() as u:
        await u.alerts.save(alert)  # not there yet: added
        await u.commit()
    async with uow() as u:
        got = await u.alerts.get(alert.id)
        assert got is not None
        got.status = AlertStatus.ACTIVE
        got.kinds = got.kinds | {Kind.PILE_ON}
        got.delegates = frozenset({helper.id})
        got.escalate_at = datetime(2025, 3, 1, 15, 0, tzinfo=CEST)
        await u.alerts.save(got)
        await u.commit()
    async with uow() as u:
        again = await u.alerts.get(alert.id)
    assert again == got
    assert again is not None and again.escalate_at == at(60)
    assert again.escalate_at.tzinfo is UTC


async def test_a_unit_of_work_opens_once(uow: Uow) -> None:
    async with uow() as u:
        with pytest.raises(RuntimeError):
            await u.__aenter__()


async def test_keys_and_unique_values_are_refused(
    uow: Uow, world: tuple[Collective, Member, Member], refused: type[Exception]
) -> None:
    """Each store refuses the same duplicates; each attempt in its own transaction (a
    refused write ends a SQL transaction)."""
    c, ana, ben = world
    other = a_collective(name=c.name, created_at=at(1))  # names need not be unique
    alert = an_alert(c, ana, 1)
    await seed(
        uow,
        other,
        a_member(other, "ana"),  # a handle is unique per collective only
        Identity(new_id(), ana.id, "slack", "T1", "U1"),
        Space(new_id(), c.id, "slack", "T1"),
        alert,
        Rallied(alert.id, ben.id, 1, T0),
        an_entry(c, 1),
    )
    duplicates: list[object] = [
        dataclasses.replace(ana, handle="other"),  # the same id
        a_member(c, "ana"),
        Identity(new_id(), ben.id, "slack", "T1", "U1"),
        Space(new_id(), other.id, "slack", "T1"),
        dataclasses.replace(c, name="Another"),
        an_alert(c, ben, 1),
        Rallied(alert.id, ben.id, 2, at(1)),
        an_entry(c, 1),
    ]
    for duplicate in duplicates:
        with pytest.raises(refused):
            await seed(uow, duplicate)
    async with uow() as u:
        assert [m.handle for m in await u.members.for_collective(c.id)] == ["ana", "ben"]
        assert await u.collectives.by_name(c.name) == c  # the oldest of that name
