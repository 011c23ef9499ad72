"""The repositories on every backend: round trips, upserts, claims, deletions and query counts."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, inspect, select
from sqlalchemy import text as sa_text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.model import (
    Action,
    Alert,
    AlertStatus,
    AuditEvent,
    Channel,
    CheckIn,
    CheckInAnswer,
    CheckInStatus,
    CloseReason,
    Collective,
    Evidence,
    EvidenceKind,
    Help,
    Identity,
    Kind,
    LibraryEntry,
    LibraryUse,
    LinkCode,
    Member,
    MemberStatus,
    MessageKind,
    OutboxItem,
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
from bot.store import tables
from bot.store.convert import to_domain, to_values
from bot.store.types import UTCDateTime
from bot.store.uow import SqlUnitOfWork, database_url

Uow = Callable[[], SqlUnitOfWork]

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CEST = timezone(timedelta(hours=2))
SLACK = ["slack"]


def new_id() -> str:
    return uuid.uuid4().hex


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def a_collective(**changes: object) -> Collective:
    c = Collective(
        id=new_id(),
        name=f"collective {new_id()[:8]}",
        timezone="America/Chicago",
        created_at=T0,
        rally_cap=12,
        escalation_wait_minutes=20,
        escalation_min_responders=3,
        escalation_max_steps=2,
        checkin_offsets_hours=(24, 72, 168),
        alerts_per_day=5,
    )
    return dataclasses.replace(c, **changes)  # type: ignore[arg-type]


def a_member(collective: Collective, handle: str, **changes: object) -> Member:
    m = Member(
        id=new_id(),
        collective_id=collective.id,
        handle=handle,
        display_name=handle.title(),
        joined_at=T0,
    )
    return dataclasses.replace(m, **changes)  # type: ignore[arg-type]


def an_alert(collective: Collective, target: Member, number: int, **changes: object) -> Alert:
    a = Alert(
        id=new_id(),
        collective_id=collective.id,
        number=number,
        target_id=target.id,
        raised_by_id=target.id,
        raised_at=T0,
        links=("https://x.example/1",),
        kinds=frozenset({Kind.TROLLING}),
        severity=Severity.MEDIUM,
        help_wanted=frozenset({Help.AMPLIFY}),
        visibility=Visibility.ALL,
    )
    return dataclasses.replace(a, **changes)  # type: ignore[arg-type]


def an_outbox_item(collective: Collective, **changes: object) -> OutboxItem:
    item = OutboxItem(
        id=new_id(),
        collective_id=collective.id,
        key="rally:a1",
        idempotency_key=new_id(),
        platform="slack",
        workspace="T1",
        address_kind="channel",
        address="C1",
        op="post",
        payload={"title": "Help Dr A", "sections": [{"text": "x"}]},
        created_at=T0,
        due_at=T0,
    )
    return dataclasses.replace(item, **changes)  # type: ignore[arg-type]


async def seed(uow: Uow, *objects: object) -> None:
    """Add the objects in one transaction, in the given order."""
    async with uow() as u:
        for obj in objects:
            match obj:
                case Collective():
                    await u.collectives.add(obj)
                case Space():
                    await u.spaces.add(obj)
                case Member():
                    await u.members.add(obj)
                case Identity():
                    await u.identities.add(obj)
                case LinkCode():
                    await u.link_codes.add(obj)
                case Alert():
                    await u.alerts.add(obj)
                case Response():
                    await u.responses.save(obj)
                case Rallied():
                    await u.rallied.add_many([obj])
                case CheckIn():
                    await u.checkins.add(obj)
                case Evidence():
                    await u.evidence.add(obj)
                case AuditEvent():
                    await u.audit.add(obj)
                case OutboxItem():
                    await u.outbox.add(obj)
                case _:
                    raise TypeError(obj)
        await u.commit()


@pytest.fixture
async def world(uow: Uow) -> tuple[Collective, Member, Member]:
    """A collective with a target and a responder."""
    c = a_collective()
    target = a_member(c, "ana")
    helper = a_member(c, "ben")
    await seed(uow, c, target, helper)
    return c, target, helper


# --- mapping ------------------------------------------------------------------------------

ROWS = [
    (Collective, tables.CollectiveRow),
    (Space, tables.SpaceRow),
    (Member, tables.MemberRow),
    (Identity, tables.IdentityRow),
    (LinkCode, tables.LinkCodeRow),
    (Alert, tables.AlertRow),
    (Response, tables.ResponseRow),
    (Rallied, tables.RalliedRow),
    (CheckIn, tables.CheckInRow),
    (Evidence, tables.EvidenceRow),
    (AuditEvent, tables.AuditEventRow),
    (OutboxItem, tables.OutboxRow),
    (LibraryEntry, tables.LibraryEntryRow),
    (LibraryUse, tables.LibraryUseRow),
]


@pytest.mark.parametrize(("domain", "row"), ROWS, ids=[d.__name__ for d, _ in ROWS])
def test_every_field_has_a_column(domain: type, row: type[tables.Base]) -> None:
    assert [f.name for f in dataclasses.fields(domain)] == [c.key for c in inspect(row).columns]


def test_rows_cover_every_table() -> None:
    # The inbox holds requests, not domain entities: bot/store/inbox.py maps it alone.
    mapped = {row.__tablename__ for _, row in ROWS} | {tables.InboxRow.__tablename__}
    assert mapped == set(tables.Base.metadata.tables)


def test_conversion_stores_sets_sorted_and_enums_as_strings() -> None:
    c = a_collective()
    m = a_member(c, "ana", roles=frozenset({Role.SAFETY_LEAD, Role.LEAD}), skills=frozenset())
    values = to_values(m)
    assert values["roles"] == ["lead", "safety_lead"]
    assert values["status"] == "active" and type(values["status"]) is str
    assert to_domain(Member, tables.MemberRow(**values)) == m


def test_utc_datetime_refuses_naive_values() -> None:
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(datetime(2025, 1, 1), None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:p@db:5432/app", "postgresql+asyncpg://u:p@db:5432/app"),
        ("postgresql://u@db/app", "postgresql+asyncpg://u@db/app"),
        ("postgresql+asyncpg://u@db/app", "postgresql+asyncpg://u@db/app"),
        ("postgres://u@db/app?sslmode=require", "postgresql+asyncpg://u@db/app?ssl=require"),
        ("sqlite:///rallybot.db", "sqlite+aiosqlite:///rallybot.db"),
        ("sqlite:////var/lib/r.db", "sqlite+aiosqlite:////var/lib/r.db"),
    ],
)
def test_database_url_picks_the_async_driver(url: str, expected: str) -> None:
    assert database_url(url).render_as_string(hide_password=False) == expected


@pytest.mark.backends("sqlite")
async def test_sqlite_connections_enforce_foreign_keys(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
        assert (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        assert (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 5000


# --- round trips --------------------------------------------------------------------------


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
    await seed(
        uow, c, space, target, helper, identity, code, alert, response, rallied, checkin, evidence
    )
    await seed(uow, event, item)

    async with uow() as u:
        assert await u.collectives.get(c.id) == c
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
        assert await u.spaces.find("slack", "nope") is None
        assert await u.members.get("nope") is None
        assert await u.members.by_handle("nope", "nope") is None
        assert await u.identities.find("slack", "T1", "nope") is None
        assert await u.link_codes.get("nope") is None
        assert await u.alerts.get("nope") is None
        assert await u.alerts.by_number("nope", 1) is None
        assert await u.responses.get("nope", "nope") is None
        assert await u.checkins.get("nope") is None
        assert await u.outbox.ref_for("k", "slack", "T1", "C1") is None


# --- unit of work and identity map ---------------------------------------------------------


async def test_get_uses_the_identity_map_and_returns_domain_objects(
    uow: Uow, world: tuple[Collective, Member, Member], statements: list[str]
) -> None:
    _, target, _ = world
    async with uow() as u:
        first = await u.members.get(target.id)
        statements.clear()
        second = await u.members.get(target.id)
        assert statements == []
    assert type(first) is Member and first == second and first is not second


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


async def test_in_place_changes_to_mutable_fields_are_saved(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, _, _ = world
    item = an_outbox_item(c)
    event = AuditEvent(new_id(), c.id, T0, None, "x", detail={"a": "1"})
    await seed(uow, item, event)
    async with uow() as u:
        [got] = await u.outbox.posted(item.key)
        got.payload["title"] = "changed"
        got.status = OutboxStatus.SENT  # a pending row's message is only written by rewrite()
        await u.outbox.save(got)
        await u.commit()
    async with uow() as u:
        [again] = await u.outbox.posted(item.key)
    assert again.payload["title"] == "changed"


async def test_uncommitted_work_is_rolled_back(uow: Uow) -> None:
    c = a_collective()
    async with uow() as u:
        await u.collectives.add(c)
    with pytest.raises(RuntimeError):
        async with uow() as u:
            await u.collectives.add(c)  # flushed, not committed
            raise RuntimeError
    async with uow() as u:
        await u.collectives.add(c)
        await u.rollback()
        assert await u.collectives.all() == []


async def test_unique_handle_per_collective(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, _, _ = world
    async with uow() as u:
        with pytest.raises(IntegrityError):
            await u.members.add(a_member(c, "ana"))


async def test_each_call_costs_one_statement_at_most(
    uow: Uow, world: tuple[Collective, Member, Member], statements: list[str]
) -> None:
    c, target, helper = world
    alert = an_alert(c, target, 1)
    await seed(uow, alert)
    async with uow() as u:

        async def cost(call: Awaitable[object]) -> int:
            statements.clear()
            await call
            await u.session.flush()  # count the UPDATE a save leaves for the flush
            return len(statements)

        got = await u.alerts.get(alert.id)
        assert got is not None
        got.status = AlertStatus.ACTIVE
        response = Response(alert.id, helper.id, ResponseState.ON_IT, frozenset(), T0, T0)

        async def three_outbox_rows() -> None:
            for _ in range(3):
                await u.outbox.add(an_outbox_item(c))
            await u.outbox.flush()

        costs = {
            "get again": await cost(u.alerts.get(alert.id)),
            "save after get": await cost(u.alerts.save(got)),
            "next number": await cost(u.collectives.next_alert_number(c.id)),
            "members": await cost(u.members.many([target.id, helper.id])),
            "response": await cost(u.responses.save(response)),
            "rallied": await cost(
                u.rallied.add_many([Rallied(alert.id, m.id, 1, T0) for m in (target, helper)])
            ),
            "outbox rows, added then written": await cost(three_outbox_rows()),
            "rallied members": await cost(u.members.mark_rallied([target.id, helper.id], T0)),
            "lock": await cost(u.alerts.lock(alert.id)),
            "audit": await cost(u.audit.add(AuditEvent(new_id(), c.id, T0, None, "x"))),
            "claim": await cost(u.outbox.claim(T0, at(60), 10, SLACK)),
            "delete": await cost(u.responses.delete_for_member(helper.id)),
        }
    assert costs == {**dict.fromkeys(costs, 1), "get again": 0}


# --- collectives and numbering -------------------------------------------------------------


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
        assert fresh is not None and fresh.alert_seq == 1  # the session's copy was refreshed
        stale.name = "renamed"
        await u.collectives.save(stale)
        await u.commit()
    async with uow() as u:
        got = await u.collectives.get(c.id)
    assert got is not None and (got.name, got.alert_seq) == ("renamed", 1)


@pytest.mark.backends("postgres")
async def test_concurrent_transactions_get_distinct_numbers(uow: Uow) -> None:
    c = a_collective()
    await seed(uow, c)
    started = asyncio.Barrier(20)

    async def take() -> int:
        async with uow() as u:
            await started.wait()
            number = await u.collectives.next_alert_number(c.id)
            await asyncio.sleep(0.01)  # hold the row lock while the others queue behind it
            await u.commit()
            return number

    numbers = await asyncio.gather(*(take() for _ in range(20)))
    assert sorted(numbers) == list(range(1, 21))


async def test_collective_lookups(uow: Uow) -> None:
    b, a = a_collective(name="b"), a_collective(name="a")
    await seed(uow, b, a)
    async with uow() as u:
        assert await u.collectives.by_name("b") == b
        assert await u.collectives.all() == [a, b]


async def test_space_lookups(uow: Uow, world: tuple[Collective, Member, Member]) -> None:
    c, _, _ = world
    other = a_collective()
    slack = Space(new_id(), c.id, "slack", "T1")
    discord = Space(new_id(), c.id, "discord", "G1", rally_channel="1")
    elsewhere = Space(new_id(), other.id, "slack", "T2")
    await seed(uow, other, slack, discord, elsewhere)
    async with uow() as u:
        assert await u.spaces.find("slack", "T1") == slack
        assert await u.spaces.for_collective(c.id) == [discord, slack]
        slack.rally_channel = "C9"
        await u.spaces.save(slack)
        await u.commit()
    async with uow() as u:
        assert await u.spaces.find("slack", "T1") == slack


# --- members and identities ----------------------------------------------------------------


async def test_for_collective_leaves_out_the_forgotten_in_one_query(
    uow: Uow, statements: list[str]
) -> None:
    async def count_for(size: int) -> int:
        c = a_collective()
        members = [a_member(c, f"m{i:03}") for i in range(size)]
        forgotten = a_member(c, "zed", status=MemberStatus.FORGOTTEN)
        suspended = a_member(c, "yan", status=MemberStatus.SUSPENDED)
        await seed(uow, c, *members, forgotten, suspended)
        async with uow() as u:
            statements.clear()
            got = await u.members.for_collective(c.id)
            used = len(statements)
        assert forgotten.id not in {m.id for m in got}
        assert [m.handle for m in got] == sorted([m.handle for m in members] + ["yan"])
        return used

    assert await count_for(3) == await count_for(60) == 1


async def test_member_lookups(uow: Uow, world: tuple[Collective, Member, Member]) -> None:
    c, target, helper = world
    async with uow() as u:
        assert await u.members.by_handle(c.id, "ben") == helper
        assert await u.members.many([helper.id, "nope", target.id, helper.id]) == [helper, target]
        assert await u.members.many([]) == []


async def test_identities(uow: Uow, world: tuple[Collective, Member, Member]) -> None:
    _, target, helper = world
    slack = Identity(new_id(), target.id, "slack", "T1", "U1")
    discord = Identity(new_id(), target.id, "discord", "G1", "1")
    theirs = Identity(new_id(), helper.id, "slack", "T1", "U2")
    await seed(uow, slack, discord, theirs)
    async with uow() as u:
        assert await u.identities.for_members([target.id]) == [discord, slack]
        assert len(await u.identities.for_members([target.id, helper.id])) == 3
        assert await u.identities.for_members([]) == []
        with pytest.raises(IntegrityError):
            await u.identities.add(Identity(new_id(), helper.id, "slack", "T1", "U1"))


# --- alerts --------------------------------------------------------------------------------


async def test_alert_queries(uow: Uow, world: tuple[Collective, Member, Member]) -> None:
    c, target, helper = world
    other = a_collective()
    stranger = a_member(other, "eve")
    one = an_alert(c, target, 1, raised_at=at(0), status=AlertStatus.ACTIVE)
    two = an_alert(c, helper, 2, raised_at=at(10), raised_by_id=target.id)
    three = an_alert(c, target, 3, raised_at=at(20), status=AlertStatus.CLOSED)
    theirs = an_alert(other, stranger, 1, raised_at=at(10))
    await seed(uow, one, two, three, other, stranger, theirs)
    async with uow() as u:
        assert await u.alerts.by_number(c.id, 2) == two
        assert await u.alerts.by_number(other.id, 1) == theirs
        assert await u.alerts.open_for_collective(c.id) == [one, two]
        assert await u.alerts.for_target(target.id) == [one, three]
        assert await u.alerts.raised_by_since(target.id, at(0)) == 3
        assert await u.alerts.raised_by_since(target.id, at(5)) == 2
        assert await u.alerts.raised_by_since(helper.id, at(0)) == 0
        assert await u.alerts.raised_between(c.id, at(0), at(20)) == [one, two]
        assert await u.alerts.raised_between(c.id, at(10), at(30)) == [two, three]


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
    await seed(uow, active, safety, closed, pending, later, never, on_the_dot)
    async with uow() as u:
        # A pending consent request's timer is its expiry: due like the others.
        assert await u.alerts.due_escalations(at(10), 10) == [pending, safety, active, on_the_dot]
        assert await u.alerts.due_escalations(at(10), 2) == [pending, safety]


# --- responses and rallies -----------------------------------------------------------------


async def test_response_save_keeps_one_row_per_responder(
    uow: Uow, world: tuple[Collective, Member, Member], engine: AsyncEngine
) -> None:
    c, target, helper = world
    alert = an_alert(c, target, 1)
    on_it = Response(alert.id, helper.id, ResponseState.ON_IT, frozenset(), at(1), at(1))
    done = Response(
        alert.id, helper.id, ResponseState.DONE, frozenset({Action.REPORTED}), at(1), at(7)
    )
    await seed(uow, alert, on_it)
    async with uow() as u:
        assert await u.responses.get(alert.id, helper.id) == on_it  # now in the identity map
        await u.responses.save(done)
        assert await u.responses.get(alert.id, helper.id) == done
        assert await u.responses.for_alert(alert.id) == [done]
        await u.commit()
    async with uow() as u:
        assert await u.responses.for_alerts([alert.id, "nope"]) == [done]
        assert await u.responses.for_alerts([]) == []
    async with engine.connect() as connection:
        count = select(func.count()).select_from(tables.ResponseRow)
        assert (await connection.execute(count)).scalar_one() == 1


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
    assert sorted(got, key=lambda r: (r.alert_id, r.first_at)) == got
    assert {(r.alert_id, r.member_id) for r in got} == {
        (one.id, helper.id),
        (one.id, target.id),
        (two.id, helper.id),
    }


async def test_a_tally_is_counted_in_the_database_and_names_the_first_helpers(
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
    assert counts == {ResponseState.ON_IT: 2, ResponseState.DONE: 1, ResponseState.CANT: 1}
    # The first two helpers by when they answered ("can't" is counted, never named).
    assert [r.member_id for r in named] == [people[3].id, people[2].id]


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


# --- check-ins -----------------------------------------------------------------------------


async def test_due_checkins_are_scheduled_due_and_in_order(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, target, _ = world
    alert = an_alert(c, target, 1)
    late = CheckIn(new_id(), alert.id, target.id, at(9))
    early = CheckIn(new_id(), alert.id, target.id, at(1))
    sent = CheckIn(new_id(), alert.id, target.id, at(0), status=CheckInStatus.SENT)
    future = CheckIn(new_id(), alert.id, target.id, at(11))
    await seed(uow, alert, late, early, sent, future)
    async with uow() as u:
        assert await u.checkins.due(at(10), 10) == [early, late]
        assert await u.checkins.due(at(10), 1) == [early]
        assert await u.checkins.for_alert(alert.id) == [sent, early, late, future]
        early.status = CheckInStatus.SENT
        await u.checkins.save(early)
        assert await u.checkins.due(at(10), 10) == [late]


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
        assert {ch.id for ch in await u.checkins.in_group("g1")} == {asked.id, older.id}
        assert await u.checkins.in_group("nope") == []
        last = await u.checkins.last_sent([target.id, helper.id])
        assert last == {target.id: at(3)}
        assert last[target.id].tzinfo is not None


# --- evidence and audit --------------------------------------------------------------------


async def test_evidence_and_audit(uow: Uow, world: tuple[Collective, Member, Member]) -> None:
    c, target, helper = world
    alert = an_alert(c, target, 1)
    e1 = Evidence(new_id(), alert.id, helper.id, at(2), EvidenceKind.LINK, "https://x", "0" * 64)
    e2 = Evidence(new_id(), alert.id, target.id, at(1), EvidenceKind.NOTE, "note", "1" * 64)
    events = [AuditEvent(new_id(), c.id, at(i), None, f"e{i}") for i in range(5)]
    await seed(uow, alert, e1, e2, *events)
    async with uow() as u:
        assert await u.evidence.for_alert(alert.id) == [e2, e1]
        assert await u.evidence.anonymise_author(helper.id, "former-member") == 1
        assert [e.added_by_id for e in await u.evidence.for_alert(alert.id)] == [
            target.id,
            "former-member",
        ]
        assert await u.audit.recent(c.id, 2) == [events[4], events[3]]
        assert await u.evidence.delete_for_alert(alert.id) == 2
        assert await u.evidence.for_alert(alert.id) == []


# --- outbox --------------------------------------------------------------------------------


async def test_a_waiting_message_is_withdrawn_and_nothing_else(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, _, _ = world
    dm = {"address_kind": "dm", "address": "U1"}
    waiting = an_outbox_item(c, key="standing:a1:100", due_at=at(60), **dm)
    due_now = an_outbox_item(c, key="standing:a1:50", due_at=at(0), **dm)
    claimed = an_outbox_item(c, key="standing:a1:200", due_at=at(90), lease_until=at(95), **dm)
    other_alert = an_outbox_item(c, key="standing:a2:100", due_at=at(60), **dm)
    like_sql = an_outbox_item(c, key="standing:a1_x:100", due_at=at(60), **dm)
    await seed(uow, waiting, due_now, claimed, other_alert, like_sql)
    async with uow() as u:
        assert await u.outbox.withdraw("standing:a1:", at(10)) == 1
        await u.commit()
    async with uow() as u:
        left = {o.key for o in await u.outbox.claim(at(94), at(99), 10, ["slack"])}
        assert await u.outbox.posted("standing:a1:200")  # claimed: never withdrawn
    # "_" is a LIKE wildcard: the prefix is matched literally.
    assert left == {"standing:a1:50", "standing:a2:100", "standing:a1_x:100"}


async def test_a_repeated_idempotency_key_is_ignored(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, _, _ = world
    first = an_outbox_item(c, idempotency_key="rally:1:C1")
    repeat = an_outbox_item(c, idempotency_key="rally:1:C1", payload={"other": True})
    after = an_outbox_item(c, created_at=at(1))
    async with uow() as u:
        await u.outbox.add(first)
        await u.outbox.add(repeat)
        await u.outbox.add(after)  # the transaction is still usable
        await u.commit()
    async with uow() as u:
        await u.outbox.add(dataclasses.replace(repeat, id=new_id()))
        await u.commit()
    async with uow() as u:
        assert await u.outbox.posted(first.key) == [first, after]


async def test_claimed_items_are_due_unleased_and_in_creation_order(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, _, _ = world
    ids = sorted(new_id() for _ in range(2))
    same_time_b = an_outbox_item(c, id=ids[1], created_at=at(1))
    same_time_a = an_outbox_item(c, id=ids[0], created_at=at(1))
    oldest = an_outbox_item(c, created_at=at(0), due_at=at(5))
    retry_later = an_outbox_item(c, created_at=at(-5), due_at=at(30))
    sent = an_outbox_item(c, created_at=at(-9), status=OutboxStatus.SENT)
    failed = an_outbox_item(c, created_at=at(-9), status=OutboxStatus.FAILED)
    await seed(uow, same_time_b, same_time_a, oldest, retry_later, sent, failed)
    lease = at(70)
    async with uow() as u:
        first = await u.outbox.claim(at(10), lease, 1, SLACK)
        assert [i.id for i in first] == [oldest.id]
        assert (first[0].lease_until, first[0].attempts) == (lease, oldest.attempts + 1)
        rest = await u.outbox.claim(at(10), lease, 10, SLACK)
        assert [i.id for i in rest] == [same_time_a.id, same_time_b.id]
        assert await u.outbox.claim(at(10), lease, 10, SLACK) == []  # all leased
        await u.commit()
    async with uow() as u:
        # After the lease ends (a dispatcher died) the rows are claimable again, and by now
        # the one retrying later is due too.
        again = await u.outbox.claim(lease, at(130), 10, SLACK)
        assert [i.id for i in again] == [retry_later.id, oldest.id, same_time_a.id, same_time_b.id]


async def test_a_worker_takes_back_only_the_live_leases_it_holds(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, _, _ = world
    mine, theirs, unclaimed = (an_outbox_item(c, created_at=at(i)) for i in range(3))
    await seed(uow, mine, theirs, unclaimed)
    async with uow() as u:
        assert [i.claimed_by for i in await u.outbox.claim(at(5), at(65), 1, SLACK, "w1")] == ["w1"]
        await u.outbox.claim(at(5), at(65), 1, SLACK, "w2")
        await u.commit()
    async with uow() as u:
        # w1 died and starts again: its lease ends now, w2's stays, nothing else changes.
        assert await u.outbox.take_back("w1", at(6)) == 1
        await u.commit()
    async with uow() as u:
        again = await u.outbox.claim(at(7), at(67), 10, SLACK, "w1")
        assert [i.id for i in again] == [mine.id, unclaimed.id]
        assert again[0].attempts == 2  # the attempt it may have made still counts
        assert await u.outbox.take_back("w1", at(68)) == 0  # a lease that ended is not held
        await u.commit()


async def test_an_edit_waits_while_an_earlier_edit_of_its_message_is_in_flight(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, _, _ = world
    older = an_outbox_item(c, key="rally:a1", op="update", created_at=at(0))
    newer = an_outbox_item(c, key="rally:a1", op="update", created_at=at(1))
    elsewhere = an_outbox_item(c, key="rally:a1", op="update", address="C9", created_at=at(2))
    await seed(uow, older)
    async with uow() as u:
        assert [i.id for i in await u.outbox.claim(at(5), at(65), 1, SLACK)] == [older.id]
        await u.commit()
    await seed(uow, newer, elsewhere)
    async with uow() as u:
        # newer edits the same message as the in-flight older: it waits; elsewhere doesn't.
        assert [i.id for i in await u.outbox.claim(at(5), at(65), 10, SLACK)] == [elsewhere.id]
        assert await u.outbox.supersede_edits("rally:a1") == 1  # newer; elsewhere is in flight
        await u.commit()
    async with uow() as u:
        # Both leases ran out unsettled; the superseded edit never goes.
        again = await u.outbox.claim(at(70), at(130), 10, SLACK)
        assert [i.id for i in again] == [older.id, elsewhere.id]


async def test_ref_for_and_posted(uow: Uow, world: tuple[Collective, Member, Member]) -> None:
    c, _, _ = world
    key = "rally:a1"
    in_channel = an_outbox_item(c, key=key, status=OutboxStatus.SENT, ref="111.1")
    dm = an_outbox_item(
        c,
        key=key,
        address_kind="dm",
        address="U7",
        created_at=at(1),
        status=OutboxStatus.SENT,
        ref="222.2",
    )
    unsent = an_outbox_item(c, key=key, workspace="T2", created_at=at(2))
    edit = an_outbox_item(c, key=key, op="update", status=OutboxStatus.SENT, ref="111.1")
    other = an_outbox_item(c, key="rally:a2", status=OutboxStatus.SENT, ref="333.3")
    await seed(uow, in_channel, dm, unsent, edit, other)
    async with uow() as u:
        assert await u.outbox.ref_for(key, "slack", "T1", "C1") == "111.1"
        assert await u.outbox.ref_for(key, "slack", "T1", "U7") == "222.2"
        assert await u.outbox.ref_for(key, "slack", "T2", "C1") is None  # not sent yet
        assert await u.outbox.ref_for(key, "discord", "T1", "C1") is None
        assert await u.outbox.posted(key) == [in_channel, dm, unsent]
        assert [d.address for d in await u.outbox.destinations(key)] == ["C1", "U7", "C1"]
        assert [d.address for d in await u.outbox.destinations(key, "dm")] == ["U7"]


async def test_superseding_edits_of_one_kind_of_copy(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, _, _ = world
    to_channel = an_outbox_item(c, op="update")
    to_dm = an_outbox_item(c, op="update", address_kind="dm", address="U7")
    await seed(uow, to_channel, to_dm)
    async with uow() as u:
        assert await u.outbox.supersede_edits("rally:a1", "dm") == 1
        assert await u.outbox.supersede_edits("rally:a1", "dm") == 0
        assert [i.id for i in await u.outbox.claim(T0, at(60), 10, SLACK)] == [to_channel.id]


async def test_outbox_rows_wait_for_commit_and_a_rollback_drops_them(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, _, _ = world
    first, twin = an_outbox_item(c), an_outbox_item(c, created_at=at(1))
    twin = dataclasses.replace(twin, idempotency_key=first.idempotency_key)
    async with uow() as u:
        await u.outbox.add(first)
        await u.rollback()
        await u.outbox.add(twin)
        await u.outbox.add(first)  # the same idempotency key: ignored
        await u.commit()
    async with uow() as u:
        assert [i.id for i in await u.outbox.posted("rally:a1")] == [twin.id]


async def test_marking_a_wave_rallied_updates_members_already_read(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    _, target, helper = world
    async with uow() as u:
        before = await u.members.get(helper.id)
        assert before is not None and before.last_rallied_at is None
        await u.members.mark_rallied([helper.id], at(5))
        after = await u.members.get(helper.id)
        assert after is not None and after.last_rallied_at == at(5)
        await u.commit()
    async with uow() as u:
        assert [m.last_rallied_at for m in await u.members.many([target.id, helper.id])] == [
            None,
            at(5),
        ]


# --- locking -------------------------------------------------------------------------------


async def test_claims_lock_rows_only_on_postgresql(
    uow: Uow, world: tuple[Collective, Member, Member], statements: list[str], dialect: str
) -> None:
    async with uow() as u:
        statements.clear()
        await u.outbox.claim(T0, at(60), 10, SLACK)
        await u.checkins.due(T0, 10)
        await u.alerts.due_escalations(T0, 10)
    locking = [s for s in statements if "FOR UPDATE SKIP LOCKED" in s]
    assert len(locking) == (3 if dialect == "postgresql" else 0)


@pytest.mark.backends("postgres")
async def test_concurrent_claims_get_disjoint_rows(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, target, _ = world
    items = [an_outbox_item(c, created_at=at(i)) for i in range(5)]
    alert = an_alert(c, target, 1)
    checkins = [CheckIn(new_id(), alert.id, target.id, at(i)) for i in range(5)]
    await seed(uow, *items, alert, *checkins)
    async with uow() as first, uow() as second:
        mine = await first.outbox.claim(at(10), at(70), 3, SLACK)
        theirs = await second.outbox.claim(at(10), at(70), 10, SLACK)
        assert [i.id for i in mine] == [i.id for i in items[:3]]
        assert [i.id for i in theirs] == [i.id for i in items[3:]]
        due_mine = await first.checkins.due(at(10), 2)
        due_theirs = await second.checkins.due(at(10), 10)
        assert {x.id for x in due_mine}.isdisjoint({x.id for x in due_theirs})
        assert len(due_mine) + len(due_theirs) == 5
        await first.rollback()
        # first's claim is rolled back: its three rows are free again (second holds the rest).
        assert len(await second.outbox.claim(at(10), at(70), 10, SLACK)) == 3


# --- deletion paths ------------------------------------------------------------------------


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
        await u.commit()
    async with uow() as u:
        assert await u.identities.for_members([helper.id]) == []
        assert len(await u.identities.for_members([target.id])) == 1
        assert await u.link_codes.get("one") is None and await u.link_codes.get("three") is None
        assert [r.member_id for r in await u.responses.for_alert(alert.id)] == [target.id]
        assert [x.member_id for x in await u.checkins.for_alert(alert.id)] == [target.id]


async def test_children_go_with_their_parent(
    uow: Uow, world: tuple[Collective, Member, Member], engine: AsyncEngine
) -> None:
    c, target, helper = world
    alert = an_alert(c, target, 1)
    await seed(
        uow,
        Space(new_id(), c.id, "slack", "T1"),
        Identity(new_id(), helper.id, "slack", "T1", "U2"),
        LinkCode("code", helper.id, at(5)),
        alert,
        Response(alert.id, helper.id, ResponseState.ON_IT, frozenset(), at(1), at(1)),
        Rallied(alert.id, helper.id, 1, at(0)),
        CheckIn(new_id(), alert.id, target.id, at(5)),
        Evidence(new_id(), alert.id, helper.id, at(2), EvidenceKind.NOTE, "n", "0" * 64),
        AuditEvent(new_id(), c.id, T0, None, "x"),
        an_outbox_item(c),
    )

    async def counts() -> dict[str, int]:
        async with engine.connect() as connection:
            return {
                t.name: (await connection.execute(select(func.count()).select_from(t))).scalar_one()
                for t in tables.Base.metadata.sorted_tables
            }

    async def remove(row: type[tables.Base], key: str) -> None:
        async with engine.begin() as connection:
            await connection.execute(delete(row).where(row.__table__.c.id == key))

    await remove(tables.AlertRow, alert.id)
    after_alert = await counts()
    assert [after_alert[t] for t in ("responses", "rallied", "checkins", "evidence")] == [0] * 4
    assert after_alert["members"] == 2

    await remove(tables.MemberRow, helper.id)
    after_member = await counts()
    assert (after_member["identities"], after_member["link_codes"]) == (0, 0)

    await remove(tables.CollectiveRow, c.id)
    assert set((await counts()).values()) == {0}


# --- the message library ---------------------------------------------------------------------


def an_entry(collective: Collective, number: int, **changes: object) -> LibraryEntry:
    e = LibraryEntry(
        id=new_id(),
        collective_id=collective.id,
        number=number,
        kind=MessageKind.REPLY,
        text=f"Thank you, number {number}.",
        added_at=T0,
        topics=frozenset({"vaccines", "masks"}),
        venues=frozenset({Venue.X, Venue.INSTAGRAM}),
        alert_kinds=frozenset({Kind.PILE_ON}),
        sources=("https://example.org/b", "https://example.org/a"),
    )
    return dataclasses.replace(e, **changes)  # type: ignore[arg-type]


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


async def test_open_alerts_come_from_the_partial_index(
    uow: Uow, engine: AsyncEngine, world: tuple[Collective, Member, Member]
) -> None:
    c, ana, _ = world
    assert f"status != '{AlertStatus.CLOSED.value}'" == tables.OPEN  # the index's predicate
    closed = an_alert(c, ana, 1, status=AlertStatus.CLOSED, close_reason=CloseReason.RESOLVED)
    await seed(uow, closed, an_alert(c, ana, 2), an_alert(c, ana, 3, status=AlertStatus.HELD))
    async with uow() as u:
        assert [a.number for a in await u.alerts.open_for_collective(c.id)] == [2, 3]
    if engine.dialect.name == "sqlite":
        sql = (
            "EXPLAIN QUERY PLAN SELECT * FROM alerts WHERE alerts.collective_id = 'x' "
            f"AND alerts.{tables.OPEN} ORDER BY alerts.number"
        )
        async with engine.connect() as connection:
            plan = str((await connection.execute(sa_text(sql))).all())
        assert "USING INDEX ix_alerts_open" in plan and "TEMP B-TREE" not in plan, plan
    else:
        sql = "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_alerts_open'"
        async with engine.connect() as connection:
            (definition,) = (await connection.execute(sa_text(sql))).scalars().all()
        assert "WHERE" in definition and "'closed'" in definition, definition
