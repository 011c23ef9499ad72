"""The /rally command language: text and button ids become commands, or a kind BadInput."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import timedelta
from enum import StrEnum
from functools import partial
from typing import TypeVar
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from bot.core import commands as c
from bot.core import links
from bot.core.errors import BadInput, FieldError
from bot.core.library import Draft, check_sources, check_text, check_topic
from bot.core.model import (
    Action,
    CheckInAnswer,
    Help,
    Kind,
    MessageKind,
    ResponseState,
    Role,
    Severity,
    Venue,
    Visibility,
)
from bot.core.text import clean, has_invisible

MAX_COMMAND_CHARS = 6000
MAX_LINKS = 10
MAX_LINK_CHARS = 2000
MAX_NOTE_CHARS = 1000
MAX_EVIDENCE_CHARS = 4000
MAX_PAUSE = timedelta(days=90)
PLATFORMS = ("slack", "discord", "console")

E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")

_ALIASES: dict[str, str] = {
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
# Options of `library add|edit`, before the message's text.
_LIBRARY_KEYS = {
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
_ENTRY_NUMBER = re.compile(r"^[#m]?(\d{1,6})$", re.IGNORECASE)
_TRUE = {"yes", "y", "on", "true", "1"}
_FALSE = {"no", "n", "off", "false", "0"}
_MENTION = re.compile(r"^<@!?([A-Za-z0-9]+)(\|[^>]*)?>$")
_SLACK_LINK = re.compile(r"^<(https?://[^|>]+)(\|[^>]*)?>$", re.IGNORECASE)
_ALERT_NUMBER = re.compile(r"^#?(\d{1,9})$")
_DURATION = re.compile(r"^(\d{1,4})\s*(m|min|mins|h|hr|hrs|d|day|days|w|wk|weeks?)$")
_CLOCK = re.compile(r"^(\d{1,2})(?::(\d{2}))?$")
_ID = re.compile(r"^[0-9a-f]{32}$")


def parse_text(text: str) -> c.Command:
    """Parse what follows `/rally` into a command."""
    if len(text) > MAX_COMMAND_CHARS:
        raise BadInput("error.too_long", limit=MAX_COMMAND_CHARS)
    text = clean(text)  # no control characters in any field (PostgreSQL refuses NUL)
    words = text.split()
    if not words:
        return c.ShowHelp()
    verb, args = words[0].lower().lstrip("/"), words[1:]
    rest = text.strip()[len(words[0]) :].strip()
    match verb:
        case "alert" | "raise":
            return c.OpenAlertForm() if not args else parse_alert(args)
        case "status":
            return c.ShowStatus(parse_alert_ref(args[0]) if args else None)
        case "standdown" | "stand-down" | "close" | "resolve":
            return c.StandDown(_one_alert(args, verb))
        case "consent":
            if len(args) != 2:
                raise BadInput("error.usage", usage="consent #12 yes|no")
            return c.GiveConsent(parse_alert_ref(args[0]), parse_bool(args[1]))
        case "evidence":
            if len(args) < 2:
                raise BadInput("error.usage", usage="evidence #12 <link, case number or note>")
            content = rest[len(args[0]) :].strip()
            if len(content) > MAX_EVIDENCE_CHARS:
                raise BadInput("error.too_long", limit=MAX_EVIDENCE_CHARS)
            return c.AddEvidence(parse_alert_ref(args[0]), _unwrap_link(content))
        case "export":
            return c.ExportEvidence(_one_alert(args, verb))
        case "delegate":
            if len(args) != 2:
                raise BadInput("error.usage", usage="delegate #12 <member>")
            return c.Delegate(parse_alert_ref(args[0]), c.MemberRef(args[1]))
        case "available":
            if len(args) != 1:
                raise BadInput("error.usage", usage="available on|off")
            return c.SetAvailable(parse_bool(args[0]))
        case "pause":
            if len(args) != 1:
                raise BadInput("error.usage", usage="pause 2h | 3d | off")
            return c.Pause(None if args[0].lower() in _FALSE else parse_duration(args[0]))
        case "quiet":
            if len(args) != 1:
                raise BadInput("error.usage", usage="quiet 22:00-07:00 | off")
            return parse_quiet(args[0])
        case "timezone" | "tz":
            if len(args) != 1:
                raise BadInput("error.usage", usage="timezone America/Chicago")
            return c.SetTimezone(parse_timezone(args[0]))
        case "prefer":
            if len(args) != 1:
                raise BadInput("error.usage", usage="prefer slack|discord|dm|channel")
            choice = args[0].lower()
            if choice in ("dm", "dms"):
                return c.Prefer(dm=True)
            if choice in ("channel", "mentions"):
                return c.Prefer(dm=False)
            if choice not in PLATFORMS:
                raise BadInput(
                    "error.bad_choice",
                    option="prefer",
                    word=choice[:40],
                    choices="slack, discord, dm, channel",
                )
            return c.Prefer(platform=choice)
        case "link":
            if len(args) > 1:
                raise BadInput("error.usage", usage="link [code]")
            return c.LinkIdentity(args[0].upper() if args else None)
        case "forgetme" | "forget-me":
            return c.ForgetMe()
        case "help":
            return c.ShowHelp(args[0].lower() if args else None)
        case "join":
            if len(rest) > MAX_NOTE_CHARS:
                raise BadInput("error.too_long", limit=MAX_NOTE_CHARS)
            return c.Join(rest)
        case "setup":
            if not args:
                return c.Setup()
            what = args[0].lower()
            if what not in ("rally", "leads", "name", "timezone", "leadrole"):
                raise BadInput(
                    "error.usage",
                    usage="setup [rally|leads|name <name>|timezone <tz>|leadrole @role|off]",
                )
            value = rest[len(args[0]) :].strip() or None
            if what == "timezone":
                value = parse_timezone(value or "")
            if what == "leadrole":
                value = parse_role_ref(value or "")
            if what == "name" and (not value or len(value) > 80):
                raise BadInput("error.usage", usage="setup name <1-80 characters>")
            return c.Setup(what, value)
        case "members":
            return c.ListMembers()
        case "me" | "settings":
            return c.ShowMe()
        case "review":
            if len(args) != 2 or args[1].lower() not in ("release", "ok", "reject", "no"):
                raise BadInput("error.usage", usage="review #12 release|reject")
            return c.ReviewAlert(parse_alert_ref(args[0]), args[1].lower() in ("release", "ok"))
        case "suspend" | "unsuspend":
            if len(args) != 1:
                raise BadInput("error.usage", usage=f"{verb} <member>")
            return c.Suspend(c.MemberRef(args[0]), verb == "suspend")
        case "audit":
            return parse_audit(args)
        case "approve":
            if len(args) != 1:
                raise BadInput("error.usage", usage="approve <member>")
            return c.Approve(c.MemberRef(args[0]))
        case "decline":
            if len(args) != 1:
                raise BadInput("error.usage", usage="decline <member>")
            return c.Decline(c.MemberRef(args[0]))
        case "role":
            return parse_role(args)
        case "digest":
            return c.Digest()
        case "library" | "lib":
            return parse_library(args, rest)
        case "checkins":
            if len(args) != 2 or args[1].lower() not in ("pause", "resume", "stop"):
                raise BadInput("error.usage", usage="checkins #12 pause|resume|stop")
            return c.ControlCheckIns(parse_alert_ref(args[0]), args[1].lower())
        case _:
            raise BadInput("error.unknown_command", word=verb[:40])


def parse_alert(args: list[str]) -> c.RaiseAlert:
    links: list[str] = []
    note: list[str] = []
    opts: dict[str, str] = {}
    for word in args:
        key, sep, value = word.partition("=")
        canonical = _OPTION_KEYS.get(key.lower()) if sep else None
        if canonical == "link":
            links.append(parse_link(value))
        elif canonical:
            if canonical in opts:
                raise BadInput("error.option_twice", option=canonical)
            opts[canonical] = value
        elif not note and _looks_like_link(word):
            links.append(parse_link(word))
        else:
            note.append(word)
    if not links:
        raise BadInput("error.alert_needs_link")
    if len(links) > MAX_LINKS:
        raise BadInput("error.too_many_links", limit=MAX_LINKS)
    text = " ".join(note)
    if len(text) > MAX_NOTE_CHARS:
        raise BadInput("error.too_long", limit=MAX_NOTE_CHARS)
    return c.RaiseAlert(
        links=tuple(dict.fromkeys(links)),
        note=text,
        target=c.MemberRef(opts["for"]) if opts.get("for") else None,
        post=parse_link(opts["post"]) if "post" in opts else None,
        venue=parse_enum(Venue, opts["where"], "where") if "where" in opts else None,
        kinds=parse_enum_set(Kind, opts.get("kinds", ""), "kinds"),
        severity=(
            parse_enum(Severity, opts["severity"], "severity") if "severity" in opts else None
        ),
        help_wanted=parse_enum_set(Help, opts.get("help", ""), "help"),
        visibility=(
            parse_enum(Visibility, opts["visibility"], "visibility")
            if "visibility" in opts
            else None
        ),
        anonymous=parse_bool(opts["anonymous"]) if "anonymous" in opts else False,
        topics=parse_topics(opts.get("topics", "")),
    )


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
    target: str | None = None,
    topics: str = "",
) -> c.RaiseAlert:
    """An alert from a platform's form (a Slack or Discord modal); errors name the field."""
    links, note, post, where, severity, visibility, topics = (
        clean(f) for f in (links, note, post, where, severity, visibility, topics)
    )
    kinds, help_wanted = [clean(k) for k in kinds], [clean(h) for h in help_wanted]
    target = clean(target) if target else target

    def field(name: str, parse: Callable[[], T]) -> T:
        try:
            return parse()
        except FieldError:
            raise
        except BadInput as error:
            raise FieldError(name, error.key, **error.params) from None

    words = links.split()
    if not words:
        raise FieldError("links", "error.alert_needs_link")
    if len(words) > MAX_LINKS:
        raise FieldError("links", "error.too_many_links", limit=MAX_LINKS)
    parsed = tuple(dict.fromkeys(field("links", partial(parse_link, w)) for w in words))
    if len(note) > MAX_NOTE_CHARS:
        raise FieldError("note", "error.too_long", limit=MAX_NOTE_CHARS)
    return c.RaiseAlert(
        links=parsed,
        note=note.strip(),
        target=c.MemberRef(target) if target else None,
        post=field("post", lambda: parse_link(post)) if post.strip() else None,
        venue=field("where", lambda: parse_enum(Venue, where, "where")) if where else None,
        kinds=field("kinds", lambda: frozenset(parse_enum(Kind, k, "kinds") for k in kinds)),
        severity=(
            field("severity", lambda: parse_enum(Severity, severity, "severity"))
            if severity
            else None
        ),
        help_wanted=field(
            "help", lambda: frozenset(parse_enum(Help, h, "help") for h in help_wanted)
        ),
        visibility=(
            field("visibility", lambda: parse_enum(Visibility, visibility, "visibility"))
            if visibility
            else None
        ),
        anonymous=anonymous,
        topics=field("topics", lambda: parse_topics(topics)),
    )


def parse_action(action_id: str) -> c.Command:
    """Parse a button's stable action id; anything unexpected is refused, never guessed."""
    parts = action_id.split(":")
    if len(parts) < 4 or parts[0] != "rally" or not _ID.match(parts[2]):
        raise BadInput("error.bad_button")
    scope, ident, verb, extra = parts[1], parts[2], parts[3], parts[4:]
    ref = c.AlertRef(id=ident)
    try:
        match scope, verb, extra:
            case "alert", "on_it", []:
                return c.Respond(ref, ResponseState.ON_IT)
            case "alert", "cant", []:
                return c.Respond(ref, ResponseState.CANT)
            case "alert", "done", []:
                return c.ShowDoneChoices(ref)
            case "alert", "did", [action]:
                return c.Respond(ref, ResponseState.DONE, Action(action))
            case "alert", "suggest", []:
                return c.SuggestMessages(ref)
            case "alert", "suggest", [page] if page.isdigit() and len(page) <= 4:
                return c.SuggestMessages(ref, int(page))
            case "lib", "use", [alert] if _ID.match(alert):
                return c.UseMessage(ident, c.AlertRef(id=alert))
            case "lib", "approve", []:
                return c.LibraryApprove(entry_id=ident)
            case "alert", "standdown", []:
                return c.StandDown(ref)
            case "consent", "yes", []:
                return c.GiveConsent(ref, True, anonymous=False)
            case "consent", "yes_anon", []:
                return c.GiveConsent(ref, True, anonymous=True)
            case "consent", "safety", []:
                return c.GiveConsent(ref, True, crowd=False)
            case "consent", "no", []:
                return c.GiveConsent(ref, False)
            case "safety", ("rally" | "hold"), []:
                return c.SafetyDecision(ref, verb == "rally")
            case "target", "rally", []:
                return c.TargetSafetyChoice(ref, True, anonymous=False)
            case "target", "rally_anon", []:
                return c.TargetSafetyChoice(ref, True, anonymous=True)
            case "target", "hold", []:
                return c.TargetSafetyChoice(ref, False)
            case "escalation", ("widen" | "page_all" | "take"), []:
                return c.ActOnEscalation(ref, verb)
            case "checkins", ("pause" | "stop" | "resume"), []:
                return c.ControlCheckIns(ref, verb)
            case "checkgroup", ("pause" | "stop"), []:
                return c.ControlCheckInGroup(ident, verb)
            case "checkin", answer, []:
                return c.AnswerCheckIn(ident, CheckInAnswer(answer))
            case "review", ("release" | "reject"), []:
                return c.ReviewAlert(ref, verb == "release")
            case "member", "approve", []:
                return c.Approve(c.MemberRef("id:" + ident))
            case "member", "decline", []:
                return c.Decline(c.MemberRef("id:" + ident))
            case "alert", "keep", []:
                return c.KeepOpen(ref)
            case "forgetme", "confirm", []:
                return c.ForgetMe(confirmed=True, member_id=ident)
    except ValueError:
        pass
    raise BadInput("error.bad_button")


def parse_audit(args: list[str]) -> c.ShowAudit:
    member: c.MemberRef | None = None
    alert: c.AlertRef | None = None
    limit = 20
    for word in args:
        if word.startswith("#"):
            alert = parse_alert_ref(word)
        elif word.isdigit() and 1 <= int(word) <= 200:
            limit = int(word)
        elif member is None:
            member = c.MemberRef(word)
        else:
            raise BadInput("error.usage", usage="audit [member] [#12] [how many, up to 200]")
    return c.ShowAudit(member, alert, limit)


def parse_alert_ref(word: str) -> c.AlertRef:
    m = _ALERT_NUMBER.match(word.strip())
    if not m:
        raise BadInput("error.bad_alert_number", word=word[:40])
    return c.AlertRef(number=int(m.group(1)))


def _one_alert(args: list[str], verb: str) -> c.AlertRef:
    if len(args) != 1:
        raise BadInput("error.usage", usage=f"{verb} #12")
    return parse_alert_ref(args[0])


def parse_link(word: str) -> str:
    url = _unwrap_link(word.strip())
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


def _unwrap_link(word: str) -> str:
    # Slack sends typed links as <url> or <url|label>; the label is dropped so it can't spoof.
    m = _SLACK_LINK.match(word)
    return m.group(1) if m else word


def _looks_like_link(word: str) -> bool:
    w = _unwrap_link(word).lower()
    return "://" in w or w.startswith(("www.", "http"))


def parse_bool(word: str) -> bool:
    w = word.lower()
    if w in _TRUE:
        return True
    if w in _FALSE:
        return False
    raise BadInput("error.bad_yes_no", word=word[:40])


def parse_enum(enum: type[E], word: str, option: str) -> E:
    w = word.strip().lower().replace(" ", "_")
    w = _ALIASES.get(w, w)
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


def parse_clock(word: str) -> int:
    m = _CLOCK.match(word)
    if not m:
        raise BadInput("error.bad_quiet", word=word[:40])
    hours, minutes = int(m.group(1)), int(m.group(2) or 0)
    if hours > 23 or minutes > 59:
        raise BadInput("error.bad_quiet", word=word[:40])
    return hours * 60 + minutes


def parse_quiet(word: str) -> c.SetQuiet:
    if word.lower() in _FALSE:
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


def parse_role(args: list[str]) -> c.SetRole:
    if len(args) not in (2, 3):
        raise BadInput("error.usage", usage="role <member> member|responder|lead|safety_lead [off]")
    on = parse_bool(args[2]) if len(args) == 3 else True
    word = args[1].lower()
    if word == "member":
        return c.SetRole(c.MemberRef(args[0]), None, True)
    return c.SetRole(c.MemberRef(args[0]), parse_enum(Role, word, "role"), on)


_ROLE_REF = re.compile(r"^(?:<@&)?(\d{1,24})>?$")


def parse_role_ref(word: str) -> str | None:
    """A platform role as <@&123> or its id; "off" removes it (None)."""
    if word.lower() in _FALSE:
        return None
    m = _ROLE_REF.match(word.strip())
    if not m:
        raise BadInput("error.usage", usage="setup leadrole @role | off")
    return m.group(1)


def mention_user(raw: str) -> str | None:
    """The platform user id inside a typed mention, if it is one."""
    m = _MENTION.match(raw)
    return m.group(1) if m else None


def parse_topics(words: str) -> frozenset[str]:
    return frozenset(check_topic(w) for w in re.split(r"[,\s]+", words) if w.strip())


def parse_entry_number(word: str) -> int:
    m = _ENTRY_NUMBER.match(word.strip())
    if not m:
        raise BadInput("library.bad_number", word=word[:40])
    return int(m.group(1))


LIBRARY_USAGE = (
    "library [list [pending|<kind>|<topic>]] | show m3 | add <kind> [topic=…] [where=…] "
    "[for=…] [source=…] <text> | edit m3 [options] [text] | approve m3 [m4 …] | remove m3 | "
    "topics [add|remove <topic> …] | import <file> | export"
)


def parse_library(args: list[str], rest: str) -> c.Command:
    """`library …`: leads keep the collective's message library (members may propose)."""
    if not args:
        return c.LibraryList()
    sub, more = args[0].lower(), args[1:]
    after = rest[len(args[0]) :].strip() if args else ""
    match sub:
        case "list" | "ls":
            if len(more) > 1:
                raise BadInput("error.usage", usage="library list [pending|<kind>|<topic>]")
            return c.LibraryList(more[0].lower() if more else None)
        case "show":
            if len(more) != 1:
                raise BadInput("error.usage", usage="library show m3")
            return c.LibraryShow(parse_entry_number(more[0]))
        case "add" | "propose":
            if not more:
                raise BadInput("error.usage", usage=LIBRARY_USAGE)
            kind = parse_enum(MessageKind, more[0], "kind")
            opts, text = _library_options(after[len(more[0]) :].strip())
            if "kind" in opts:
                raise BadInput("error.option_twice", option="kind")
            return c.LibraryAdd(
                Draft(
                    kind=kind,
                    text=check_text(text),
                    topics=parse_topics(" ".join(opts.get("topics", []))),
                    venues=_venues(opts),
                    alert_kinds=_alert_kinds(opts),
                    sources=check_sources(opts.get("sources", [])),
                )
            )
        case "edit":
            if not more:
                raise BadInput("error.usage", usage="library edit m3 [options] [new text]")
            number = parse_entry_number(more[0])
            opts, text = _library_options(after[len(more[0]) :].strip())
            if not opts and not text:
                raise BadInput("error.usage", usage="library edit m3 [options] [new text]")
            return c.LibraryEdit(
                number,
                kind=parse_enum(MessageKind, opts["kind"][0], "kind") if "kind" in opts else None,
                text=check_text(text) if text else None,
                topics=parse_topics(" ".join(opts["topics"])) if "topics" in opts else None,
                venues=_venues(opts) if "venues" in opts else None,
                alert_kinds=_alert_kinds(opts) if "alert_kinds" in opts else None,
                sources=check_sources(opts["sources"]) if "sources" in opts else None,
            )
        case "approve":
            if not more or len(more) > 50:
                raise BadInput("error.usage", usage="library approve m3 [m4 …]")
            return c.LibraryApprove(tuple(dict.fromkeys(parse_entry_number(w) for w in more)))
        case "remove" | "delete" | "rm":
            if len(more) != 1:
                raise BadInput("error.usage", usage="library remove m3")
            return c.LibraryRemove(parse_entry_number(more[0]))
        case "topics" | "topic":
            if not more:
                return c.LibraryTopics()
            action = more[0].lower()
            if action not in ("add", "remove") or len(more) < 2:
                raise BadInput("error.usage", usage="library topics [add|remove <topic> …]")
            names = tuple(
                dict.fromkeys(check_topic(w) for w in " ".join(more[1:]).replace(",", " ").split())
            )
            return c.LibraryTopics(action, names)
        case "import":
            return c.LibraryImport(None, after)
        case "export":
            return c.LibraryExport()
        case _:
            raise BadInput("error.usage", usage=LIBRARY_USAGE)


def _library_options(text: str) -> tuple[dict[str, list[str]], str]:
    """Leading key=value words are options (source= may repeat); the rest is the text."""
    opts: dict[str, list[str]] = {}
    rest = text
    while rest:
        word, _, remainder = rest.partition(" ")
        key, sep, value = word.partition("=")
        canonical = _LIBRARY_KEYS.get(key.lower()) if sep else None
        if canonical is None:
            break
        if canonical in opts and canonical != "sources":
            raise BadInput("error.option_twice", option=key.lower())
        opts.setdefault(canonical, []).extend(v for v in value.split(",") if v)
        rest = remainder.lstrip()
    return opts, rest


def _venues(opts: dict[str, list[str]]) -> frozenset[Venue]:
    return frozenset(parse_enum(Venue, v, "where") for v in opts.get("venues", []))


def _alert_kinds(opts: dict[str, list[str]]) -> frozenset[Kind]:
    return frozenset(parse_enum(Kind, k, "for") for k in opts.get("alert_kinds", []))
