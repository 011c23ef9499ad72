"""Discord's 3-second rule: every interaction gets its initial response in time (written to the
inbox, deferred, answered as a follow-up); the fake fails a response that comes too late."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from tests.adapters.discord.conftest import World
from tests.fakes.discord.server import DEADLINE


@contextmanager
def database_busy(db_url: str) -> Iterator[None]:
    """Another writer holds the SQLite write lock: every command's commit waits for it."""
    connection = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        yield
    finally:
        connection.execute("ROLLBACK")
        connection.close()


async def test_every_interaction_is_answered_within_three_seconds(world: World) -> None:
    await world.founded()
    await world.say("ana", "alert", link="https://x.com/troll/status/1")
    await world.deliver()
    rally = world.latest(world.rally_posts(), "Rally #1")
    await (await world.press("ben", rally, "on_it")).reply()
    opened = await (await world.run("cam", "alert")).wait()
    await (await world.fake.submit(world.cam, opened, {"links": "https://x.com/t/2"})).reply()
    answered = list(world.fake.interactions.values())
    assert len(answered) == 20
    assert world.fake.failed_interactions() == []
    assert all(i.latency is not None and i.latency < DEADLINE for i in answered)


async def test_a_busy_database_delays_the_deferral_by_one_insert_and_loses_nothing(
    world: World,
) -> None:
    """Acknowledged means saved: the deferral waits for the request's INSERT (here for a
    writer holding SQLite's lock 0.6 s), is still in time, and the work follows."""
    await world.founded()

    async def busy_for(seconds: float) -> None:
        with database_busy(world.db_url):
            await asyncio.sleep(seconds)

    holder = asyncio.create_task(busy_for(0.6))
    await asyncio.sleep(0.05)
    asked = [await world.run(who, "available", state="off") for who in ("ben", "cam")]
    await holder
    for interaction in asked:
        await interaction.wait()
        assert interaction.response_type == 5  # "rallybot is thinking…", privately
        assert interaction.latency is not None and interaction.latency < DEADLINE
    for interaction in asked:
        assert "won't be rallied" in await interaction.text()
        assert interaction.followups and interaction.followups[0]["flags"] & 64


async def test_the_fake_fails_an_interaction_answered_too_late(world: World) -> None:
    await world.founded()
    world.fake.deadline = 0.0  # Discord's rule, on a clock that no response beats
    late = await world.run("ben", "available", state="off")
    await late.wait()
    assert late.failed == "late"
    assert late.response_type is None
    world.fake.deadline = DEADLINE
    # Ben was told the application did not respond: nothing was done on his behalf.
    assert "You can be rallied." in await world.say("ben", "me")
    assert "won't be rallied" in await world.say("ben", "available", state="off")  # still alive
