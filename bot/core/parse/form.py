"""An alert from a platform's form (a Slack or Discord modal): errors name the field."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar

from bot.core import commands as c
from bot.core.errors import BadInput, FieldError
from bot.core.model import Help, Kind, Severity, Venue, Visibility
from bot.core.parse.syntax import PLAIN, Syntax
from bot.core.parse.values import (
    MAX_LINKS,
    MAX_NOTE_CHARS,
    link_word,
    parse_enum,
    parse_link,
    parse_topics,
)
from bot.core.text import clean

T = TypeVar("T")


def _field(name: str, parse: Callable[[], T]) -> T:
    try:
        return parse()
    except FieldError:
        raise
    except BadInput as error:
        raise FieldError(name, error.key, **error.params) from None


def alert_from_form(
    *,
    links: str,
    note: str = "",
    post: str = "",
    where: str = "",
    kinds: Sequence[str] = (),
    severity: str = "",
    help_wanted: Sequence[str] = (),
    visibility: str = "",
    anonymous: bool = False,
    target: c.MemberRef | None = None,
    topics: str = "",
    syntax: Syntax = PLAIN,
) -> c.RaiseAlert:
    """An alert from a platform's form; the platform's syntax reads the links typed in it."""
    links, note, post, where, severity, visibility, topics = (
        clean(f) for f in (links, note, post, where, severity, visibility, topics)
    )
    kinds, help_wanted = [clean(k) for k in kinds], [clean(h) for h in help_wanted]

    def link(word: str) -> str:
        return parse_link(link_word(word, syntax))

    words = links.split()
    if not words:
        raise FieldError("links", "error.alert_needs_link")
    if len(words) > MAX_LINKS:
        raise FieldError("links", "error.too_many_links", limit=MAX_LINKS)
    parsed = tuple(dict.fromkeys(_field("links", partial(link, w)) for w in words))
    if len(note) > MAX_NOTE_CHARS:
        raise FieldError("note", "error.too_long", limit=MAX_NOTE_CHARS)
    return c.RaiseAlert(
        links=parsed,
        note=note.strip(),
        target=target,
        post=_field("post", partial(link, post)) if post.strip() else None,
        venue=_field("where", partial(parse_enum, Venue, where, "where")) if where else None,
        kinds=_field("kinds", lambda: frozenset(parse_enum(Kind, k, "kinds") for k in kinds)),
        severity=(
            _field("severity", partial(parse_enum, Severity, severity, "severity"))
            if severity
            else None
        ),
        help_wanted=_field(
            "help", lambda: frozenset(parse_enum(Help, h, "help") for h in help_wanted)
        ),
        visibility=(
            _field("visibility", partial(parse_enum, Visibility, visibility, "visibility"))
            if visibility
            else None
        ),
        anonymous=anonymous,
        topics=_field("topics", partial(parse_topics, topics)),
    )
