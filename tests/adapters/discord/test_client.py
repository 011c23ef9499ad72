"""The bot itself: endpoints, intents, a clear failure when Discord refuses the token, and
letting go of the gateway when its lease is lost."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import discord
import pytest

from bot.adapters.discord.client import api_base, create, intents
from bot.bootstrap import build
from bot.ops.platform import Health
from bot.ops.startup import StartupError
from bot.store.lease import Lease
from tests.adapters.discord.conftest import World, discord_settings
from tests.fakes.discord import FakeDiscord

DISCORD_API = "https://discord.com/api/v10"


def test_the_rest_base_gets_the_api_version_unless_it_has_one() -> None:
    assert api_base("https://proxy.example") == "https://proxy.example/api/v10"
    assert api_base("https://proxy.example/discord/") == "https://proxy.example/discord/api/v10"
    assert api_base("http://127.0.0.1:9/api/v10/") == "http://127.0.0.1:9/api/v10"


def test_only_the_guilds_intent_no_privileged_one() -> None:
    wanted = intents()
    assert wanted.guilds
    assert wanted.value == discord.Intents(guilds=True).value
    assert not (wanted.members or wanted.presences or wanted.message_content)


async def test_a_refused_token_fails_start_and_puts_the_endpoints_back(
    fake: FakeDiscord, db_url: str
) -> None:
    runtime = build(discord_settings(fake, db_url, discord_token="wrong"))
    platform = create(runtime, guild_ready_timeout=0.05)
    try:
        with pytest.raises(StartupError, match="Discord refused DISCORD_TOKEN") as refused:
            await platform.start()
        assert refused.value.code == 2  # a configuration problem: no retry, no crash loop
    finally:
        await runtime.close()
    assert discord.http.Route.BASE == DISCORD_API
    assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == "wss://gateway.discord.gg/"


async def test_start_points_discord_py_at_the_settings_and_stop_restores(
    fake: FakeDiscord, db_url: str
) -> None:
    runtime = build(discord_settings(fake, db_url))
    platform = create(runtime, guild_ready_timeout=0.05)
    try:
        await platform.start()
        assert fake.api_url == discord.http.Route.BASE
        assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == fake.gateway_url
        assert platform.bot.is_ready() and platform.bot.user is not None
        assert platform.bot.user.id == int(fake.application_id)
    finally:
        await platform.stop()
        await runtime.close()
    assert discord.http.Route.BASE == DISCORD_API
    assert platform.bot.is_closed()


async def test_a_login_that_fails_for_the_network_is_retried_until_discord_answers(
    fake: FakeDiscord, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    fake.inject("GET", "/users/@me", status=503, times=3)  # Discord's servers fail three times
    runtime = build(discord_settings(fake, db_url))
    platform = create(runtime, guild_ready_timeout=0.05)
    platform.login_retry = 0.05
    try:
        with caplog.at_level(logging.WARNING, logger="bot.ops.startup"):
            await platform.start()
        assert platform.connected and platform.problem is None
    finally:
        await platform.stop()
        await runtime.close()
    retries = [r.getMessage() for r in caplog.records if r.name == "bot.ops.startup"]
    assert len(retries) == 3
    assert all(
        m.startswith("Discord's API is unreachable (DiscordServerError); retrying in")
        for m in retries
    )


async def test_a_holder_that_lost_the_gateway_lease_lets_go_and_says_so(
    fake: FakeDiscord, db_url: str
) -> None:
    """The lease lapsed (this process stalled) and another took it: the next renewal finds
    out, the gateway closes here, and /readyz would say why."""
    world = World(fake, db_url)
    platform = await world.start(lease_seconds=0.3)  # renewed every 0.1 s
    try:
        assert platform.health() == Health(True)
        world.clock.offset += timedelta(seconds=1)  # past the lease: it lapsed
        assert world.runtime is not None
        thief = Lease(world.runtime.engine, platform.lease.name, "another-process", world.clock)
        assert await thief.acquire()
        for _ in range(500):
            if not platform.health().connected:
                break
            await asyncio.sleep(0.01)
        assert platform.health() == Health(False, "another process took over the Discord gateway")
        assert await thief.holder_now() == "another-process"
    finally:
        await world.stop()
