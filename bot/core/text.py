"""Text people type or platforms send: control characters out, invisible characters named."""

from __future__ import annotations

import dataclasses
import re
from enum import Enum
from typing import Any, TypeVar, cast

T = TypeVar("T")

# Control characters carry nothing a person meant to say, and PostgreSQL refuses NUL in text.
# Those that act as spaces (vertical tab, form feed, the information separators, NEL) become
# a space, so two words they separated stay two words; CR and CRLF become a line break; tab
# and line feed stay; every other C0 and C1 control character and DEL goes.
_NEWLINES = re.compile(r"\r\n?")
_BLANKS = re.compile(r"[\x0b\x0c\x1c-\x1f\x85]")
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")
_ANY_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# Characters that show nothing or reorder what is shown: zero-width spaces and joiners,
# direction marks, embeddings, overrides and isolates (U+200B-U+200F, U+202A-U+202E,
# U+2060-U+206F, U+061C), the byte-order mark, the soft hyphen, the Mongolian vowel separator,
# the Hangul and braille blanks that make a name look empty, interlinear annotations,
# musical format characters and language tags. They let text look like other text (a
# spoofed name, a reversed link), so renderers drop them.
INVISIBLE = (
    "\u00ad\u061c\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\u2800\u3164"
    "\ufeff\uffa0\ufff9-\ufffb\U0001d173-\U0001d17a\U000e0000-\U000e007f"
)
_INVISIBLE = re.compile(f"[{INVISIBLE}]")
ZWJ = "\u200d"
# A zero-width joiner between two emoji builds one picture (the health worker emoji is
# U+1F9D1 U+200D U+2695 U+FE0F): kept there, and only there.
_EMOJI = re.compile("[\u2600-\u27bf\ufe0f\U0001f000-\U0001faff]")


def clean(text: str) -> str:
    """Text without control characters: the same words, lines and tabs. Idempotent."""
    if not _ANY_CONTROL.search(text):
        return text
    text = _NEWLINES.sub("\n", text)
    return _CONTROLS.sub("", _BLANKS.sub(" ", text))


def clean_name(text: str) -> str:
    """A display name as a platform gave it, on one line: no control or invisible
    characters, single spaces, no spaces around."""
    one_line = clean(text).replace("\n", " ").replace("\t", " ")
    return " ".join(strip_invisible(one_line).split())


def strip_invisible(text: str) -> str:
    """Text without characters that show nothing or reorder it (emoji joiners stay)."""
    if not _INVISIBLE.search(text):
        return text
    return _INVISIBLE.sub(_keep_emoji_joiner, text)


def _keep_emoji_joiner(found: re.Match[str]) -> str:
    whole, at = found.string, found.start()
    if (
        found.group() == ZWJ
        and at > 0
        and found.end() < len(whole)
        and _EMOJI.match(whole, at - 1)
        and _EMOJI.match(whole, found.end())
    ):
        return ZWJ
    return ""


def has_invisible(text: str) -> bool:
    return _INVISIBLE.search(text) is not None


def clean_fields(value: T) -> T:
    """A command (any frozen dataclass) with every string inside it cleaned: nested
    dataclasses, tuples and sets too; enums and other values stay as they are."""
    return cast(T, _clean_any(value))


def _clean_any(value: Any) -> Any:
    if isinstance(value, Enum):
        return value
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, tuple):
        return tuple(_clean_any(v) for v in value)
    if isinstance(value, frozenset):
        return frozenset(_clean_any(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _clean_any(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    return value
