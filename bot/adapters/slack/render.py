"""Neutral messages as Slack Block Kit; the Slack adapter's one escaping function lives here."""

from __future__ import annotations

import re
from dataclasses import dataclass

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.core.messages import Button, Link, Mention, Message, Span, Text
from bot.core.text import clean, strip_invisible

SECTION_CHARS = 3000  # Slack's limit for a section's text
FALLBACK_CHARS = 3000  # notifications show far less; keep the payload small
MAX_BLOCKS = 50  # Slack's limit per message
BUTTON_CHARS = 75
BUTTONS_PER_ROW = 25

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")
_STYLE = {"bold": "*", "italic": "_", "code": "`"}


def escape(text: str) -> str:
    """&, < and > are Slack's control characters: escaped, no typed text can become a ping
    (<!channel>, <!subteam^…>, <@U…>) or a disguised link (<url|label>). Control characters
    and those that show nothing or reorder what people read (direction marks and overrides,
    zero-width characters, blanks: a spoofed link, a reversed word, a name that looks like
    another) go: Slack shows them as they are."""
    return visible(text).translate(_ESCAPES)


def visible(text: str) -> str:
    """Text without control or invisible characters (plain_text objects need no escaping)."""
    return strip_invisible(clean(text))


def span(s: Span) -> str:
    if isinstance(s, Text) and s.style == "pre":
        # A block to copy: backticks would close it early, so they become quotes.
        return "```" + escape(s.text.replace("`", "'")) + "```" if s.text.strip() else ""
    if isinstance(s, Text):
        text = escape(s.text)
        mark = _STYLE.get(s.style)
        return f"{mark}{text}{mark}" if mark and text.strip() else text
    if isinstance(s, Mention):
        # Only a member the core chose, resolved to this workspace's user id, is pinged.
        if s.user is not None and _USER_ID.match(s.user):
            return f"<@{s.user}>"
        return escape("@" + s.label)
    if isinstance(s, Link):
        return escape(s.url)  # plain text: never <url|label>, and mrkdwn is verbatim
    raise TypeError(s)


def mrkdwn(text: str) -> MarkdownTextObject:
    # verbatim: Slack does not turn URLs into links or parse @channel / #channel in our text.
    return MarkdownTextObject(text=text, verbatim=True)


@dataclass(frozen=True)
class Rendered:
    text: str  # the fallback for notifications and screen readers
    blocks: list[Block]

    def block_dicts(self) -> list[dict[str, object]]:
        return [b.to_dict() for b in self.blocks]


def render(message: Message, with_buttons: bool = True) -> Rendered:
    """A message as Block Kit: the title, one section per paragraph, then its buttons."""
    texts = []
    if message.title:
        texts.append(f"*{escape(message.title)}*")
    for block in message.blocks:
        body = "".join(span(s) for s in block.spans)
        if block.heading:
            body = f"*{escape(block.heading)}*\n{body}"
        if body.strip():
            texts.append(body)
    sections: list[Block] = [
        SectionBlock(text=mrkdwn(chunk)) for text in texts for chunk in chunks(text, SECTION_CHARS)
    ]
    rows = button_rows(message.buttons) if with_buttons else []
    blocks = sections[: MAX_BLOCKS - len(rows)] + rows
    return Rendered(text=clip("\n".join(texts), FALLBACK_CHARS), blocks=blocks)


def button_rows(buttons: tuple[Button, ...]) -> list[Block]:
    rows: list[Block] = []
    for start in range(0, len(buttons), BUTTONS_PER_ROW):
        rows.append(
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text=PlainTextObject(text=visible(b.label)[:BUTTON_CHARS], emoji=False),
                        action_id=b.action_id,
                        style=None if b.style == "default" else b.style,
                    )
                    for b in buttons[start : start + BUTTONS_PER_ROW]
                ]
            )
        )
    return rows


def _safe_cut(text: str, limit: int) -> int:
    """A cut point at or before limit that splits no entity (&amp;) and no <@U…> token."""
    cut = limit
    for opener, closer in (("&", ";"), ("<", ">")):
        start = text.rfind(opener, 0, cut)
        if start != -1 and text.find(closer, start, cut) == -1:
            cut = min(cut, start)
    newline = text.rfind("\n", 0, cut)
    if newline > cut // 2:
        cut = newline
    return max(cut, 1)


def chunks(text: str, limit: int) -> list[str]:
    out = []
    while len(text) > limit:
        cut = _safe_cut(text, limit)
        out.append(text[:cut])
        text = text[cut:].lstrip("\n")
    if text:
        out.append(text)
    return out


def clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: _safe_cut(text, limit - 1)] + "…"
