"""Platform-neutral messages: every word is plain text that renderers escape at the boundary."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Literal, TypeGuard

# "pre": a block to copy as it is (a suggested message), shown preformatted.
Style = Literal["plain", "bold", "italic", "code", "pre"]
ButtonStyle = Literal["default", "primary", "danger"]


@dataclass(frozen=True)
class Text:
    """Plain text; renderers escape every character that could become markup or a ping."""

    text: str
    style: Style = "plain"


@dataclass(frozen=True)
class Mention:
    """The one way to ping someone: a member the bot chose, resolved per platform."""

    member_id: str
    label: str
    user: str | None = None  # the platform user id, filled when the message is addressed


@dataclass(frozen=True)
class Link:
    """A URL shown as plain text: never unfurled, embedded or turned into a label."""

    url: str


Span = Text | Mention | Link


@dataclass(frozen=True)
class Block:
    """A paragraph: a line of spans, optionally under a heading."""

    spans: tuple[Span, ...]
    heading: str | None = None


@dataclass(frozen=True)
class Button:
    action_id: str  # stable across restarts, e.g. "rally:alert:<id>:on_it"
    label: str
    style: ButtonStyle = "default"


@dataclass(frozen=True)
class Attachment:
    """A file: text in `content`, or bytes in `data` (a PNG chart) with content empty."""

    filename: str
    content: str
    mime: str = "text/plain"
    data: bytes | None = None

    @property
    def payload(self) -> bytes:
        return self.data if self.data is not None else self.content.encode("utf-8")


@dataclass(frozen=True)
class Message:
    title: str
    blocks: tuple[Block, ...] = ()
    buttons: tuple[Button, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    has_attack_links: bool = False  # renderers switch unfurling and embeds off

    @property
    def mentions(self) -> tuple[Mention, ...]:
        return tuple(s for b in self.blocks for s in b.spans if isinstance(s, Mention))

    def plain_text(self) -> str:
        """The whole message as text, for fallbacks and searching in tests."""
        lines = [self.title]
        for block in self.blocks:
            if block.heading:
                lines.append(block.heading)
            lines.append("".join(span_text(s) for s in block.spans))
        return "\n".join(lines)


def span_text(span: Span) -> str:
    if isinstance(span, Text):
        return span.text
    if isinstance(span, Mention):
        return f"@{span.label}"
    return span.url


def para(*spans: Span | str, heading: str | None = None) -> Block:
    return Block(tuple(Text(s) if isinstance(s, str) else s for s in spans), heading)


@dataclass(frozen=True)
class Reply:
    """What the person who typed a command or pressed a button sees, privately."""

    message: Message
    form: str | None = None  # a platform may open this form (a modal) instead
    ok: bool = True
    extras: tuple[Message, ...] = field(default=())


def to_dict(message: Message) -> dict[str, object]:
    return {
        "title": message.title,
        "has_attack_links": message.has_attack_links,
        "blocks": [
            {"heading": b.heading, "spans": [_span_dict(s) for s in b.spans]}
            for b in message.blocks
        ],
        "buttons": [
            {"action_id": b.action_id, "label": b.label, "style": b.style} for b in message.buttons
        ],
        "attachments": [
            {
                "filename": a.filename,
                "content": a.content,
                "mime": a.mime,
                "data_b64": None if a.data is None else base64.b64encode(a.data).decode(),
            }
            for a in message.attachments
        ],
    }


def _span_dict(span: Span) -> dict[str, str | None]:
    if isinstance(span, Text):
        return {"t": "text", "text": span.text, "style": span.style}
    if isinstance(span, Mention):
        return {"t": "mention", "member_id": span.member_id, "label": span.label, "user": span.user}
    return {"t": "link", "url": span.url}


def from_dict(data: dict[str, object]) -> Message:
    blocks = []
    for b in _list(data.get("blocks")):
        spans: list[Span] = []
        for s in _list(b.get("spans")):
            kind = s.get("t")
            if kind == "mention":
                spans.append(
                    Mention(
                        str(s["member_id"]),
                        str(s["label"]),
                        None if s.get("user") is None else str(s["user"]),
                    )
                )
            elif kind == "link":
                spans.append(Link(str(s["url"])))
            else:
                style = str(s.get("style") or "plain")
                spans.append(Text(str(s["text"]), style if _is_style(style) else "plain"))
        heading = b.get("heading")
        blocks.append(Block(tuple(spans), None if heading is None else str(heading)))
    buttons = []
    for bt in _list(data.get("buttons")):
        bstyle = str(bt.get("style") or "default")
        buttons.append(
            Button(
                str(bt["action_id"]),
                str(bt["label"]),
                bstyle if _is_button_style(bstyle) else "default",
            )
        )
    attachments = [
        Attachment(
            str(a["filename"]),
            str(a.get("content") or ""),
            str(a.get("mime") or "text/plain"),
            None if not a.get("data_b64") else base64.b64decode(str(a["data_b64"])),
        )
        for a in _list(data.get("attachments"))
    ]
    return Message(
        title=str(data.get("title", "")),
        blocks=tuple(blocks),
        buttons=tuple(buttons),
        attachments=tuple(attachments),
        has_attack_links=bool(data.get("has_attack_links", False)),
    )


def _list(value: object) -> list[dict[str, object]]:
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, dict)]


def _is_style(value: str) -> TypeGuard[Style]:
    return value in ("plain", "bold", "italic", "code", "pre")


def _is_button_style(value: str) -> TypeGuard[ButtonStyle]:
    return value in ("default", "primary", "danger")
