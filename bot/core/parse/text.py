"""What people type after /rally: a table of verbs, one small parser each."""

from __future__ import annotations

from collections.abc import Callable

from bot.core import commands as c
from bot.core.errors import BadInput
from bot.core.model import Help, Kind, Severity, Venue, Visibility
from bot.core.parse.library import parse_library
from bot.core.parse.line import Line
from bot.core.parse.syntax import PLAIN, Syntax
from bot.core.parse.values import (
    MAX_COMMAND_CHARS,
    MAX_LINKS,
    MAX_NOTE_CHARS,
    link_word,
    looks_like_link,
    member_ref,
    parse_alert_ref,
    parse_bool,
    parse_enum,
    parse_enum_set,
    parse_evidence,
    parse_link,
    parse_pause,
    parse_prefer,
    parse_quiet,
    parse_setup,
    parse_timezone,
    parse_topics,
    role_change,
    usage,
)
from bot.core.text import clean

Parser = Callable[[Line], c.Command]

_OPTION_KEYS = {
    "for": "for",
    "on-behalf": "for",
    "target": "for",
    "post": "post",
    "mypost": "post",
    "where": "where",
    "platform": "where",
    "kind": "kinds",
    "kinds": "kinds",
    "severity": "severity",
    "help": "help",
    "visibility": "visibility",
    "vis": "visibility",
    "anonymous": "anonymous",
    "anon": "anonymous",
    "link": "link",
    "topic": "topics",
    "topics": "topics",
}


def parse_text(text: str, syntax: Syntax = PLAIN) -> c.Command:
    """Parse what follows /rally into a command. `syntax` is the platform's: it reads
    mentions, roles and links in its own markup; the language itself is the same everywhere."""
    if len(syntax.text(text)) > MAX_COMMAND_CHARS:
        raise BadInput("error.too_long", limit=MAX_COMMAND_CHARS)
    line = Line.read(clean(text), syntax)  # no control characters (PostgreSQL refuses NUL)
    if not line.verb:
        return c.ShowHelp()
    parse = VERBS.get(line.verb)
    if parse is None:
        raise BadInput("error.unknown_command", word=line.verb[:40])
    return parse(line)


# --- alerts ----------------------------------------------------------------------------


def _alert(line: Line) -> c.Command:
    if not line:
        return c.OpenAlertForm()
    links, note, options = _alert_words(line)
    if not links:
        raise BadInput("error.alert_needs_link")
    if len(links) > MAX_LINKS:
        raise BadInput("error.too_many_links", limit=MAX_LINKS)
    if len(note) > MAX_NOTE_CHARS:
        raise BadInput("error.too_long", limit=MAX_NOTE_CHARS)
    return _alert_options(tuple(dict.fromkeys(links)), note, options, line.syntax)


def _alert_words(line: Line) -> tuple[list[str], str, dict[str, str]]:
    """Links first, key=value options anywhere, and the rest is the note."""
    syntax = line.syntax
    links: list[str] = []
    note: list[str] = []
    options: dict[str, str] = {}  # values as sent: a `for=` may be a platform mention
    for word in line.raw:
        key, sep, value = word.partition("=")
        option = _OPTION_KEYS.get(syntax.text(key).lower()) if sep else None
        if option == "link":
            links.append(parse_link(link_word(value, syntax)))
        elif option:
            if option in options:
                raise BadInput("error.option_twice", option=option)
            options[option] = value
        elif not note and looks_like_link(word, syntax):
            links.append(parse_link(link_word(word, syntax)))
        else:
            note.append(syntax.text(word))
    return links, " ".join(note), options


def _alert_options(
    links: tuple[str, ...], note: str, options: dict[str, str], syntax: Syntax
) -> c.RaiseAlert:
    def word(option: str) -> str:
        return syntax.text(options.get(option, ""))

    return c.RaiseAlert(
        links=links,
        note=note,
        target=member_ref(options["for"], syntax) if options.get("for") else None,
        post=parse_link(link_word(options["post"], syntax)) if "post" in options else None,
        venue=parse_enum(Venue, word("where"), "where") if "where" in options else None,
        kinds=parse_enum_set(Kind, word("kinds"), "kinds"),
        severity=(
            parse_enum(Severity, word("severity"), "severity") if "severity" in options else None
        ),
        help_wanted=parse_enum_set(Help, word("help"), "help"),
        visibility=(
            parse_enum(Visibility, word("visibility"), "visibility")
            if "visibility" in options
            else None
        ),
        anonymous=parse_bool(word("anonymous")) if "anonymous" in options else False,
        topics=parse_topics(word("topics")),
    )


def _one_alert(line: Line, name: str) -> c.AlertRef:
    line.expect(1, name)
    return parse_alert_ref(line.word(0))


def _status(line: Line) -> c.Command:
    return c.ShowStatus(parse_alert_ref(line.word(0)) if line else None)


def _standdown(line: Line) -> c.Command:
    return c.StandDown(_one_alert(line, "standdown"))


def _consent(line: Line) -> c.Command:
    line.expect(2, "consent")
    return c.GiveConsent(parse_alert_ref(line.word(0)), parse_bool(line.word(1)))


def _evidence(line: Line) -> c.Command:
    if len(line) < 2:
        raise usage("evidence")
    return c.AddEvidence(parse_alert_ref(line.word(0)), parse_evidence(line.rest(1), line.syntax))


def _export(line: Line) -> c.Command:
    return c.ExportEvidence(_one_alert(line, "export"))


def _delegate(line: Line) -> c.Command:
    line.expect(2, "delegate")
    return c.Delegate(parse_alert_ref(line.word(0)), line.member(1))


def _checkins(line: Line) -> c.Command:
    if len(line) != 2 or line.word(1).lower() not in ("pause", "resume", "stop"):
        raise usage("checkins")
    return c.ControlCheckIns(parse_alert_ref(line.word(0)), line.word(1).lower())


def _review(line: Line) -> c.Command:
    if len(line) != 2 or line.word(1).lower() not in ("release", "ok", "reject", "no"):
        raise usage("review")
    return c.ReviewAlert(parse_alert_ref(line.word(0)), line.word(1).lower() in ("release", "ok"))


# --- you -------------------------------------------------------------------------------


def _available(line: Line) -> c.Command:
    line.expect(1, "available")
    return c.SetAvailable(parse_bool(line.word(0)))


def _pause(line: Line) -> c.Command:
    line.expect(1, "pause")
    return parse_pause(line.word(0))


def _quiet(line: Line) -> c.Command:
    line.expect(1, "quiet")
    return parse_quiet(line.word(0))


def _timezone(line: Line) -> c.Command:
    line.expect(1, "timezone")
    return c.SetTimezone(parse_timezone(line.word(0)))


def _prefer(line: Line) -> c.Command:
    line.expect(1, "prefer")
    return parse_prefer(line.word(0))


def _link(line: Line) -> c.Command:
    if len(line) > 1:
        raise usage("link")
    return c.LinkIdentity(line.word(0).upper() if line else None)


def _help(line: Line) -> c.Command:
    return c.ShowHelp(line.word(0).lower() if line else None)


def _join(line: Line) -> c.Command:
    note = line.after(0)
    if len(note) > MAX_NOTE_CHARS:
        raise BadInput("error.too_long", limit=MAX_NOTE_CHARS)
    return c.Join(note)


# --- leads -----------------------------------------------------------------------------


def _setup(line: Line) -> c.Command:
    if not line:
        return c.Setup()
    what = line.word(0).lower()
    if what == "leadrole":
        sent = line.rest(1)
        return parse_setup(what, line.syntax.role(sent) or line.syntax.text(sent))
    return parse_setup(what, line.after(1) or None)


def _approve(line: Line) -> c.Command:
    line.expect(1, "approve")
    return c.Approve(line.member(0))


def _decline(line: Line) -> c.Command:
    line.expect(1, "decline")
    return c.Decline(line.member(0))


def _suspend(line: Line) -> c.Command:
    line.expect(1, line.verb)
    return c.Suspend(line.member(0), line.verb == "suspend")


def _role(line: Line) -> c.Command:
    if len(line) not in (2, 3):
        raise usage("role")
    on = parse_bool(line.word(2)) if len(line) == 3 else True
    return role_change(line.member(0), line.word(1), on)


def _audit(line: Line) -> c.Command:
    member: c.MemberRef | None = None
    alert: c.AlertRef | None = None
    limit = 20
    for i, word in enumerate(line.words):
        if word.startswith("#"):
            alert = parse_alert_ref(word)
        elif word.isdigit() and 1 <= int(word) <= 200:
            limit = int(word)
        elif member is None:
            member = line.member(i)
        else:
            raise usage("audit")
    return c.ShowAudit(member, alert, limit)


def _library(line: Line) -> c.Command:
    return parse_library(line.sub())


def _fixed(command: c.Command) -> Parser:
    """A verb that takes no words (any after it are ignored)."""
    return lambda line: command


# Each verb with its aliases, and the parser of the words after it.
_TABLE: tuple[tuple[str, Parser], ...] = (
    ("alert raise", _alert),
    ("status", _status),
    ("standdown stand-down close resolve", _standdown),
    ("consent", _consent),
    ("evidence", _evidence),
    ("export", _export),
    ("delegate", _delegate),
    ("checkins", _checkins),
    ("available", _available),
    ("pause", _pause),
    ("quiet", _quiet),
    ("timezone tz", _timezone),
    ("prefer", _prefer),
    ("link", _link),
    ("forgetme forget-me", _fixed(c.ForgetMe())),
    ("help", _help),
    ("join", _join),
    ("me settings", _fixed(c.ShowMe())),
    ("setup", _setup),
    ("members", _fixed(c.ListMembers())),
    ("review", _review),
    ("approve", _approve),
    ("decline", _decline),
    ("suspend unsuspend", _suspend),
    ("role", _role),
    ("audit", _audit),
    ("digest", _fixed(c.Digest())),
    ("library lib", _library),
)
VERBS: dict[str, Parser] = {verb: parse for verbs, parse in _TABLE for verb in verbs.split()}
