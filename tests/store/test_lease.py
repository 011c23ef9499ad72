"""The shared named lease (bot.store.lease) on SQLite and PostgreSQL: one holder at a time,
handed over on release or when the holder stops renewing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.lease import Lease

START = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def fresh(name: str) -> str:
    """A name no earlier test used (PostgreSQL's tables are emptied between tests, not this
    table of process coordination)."""
    return f"{name}:{uuid.uuid4().hex}"


class Clock:
    def __init__(self) -> None:
        self.at = START

    def now(self) -> datetime:
        return self.at


async def test_two_holders_one_wins_and_renewing_keeps_it(engine: AsyncEngine) -> None:
    clock, name = Clock(), fresh("discord-gateway")
    first = Lease(engine, name, "first", clock, ttl=30)
    second = Lease(engine, name, "second", clock, ttl=30)
    assert await first.acquire()
    assert not await second.acquire()
    clock.at += timedelta(seconds=20)
    assert await first.acquire()  # renewed: 30 s from now
    clock.at += timedelta(seconds=20)  # 40 s after the first take, 20 after the renewal
    assert not await second.acquire()
    assert await second.holder_now() == "first"


async def test_two_holders_asking_at_once_get_one_lease(engine: AsyncEngine) -> None:
    clock, name = Clock(), fresh("gateway")
    holders = [Lease(engine, name, f"holder-{n}", clock) for n in range(5)]
    won = await asyncio.gather(*(h.acquire() for h in holders))
    assert won.count(True) == 1


async def test_a_lease_not_renewed_expires_and_hands_over(engine: AsyncEngine) -> None:
    clock, name = Clock(), fresh("gateway")
    first = Lease(engine, name, "first", clock, ttl=30)
    second = Lease(engine, name, "second", clock, ttl=30)
    assert await first.acquire()
    clock.at += timedelta(seconds=30)  # the first holder stalled: its lease lapses
    assert await second.acquire()
    assert not await first.acquire()  # late: the first holder learns it lost the lease
    assert await first.holder_now() == "second"


async def test_release_hands_over_at_once_and_names_are_apart(engine: AsyncEngine) -> None:
    clock, name = Clock(), fresh("gateway")
    first = Lease(engine, name, "first", clock)
    second = Lease(engine, name, "second", clock)
    other = Lease(engine, fresh("another-gateway"), "second", clock)
    assert await first.acquire()
    assert await other.acquire()  # another name: another lease
    await second.release()  # not the holder: nothing happens
    assert not await second.acquire()
    await first.release()
    assert await second.acquire()
