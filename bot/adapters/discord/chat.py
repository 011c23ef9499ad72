"""The Discord Chat port: channel posts, DMs and in-place edits through the bot's REST client."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast

import discord

from bot.adapters.discord.render import Rendered, render
from bot.core.messages import Message
from bot.core.model import OutboxItem
from bot.core.ports import ChannelUnreadable, Limit, RateLimited, Readers, Undeliverable

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

    async def readers(self, workspace: str, channel: str, known: Sequence[str]) -> Readers:
        """Discord lists a channel's readers only with the privileged members intent, which
        rallybot does not ask for: the channel's overwrites and the server's roles say whether
        @everyone can view it, and each person rallybot knows is looked up (their roles) over
        REST. The server's other members are counted when everyone can view it."""
        http = self.bot.http
        try:
            # The raw JSON (TypedDicts in discord.py): what rallybot reads is plain Discord.
            guild = cast(dict[str, Any], await http.get_guild(int(workspace), with_counts=True))
            data = cast(dict[str, Any], await http.get_channel(int(channel)))
            roles = {str(r["id"]): int(r["permissions"]) for r in guild["roles"]}
            overwrites = list(data.get("permission_overwrites") or [])
            public = can_view(str(guild["id"]), str(guild["owner_id"]), roles, overwrites, None, [])
            users: set[str] = set()
            present = 0
            for user in known:
                try:
                    member = await http.get_member(int(workspace), int(user))
                except discord.NotFound:
                    continue  # not on this server
                present += 1
                member_roles = [str(r) for r in member.get("roles") or []]
                owner = str(guild["owner_id"])
                if can_view(str(guild["id"]), owner, roles, overwrites, user, member_roles):
                    users.add(user)
        except discord.Forbidden:
            raise ChannelUnreadable("no_access") from None
        except discord.NotFound:
            raise ChannelUnreadable("not_found") from None
        total = int(guild.get("approximate_member_count") or 0)
        others = max(0, total - 1 - present) if public else 0  # the 1: rallybot itself
        return Readers(frozenset(users), everyone=public, others=others)

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


VIEW_CHANNEL = discord.Permissions(view_channel=True).value
ADMINISTRATOR = discord.Permissions(administrator=True).value


def can_view(
    guild_id: str,
    owner_id: str,
    roles: dict[str, int],
    overwrites: list[Any],
    user_id: str | None,
    member_roles: list[str],
) -> bool:
    """Discord's own rule: the server's base permissions (@everyone and the member's roles;
    the owner and administrators see everything), then the channel's overwrites for
    @everyone, for the member's roles together, and for the member."""
    if user_id is not None and user_id == owner_id:
        return True
    base = roles.get(guild_id, 0)
    for role in member_roles:
        base |= roles.get(role, 0)
    if base & ADMINISTRATOR:
        return True
    found = {(int(o["type"]), str(o["id"])): (int(o["allow"]), int(o["deny"])) for o in overwrites}
    allow, deny = found.get((0, guild_id), (0, 0))
    base = (base & ~deny) | allow
    allow = deny = 0
    for role in member_roles:
        role_allow, role_deny = found.get((0, role), (0, 0))
        allow, deny = allow | role_allow, deny | role_deny
    base = (base & ~deny) | allow
    if user_id is not None:
        allow, deny = found.get((1, user_id), (0, 0))
        base = (base & ~deny) | allow
    return bool(base & VIEW_CHANNEL)
