"""Uninstall on the SQL store, SQLite and PostgreSQL: a removed space waits out its grace
period as a claimed due row, then goes alone, or takes its collective with every row of it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.commands import Caller
from bot.core.model import MemberStatus
from bot.store.tables import Base, SpaceRow
from bot.store.uow import SqlUnitOfWork
from tests.fakes import FakeClock
from tests.store.test_privacy_on_store import as_, services, settle
from tests.unit.conftest import NOW

Uow = Callable[[], SqlUnitOfWork]


def on_slack(team: str, user: str, **more: object) -> Caller:
    name = user[1:].title()  # UZOE: Zoe
    return Caller("slack", team, user, name, channel="C1", **more)  # type: ignore[arg-type]


async def rows_of(engine: AsyncEngine, collective_id: str) -> dict[str, int]:
    """How many rows of every table with a collective_id belong to this collective."""
    found: dict[str, int] = {}
    async with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if "collective_id" in table.c:
                found[table.name] = int(
                    await connection.scalar(
                        select(func.count())
                        .select_from(table)
                        .where(table.c.collective_id == collective_id)
                    )
                    or 0
                )
    return found


async def test_a_removed_space_goes_alone_and_a_last_one_takes_its_collective(
    uow: Uow, engine: AsyncEngine
) -> None:
    clock = FakeClock(NOW)
    core = services(uow, clock)
    demo = await core.seed_demo()
    # The demo collective also on Slack (T1), where Zoe is its only member there.
    made = (await core.handle_text(as_("lee"), "link")).message.plain_text()
    code = re.search(r"link ([A-Z0-9]{8})", made)
    assert code is not None
    assert (await core.handle_text(on_slack("T1", "ULEE"), f"link {code.group(1)}")).ok
    assert (await core.handle_text(on_slack("T1", "ULEE", can_manage=True), "setup")).ok
    assert (await core.handle_text(on_slack("T1", "UZOE"), "join")).ok
    assert (await core.handle_text(as_("lee"), "approve zoe")).ok
    # Another collective lives only in workspace T2, with an alert and evidence.
    olga = on_slack("T2", "UOLGA", can_manage=True)
    assert (await core.handle_text(olga, "setup name Other")).ok
    assert (await core.handle_text(olga, "alert https://x.com/t/1 olga's trouble")).ok
    assert (await core.handle_text(olga, "evidence #1 a screenshot")).ok
    async with uow() as work:
        other = await work.collectives.by_name("Other")
    assert other is not None
    assert (await rows_of(engine, other.id))["alerts"] == 1

    assert await core.space_removed("slack", "T1")
    assert await core.space_removed("slack", "T2")
    clock.advance(timedelta(days=30, seconds=1))
    await settle(core)

    # T1 went alone: Zoe is forgotten, Lee keeps the console, the collective stays.
    async with uow() as work:
        spaces = await work.spaces.for_collective(demo.id)
        assert [s.platform for s in spaces] == ["console"]
        lee = await work.members.by_handle(demo.id, "lee")
        assert lee is not None and lee.status is MemberStatus.ACTIVE
        assert await work.members.by_handle(demo.id, "zoe") is None
        assert await work.identities.in_workspace(demo.id, "slack", "T1") == []
    # T2 was the other collective's last space: not one row of it is left, in any table.
    assert set((await rows_of(engine, other.id)).values()) == {0}
    async with engine.connect() as connection:
        assert (
            await connection.scalar(
                text("SELECT count(*) FROM collectives WHERE id = :id"), {"id": other.id}
            )
            == 0
        )
        assert (
            await connection.scalar(
                text("SELECT count(*) FROM evidence WHERE content = 'a screenshot'")
            )
            == 0
        )
        left = await connection.scalar(select(func.count()).select_from(SpaceRow))
    assert left == 1


@pytest.mark.backends("postgres")
async def test_deletions_are_claimed_once_by_concurrent_workers(uow: Uow) -> None:
    clock = FakeClock(NOW)
    core = services(uow, clock)
    assert (await core.handle_text(on_slack("T3", "UUMA", can_manage=True), "setup")).ok
    await core.space_removed("slack", "T3")
    clock.advance(timedelta(days=31))
    async with uow() as first, uow() as second:
        mine = await first.spaces.due_deletions(clock.now(), 5)
        theirs = await second.spaces.due_deletions(clock.now(), 5)
        # SKIP LOCKED hands the row to one worker (SQLite runs one process at a time).
        assert len(mine) == 1 and theirs == []
