"""Neutral messages as Discord messages; the adapter's one escaping function lives here."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import discord

from bot.core.messages import Attachment, Block, Button, Link, Mention, Message, Span, Text
from bot.core.text import clean, strip_invisible

CONTENT_LIMIT = 2000  # characters in one Discord message
MAX_PINGED_USERS = 100  # Discord's limit on allowed_mentions.users
ACTION_TEMPLATE = r"rally:(?P<scope>[a-z]+):(?P<id>[0-9a-f]{32}):(?P<rest>[a-z0-9_:]+)"
_ACTION = re.compile(ACTION_TEMPLATE)
_ZWSP = "\u200b"
_URL = re.compile(r"https?://[^\s<>]+", re.IGNORECASE)
_URL_TRAILING = ".,:;!?'\")]}"
# A mention or other <…> syntax: <@user>, <@!user>, <@&role>, <#channel>, </cmd:id>, <:emoji:id>,
# <a:emoji:id>, <t:stamp>, <id:browse>. Breaking the "<" keeps the text and kills the syntax.
_ANGLE_SYNTAX = re.compile(r"<(?=[@#/:]|a:|t:|id:)", re.IGNORECASE)
_EVERYONE = re.compile(r"@(everyone|here)\b", re.IGNORECASE)
_MARKDOWN = re.compile(r"([\\*_~|`\[\]])")
# Block markdown only counts at the start of a line: headings, quotes, lists, subtext.
# [ \t]* and not \s*: \s spans line breaks, which made escaping quadratic in them.
_LINE_START = re.compile(r"^([ \t]*)([#>+-])", re.MULTILINE)
_ORDERED = re.compile(r"^([ \t]*\d+)\.", re.MULTILINE)


def _visible(text: str) -> str:
    """Without control characters and the characters that show nothing or reorder text
    (direction marks and overrides, zero-width characters, blanks): they can hide or disguise
    what people read, a name or a link."""
    return strip_invisible(clean(text))


_SNOWFLAKE = re.compile(r"^\d{1,20}$")
_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")
_STYLES: dict[str, discord.ButtonStyle] = {
    "primary": discord.ButtonStyle.primary,
    "danger": discord.ButtonStyle.danger,
    "default": discord.ButtonStyle.secondary,
}


def escape(text: str) -> str:
    """User text as inert Discord text: no ping, no markup, no embed, no hidden characters."""
    out: list[str] = []
    pos = 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_URL_TRAILING)
        out.append(_escape_plain(text[pos : match.start()]))
        out.append(_link(url))
        pos = match.start() + len(url)
    out.append(_escape_plain(text[pos:]))
    # Lines are whole only now; an escaped link starts with "<", never with a marker.
    joined = "".join(out)
    return _ORDERED.sub(r"\1\\.", _LINE_START.sub(r"\1\\\2", joined))


def _escape_plain(text: str) -> str:
    text = _visible(text)
    text = _MARKDOWN.sub(r"\\\1", text)
    text = _ANGLE_SYNTAX.sub("<" + _ZWSP, text)
    return _EVERYONE.sub("@" + _ZWSP + r"\1", text)


def _link(url: str) -> str:
    # <url> shows the link without an embed; a URL can't hold "<", ">" or spaces (see _URL).
    return "<" + _EVERYONE.sub("@" + _ZWSP + r"\1", _visible(url)) + ">"


def _span(span: Span) -> tuple[str, int | None]:
    """The span's text, and the user it pings (only a Mention the core addressed)."""
    if isinstance(span, Mention):
        if span.user is not None and _SNOWFLAKE.match(span.user):
            return f"<@{span.user}>", int(span.user)
        # Unaddressed: the name as text, escaped as if it followed an "@" (a member called
        # "everyone" must not read as @everyone).
        return escape("@" + span.label), None
    if isinstance(span, Link):
        url = span.url.strip()
        if _URL.fullmatch(url):
            return _link(url), None
        return escape(url), None
    return _styled(span), None


FENCE = "```\n"  # opens a block to copy; reversed, "\n```" closes it


def _styled(span: Text) -> str:
    if not span.text:
        return ""
    if span.style in ("code", "pre"):
        # Backslashes show literally inside code: drop backticks, still break pings.
        inner = _visible(span.text.replace("`", "'"))
        inner = _EVERYONE.sub("@" + _ZWSP + r"\1", _ANGLE_SYNTAX.sub("<" + _ZWSP, inner))
        return f"{FENCE}{inner}{FENCE[::-1]}" if span.style == "pre" else f"`{inner}`"
    escaped = escape(span.text)
    if span.style == "bold":
        return f"**{escaped}**"
    if span.style == "italic":
        return f"*{escaped}*"
    return escaped


@dataclass
class _Part:
    text: str
    users: tuple[int, ...] = ()
    shrinkable: bool = True
    fenced: bool = False  # a ``` block to copy: shortened inside its fences


def _parts(message: Message) -> list[_Part]:
    parts = [_Part(f"**{escape(message.title)}**", shrinkable=False)]
    for block in message.blocks:
        parts.extend(_block(block))
    return parts


def _block(block: Block) -> list[_Part]:
    out: list[_Part] = []
    if block.heading:
        out.append(_Part(f"**{escape(block.heading)}**", shrinkable=False))
    texts: list[str] = []
    users: list[int] = []
    for span in block.spans:
        if isinstance(span, Text) and span.style == "pre" and span.text:
            # A block to copy (a suggested message) stands on its own lines, and is only
            # ever shortened inside its fences.
            if texts:
                out.append(_Part("".join(texts), tuple(users), shrinkable=not users))
                texts, users = [], []
            out.append(_Part(_styled(span), fenced=True))
            continue
        text, user = _span(span)
        texts.append(text)
        if user is not None:
            users.append(user)
    # A line that pings is never cut: a cut could leave half a mention.
    if texts or not out:
        out.append(_Part("".join(texts), tuple(users), shrinkable=not users))
    return out


def _fit(parts: list[_Part], limit: int) -> list[_Part]:
    """Shorten the longest shrinkable parts (cut at a space, ending in …) until all fit."""
    parts = [_Part(p.text, p.users, p.shrinkable, p.fenced) for p in parts]

    def total() -> int:
        return sum(len(p.text) for p in parts) + max(0, len(parts) - 1)

    while total() > limit:
        candidates = [
            p
            for p in parts
            if p.shrinkable and len(p.text) > (len(FENCE) * 2 + 1 if p.fenced else 1)
        ]
        if not candidates:
            break
        longest = max(candidates, key=lambda p: len(p.text))
        target = max(1, len(longest.text) - (total() - limit))
        if longest.fenced:
            inner = longest.text[len(FENCE) : -len(FENCE)]
            cut = _cut(inner, max(1, target - 2 * len(FENCE)))
            longest.text = FENCE + (cut or "…") + FENCE[::-1]
        else:
            longest.text = _cut(longest.text, target)
    if total() > limit:  # nothing left to shrink: cut the end, at a line
        text = "\n".join(p.text for p in parts)[: limit - 1]
        head = text.rsplit("\n", 1)[0] if "\n" in text else text
        return [_Part(head + "…", tuple(u for p in parts for u in p.users if f"<@{u}>" in head))]
    return parts


def _cut(text: str, length: int) -> str:
    """At most `length` characters, cut at whitespace so no link or escape is split."""
    if len(text) <= length:
        return text
    head = text[: max(0, length - 1)]
    space = max(head.rfind(" "), head.rfind("\n"))
    head = head[:space] if space > 0 else ""
    # An odd number of unescaped backticks left a code span open: Discord would pair it with
    # a later one and un-escape what lies between, so close it.
    if len(re.findall(r"(?<!\\)`", head)) % 2:
        head += "`"
    return head.rstrip() + "…"


@dataclass(frozen=True)
class Rendered:
    """One Discord message: content, the users it may ping, buttons and files."""

    content: str
    users: tuple[int, ...] = ()
    buttons: tuple[Button, ...] = ()
    attachments: tuple[Attachment, ...] = field(default=())
    # The layout has no embeds of its own, so embeds are suppressed on every message:
    # attack links are never unfurled, nor is any link a person typed into a note.
    suppress_embeds: bool = True

    def allowed_mentions(self) -> discord.AllowedMentions:
        """Exactly the users this message means to ping; never everyone, here or a role."""
        return discord.AllowedMentions(
            everyone=False,
            users=[discord.Object(id=u) for u in self.users[:MAX_PINGED_USERS]],
            roles=False,
            replied_user=False,
        )

    def view(self) -> discord.ui.View | None:
        """The buttons as persistent dynamic items (needs a running event loop)."""
        if not self.buttons:
            return None
        from bot.adapters.discord.views import ActionButton

        view = discord.ui.View(timeout=None)
        for button in self.buttons[:25]:
            label = _visible(button.label)
            view.add_item(ActionButton(button.action_id, label, button_style(button)))
        return view

    def files(self) -> list[discord.File]:
        return [
            discord.File(io.BytesIO(a.payload), filename=safe_filename(a.filename))
            for a in self.attachments[:10]
        ]


def button_style(button: Button) -> discord.ButtonStyle:
    return _STYLES.get(button.style, discord.ButtonStyle.secondary)


def safe_filename(name: str) -> str:
    cleaned = _FILENAME.sub("-", name).strip(".-")
    return cleaned[:80] or "file.txt"


def check_action(action_id: str) -> str:
    """A button id must match the persistent template, or no click would ever reach us."""
    if len(action_id) > 100 or not _ACTION.fullmatch(action_id):
        raise ValueError(f"button id {action_id!r} does not match {ACTION_TEMPLATE}")
    return action_id


def render(message: Message, limit: int = CONTENT_LIMIT) -> Rendered:
    """One message that fits Discord's limit (long notes and link lists are shortened)."""
    parts = _fit(_parts(message), limit)
    content = "\n".join(p.text for p in parts)
    for button in message.buttons:
        check_action(button.action_id)
    users = tuple(dict.fromkeys(u for p in parts for u in p.users))
    return Rendered(content, users, message.buttons, message.attachments)


def render_pages(message: Message, limit: int = CONTENT_LIMIT) -> list[Rendered]:
    """A private reply split at block boundaries into as many messages as it needs;
    the buttons and files go with the last one."""
    pages: list[list[_Part]] = [[]]
    size = 0
    for part in _parts(message):
        extra = len(part.text) + (1 if pages[-1] else 0)
        if pages[-1] and size + extra > limit:
            pages.append([])
            size, extra = 0, len(part.text)
        pages[-1].append(part)
        size += extra
    out: list[Rendered] = []
    for i, page in enumerate(pages):
        fitted = _fit(page, limit)
        last = i == len(pages) - 1
        for button in message.buttons if last else ():
            check_action(button.action_id)
        out.append(
            Rendered(
                "\n".join(p.text for p in fitted),
                tuple(dict.fromkeys(u for p in fitted for u in p.users)),
                message.buttons if last else (),
                message.attachments if last else (),
            )
        )
    return out


def plain(texts: Sequence[str]) -> str:
    """Several lines of user-visible text, each escaped (for notices built in the adapter)."""
    return "\n".join(escape(t) for t in texts)
