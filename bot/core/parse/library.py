"""`library …`: leads keep the collective's message library (members may propose)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.core import commands as c
from bot.core.errors import BadInput
from bot.core.library import Draft, check_sources, check_text
from bot.core.model import Kind, MessageKind, Venue
from bot.core.parse.values import (
    link_word,
    parse_entry_number,
    parse_entry_numbers,
    parse_enum,
    parse_topics,
    topics_change,
    usage,
)

if TYPE_CHECKING:
    from bot.core.parse.line import Line

Parser = Callable[["Line"], c.Command]
Options = dict[str, list[str]]

# Options of `library add|edit`, before the message's text.
_OPTION_KEYS = {
    "kind": "kind",
    "topic": "topics",
    "topics": "topics",
    "where": "venues",
    "platform": "venues",
    "platforms": "venues",
    "for": "alert_kinds",
    "source": "sources",
    "sources": "sources",
}


def parse_library(line: Line) -> c.Command:
    """`line` starts at the library's own verb (list, add, …); none lists the messages."""
    if not line.verb:
        return c.LibraryList()
    parse = VERBS.get(line.verb)
    if parse is None:
        raise usage("library")
    return parse(line)


def library_filter(words: list[str]) -> c.LibraryList:
    """`list [pending|<kind>|<topic>]`."""
    if len(words) > 1:
        raise usage("library_list")
    return c.LibraryList(words[0].lower() if words else None)


def _list(line: Line) -> c.Command:
    return library_filter(line.words)


def _show(line: Line) -> c.Command:
    line.expect(1, "library_show")
    return c.LibraryShow(parse_entry_number(line.word(0)))


def _add(line: Line) -> c.Command:
    if not line:
        raise usage("library")
    kind = parse_enum(MessageKind, line.word(0), "kind")
    options, text = _options(line, 1)
    if "kind" in options:
        raise BadInput("error.option_twice", option="kind")
    return c.LibraryAdd(
        Draft(
            kind=kind,
            text=check_text(text),
            topics=parse_topics(" ".join(options.get("topics", []))),
            venues=venues(options.get("venues", [])),
            alert_kinds=alert_kinds(options.get("alert_kinds", [])),
            sources=check_sources(options.get("sources", [])),
        )
    )


def _edit(line: Line) -> c.Command:
    if not line:
        raise usage("library_edit")
    number = parse_entry_number(line.word(0))
    options, text = _options(line, 1)
    if not options and not text:
        raise usage("library_edit")
    given = options.get
    kind = given("kind")
    topics, places, kinds, sources = (
        given(k) for k in ("topics", "venues", "alert_kinds", "sources")
    )
    return c.LibraryEdit(
        number,
        kind=None if kind is None else parse_enum(MessageKind, "".join(kind[:1]), "kind"),
        text=check_text(text) if text else None,
        topics=None if topics is None else parse_topics(" ".join(topics)),
        venues=None if places is None else venues(places),
        alert_kinds=None if kinds is None else alert_kinds(kinds),
        sources=None if sources is None else check_sources(sources),
    )


def _approve(line: Line) -> c.Command:
    return c.LibraryApprove(parse_entry_numbers(line.words))


def _remove(line: Line) -> c.Command:
    line.expect(1, "library_remove")
    return c.LibraryRemove(parse_entry_number(line.word(0)))


def _topics(line: Line) -> c.Command:
    if not line:
        return c.LibraryTopics()
    return topics_change(line.word(0), line.words[1:])


def _import(line: Line) -> c.Command:
    return c.LibraryImport(None, line.after(0))


def _export(line: Line) -> c.Command:
    return c.LibraryExport()


def _options(line: Line, start: int) -> tuple[Options, str]:
    """Leading key=value words from word `start` are options (source= may repeat); the rest
    is the message's text, as typed."""
    options: Options = {}
    i = start
    while i < len(line):
        key, sep, value = line.raw[i].partition("=")
        option = _OPTION_KEYS.get(line.syntax.text(key).lower()) if sep else None
        if option is None:
            break
        if option in options and option != "sources":
            raise BadInput("error.option_twice", option=line.syntax.text(key).lower())
        if option == "sources":  # links: a platform's link markup is read, its label dropped
            found = [link_word(v, line.syntax) for v in value.split(",") if v]
        else:
            found = [v for v in line.syntax.text(value).split(",") if v]
        options.setdefault(option, []).extend(found)
        i += 1
    return options, line.after(i)


def venues(words: list[str], option: str = "where") -> frozenset[Venue]:
    """The platforms a message fits; `option` is what the refusal calls the option."""
    return frozenset(parse_enum(Venue, v, option) for v in words)


def alert_kinds(words: list[str]) -> frozenset[Kind]:
    return frozenset(parse_enum(Kind, k, "for") for k in words)


VERBS: dict[str, Parser] = {
    verb: parse
    for verbs, parse in (
        ("list ls", _list),
        ("show", _show),
        ("add propose", _add),
        ("edit", _edit),
        ("approve", _approve),
        ("remove delete rm", _remove),
        ("topics topic", _topics),
        ("import", _import),
        ("export", _export),
    )
    for verb in verbs.split()
}
