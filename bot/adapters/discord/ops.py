"""Deploy steps: register the /rally commands with Discord, and print the invite URL."""

from __future__ import annotations

import sys

import discord

from bot.adapters.discord.client import RallyBot, point_at, release, transient
from bot.adapters.discord.cog import SUBCOMMANDS
from bot.adapters.discord.library import LIBRARY_SUBCOMMANDS
from bot.bootstrap import Runtime
from bot.ops.startup import FAILURE, USAGE, StartupError
from bot.settings import Settings

SCOPES = ("bot", "applications.commands")


def permissions() -> discord.Permissions:
    """The least the bot needs: see and post in its channels, attach evidence packets, use
    commands. No Mention Everyone (so even a bug can't ping a channel), no Embed Links
    (rallybot never embeds), no Manage anything."""
    return discord.Permissions(
        view_channel=True,
        send_messages=True,
        attach_files=True,
        read_message_history=True,
        use_application_commands=True,
    )


async def sync_commands(runtime: Runtime, guild: str | None) -> int:
    """Register the command group (REST only, no gateway); returns the process exit code."""
    settings = runtime.settings
    if settings.discord_token is None:
        raise StartupError("set DISCORD_TOKEN to register the Discord commands")
    if guild is not None and not guild.isdigit():
        print(f"rallybot: --guild wants a server id (digits), not {guild[:40]!r}", file=sys.stderr)
        return USAGE
    saved = point_at(settings)
    bot = RallyBot(runtime.services, settings, inbox=runtime.inbox)
    try:
        await bot.login(settings.discord_token.get_secret_value())  # runs setup_hook: the cog
        target = discord.Object(id=int(guild)) if guild else None
        if target is not None:
            # Guild commands appear at once: the usual way to try rallybot in a test server.
            bot.tree.copy_global_to(guild=target)
        synced = await bot.tree.sync(guild=target)
    except discord.LoginFailure:
        raise StartupError(_REFUSED) from None
    except discord.HTTPException as error:
        print(f"rallybot: Discord refused the commands: {error}", file=sys.stderr)
        return FAILURE
    except Exception as error:
        if transient(error):
            raise _unreachable(error) from None
        raise
    finally:
        await bot.close()
        release(saved)
    where = f"in server {guild}" if guild else "globally (every server the bot is in)"
    for command in synced:
        subcommands = [o.name for o in command.options]
        print(f"rallybot: registered /{command.name} {where}: {', '.join(subcommands)}")
    missing = {*SUBCOMMANDS, *LIBRARY_SUBCOMMANDS} - {o.name for c in synced for o in c.options}
    if missing:
        print(f"rallybot: Discord did not confirm: {', '.join(sorted(missing))}", file=sys.stderr)
        return 1
    return 0


async def invite_url(settings: Settings) -> str:
    """The OAuth2 URL that adds the bot to a server with the minimal permissions."""
    app_id = settings.discord_application_id
    if not app_id:
        app_id = str(await _fetch_application_id(settings))
    return discord.utils.oauth_url(app_id, permissions=permissions(), scopes=SCOPES)


_REFUSED = (
    "Discord refused DISCORD_TOKEN: copy the bot token again from the Developer Portal "
    "(Bot → Reset Token)"
)


def _unreachable(error: BaseException) -> StartupError:
    return StartupError(
        f"Discord's API is unreachable ({type(error).__name__}): check the network or "
        "DISCORD_API_URL, and try again",
        FAILURE,
    )


async def _fetch_application_id(settings: Settings) -> int:
    if settings.discord_token is None:
        raise StartupError("set DISCORD_APPLICATION_ID (or DISCORD_TOKEN to look it up)")
    saved = point_at(settings)
    client = discord.Client(intents=discord.Intents.none())
    try:
        await client.login(settings.discord_token.get_secret_value())
        if client.application_id is None:
            raise StartupError("Discord did not say which application this token is", FAILURE)
        return client.application_id
    except discord.LoginFailure:
        raise StartupError(_REFUSED) from None
    except Exception as error:
        if transient(error):
            raise _unreachable(error) from None
        raise
    finally:
        await client.close()
        release(saved)
