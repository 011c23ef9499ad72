"""Discord's objects as the fake keeps them, and their JSON exactly as Discord sends it."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1420070400000
_counter = itertools.count(1)

# Permission bits used by the fake (see discord.Permissions).
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_APPLICATION_COMMANDS = 1 << 31
MEMBER_DEFAULT = VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY | USE_APPLICATION_COMMANDS
ALL_PERMISSIONS = (1 << 50) - 1

EPHEMERAL = 1 << 6
SUPPRESS_EMBEDS = 1 << 2
LOADING = 1 << 7


def snowflake() -> str:
    """A real-looking snowflake: creation time in the high bits, a counter in the low ones."""
    ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    return str((ms << 22) | (next(_counter) & 0x3FFFFF))


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class User:
    id: str
    username: str
    global_name: str | None = None
    bot: bool = False

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }


@dataclass
class Role:
    id: str
    name: str
    permissions: int = 0
    position: int = 1

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": True,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }


@dataclass
class Channel:
    id: str
    name: str
    guild_id: str | None = None
    recipient: User | None = None  # a DM channel's other person
    # permission_overwrites as Discord sends them: {"id", "type" (0 role, 1 member), "allow",
    # "deny"} with the permission bits as strings.
    overwrites: list[dict[str, Any]] = field(default_factory=list)

    def restrict(self, *allowed: str, member_ids: tuple[str, ...] = ()) -> None:
        """Private to these roles (and members): @everyone may not view it."""
        assert self.guild_id is not None
        self.overwrites = [
            {"id": self.guild_id, "type": 0, "allow": "0", "deny": str(VIEW_CHANNEL)}
        ]
        self.overwrites += [
            {"id": role, "type": 0, "allow": str(VIEW_CHANNEL), "deny": "0"} for role in allowed
        ]
        self.overwrites += [
            {"id": m, "type": 1, "allow": str(VIEW_CHANNEL), "deny": "0"} for m in member_ids
        ]

    @property
    def is_dm(self) -> bool:
        return self.guild_id is None

    def payload(self) -> dict[str, Any]:
        if self.recipient is not None:
            return {
                "id": self.id,
                "type": 1,
                "last_message_id": None,
                "recipients": [self.recipient.payload()],
                "flags": 0,
            }
        return {
            "id": self.id,
            "type": 0,
            "guild_id": self.guild_id,
            "name": self.name,
            "position": 0,
            "permission_overwrites": list(self.overwrites),
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }


@dataclass(frozen=True)
class Upload:
    """A file a person attaches to a command option (type 11), served from the fake's CDN."""

    filename: str
    data: bytes
    content_type: str = "application/toml"


@dataclass
class Member:
    user: User
    roles: list[str] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)

    def payload(self, permissions: int | None = None, with_user: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": list(self.roles),
            "nick": self.nick,
            "avatar": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass
class Guild:
    id: str
    name: str
    owner_id: str
    roles: dict[str, Role] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    members: dict[str, Member] = field(default_factory=dict)
    bot_present: bool = True  # False once the bot was kicked (GUILD_DELETE)

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    def add_channel(self, name: str) -> Channel:
        channel = Channel(snowflake(), name, guild_id=self.id)
        self.channels[channel.id] = channel
        return channel

    def add_role(self, name: str, permissions: int = 0) -> Role:
        role = Role(snowflake(), name, permissions, position=len(self.roles))
        self.roles[role.id] = role
        return role

    def add_member(self, user: User, *roles: Role, nick: str | None = None) -> Member:
        member = Member(user, [r.id for r in roles], nick)
        self.members[user.id] = member
        return member

    def permissions(self, user_id: str) -> int:
        """A member's permissions as Discord computes them (no channel overwrites here)."""
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        member = self.members.get(user_id)
        value = self.everyone.permissions
        for role_id in member.roles if member else []:
            role = self.roles.get(role_id)
            if role is not None:
                value |= role.permissions
        return ALL_PERMISSIONS if value & ADMINISTRATOR else value

    def rest_payload(self, with_counts: bool) -> dict[str, Any]:
        """GET /guilds/{id}: the guild with its roles, no channels or members."""
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "icon": None,
            "owner_id": self.owner_id,
            "roles": [r.payload() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "system_channel_flags": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
        }
        if with_counts:
            data["approximate_member_count"] = len(self.members) + 1  # and the bot
            data["approximate_presence_count"] = 0
        return data

    def payload(self, bot: User) -> dict[str, Any]:
        """GUILD_CREATE: the guild with its roles, channels and the bot's own member."""
        return {
            "id": self.id,
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": self.owner_id,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "joined_at": iso_now(),
            "large": False,
            "unavailable": False,
            "member_count": len(self.members) + 1,
            "members": [Member(bot).payload()],
            "channels": [c.payload() for c in self.channels.values()],
            "threads": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }
