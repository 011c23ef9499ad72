"""Discord's interactions through the inbox: written before the deferral, worked once (a
redelivery is not), in each person's order, answered through the interaction's webhook, or by
DM once its token has expired."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select, text

from bot.store.tables import AlertRow
from tests.adapters.discord.conftest import World

ATTACK = "https://x.com/troll/status/"


async def unanswered(world: World) -> int:
    assert world.runtime is not None
    async with world.runtime.engine.connect() as connection:
        return int(
            await connection.scalar(text("SELECT count(*) FROM inbox WHERE done_at IS NULL")) or 0
        )


async def until_answered(world: World) -> None:
    for _ in range(500):
        if await unanswered(world) == 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the inbox still holds unanswered requests")


async def test_an_interaction_replayed_after_a_resume_is_worked_once(world: World) -> None:
    await world.founded()
    first = await world.run("ben", "alert", link=ATTACK + "1", note="one alert, not two")
    assert "Alert #1 raised" in await first.text()
    # The gateway delivers the same INTERACTION_CREATE again (as a replay after RESUME does).
    await world.fake.gateway.dispatch("INTERACTION_CREATE", first.payload)
    await asyncio.sleep(0.3)
    assert world.runtime is not None
    await until_answered(world)
    assert world.runtime.inbox.duplicates == 1
    async with world.runtime.engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(AlertRow)) == 1
    assert len(first.followups) == 1  # answered once


async def test_a_burst_from_several_people_keeps_each_persons_order(world: World) -> None:
    await world.founded()
    people = ("ben", "cam", "dee")

    async def person(name: str) -> None:
        for n in range(4):
            await (await world.run(name, "alert", link=f"{ATTACK}{name}{n}")).wait()

    await asyncio.gather(*(person(p) for p in people))
    await until_answered(world)
    assert world.runtime is not None
    async with world.runtime.engine.connect() as connection:
        rows = list(await connection.execute(select(AlertRow.number, AlertRow.links)))
    waves: dict[str, list[int]] = {}
    for _number, links in sorted(rows):
        tail = str(links[0]).rsplit("/", 1)[1]
        waves.setdefault(tail[:-1], []).append(int(tail[-1]))
    assert waves == {p: [0, 1, 2, 3] for p in people}


async def test_an_expired_interaction_token_is_answered_by_dm(world: World) -> None:
    await world.founded()
    await world.stop_inbox()  # nobody works the inbox: the request waits
    asked = await world.run("cam", "available", state="off")
    await asked.wait()
    assert asked.response_type == 5 and not asked.followups
    world.clock.offset += timedelta(minutes=16)  # an interaction token lives 15 minutes
    before = len(world.dms("cam"))
    world.start_inbox()
    for _ in range(500):
        if len(world.dms("cam")) > before:
            break
        await asyncio.sleep(0.02)
    assert "won't be rallied" in str(world.dms("cam")[-1].get("content"))
    assert not asked.followups  # the expired token was not used
    await until_answered(world)
