"""The inbox's SQL on SQLite and PostgreSQL: one row per platform request id, one unworked
row per person at a time, SKIP LOCKED between workers, take-back and purge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.store import inbox as store

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=120)


async def write(engine: AsyncEngine, rid: str, user: str, at: datetime = NOW) -> bool:
    return await store.write(
        engine,
        platform="slack",
        request_id=rid,
        workspace="T1",
        user=user,
        kind="command",
        payload={"text": f"what {user} typed"},
        respond_to="https://hooks.example/r",
        respond_until=at + timedelta(minutes=30),
        now=at,
    )


async def claim(engine: AsyncEngine, worker: str, limit: int = 10) -> list[store.Request]:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session, session.begin():
        return await store.claim(session, NOW, LEASE, limit, ["slack"], worker)


async def test_a_request_id_is_written_once(engine: AsyncEngine) -> None:
    assert await write(engine, "trigger-1", "UBEN")
    assert not await write(engine, "trigger-1", "UBEN")  # a retry: acknowledged, not written
    assert await store.count_waiting(engine) == 1


async def test_one_unworked_row_per_person_and_people_side_by_side(engine: AsyncEngine) -> None:
    for n in range(3):
        await write(engine, f"ben-{n}", "UBEN", NOW - timedelta(seconds=10 - n))
        await write(engine, f"cam-{n}", "UCAM", NOW - timedelta(seconds=10 - n))
    first = await claim(engine, "w1")
    assert sorted(r.request_id for r in first) == ["ben-0", "cam-0"]
    # Another worker finds nothing: each person's next request waits for the first.
    assert await claim(engine, "w2") == []
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session, session.begin():
        ben = next(r for r in first if r.user == "UBEN")
        assert await store.worked(session, ben, "w1", {}, NOW)
        assert not await store.worked(session, ben, "w2", {}, NOW)  # never twice
    second = await claim(engine, "w2")
    assert [r.request_id for r in second] == ["ben-1"]


async def test_a_dead_workers_rows_are_taken_back_and_answered_rows_emptied_then_purged(
    engine: AsyncEngine,
) -> None:
    await write(engine, "t-1", "UBEN")
    (row,) = await claim(engine, "web.1")
    assert await claim(engine, "web.2") == []  # leased
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session, session.begin():
        assert await store.take_back(session, "web.1") == 1
    (again,) = await claim(engine, "web.1")
    assert again.id == row.id and again.attempts == 2
    async with sessions() as session, session.begin():
        await store.answered(session, again, NOW)
    assert await store.count_waiting(engine) == 0
    assert not await write(engine, "t-1", "UBEN")  # still known for an hour
    async with sessions() as session, session.begin():
        assert await store.purge(session, NOW + timedelta(minutes=30)) == 0
        assert await store.purge(session, NOW + timedelta(hours=2)) == 1


@pytest.mark.backends("postgres")
async def test_two_workers_claiming_at_once_never_share_a_row(engine: AsyncEngine) -> None:
    for n in range(20):
        await write(engine, f"r-{n}", f"U{n}")
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as one, one.begin():
        mine = await store.claim(one, NOW, LEASE, 10, ["slack"], "w1")
        # While the first claim's transaction is open, its rows are locked: skipped.
        theirs = await claim(engine, "w2", 20)
    assert len(mine) == 10 and len(theirs) == 10
    assert not {r.id for r in mine} & {r.id for r in theirs}
