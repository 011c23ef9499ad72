"""The values of the command language, one parser each: whatever the platform, a typed value
is checked here (the text parser and Discord's typed options use the same ones)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import timedelta
from enum import StrEnum
from typing import TypeVar
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from bot.core import commands as c
from bot.core import links
from bot.core.errors import BadInput
from bot.core.library import check_topic
from bot.core.model import Role
from bot.core.parse.syntax import PLAIN, Syntax
from bot.core.text import has_invisible

MAX_COMMAND_CHARS = 6000
MAX_LINKS = 10
MAX_LINK_CHARS = 2000
MAX_NOTE_CHARS = 1000
MAX_EVIDENCE_CHARS = 4000
MAX_PAUSE = timedelta(days=90)
MAX_NAME_CHARS = 80  # a collective's name
MAX_APPROVALS = 50  # library messages approved at once

E = TypeVar("E", bound=StrEnum)

ALIASES: dict[str, str] = {
    "twitter": "x",
    "ig": "instagram",
    "fb": "facebook",
    "yt": "youtube",
    "reviews": "review_site",
    "review": "review_site",
    "pileon": "pile_on",
    "pile-on": "pile_on",
    "misinfo": "misinformation",
    "harassment": "sexual_harassment",
    "sexual-harassment": "sexual_harassment",
    "threats": "threat",
    "dox": "doxxing",
    "doxing": "doxxing",
    "review-bombing": "review_bombing",
    "counter-message": "counter",
    "countermessage": "counter",
    "counter_message": "counter",
    "dm": "support",
    "dms": "support",
    "supportive_dms": "support",
    "quiet-support": "quiet",
    "whole": "all",
    "everyone": "all",
    "collective": "all",
    "leads-only": "leads",
    "responders-only": "responders",
    "safety-lead": "safety_lead",
    "safety": "safety_lead",
    "counter-messaged": "countered",
    "countermessaged": "countered",
    "support": "support",
}
TRUE = frozenset({"yes", "y", "on", "true", "1"})
FALSE = frozenset({"no", "n", "off", "false", "0"})
SETUP = ("rally", "leads", "name", "timezone", "leadrole")
_ALERT_NUMBER = re.compile(r"^#?(\d{1,9})$")
_ENTRY_NUMBER = re.compile(r"^[#m]?(\d{1,6})$", re.IGNORECASE)
_DURATION = re.compile(r"^(\d{1,4})\s*(m|min|mins|h|hr|hrs|d|day|days|w|wk|weeks?)$")
_CLOCK = re.compile(r"^(\d{1,2})(?::(\d{2}))?$")
_ID = re.compile(r"^[0-9a-f]{32}$")
_ROLE_ID = re.compile(r"^\d{1,24}$")
# A platform's name as `prefer` takes it; which ones a member may prefer, the service says.
_PLATFORM = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


def usage(name: str) -> BadInput:
    """The command was not written as expected: the reply shows [copy.usage] `name`, in the
    words of the caller's platform (Services.error_reply picks them)."""
    return BadInput("error.usage", usage=name)


# --- words ---------------------------------------------------------------------------


def parse_bool(word: str) -> bool:
    w = word.lower()
    if w in TRUE:
        return True
    if w in FALSE:
        return False
    raise BadInput("error.bad_yes_no", word=word[:40])


def parse_enum(enum: type[E], word: str, option: str) -> E:
    w = word.strip().lower().replace(" ", "_")
    w = ALIASES.get(w, w)
    try:
        return enum(w)
    except ValueError:
        raise BadInput(
            "error.bad_choice",
            option=option,
            word=word[:40],
            choices=", ".join(e.value for e in enum),
        ) from None


def parse_enum_set(enum: type[E], words: str, option: str) -> frozenset[E]:
    return frozenset(parse_enum(enum, w, option) for w in words.split(",") if w.strip())


def parse_alert_ref(word: str) -> c.AlertRef:
    m = _ALERT_NUMBER.match(word.strip())
    if not m:
        raise BadInput("error.bad_alert_number", word=word[:40])
    return c.AlertRef(number=int(m.group(1)))


def member_ref(word: str, syntax: Syntax = PLAIN) -> c.MemberRef:
    """A member named in one word: the platform's mention of them, a member id as buttons
    carry it (id:<32 hex>), or else a handle."""
    mentioned = syntax.member(word)
    if mentioned is not None:
        return mentioned
    text = syntax.text(word).strip()
    if text.startswith("id:") and _ID.match(text[3:]):
        return c.MemberRef(member_id=text[3:])
    return c.MemberRef(handle=text)


# --- links ---------------------------------------------------------------------------


def link_word(word: str, syntax: Syntax = PLAIN) -> str:
    """The address a typed word holds: out of the platform's link markup (its label
    dropped, so it can't disguise where the link goes), else the word itself."""
    return syntax.link(word.strip()) or syntax.text(word.strip())


def looks_like_link(word: str, syntax: Syntax = PLAIN) -> bool:
    w = link_word(word, syntax).lower()
    return "://" in w or w.startswith(("www.", "http"))


def parse_link(word: str) -> str:
    """A web link anyone may be shown: http(s), no markup, nothing that hides where it goes."""
    url = word.strip()
    if len(url) > MAX_LINK_CHARS:
        raise BadInput("error.too_long", limit=MAX_LINK_CHARS)
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or any(
            ch.isspace() or ch in '<>|`"' or unicodedata.category(ch) in ("Cc", "Cf") for ch in url
        )  # Cc: control characters; Cf: bidi overrides and invisible characters that
        # disguise where a link goes
        or has_invisible(url)  # and the blanks that are letters to Unicode (U+3164, …)
    ):
        raise BadInput("error.bad_link", link=url[:80])
    # Links that hide where they go are refused here (bot/core/links.py); the host is
    # shown in its punycode form from now on.
    return links.normalise(url)


def parse_evidence(typed: str, syntax: Syntax = PLAIN) -> str:
    """An evidence item as typed: a link (out of the platform's markup), "case 123" or a note
    (the service tells them apart)."""
    content = syntax.link(typed.strip()) or syntax.text(typed.strip())
    if len(content) > MAX_EVIDENCE_CHARS:
        raise BadInput("error.too_long", limit=MAX_EVIDENCE_CHARS)
    return content


# --- time ----------------------------------------------------------------------------


def parse_duration(word: str) -> timedelta:
    m = _DURATION.match(word.lower())
    if not m:
        raise BadInput("error.bad_duration", word=word[:40])
    n, unit = int(m.group(1)), m.group(2)[0]
    delta = {
        "m": timedelta(minutes=n),
        "h": timedelta(hours=n),
        "d": timedelta(days=n),
        "w": timedelta(weeks=n),
    }[unit]
    if delta <= timedelta(0) or delta > MAX_PAUSE:
        raise BadInput("error.bad_duration", word=word[:40])
    return delta


def parse_pause(word: str) -> c.Pause:
    """`pause 2h`, or `pause off` to resume now."""
    word = word.strip()
    return c.Pause(None if word.lower() in FALSE else parse_duration(word))


def parse_clock(word: str) -> int:
    m = _CLOCK.match(word)
    if not m:
        raise BadInput("error.bad_quiet", word=word[:40])
    hours, minutes = int(m.group(1)), int(m.group(2) or 0)
    if hours > 23 or minutes > 59:
        raise BadInput("error.bad_quiet", word=word[:40])
    return hours * 60 + minutes


def parse_quiet(word: str) -> c.SetQuiet:
    word = word.strip()
    if word.lower() in FALSE:
        return c.SetQuiet(None, None)
    start, sep, end = word.partition("-")
    if not sep:
        raise BadInput("error.bad_quiet", word=word[:40])
    a, b = parse_clock(start), parse_clock(end)
    if a == b:
        raise BadInput("error.bad_quiet", word=word[:40])
    return c.SetQuiet(a, b)


def parse_timezone(word: str) -> str:
    if word not in _zones():
        raise BadInput("error.bad_timezone", word=word[:60])
    return word


_ZONES: frozenset[str] = frozenset()


def _zones() -> frozenset[str]:
    global _ZONES
    if not _ZONES:
        _ZONES = frozenset(available_timezones()) | {"UTC"}
    return _ZONES


# --- you and the collective ------------------------------------------------------------


def parse_prefer(word: str) -> c.Prefer:
    """DMs, the channel, or a platform by name: the service says which platforms the member
    has linked (the core keeps no list of platforms)."""
    choice = word.strip().lower()
    if choice in ("dm", "dms"):
        return c.Prefer(dm=True)
    if choice in ("channel", "mentions"):
        return c.Prefer(dm=False)
    if not _PLATFORM.match(choice):
        raise usage("prefer")
    return c.Prefer(platform=choice)


def parse_lead_role(value: str | None) -> str | None:
    """A platform role's id (a platform's mention of a role is read by its Syntax first);
    "off" removes the lead role (None)."""
    word = (value or "").strip()
    if word.lower() in FALSE:
        return None
    if not _ROLE_ID.match(word):
        raise usage("setup_leadrole")
    return word


def parse_setup(what: str, value: str | None) -> c.Setup:
    """`setup <what> [value]`; a lead role's value is the role's id, or "off"."""
    what = what.strip().lower()
    if what not in SETUP:
        raise usage("setup")
    if what == "timezone":
        return c.Setup(what, parse_timezone((value or "").strip()))
    if what == "leadrole":
        return c.Setup(what, parse_lead_role(value))
    if what == "name" and (not value or len(value) > MAX_NAME_CHARS):
        raise usage("setup_name")
    return c.Setup(what, value or None)


def role_change(member: c.MemberRef, word: str, on: bool = True) -> c.SetRole:
    """`member` removes every role; otherwise one role is granted or (on=False) removed."""
    role = word.strip().lower()
    if role == "member":
        return c.SetRole(member, None, True)
    return c.SetRole(member, parse_enum(Role, role, "role"), on)


# --- the message library ----------------------------------------------------------------


def parse_topics(words: str) -> frozenset[str]:
    return frozenset(check_topic(w) for w in re.split(r"[,\s]+", words) if w.strip())


def parse_entry_number(word: str) -> int:
    m = _ENTRY_NUMBER.match(word.strip())
    if not m:
        raise BadInput("library.bad_number", word=word[:40])
    return int(m.group(1))


def parse_entry_numbers(words: Iterable[str]) -> tuple[int, ...]:
    """Library messages to approve at once (m3 m4 …), each once, in order."""
    given = [w for w in words if w.strip()]
    if not given or len(given) > MAX_APPROVALS:
        raise usage("library_approve")
    return tuple(dict.fromkeys(parse_entry_number(w) for w in given))


def topics_change(action: str, words: Iterable[str]) -> c.LibraryTopics:
    """Add or remove the library's topics (comma- or space-separated names)."""
    action = action.strip().lower()
    given = " ".join(words).replace(",", " ").split()
    if action not in ("add", "remove") or not given:
        raise usage("library_topics")
    return c.LibraryTopics(action, tuple(dict.fromkeys(check_topic(w) for w in given)))
