"""The Discord adapter on a throw-away PostgreSQL database (RALLYBOT_TEST_POSTGRES_URL)."""

from __future__ import annotations

import pytest

from bot.store import schema
from tests.adapters.discord.conftest import World, shown
from tests.fakes.discord import FakeDiscord
from tests.support.postgres import POSTGRES_URL, throwaway_postgres

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(POSTGRES_URL is None, reason="set RALLYBOT_TEST_POSTGRES_URL to run"),
]


async def test_a_rally_on_postgresql_survives_a_restart(fake: FakeDiscord) -> None:
    assert POSTGRES_URL is not None
    async with throwaway_postgres(POSTGRES_URL) as url:
        await schema.upgrade(url)
        world = World(fake, url)
        await world.start()
        try:
            await world.founded()
            await world.say("ana", "alert", link="https://x.com/troll/status/1")
            await world.deliver()
            rally = world.latest(world.rally_posts(), "Rally #1")
            await world.restart()
            assert "you're on it" in await (await world.press("ben", rally, "on_it")).text()
            await world.deliver()
            assert "Ben (on it)" in shown(fake.current(rally)["content"])
            assert set(await world.outbox_statuses()) == {"sent"}
        finally:
            await world.stop()


async def test_only_one_process_holds_the_gateway_and_another_takes_over(
    fake: FakeDiscord,
) -> None:
    """Two workers on one database: one gateway session; the other sends and waits."""
    assert POSTGRES_URL is not None
    async with throwaway_postgres(POSTGRES_URL) as url:
        await schema.upgrade(url)
        first, second = World(fake, url), World(fake, url)
        await first.start()
        try:
            await second.start(gateway_retry=0.1)
            assert second.platform is not None and second.platform.standby
            assert fake.gateway.identifies == 1
            assert second.platform.connected  # healthy: it can still send
            await first.stop()  # the holder goes away
            await fake.gateway.wait_for(lambda: fake.gateway.identifies == 2)
            await second.platform.bot.ready_event.wait()
            assert not second.platform.standby
        finally:
            await first.stop()
            await second.stop()
