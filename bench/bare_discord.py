"""B2's baseline (the fair floor): a bare discord.py client whose only handler writes every
interaction with one INSERT into the same database (the inbox table, as platform "bare") and
then answers it (an ephemeral "ok"), connected the way rallybot's bot connects (the same
library, the guilds intent, REST and gateway pointed at DISCORD_API_URL / DISCORD_GATEWAY_URL).

    DATABASE_URL=… DISCORD_TOKEN=… DISCORD_API_URL=… DISCORD_GATEWAY_URL=… \
        python -m bench.bare_discord

Prints "ready" once the gateway said READY; stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import warnings
from datetime import UTC, datetime, timedelta

import yarl
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store import inbox
from bot.store.uow import make_engine

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord


# The row is written as one nobody works: it wakes no rallybot worker (migration 0012), as
# rallybot's own held row does not, so the floor pays for the INSERT and nothing else.
NEVER = timedelta(days=365)


class Bare(discord.Client):
    engine: AsyncEngine

    async def on_ready(self) -> None:
        print("ready", flush=True)

    async def on_interaction(self, interaction: discord.Interaction[discord.Client]) -> None:
        now = datetime.now(UTC)
        await inbox.write(
            self.engine,
            platform="bare",
            request_id=str(interaction.id),
            workspace="",
            user=str(interaction.user.id),
            kind="command",
            payload=dict(interaction.data or {}),
            respond_to=interaction.token,
            respond_until=now + timedelta(minutes=15),
            now=now,
            next_try=now + NEVER,
        )
        await interaction.response.send_message("ok", ephemeral=True)


async def main() -> None:
    logging.getLogger("discord").setLevel(logging.WARNING)
    discord.http.Route.BASE = os.environ["DISCORD_API_URL"].rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["DISCORD_GATEWAY_URL"])
    intents = discord.Intents.none()
    intents.guilds = True
    client = Bare(intents=intents, max_messages=None, chunk_guilds_at_startup=False)
    client.engine = make_engine(os.environ["DATABASE_URL"])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with client:
        task = asyncio.create_task(client.start(os.environ["DISCORD_TOKEN"]))
        await stop.wait()
        await client.close()
        await asyncio.gather(task, return_exceptions=True)
    await client.engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
