"""One collective in a Slack workspace and a Discord server at once, each platform served by
its own process on one database: an alert raised in Slack rallies a Discord responder, and
the response from Discord shows in the tally on both."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.store import schema
from tests.adapters.discord.conftest import World, shown
from tests.adapters.slack.harness import (
    LEADS,
    OTHER,
    RALLY,
    T1,
    X_LINK,
    SlackBot,
    slack_settings,
    start_bot,
    stop_bot,
    text_of,
    users,
)
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack


@pytest.fixture
async def both(tmp_path: Path) -> AsyncIterator[tuple[SlackBot, World]]:
    url = f"sqlite:///{tmp_path / 'rallybot.db'}"
    await schema.upgrade(url)
    async with FakeSlack() as slack, FakeDiscord(heartbeat_interval=0.25) as discord:
        slack.add_workspace(T1, "clinicians", users(), {RALLY, LEADS, OTHER})
        async with aiohttp.ClientSession() as session:
            settings = slack_settings(slack, url, tmp_path)
            slack_bot = await start_bot(slack, settings, session)
            world = World(discord, url)
            await world.start()
            try:
                yield slack_bot, world
            finally:
                await world.stop()
                await stop_bot(slack_bot)


async def deliver(slack_bot: SlackBot, world: World) -> None:
    """Each process sends its own platform's rows (the other's stay for it)."""
    assert world.dispatcher is not None
    for _ in range(3):
        await slack_bot.deliver()
        await world.dispatcher.drain()


async def link(slack_bot: SlackBot, slack_user: str, world: World, discord_name: str) -> None:
    made = await slack_bot.ask(slack_user, "link")
    code = re.search(r"link ([A-Z0-9]{8})", made)
    assert code, made
    assert "linked" in (await world.say(discord_name, "link", code=code.group(1))).lower()


async def test_an_alert_raised_in_slack_rallies_discord_and_both_tallies_agree(
    both: tuple[SlackBot, World],
) -> None:
    slack_bot, world = both
    await slack_bot.seed()  # Ana leads in Slack; Ben, Cam and Dee respond there
    # Ana's Discord account is the server's owner ("lee" in the fake): as our lead who manages
    # the server, she adds it to the collective with its rally channel.
    await link(slack_bot, "UANA", world, "lee")
    added = await world.say("lee", "setup", world.rally, what="rally")
    assert "Rally channel" in added and str(world.rally.id) in added
    await link(slack_bot, "UBEN", world, "ben")  # Ben is on both; reached on Discord

    assert "raised" in await slack_bot.ask("UCAM", f"alert {X_LINK} pile-on")
    await deliver(slack_bot, world)

    (slack_rally,) = slack_bot.fake.in_channel(RALLY)
    discord_rally = world.latest(world.rally_posts(), "Rally #1")
    # Ana (the founder responds too) and Ben are linked: pinged on Discord, and only there.
    on_discord = {str(world.people[name].id) for name in ("lee", "ben")}
    assert world.fake.pings[discord_rally["id"]].users == on_discord
    slack_text = text_of({"blocks": slack_rally.blocks})
    assert "<@UBEN>" not in slack_text and "<@UANA>" not in slack_text
    assert "<@UDEE>" in slack_text  # Dee is only in Slack

    assert "on it" in (await (await world.press("ben", discord_rally, "on_it")).text()).lower()
    await deliver(slack_bot, world)
    tally = "On it: 1 · Done: 0 · Can't right now: 0"
    assert tally in shown(world.fake.current(discord_rally)["content"])
    (edited,) = slack_bot.fake.in_channel(RALLY)  # edited in place, not posted again
    assert tally in text_of({"blocks": edited.blocks})
    assert "Ben (on it)" in text_of({"blocks": edited.blocks})
