"""Forget-me on the SQL store, SQLite and PostgreSQL: every column of every table is walked.

The tables are read back from the database itself (reflected), so a table or column added
later, or one that belongs to the Slack adapter, is walked too. After Zenobia's whole life and
her forget-me (tests/support/forget.py), no column anywhere holds her name, handle, platform
ids, join note, or the links, notes, post and evidence of her alerts, nor what she sent from
Slack and Discord that still waited in the inbox, except the safety case kept for the safety
leads, which goes after the time she was told; the audit keeps ids and actions with short
non-personal details.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, MetaData, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.model import AlertStatus, CloseReason, OutboxItem
from bot.core.policy import Policy
from bot.core.services import Services
from bot.core.wording import Copy, flatten
from bot.inbox.codec import dump_caller
from bot.store import inbox
from bot.store.convert import to_domain
from bot.store.tables import AuditEventRow, OutboxRow
from bot.store.uow import SqlUnitOfWork
from tests.fakes import FakeClock, SeqIds
from tests.support.forget import (
    AUDIT_VALUE,
    HANDLE,
    JOIN_NOTE,
    PERSONAL,
    SAFETY,
    SCRUBBED,
    SLACK_ID,
    ZEN_DISCORD,
    World,
    forget,
    found_in,
    her_life,
)
from tests.unit.conftest import NOW

CONFIG = Path(__file__).resolve().parents[2] / "config" / "rallybot.toml"

Row = tuple[str, str, str, Any]
WAITING = "zq-waiting-in-the-inbox"  # what she sent that no worker has taken yet


def world_on(uow: Callable[[], SqlUnitOfWork]) -> World:
    copy = Copy(flatten(tomllib.loads(CONFIG.read_text())["copy"]))
    clock = FakeClock(NOW)
    services = Services(uow=uow, clock=clock, ids=SeqIds(), copy=copy, policy=Policy())

    async def read_outbox() -> list[OutboxItem]:
        async with uow() as work:
            rows = await work.session.scalars(
                select(OutboxRow).order_by(OutboxRow.created_at, OutboxRow.id)
            )
            return [to_domain(OutboxItem, r) for r in rows]

    return World(services, clock, read_outbox)


def _reflect(connection: Connection) -> MetaData:
    metadata = MetaData()
    metadata.reflect(connection)
    return metadata


async def every_value(engine: AsyncEngine) -> list[Row]:
    """(table, primary key, column, value) of every column of every row of every table that
    is in the database, whatever defines it."""
    out: list[Row] = []
    async with engine.connect() as connection:
        metadata = await connection.run_sync(_reflect)
        assert {"members", "outbox", "audit_events", "slack_installations"} <= set(metadata.tables)
        for table in metadata.sorted_tables:
            key_columns = [c.name for c in table.primary_key.columns]
            for row in (await connection.execute(select(table))).mappings():
                key = ",".join(str(row[k]) for k in key_columns)
                out.extend((table.name, key, column, value) for column, value in row.items())
    return out


async def requests_waiting(engine: AsyncEngine, world: World) -> None:
    """As the entry points write them: a Slack command and a Discord alert of hers, not
    worked yet when her forgetme is."""
    now = world.clock.now()
    for platform, workspace, user, payload in (
        ("slack", "T1", SLACK_ID, {"user_name": HANDLE, "text": f"evidence #2 {WAITING}"}),
        ("discord", "", ZEN_DISCORD.user, {"caller": dump_caller(ZEN_DISCORD), "note": WAITING}),
    ):
        assert await inbox.write(
            engine,
            platform=platform,
            request_id=f"{platform}-waiting",
            workspace=workspace,
            user=user,
            kind="command",
            payload=payload,
            respond_to="https://hooks.example/r",
            respond_until=now + timedelta(minutes=15),
            now=now,
        )


def nowhere(values: list[Row], *needles: str) -> None:
    found = found_in(values, *needles)
    assert not found, "still stored:\n  " + "\n  ".join(found)


def tables_of(values: list[Row], *needles: str) -> set[tuple[str, str]]:
    return {
        (table, key)
        for table, key, column, value in values
        if found_in([(table, key, column, value)], *needles)
    }


async def test_after_forget_me_no_column_of_any_table_holds_a_trace_of_her(
    uow: Callable[[], SqlUnitOfWork], engine: AsyncEngine
) -> None:
    world = world_on(uow)
    await world.services.seed_demo()
    await her_life(world)
    async with uow() as work:
        collective = await work.collectives.by_name("Demo collective")
        assert collective is not None
        zen = await work.members.by_handle(collective.id, HANDLE)
        assert zen is not None
        safety_case = await work.alerts.by_number(collective.id, 3)
        assert safety_case is not None
    await requests_waiting(engine, world)
    before = await every_value(engine)
    for needle in (*PERSONAL, *SCRUBBED, *SAFETY, WAITING):  # the walk sees each of them first
        assert needle in JOIN_NOTE or found_in(before, needle), needle

    said = await forget(world)

    assert "#3" in said
    after = await every_value(engine)
    nowhere(after, *PERSONAL, *SCRUBBED, WAITING)
    assert not [v for t, _, _, v in after if t == "inbox"]  # her waiting requests are gone
    # The safety case alone keeps its text: its alert row and its evidence rows.
    evidence = {
        (t, k)
        for t, k, c, v in after
        if t == "evidence" and c == "alert_id" and v == safety_case.id
    }
    assert tables_of(after, *SAFETY) == {("alerts", safety_case.id)} | evidence
    async with uow() as work:
        kept = await work.alerts.get(safety_case.id)
        assert kept is not None
        assert (kept.status, kept.close_reason) == (AlertStatus.CLOSED, CloseReason.FORGOTTEN)
        assert not [a for a in await work.alerts.for_target(zen.id) if a.is_open]
        events = [to_domain_event(r) for r in await work.session.scalars(select(AuditEventRow))]
    for event in events:
        assert all(AUDIT_VALUE.fullmatch(str(v)) for v in event.values()), event
    assert {"action": "forget_me", "subject_id": zen.id, "kept": "3"}.items() <= next(
        e for e in events if e["action"] == "forget_me"
    ).items()

    world.clock.advance(timedelta(days=world.services.policy.safety_case_days, minutes=1))
    while await world.services.run_due():
        pass
    nowhere(await every_value(engine), *PERSONAL, *SCRUBBED, *SAFETY)


def to_domain_event(row: AuditEventRow) -> dict[str, Any]:
    return {"action": row.action, "subject_id": row.subject_id, **row.detail}
