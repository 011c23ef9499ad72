"""Each renderer's escaping drops control characters and the characters that show nothing or
reorder text, wherever user text goes: titles, paragraphs, names, links and button labels.

A direction override can make "evil.example/moc.x" read as "x.com/elpmaxe.live"; a zero-width
space or joiner makes "Lee" and "L\u200bee" two different names that look the same; a Hangul
filler makes a name look empty. Emoji joined by U+200D (the health worker) stay whole.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.adapters.console import render as console
from bot.adapters.discord import render as discord
from bot.adapters.slack import render as slack
from bot.core.messages import Block, Button, Link, Mention, Message, Text

# The characters issue 14 names, and the others of the same family.
INVISIBLE = [
    *(chr(c) for c in range(0x200B, 0x2010)),  # zero-width space, ZWNJ, ZWJ, LRM, RLM
    *(chr(c) for c in range(0x202A, 0x202F)),  # embeddings and overrides
    *(chr(c) for c in range(0x2060, 0x206A)),  # word joiner, invisible operators, isolates
    "\u061c",  # Arabic letter mark
    "\ufeff",  # byte-order mark, zero-width no-break space
    "\u00ad",  # soft hyphen
    "\u180e",  # Mongolian vowel separator
    "\u3164",  # Hangul filler: a "blank" letter
    "\u2800",  # braille blank
    "\U000e0041",  # a language tag
]
CONTROL = ["\x00", "\x01", "\x07", "\x1b", "\x7f", "\x9b"]  # (NEL, U+0085, is a space)
HEALTH_WORKER = "\U0001f9d1\u200d\u2695\ufe0f"


def words(text: str, hidden: str) -> str:
    return f"Le{hidden}e said: see x.com/{hidden}help and stay safe{hidden}"


def slack_text(message: Message) -> str:
    rendered = slack.render(message)
    labels = [e["text"]["text"] for b in rendered.block_dicts() for e in b.get("elements", [])]
    return "\n".join([rendered.text, *(str(b) for b in rendered.block_dicts()), *labels])


def discord_text(message: Message) -> str:
    rendered = discord.render(message)
    view = rendered.view()
    labels = [child.item.label or "" for child in view.children] if view else []  # type: ignore[attr-defined]
    return "\n".join([rendered.content, *labels])


def console_text(message: Message) -> str:
    return console.render(message, lambda _id, _label: 1, "#rally")


RENDERERS: dict[str, Callable[[Message], str]] = {
    "slack": slack_text,
    "discord": discord_text,
    "console": console_text,
}
ESCAPES: dict[str, Callable[[str], str]] = {
    "slack": slack.escape,
    "discord": discord.escape,
    "console": console.escape,
}


def message_with(hidden: str) -> Message:
    return Message(
        title=words(hidden, hidden),
        blocks=(
            Block((Text(words("", hidden)),), heading=f"Not{hidden}e"),
            Block((Mention("m1", f"Be{hidden}n"), Text(" and "), Link("https://x.com/a"))),
        ),
        buttons=(Button("rally:alert:" + "a" * 32 + ":on_it", f"Approve Z{hidden}oe"),),
    )


def no_user_invisible(out: str, hidden: str, platform: str) -> bool:
    if platform == "discord" and hidden == "\u200b":
        # Discord's own escape writes U+200B to break pings; none came from the user here.
        return out.count("\u200b") == 0
    return hidden not in out


@pytest.mark.parametrize("platform", RENDERERS)
@pytest.mark.parametrize("hidden", INVISIBLE + CONTROL, ids=lambda c: f"U+{ord(c):04X}")
async def test_every_renderer_drops_invisible_and_control_characters(
    platform: str, hidden: str
) -> None:
    out = RENDERERS[platform](message_with(hidden))
    assert no_user_invisible(out, hidden, platform), repr(out)
    for visible in ("Lee said", "stay safe", "Note", "Approve Zoe", "Ben"):
        assert visible in out, (visible, out)


@pytest.mark.parametrize("platform", ESCAPES)
def test_each_escaping_function_keeps_emoji_whole_and_lines_and_tabs(platform: str) -> None:
    out = ESCAPES[platform](f"Dr Ana {HEALTH_WORKER}\nline two\tafter a tab")
    assert HEALTH_WORKER in out
    assert "\n" in out and "\t" in out


@pytest.mark.parametrize("platform", ESCAPES)
def test_a_reversed_link_is_shown_in_its_real_order(platform: str) -> None:
    out = ESCAPES[platform]("https://evil.example/\u202emoc.x")
    assert "\u202e" not in out and "evil.example" in out
