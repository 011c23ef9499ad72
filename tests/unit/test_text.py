"""Text people type and platforms send: control characters out before anything is stored,
invisible characters named for the renderers, and refused in links."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core import commands as c
from bot.core.errors import BadInput
from bot.core.library import Draft
from bot.core.model import MessageKind
from bot.core.parse import parse_link
from bot.core.text import clean, clean_fields, clean_name, has_invisible, strip_invisible
from tests.unit.conftest import Rally

HEALTH_WORKER = "\U0001f9d1\u200d\u2695\ufe0f"


def test_clean_removes_control_characters_and_keeps_lines_tabs_and_words_apart() -> None:
    assert clean("a\x00b\x07c\x1bd\x7fe\x9bf") == "abcdef"
    assert clean("one\x0btwo\x0cthree\x1cfour\x85five") == "one two three four five"
    assert clean("line\r\nnext\rlast\tcell") == "line\nnext\nlast\tcell"
    assert clean("plain text stays") == "plain text stays"


@given(st.text())
def test_clean_leaves_no_control_character_and_is_idempotent(text: str) -> None:
    once = clean(text)
    assert clean(once) == once
    assert not [ch for ch in once if (ord(ch) < 32 and ch not in "\n\t") or 0x7F <= ord(ch) <= 0x9F]


def test_a_display_name_is_one_visible_line() -> None:
    assert clean_name("  Dr\u200b Ana\n\x00Ruiz\t \u202e ") == "Dr Ana Ruiz"
    assert clean_name(f"Ana {HEALTH_WORKER}") == f"Ana {HEALTH_WORKER}"
    assert clean_name("\u3164\u200b") == ""


def test_strip_invisible_keeps_only_the_joiners_inside_emoji() -> None:
    assert strip_invisible(f"L\u200dee {HEALTH_WORKER} \u202eevil") == f"Lee {HEALTH_WORKER} evil"
    assert strip_invisible("\u200d\U0001f9d1") == "\U0001f9d1"  # a joiner joining nothing
    assert not has_invisible(strip_invisible("a\u2066b\u061cc\ufeffd\u00ade"))


HIDDEN = ["\u200b", "\u200e", "\u202e", "\u2066", "\u061c", "\ufeff", "\u3164", "\u00ad"]


@pytest.mark.parametrize("hidden", [*HIDDEN, "\U000e0041", "\x00", "\x7f", "\x85"])
def test_a_link_with_an_invisible_or_control_character_is_refused(hidden: str) -> None:
    with pytest.raises(BadInput) as refused:
        parse_link(f"https://x.com/{hidden}troll/status/1")
    assert refused.value.key == "error.bad_link"


def test_clean_fields_reaches_every_string_of_a_command() -> None:
    command = c.LibraryAdd(
        Draft(
            kind=MessageKind.SUPPORT,
            text="we\x00 see you",
            topics=frozenset({"vac\x01cines"}),
            sources=("https://x.com/\x02a",),
        )
    )
    cleaned = clean_fields(command)
    assert cleaned.draft.text == "we see you"
    assert cleaned.draft.topics == frozenset({"vaccines"})
    assert cleaned.draft.sources == ("https://x.com/a",)
    assert cleaned.draft.kind is MessageKind.SUPPORT


async def test_a_platform_display_name_is_cleaned_before_it_is_stored(rally: Rally) -> None:
    zoe = c.Caller("console", "local", "zoe", display_name="Zo\u200be\x00 \u202eK\n")
    assert (await rally.services.handle_text(zoe, "join hi\x00 there")).ok
    (member,) = [m for m in rally.data.members.values() if m.display_name.startswith("Zo")]
    assert (member.display_name, member.handle) == ("Zoe K", "zoe-k")
    (asked,) = rally.posts_in("#leads", prefix="join:")
    assert "\x00" not in str(asked.item.payload) and "hi there" in asked.text


async def test_nul_in_a_form_field_is_removed_not_refused(rally: Rally) -> None:
    form = c.RaiseAlert(links=("https://x.com/t/1",), note="my\x00 note", topics=frozenset())
    assert (await rally.services.handle(c.Caller("console", "local", "ana"), form)).ok
    assert rally.alert(1).note == "my note"
