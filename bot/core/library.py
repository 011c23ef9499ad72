"""The message library's pure parts: the file format, validation and choosing suggestions.

A library entry is a short, vetted message a rallied responder can start from: a supportive
message to the target, a public reply under the target's post, a counter-message on a
topic, or text for a platform's report form. Nothing here reads files or the database.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bot.core.errors import BadInput, NotFound
from bot.core.model import Alert, EntryStatus, Help, Kind, LibraryEntry, MessageKind, Venue

SCHEMA = "rallybot.library/1"
MAX_TEXT_CHARS = 1000  # short by design, and a suggestion fits one Discord message
MAX_SOURCES = 3
MAX_SOURCE_CHARS = 200
MAX_TOPICS = 50
MAX_ENTRIES = 1000
MAX_FILE_CHARS = 512_000
TOPIC = re.compile(r"^[a-z0-9][a-z0-9+-]{0,39}$")
# Where a collective must put its own words (a source, a local service) before the entry
# can be approved: {{like this}}.
PLACEHOLDER = re.compile(r"\{\{[^{}]*\}\}")

# What fits each venue; public replies and counter-messages must fit its comment box.
DEFAULT_LIMITS: Mapping[str, int] = {
    Venue.X: 280,
    Venue.INSTAGRAM: 2200,
    Venue.TIKTOK: 150,
    Venue.FACEBOOK: 8000,
    Venue.YOUTUBE: 10000,
    Venue.REDDIT: 10000,
    Venue.LINKEDIN: 1250,
    Venue.REVIEW_SITE: 1000,
    Venue.EMAIL: 2000,
    Venue.OTHER: 1000,
    "dm": 1000,  # a supportive message, sent privately
    "report": 1000,  # a platform's report form
}

# What kinds of message each kind of help wanted calls for.
_FOR_HELP: Mapping[Help, frozenset[MessageKind]] = {
    Help.AMPLIFY: frozenset({MessageKind.REPLY}),
    Help.COUNTER: frozenset({MessageKind.COUNTER, MessageKind.REPLY}),
    Help.REPORT: frozenset({MessageKind.REPORT}),
    Help.SUPPORT: frozenset({MessageKind.SUPPORT}),
    Help.QUIET: frozenset({MessageKind.SUPPORT}),
    Help.DOCUMENT: frozenset(),
}


@dataclass(frozen=True)
class Draft:
    """An entry as typed or read from a file, validated, not yet stored."""

    kind: MessageKind
    text: str
    topics: frozenset[str] = frozenset()
    venues: frozenset[Venue] = frozenset()
    alert_kinds: frozenset[Kind] = frozenset()
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class LibraryFile:
    topics: tuple[str, ...] = ()
    drafts: tuple[Draft, ...] = field(default=())


def has_placeholder(text: str) -> bool:
    return PLACEHOLDER.search(text) is not None


def clean_text(text: str) -> str:
    """Trim each line and drop control characters a copy-paste would carry along."""
    kept = "".join(ch for ch in text if ch in "\n\t" or ord(ch) >= 32)
    lines = [line.rstrip() for line in kept.strip().splitlines()]
    return "\n".join(lines)


def check_text(text: str) -> str:
    text = clean_text(text)
    if not text:
        raise BadInput("library.empty_text")
    if len(text) > MAX_TEXT_CHARS:
        raise BadInput("error.too_long", limit=MAX_TEXT_CHARS)
    return text


def check_topic(word: str) -> str:
    topic = word.strip().lower().replace(" ", "-").replace("_", "-")
    if not TOPIC.match(topic):
        raise BadInput("library.bad_topic", word=word[:40])
    return topic


def check_sources(links: Iterable[str]) -> tuple[str, ...]:
    from bot.core.parse import parse_link  # the one link check (parse imports the model only)

    out = tuple(dict.fromkeys(parse_link(s) for s in links if s.strip()))
    if any(len(s) > MAX_SOURCE_CHARS for s in out):
        raise BadInput("error.too_long", limit=MAX_SOURCE_CHARS)
    if len(out) > MAX_SOURCES:
        raise BadInput("library.too_many_sources", limit=MAX_SOURCES)
    return out


def parse_file(content: str) -> LibraryFile:
    """A library file (TOML, schema rallybot.library/1); errors say which entry and why."""
    if len(content) > MAX_FILE_CHARS:
        raise BadInput("error.too_long", limit=MAX_FILE_CHARS)
    try:
        data = tomllib.loads(content)
    except tomllib.TOMLDecodeError as error:
        raise BadInput("library.bad_file", reason=str(error)[:200]) from None
    schema = data.get("schema", SCHEMA)
    if schema != SCHEMA:
        raise BadInput("library.bad_file", reason=f"schema must be {SCHEMA}")
    topics = data.get("topics", [])
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise BadInput("library.bad_file", reason="topics must be a list of words")
    if len(topics) > MAX_TOPICS:
        raise BadInput("library.bad_file", reason=f"at most {MAX_TOPICS} topics")
    entries = data.get("message", [])
    if not isinstance(entries, list):
        raise BadInput("library.bad_file", reason="[[message]] entries expected")
    if len(entries) > MAX_ENTRIES:
        raise BadInput("library.bad_file", reason=f"at most {MAX_ENTRIES} messages")
    drafts = []
    for n, raw in enumerate(entries, 1):
        try:
            drafts.append(draft_from(raw))
        except BadInput as error:
            raise BadInput(
                "library.bad_entry", n=n, reason=error.key, inner=error.key, params=error.params
            ) from None
    named = tuple(dict.fromkeys(check_topic(t) for t in topics))
    used = {t for d in drafts for t in d.topics}
    return LibraryFile(named + tuple(sorted(used - set(named))), tuple(drafts))


def draft_from(raw: Any) -> Draft:
    from bot.core.parse import parse_enum

    if not isinstance(raw, dict):
        raise BadInput("library.bad_file", reason="an entry is not a table")
    text = raw.get("text")
    if not isinstance(text, str):
        raise BadInput("library.empty_text")

    def words(key: str) -> list[str]:
        value = raw.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise BadInput("library.bad_file", reason=f"{key} must be a list of words")
        return value

    return Draft(
        kind=parse_enum(MessageKind, str(raw.get("kind", "")), "kind"),
        text=check_text(text),
        topics=frozenset(check_topic(t) for t in words("topics")),
        venues=frozenset(parse_enum(Venue, v, "platforms") for v in words("platforms")),
        alert_kinds=frozenset(parse_enum(Kind, k, "for") for k in words("for")),
        sources=check_sources(words("sources")),
    )


def _toml_string(value: str) -> str:
    escaped = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\t", "\\t")
        .replace("\r", "\\r")
    )
    escaped = "".join(
        ch if ord(ch) >= 32 and ord(ch) != 127 else f"\\u{ord(ch):04x}" for ch in escaped
    )
    return f'"{escaped}"'


def _toml_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(_toml_string(v) for v in values) + "]"


def export_file(collective: str, topics: Sequence[str], entries: Sequence[LibraryEntry]) -> str:
    """The library as the same TOML `parse_file` reads (status and use counts as comments)."""
    lines = [
        f"# rallybot message library of {collective.replace(chr(10), ' ')}",
        "# Import it with /rally library import; imported messages wait for a lead's approval.",
        f'schema = "{SCHEMA}"',
        f"topics = {_toml_list(topics)}",
    ]
    for e in sorted(entries, key=lambda e: e.number):
        lines += [
            "",
            "[[message]]",
            f"# m{e.number}: {e.status.value}, used {e.uses} times",
            f'kind = "{e.kind.value}"',
            f"text = {_toml_string(e.text)}",
            f"topics = {_toml_list(sorted(e.topics))}",
            f"platforms = {_toml_list(sorted(v.value for v in e.venues))}",
            f"for = {_toml_list(sorted(k.value for k in e.alert_kinds))}",
            f"sources = {_toml_list(e.sources)}",
        ]
    return "\n".join(lines) + "\n"


def wanted_kinds(alert: Alert) -> frozenset[MessageKind]:
    """The kinds of message this alert asks responders for. Quiet support: nothing public.
    Anonymous: responders don't know who the target is, so nothing addressed to them."""
    helps = alert.help_wanted or frozenset({Help.AMPLIFY, Help.SUPPORT})
    if Help.QUIET in helps:
        kinds = frozenset({MessageKind.SUPPORT})
    else:
        kinds = frozenset(k for h in helps for k in _FOR_HELP[h])
    if alert.anonymous:
        kinds -= {MessageKind.SUPPORT, MessageKind.REPLY}
    return kinds


def limit_for(kind: MessageKind, venue: Venue, limits: Mapping[str, int]) -> int:
    key = "dm" if kind is MessageKind.SUPPORT else "report" if kind is MessageKind.REPORT else venue
    return limits.get(key, DEFAULT_LIMITS[key])


def _attacker_words(alert: Alert) -> list[str]:
    """What the alert says about the attack: its links, the handles in them, the note."""
    words = []
    for link in alert.links:
        words.append(link.lower())
        try:
            path = urlsplit(link).path
        except ValueError:
            continue
        first = path.strip("/").split("/")[0].lstrip("@").lower()
        if len(first) >= 3:
            words.append(first)
    if len(alert.note.strip()) >= 12:
        words.append(alert.note.strip().lower())
    return words


def _echo_check(alert: Alert) -> Callable[[str], bool]:
    """Whether a text would repeat the attack: an attack link or the alert's note (as
    written), or the attacker's handle (as a whole word or @handle)."""
    phrases = [w for w in _attacker_words(alert) if "/" in w or " " in w]
    handles = [re.escape(w) for w in _attacker_words(alert) if "/" not in w and " " not in w]
    pattern = (
        re.compile("|".join(rf"(?<![\w@]){h}(?!\w)|@{h}(?!\w)" for h in handles))
        if handles
        else None
    )

    def echoing(text: str) -> bool:
        lowered = text.lower()
        return any(p in lowered for p in phrases) or bool(pattern and pattern.search(lowered))

    return echoing


def echoes(text: str, alert: Alert) -> bool:
    return _echo_check(alert)(text)


def fitting(
    entries: Iterable[LibraryEntry], alert: Alert, limits: Mapping[str, int]
) -> list[LibraryEntry]:
    """The approved entries that fit the alert (what it asks for, where, how long), with
    nothing of the attack in them; the alert's side is worked out once."""
    kinds = wanted_kinds(alert)
    echoing = _echo_check(alert)
    return [
        e
        for e in entries
        if e.status is EntryStatus.APPROVED
        and e.kind in kinds
        and (not e.venues or alert.venue in e.venues)
        and (not e.alert_kinds or bool(e.alert_kinds & alert.kinds))
        and (not e.topics or bool(e.topics & alert.topics))
        and len(e.text) <= limit_for(e.kind, alert.venue, limits)
        and not has_placeholder(e.text)
        and not echoing(e.text)
    ]


def suggestions(
    entries: Sequence[LibraryEntry],
    alert: Alert,
    member_id: str,
    limits: Mapping[str, int],
    page: int = 0,
    count: int = 3,
) -> list[LibraryEntry]:
    """Up to `count` entries that fit the alert: on its topic first, then general ones."""
    return choose(fitting(entries, alert, limits), alert, member_id, page, count)


def choose(
    fit: Sequence[LibraryEntry], alert: Alert, member_id: str, page: int = 0, count: int = 3
) -> list[LibraryEntry]:
    """Each responder sees the fitting entries in their own order (many identical replies
    look like a bot network), and "Another" (page + 1) moves on through it, wrapping round."""
    fit = list(fit)

    def order(e: LibraryEntry) -> tuple[int, str]:
        spread = hashlib.sha256(f"{member_id}:{alert.id}:{e.id}".encode()).hexdigest()
        return (0 if e.topics & alert.topics else 1, spread)

    fit.sort(key=order)
    if len(fit) <= count:
        return fit
    start = (max(page, 0) * count) % len(fit)
    return [fit[(start + i) % len(fit)] for i in range(count)]


def topics_without_messages(topics: Sequence[str], entries: Iterable[LibraryEntry]) -> list[str]:
    covered = {t for e in entries if e.status is EntryStatus.APPROVED for t in e.topics}
    return [t for t in topics if t not in covered]


def topic_list(topics: Sequence[str]) -> str:
    return ", ".join(topics) or "—"


def check_known_topics(known: Sequence[str], topics: Iterable[str] | None) -> None:
    """Topics must be the collective's own: a typo would silently match nothing."""
    unknown = sorted(set(topics or ()) - set(known))
    if unknown:
        raise NotFound("library.no_topic", topic=unknown[0], topics=topic_list(known))
