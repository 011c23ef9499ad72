"""How Discord writes mentions in text: <@123> (or <@!123>) for a person, <@&123> for a role,
<https://…> for a link shown without a preview. Slash commands arrive as typed options; this
reads the mentions Discord puts in their text (a handle option, an evidence item)."""

from __future__ import annotations

import re

from bot.core.commands import MemberRef
from bot.core.parse import Syntax

_MENTION = re.compile(r"^<@!?(\d{1,24})>$")
_ROLE = re.compile(r"^<@&(\d{1,24})>$")
_LINK = re.compile(r"^<(https?://[^\s<>|]+)>$", re.IGNORECASE)


class DiscordSyntax:
    def member(self, word: str) -> MemberRef | None:
        m = _MENTION.match(word)
        return MemberRef(user=m.group(1)) if m else None

    def role(self, word: str) -> str | None:
        m = _ROLE.match(word.strip())
        return m.group(1) if m else None

    def link(self, word: str) -> str | None:
        m = _LINK.match(word)
        return m.group(1) if m else None

    def text(self, typed: str) -> str:
        return typed  # Discord sends text as typed: nothing is escaped on the way in


DISCORD: Syntax = DiscordSyntax()
