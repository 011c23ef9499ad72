"""The Discord Chat port: channel posts, DMs and in-place edits through the bot's REST client."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import discord

from bot.adapters.discord.render import Rendered, render
from bot.core.messages import Message
from bot.core.model import OutboxItem
from bot.core.ports import Limit, RateLimited, Undeliverable

log = logging.getLogger(__name__)

T = TypeVar("T")
NONCE_CHARS = 25  # Discord's limit on a message nonce
# Discord's global limit is 50 requests/s per bot; stay under it with room for interactions'
# follow-ups and DM channel lookups. Per-channel buckets are read from Discord's own
# X-RateLimit headers by discord.py, which waits for them before each request.
GLOBAL_PER_SECOND = 40.0
# Error codes that no retry will change: unknown channel/user/message, no access, DMs closed.
PERMANENT_CODES = frozenset({10003, 10008, 10013, 50001, 50007, 50013, 50035})


def nonce_for(item: OutboxItem) -> str:
    """The same outbox row always sends with the same nonce, so a resend after a crash or a
    lost response returns the message Discord already has instead of posting it twice."""
    return item.id[:NONCE_CHARS]


def make_ref(channel_id: int, message_id: int) -> str:
    return f"{channel_id}:{message_id}"


def parse_ref(ref: str) -> tuple[int, int]:
    channel, _, message = ref.partition(":")
    return int(channel), int(message)


async def _call(send: Callable[[], Awaitable[T]]) -> T:
    """One REST call, its failure translated into what the dispatcher understands.

    discord.py already waits out 429s and retries 500/502/504 itself; what reaches here is a
    wait longer than the client's max_ratelimit_timeout, a refusal, or an outage (raised
    as is: the dispatcher retries it with backoff).
    """
    try:
        return await send()
    except discord.RateLimited as error:
        raise RateLimited(error.retry_after) from None
    except discord.HTTPException as error:
        if error.status == 429:
            retry_after = error.response.headers.get("Retry-After") if error.response else None
            raise RateLimited(float(retry_after or 1)) from None
        if error.code in PERMANENT_CODES or 400 <= error.status < 500:
            raise Undeliverable(f"{error.status} {error.code}") from None
        raise


class DiscordChat:
    platform = "discord"

    def __init__(self, bot: discord.Client) -> None:
        self.bot = bot
        self._dm_channels: dict[str, int] = {}

    def limits(self, item: OutboxItem) -> Sequence[Limit]:
        found = [Limit("discord:global", GLOBAL_PER_SECOND, int(GLOBAL_PER_SECOND))]
        if item.op == "update":  # a tally is edited at most once a second
            found.append(Limit(f"discord:edit:{item.address}:{item.key}", 1.0, 1))
        return found

    async def post(self, item: OutboxItem, message: Message) -> str:
        page = render(message)
        target = await self._destination(item)
        options = _send_options(page)
        files = page.files()
        if files:
            options["files"] = files
        sent = await _call(lambda: target.send(page.content, nonce=nonce_for(item), **options))
        return make_ref(sent.channel.id, sent.id)

    async def update(self, item: OutboxItem, ref: str, message: Message) -> None:
        channel_id, message_id = parse_ref(ref)
        page = render(message)
        target = self.bot.get_partial_messageable(channel_id).get_partial_message(message_id)
        # view=None also removes the buttons of a closed alert.
        await _call(
            lambda: target.edit(
                content=page.content, allowed_mentions=page.allowed_mentions(), view=page.view()
            )
        )

    async def _destination(self, item: OutboxItem) -> discord.PartialMessageable:
        if item.address_kind == "dm":
            channel_id = self._dm_channels.get(item.address)
            if channel_id is None:
                user = discord.Object(id=int(item.address))
                dm = await _call(lambda: self.bot.create_dm(user))
                channel_id = self._dm_channels[item.address] = dm.id
            return self.bot.get_partial_messageable(channel_id, type=discord.ChannelType.private)
        guild = int(item.workspace) if item.workspace.isdigit() else None
        return self.bot.get_partial_messageable(int(item.address), guild_id=guild)


def _send_options(page: Rendered) -> dict[str, Any]:
    options: dict[str, Any] = {
        "allowed_mentions": page.allowed_mentions(),
        "suppress_embeds": page.suppress_embeds,
    }
    view = page.view()
    if view is not None:
        options["view"] = view
    return options
