"""How Slack writes what people type: mentions as <@U…|name>, links as <url|label>, and &, <
and > as entities. The core reads words through this; it knows no Slack markup itself."""

from __future__ import annotations

import re

from bot.core.commands import MemberRef
from bot.core.parse import Syntax

# With "escape channels, users and links" on, a typed @ben arrives as <@U123|ben> (or
# <@U123>); W… ids are Enterprise Grid users.
_MENTION = re.compile(r"^<@([UW][A-Z0-9]{1,30})(?:\|[^>]*)?>$")
_LINK = re.compile(r"^<(https?://[^|>]+)(?:\|[^>]*)?>$", re.IGNORECASE)


def unescape(text: str) -> str:
    """Slack sends &, < and > as entities (its own <…> sequences stay as they are)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


class SlackSyntax:
    def member(self, word: str) -> MemberRef | None:
        m = _MENTION.match(word)
        return MemberRef(user=m.group(1)) if m else None

    def role(self, word: str) -> str | None:
        return None  # Slack has no roles a space could name (decision 13 is Discord's)

    def link(self, word: str) -> str | None:
        # The label is dropped so it can't disguise where the link goes; inside the markup
        # the address is entity-escaped too (a & in a query arrives as &amp;).
        m = _LINK.match(word)
        return unescape(m.group(1)) if m else None

    def text(self, typed: str) -> str:
        return unescape(typed)


SLACK: Syntax = SlackSyntax()
