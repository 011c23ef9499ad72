"""Deploy steps: `rallybot discord-sync` registers /rally; `discord-invite` prints the URL."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import discord
import pytest

from bot.adapters.discord.cog import SUBCOMMANDS
from bot.adapters.discord.library import LIBRARY_SUBCOMMANDS
from bot.adapters.discord.ops import invite_url, permissions, sync_commands
from bot.core.model import Venue
from bot.ops.startup import StartupError
from bot.runtime import assembled
from bot.settings import Settings
from tests.adapters.discord.conftest import discord_settings
from tests.fakes.discord import FakeDiscord

RALLYBOT = Path(sys.executable).with_name("rallybot")


async def synced(settings: Settings, guild: str | None) -> int:
    """`rallybot discord-sync`: the deploy step on the composition root's runtime."""
    async with assembled(settings) as runtime:
        return await sync_commands(runtime, guild)


async def test_sync_registers_the_group_globally_as_discord_accepts_it(
    fake: FakeDiscord, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await synced(discord_settings(fake, db_url), None) == 0
    rally, library = fake.commands["global"]
    assert rally["name"] == "rally" and rally["description"]
    # The message library is a group of its own: /rally has Discord's 25 subcommands already.
    assert library["name"] == "rally-library"
    assert [o["name"] for o in library["options"]] == list(LIBRARY_SUBCOMMANDS)
    assert [o["name"] for o in rally["options"]] == list(SUBCOMMANDS)
    alert = next(o for o in rally["options"] if o["name"] == "alert")
    assert [o["name"] for o in alert["options"]][:3] == ["link", "more_links", "note"]
    assert {
        c["value"] for c in next(o for o in alert["options"] if o["name"] == "where")["choices"]
    } >= {"x", "tiktok"}
    assert rally["contexts"] == [0, 1] and rally["integration_types"] == [0]
    out = capsys.readouterr().out
    assert "registered /rally globally" in out and "standdown" in out
    assert discord.http.Route.BASE == "https://discord.com/api/v10"  # put back afterwards


async def test_sync_to_one_guild_for_a_test_server(fake: FakeDiscord, db_url: str) -> None:
    assert await synced(discord_settings(fake, db_url), "1234567890") == 0
    assert [c["name"] for c in fake.commands["1234567890"]] == ["rally", "rally-library"]
    assert "global" not in fake.commands


async def test_sync_reports_a_refused_token(
    fake: FakeDiscord, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = discord_settings(fake, db_url, discord_token="not-the-token")
    with pytest.raises(StartupError, match="Discord refused DISCORD_TOKEN") as refused:
        await synced(settings, None)
    assert refused.value.code == 2  # a configuration problem, as for a missing token
    assert await synced(discord_settings(fake, db_url), "general") == 2
    assert "--guild wants a server id" in capsys.readouterr().err


async def test_the_command_name_comes_from_the_settings(fake: FakeDiscord, db_url: str) -> None:
    assert await synced(discord_settings(fake, db_url, command="shield"), None) == 0
    assert [c["name"] for c in fake.commands["global"]] == ["shield", "shield-library"]


def option(node: dict[str, Any], name: str) -> dict[str, Any]:
    found = [o for o in node.get("options", []) if o["name"] == name]
    assert len(found) == 1, (name, [o["name"] for o in node.get("options", [])])
    return found[0]


async def test_sync_sends_the_descriptions_and_choice_names_of_the_copy(
    fake: FakeDiscord, db_url: str
) -> None:
    words = {
        "discord.group": "Our collective answers attacks together",
        "discord.cmd_consent": "Say whether the group may rally for you",
        "discord.opt_alert": "The alert's number",
        "word.yes": "Yes, rally them",
        "discord.library_group": "Messages we may suggest",
        "discord.cmd_library_add": "Propose a message",
    }
    settings = discord_settings(fake, db_url, copy_texts=words)
    assert await synced(settings, None) == 0
    rally, library = fake.commands["global"]
    consent = option(rally, "consent")
    assert rally["description"] == words["discord.group"]
    assert consent["description"] == words["discord.cmd_consent"]
    assert option(consent, "alert")["description"] == words["discord.opt_alert"]
    answer = {c["value"]: c["name"] for c in option(consent, "answer")["choices"]}
    assert answer == {"yes": words["word.yes"], "no": "no"}
    assert library["description"] == words["discord.library_group"]
    assert option(library, "add")["description"] == words["discord.cmd_library_add"]
    # Everything else is the shipped copy, every word of it from [copy]: no key is sent.
    shipped = discord_settings(fake, db_url).make_copy()
    assert option(rally, "status")["description"] == shipped("discord.cmd_status")
    where = option(option(rally, "alert"), "where")
    assert {c["name"] for c in where["choices"]} == {shipped(f"venue.{v}") for v in Venue}
    assert not any(
        d.startswith(("cmd_", "opt_", "discord.", "word.", "venue."))
        for d in descriptions(fake.commands["global"])
    )


def descriptions(nodes: list[dict[str, Any]]) -> list[str]:
    """Every description and choice name in registered commands, at any depth."""
    out: list[str] = []
    for node in nodes:
        out.append(node.get("description", ""))
        out += [str(choice["name"]) for choice in node.get("choices") or []]
        out += descriptions(node.get("options") or [])
    return out


async def test_the_invite_asks_for_the_least_the_bot_needs(fake: FakeDiscord, db_url: str) -> None:
    url = await invite_url(discord_settings(fake, db_url, discord_application_id="4242"))
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://discord.com/oauth2/authorize"
    assert query["client_id"] == ["4242"]
    assert query["scope"] == ["bot applications.commands"]
    granted = discord.Permissions(int(query["permissions"][0]))
    assert granted == permissions()
    assert granted.send_messages and granted.attach_files and granted.view_channel
    assert not granted.mention_everyone and not granted.embed_links and not granted.administrator
    assert not fake.requests  # computed locally: no call to Discord
    fetched = await invite_url(discord_settings(fake, db_url))  # no id: looked up with the token
    assert parse_qs(urlsplit(fetched).query)["client_id"] == [fake.application_id]


async def test_the_installed_command_syncs_and_invites(
    fake: FakeDiscord, db_url: str, tmp_path: Path
) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DISCORD_", "RALLYBOT_", "DATABASE_URL"))
    }
    env.update(
        DISCORD_TOKEN=fake.token,
        DISCORD_API_URL=fake.base_url,  # the version is added: /api/v10
        DATABASE_URL=db_url,
        RALLYBOT_DATA_DIR=str(tmp_path),
    )
    guild = "9876543210"
    sync = await asyncio.create_subprocess_exec(
        str(RALLYBOT),
        "discord-sync",
        "--guild",
        guild,
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(sync.communicate(), 60)
    assert sync.returncode == 0, err.decode()
    assert f"registered /rally in server {guild}" in out.decode()
    assert fake.token not in out.decode() + err.decode()
    assert [c["name"] for c in fake.commands[guild]] == ["rally", "rally-library"]
    invite = await asyncio.create_subprocess_exec(
        str(RALLYBOT),
        "discord-invite",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(invite.communicate(), 60)
    assert invite.returncode == 0, err.decode()
    assert out.decode().startswith(
        f"https://discord.com/oauth2/authorize?client_id={fake.application_id}&"
    )
