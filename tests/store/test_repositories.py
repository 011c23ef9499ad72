"""What only the SQL store has, on SQLite and PostgreSQL: the mapping of rows to the domain,
the engine's settings, the identity map and statement counts, row locks and SKIP LOCKED,
the schema's cascades and indexes. The in-memory fakes have none of these (they copy whole
dicts, and one transaction runs at a time), so these tests stay SQL-only; what every store
must do alike is in tests/store/contract/."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import datetime

import pytest
from sqlalchemy import delete, func, inspect, select
from sqlalchemy import text as sa_text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.model import (
    Alert,
    AlertStatus,
    AuditEvent,
    CheckIn,
    CloseReason,
    Collective,
    Evidence,
    EvidenceKind,
    Identity,
    LibraryEntry,
    LibraryUse,
    LinkCode,
    Member,
    MemberStatus,
    OutboxItem,
    OutboxStatus,
    Rallied,
    Response,
    ResponseState,
    Role,
    Space,
)
from bot.store import tables
from bot.store.convert import to_domain, to_values
from bot.store.types import UTCDateTime
from bot.store.uow import SqlUnitOfWork, database_url
from tests.support.builders import (
    SLACK,
    T0,
    a_collective,
    a_member,
    an_alert,
    an_outbox_item,
    at,
    new_id,
    seed,
)

Uow = Callable[[], SqlUnitOfWork]


@pytest.fixture
async def world(uow: Uow) -> tuple[Collective, Member, Member]:
    """A collective with a target and a responder."""
    c = a_collective()
    target = a_member(c, "ana")
    helper = a_member(c, "ben")
    await seed(uow, c, target, helper)
    return c, target, helper


# --- mapping --------------------------------------------------------------------------------------

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


# --- the identity map, JSON changes and statement counts ------------------------------------------


async def test_get_uses_the_identity_map_and_returns_domain_objects(
    uow: Uow, world: tuple[Collective, Member, Member], statements: list[str]
) -> None:
    """SQL-only: the session's identity map saves a SELECT; the fakes read a dict anyway."""
    _, target, _ = world
    async with uow() as u:
        first = await u.members.get(target.id)
        statements.clear()
        second = await u.members.get(target.id)
        assert statements == []
    assert type(first) is Member and first == second and first is not second


async def test_in_place_changes_to_mutable_fields_are_saved(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    """SQL-only: the ORM must notice a change inside a JSON column; the fakes store copies."""
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


async def test_each_call_costs_one_statement_at_most(
    uow: Uow, world: tuple[Collective, Member, Member], statements: list[str]
) -> None:
    """SQL-only: counts statements sent to the database."""
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
            "waiting requests": await cost(u.inbox.drop_waiting("slack", "T1", "UANA")),
        }
    assert costs == {**dict.fromkeys(costs, 1), "get again": 0}


async def test_for_collective_leaves_out_the_forgotten_in_one_query(
    uow: Uow, statements: list[str]
) -> None:
    """SQL-only: counts statements (what it returns is in the contract too)."""

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


# --- row locks and SKIP LOCKED --------------------------------------------------------------------


@pytest.mark.backends("postgres")
async def test_concurrent_transactions_get_distinct_numbers(uow: Uow) -> None:
    """PostgreSQL-only: row locks between concurrent transactions; SQLite and the fakes run
    one transaction at a time."""
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


async def test_claims_lock_rows_only_on_postgresql(
    uow: Uow, world: tuple[Collective, Member, Member], statements: list[str], dialect: str
) -> None:
    """SQL-only: FOR UPDATE SKIP LOCKED is in the statements sent to PostgreSQL."""
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
    """PostgreSQL-only: two open transactions claim at once; SKIP LOCKED keeps them apart."""
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


# --- the schema's cascades and indexes ------------------------------------------------------------


async def test_children_go_with_their_parent(
    uow: Uow, world: tuple[Collective, Member, Member], engine: AsyncEngine
) -> None:
    """SQL-only: the schema's ON DELETE CASCADE, deleting rows with raw SQL (the fakes' own
    cascades are in the contract's collective and member deletions)."""
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


async def test_open_alerts_come_from_the_partial_index(
    uow: Uow, engine: AsyncEngine, world: tuple[Collective, Member, Member]
) -> None:
    """SQL-only: the query plan uses the partial index of open alerts."""
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
