"""`rallybot run` with DISCORD_TOKEN: the bot, the dispatcher and the scheduler in one loop."""

from __future__ import annotations

import asyncio

from bot.bootstrap import build
from bot.platforms import platforms_for
from bot.runtime import serve
from tests.adapters.discord.conftest import discord_settings
from tests.fakes.discord import FakeDiscord


async def test_run_serves_discord_and_delivers_from_the_same_loop(
    fake: FakeDiscord, db_url: str
) -> None:
    lee, ana = fake.add_user("lee", "Lee"), fake.add_user("ana", "Ana")
    guild = fake.add_guild("Clinic", lee)
    guild.add_member(ana)
    rally = fake.add_channel(guild, "rally")
    runtime = build(discord_settings(fake, db_url, tick_seconds=0.5))
    platforms = platforms_for(runtime)
    assert [p.chat.platform for p in platforms] == ["discord"]
    stop = asyncio.Event()
    running = asyncio.create_task(serve(runtime, platforms, stop))
    try:
        await fake.gateway.wait_for(lambda: fake.gateway.identifies == 1)
        await fake.gateway.wait_for(lambda: fake.gateway.is_connected())
        setup = await fake.command(lee, "setup", channel=rally)
        assert "is set up" in await setup.text(15)
        joined = await fake.command(ana, "join", {"note": "from the clinic"}, channel=rally)
        assert "Request sent" in await joined.text()

        def asked() -> list[str]:  # other DMs to Lee (the channel check's) may come first
            return [m["content"] for m in fake.dms(lee) if "Ana asks to join" in m["content"]]

        for _ in range(200):  # the dispatcher in serve() sends it, woken by the commit
            if asked():
                break
            await asyncio.sleep(0.05)
        assert len(asked()) == 1
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
        await runtime.close()
    assert fake.open_sockets == set()  # the bot closed its gateway connection
