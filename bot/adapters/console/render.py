"""Neutral messages as terminal text; the console's one escaping function lives here."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

from bot.core.messages import Link, Mention, Message, Span, Text
from bot.core.text import strip_invisible

# Terminal control sequences in user text could repaint or hide lines: keep only \n and \t.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape(text: str) -> str:
    """Text a terminal shows as it is: no control sequences, and none of the characters
    that show nothing or reorder text (direction overrides, zero-width characters, blanks)."""
    return strip_invisible(_CONTROL.sub("", text))


def span(s: Span) -> str:
    if isinstance(s, Text):
        return escape(s.text)
    if isinstance(s, Mention):
        return "@" + escape(s.user or s.label)
    if isinstance(s, Link):
        return escape(s.url)
    raise TypeError(s)


def render(
    message: Message,
    number: Callable[[str, str], int],
    header: str,
    saved: Mapping[str, Path] | None = None,
) -> str:
    """A message under its destination header; each button gets a number to /press."""
    lines = [f"── {header} " + "─" * max(3, 60 - len(header)), escape(message.title)]
    for block in message.blocks:
        if block.heading:
            lines.append(escape(block.heading))
        text = "".join(span(s) for s in block.spans)
        if any(isinstance(s, Text) and s.style == "pre" for s in block.spans):
            lines.extend("  │ " + line for line in text.split("\n"))  # a block to copy
            continue
        lines.extend("  " + line if block.heading else line for line in text.split("\n"))
    for attachment in message.attachments:
        size = len(attachment.payload)
        where = (saved or {}).get(attachment.filename)
        lines.append(
            f"[file {escape(attachment.filename)}, {size} bytes"
            + (f", saved to {where}]" if where else "]")
        )
        if attachment.data is None:
            lines.extend("  | " + escape(line) for line in attachment.content.rstrip().split("\n"))
    if message.buttons:
        lines.append(
            "   ".join(
                f"[{number(b.action_id, b.label)}] {escape(b.label)}" for b in message.buttons
            )
        )
    return "\n".join(lines)
