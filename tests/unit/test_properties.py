"""Hypothesis over every parser and every renderer.

Inputs: arbitrary Unicode, control characters, strings up to 100 KB, Slack markup
(`<!channel>`, `<!here>`, `<!everyone>`, `<!subteam^S1>`, `<@U123>`, `<https://evil|label>`),
Discord markup (`@everyone`, `@here`, `<@&1>`, `<@1>`, `<#1>`), markdown and link tricks.

- Parsers (`parse_text`, `parse_action`, `alert_from_form`): only BadInput escapes, and what
  they accept is within the documented limits (links http(s), no markup characters).
- The core (`Services.handle_text` / `handle_action`) and the console (`ConsoleShell.handle_line`):
  nothing escapes; a refused request changes nothing.
- Renderers: a Message of arbitrary Text, Link and Mention spans never yields a live mention or
  disguised link except the Mention spans the test created: Slack's mrkdwn and fallback text
  hold `<` only as `<@U…>` of a created mention (so no `<!…>`, `<#…>`, `<http…|…>`), and every
  mrkdwn object is verbatim; Discord's allowed_mentions never parses everyone or roles and lists
  only created mentions' users, its content has no live `@everyone`/`@here`, role, channel or
  command syntax and no masked link, and embeds are suppressed; the console's output has no
  control characters but newline and tab.

What the properties found is pinned by explicit tests at the end: a member named "everyone",
bidirectional overrides, a code span cut open by shortening, and the quadratic cost of line
breaks in Discord's escape (the generated long lines hold no line breaks for that reason).

The number of generated cases is counted per property and printed at the end of the module
(and checked by the last test): 3,120 in a full run.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import re
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.adapters.console.chat import Buttons, ConsoleChat
from bot.adapters.console.render import render as console_render
from bot.adapters.console.shell import ConsoleClock, ConsoleShell
from bot.adapters.discord.render import escape as escape_for_discord
from bot.adapters.discord.render import render as discord_render
from bot.adapters.discord.render import render_pages
from bot.adapters.discord.syntax import DISCORD
from bot.adapters.slack.render import render as slack_render
from bot.adapters.slack.syntax import SLACK
from bot.core import commands as c
from bot.core.errors import BadInput, FieldError
from bot.core.messages import Block, Button, Link, Mention, Message, Text
from bot.core.parse import (
    MAX_COMMAND_CHARS,
    MAX_EVIDENCE_CHARS,
    MAX_LINK_CHARS,
    MAX_LINKS,
    MAX_NOTE_CHARS,
    PLAIN,
    Syntax,
    alert_from_form,
    parse_action,
    parse_text,
)
from bot.core.policy import Policy
from bot.core.services import Services
from bot.delivery.outbox import Dispatcher
from tests.fakes import MemoryStore, SeqIds
from tests.unit.conftest import Rally, as_, build_rally, load_copy

COUNTS: Counter[str] = Counter()

FRAGMENTS = [
    # Slack
    "<!channel>", "<!here>", "<!everyone>", "<!subteam^S1>", "<!subteam^S1|@docs>", "<@U123>",
    "<@W0ABC|boss>", "<#C123>", "<#C1|general>", "<https://evil|label>", "<https://evil>",
    "<http://evil.example|your clinic>", "<mailto:a@b.c|x>", "<!date^1|x>",
    # Discord
    "@everyone", "@here", "@EVERYONE", "@here.", "everyone", "here", "<@&1>", "<@1>", "<@!1>",
    "<#1>", "</rally alert:1>", "<:e:1>", "<a:e:1>", "<t:1:R>", "<id:browse>",
    # markdown and link tricks
    "[click](https://evil.example)", "[x](<https://evil>)", "**", "__", "~~", "||", "`", "```",
    "> ", "# ", "-# ", "1. ", "- ", "\\", "*", "_", "&", "&amp;", "&lt;", "&gt;", "<", ">", "|",
    "https://x.com/troll/status/1", "http://evil.example/a?b=<c>&d=e", "www.evil.example",
    "javascript:alert(1)", "HTTPS://X.COM/A", "https://", "https://a|b", "https://a>b",
    # control, invisible and bidirectional characters
    "\n", "\t", "\r", "\x00", "\x1b[2J", "\x1b]8;;https://evil\x07", "\x7f", "\x85", "\x9b",
    "\u200b", "\u202e", "\u2066", "\ufeff", "\u2028",
    # the command language's own syntax
    "=", "for=", "post=", "kinds=threat", "visibility=leads", "anon=yes", "#1", "#999999999",
    "id:", "rally:alert:", ":", " ", "  ",
    # other scripts
    "é", "Ω", "漢字", "😀", "\U0001f469\u200d\u2695\ufe0f",
]  # fmt: skip
VERBS = [
    "alert", "raise", "status", "standdown", "close", "consent", "evidence", "export",
    "delegate", "available", "pause", "quiet", "timezone", "prefer", "link", "forgetme", "help",
    "join", "setup", "setup name", "setup leadrole", "members", "me", "review", "suspend",
    "unsuspend", "audit", "approve", "role", "digest", "checkins", "/ALERT", "Alert",
    "library", "library add reply", "library add counter topic=masks", "library edit m1",
    "library topics add", "library import", "alert https://x.com/a/1 topic=",
]  # fmt: skip

fragment = st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12))
hostile = st.one_of(
    st.lists(fragment, max_size=16).map("".join),
    st.lists(fragment, max_size=12).map(" ".join),
    st.text(max_size=60),
)


def _repeat(piece: str, size: int) -> str:
    return (piece * (size // max(len(piece), 1) + 1))[:size]


big = st.builds(
    _repeat, st.sampled_from([*FRAGMENTS, "a", "x ", "é "]), st.integers(5_000, 100_000)
)
typed = st.one_of(
    st.builds(lambda verb, rest: f"{verb} {rest}", st.sampled_from(VERBS), hostile),
    hostile,
    big,
    st.builds(lambda verb, rest: f"{verb} {rest}", st.sampled_from(VERBS), big),
)
HEX = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
action_ids = st.one_of(
    st.text(max_size=80),
    hostile,
    st.lists(
        st.one_of(
            st.sampled_from(
                [
                    "rally",
                    "alert",
                    "consent",
                    "safety",
                    "target",
                    "checkins",
                    "checkin",
                    "review",
                    "member",
                    "forgetme",
                    "lib",
                    "suggest",
                    "use",
                    "on_it",
                    "cant",
                    "done",
                    "did",
                    "standdown",
                    "yes",
                    "no",
                    "rally",
                    "hold",
                    "pause",
                    "stop",
                    "resume",
                    "ok",
                    "struggling",
                    "need_help",
                    "approve",
                    "release",
                    "reject",
                    "confirm",
                    "amplified",
                    "reported",
                    "0" * 32,
                    "F" * 32,
                ]
            ),
            HEX,
            st.text(max_size=8),
        ),
        min_size=2,
        max_size=6,
    ).map(":".join),
)

_ID = re.compile(r"^[0-9a-f]{32}$")
_LINK_FORBIDDEN = set('<>|`"')


def counted(name: str) -> None:
    COUNTS[name] += 1


def check_link(link: str) -> None:
    assert re.match(r"^https?://", link, re.IGNORECASE), link[:80]
    assert len(link) <= MAX_LINK_CHARS
    assert not any(ch.isspace() or ord(ch) < 32 or ch in _LINK_FORBIDDEN for ch in link), link


def check_command(command: c.Command) -> None:
    """What a parser accepted is within the documented limits."""
    if isinstance(command, c.RaiseAlert):
        assert 1 <= len(command.links) <= MAX_LINKS
        for link in command.links:
            check_link(link)
        if command.post is not None:
            check_link(command.post)
        assert len(command.note) <= MAX_NOTE_CHARS
    elif isinstance(command, c.AddEvidence):
        assert 0 < len(command.content) <= MAX_EVIDENCE_CHARS
    elif isinstance(command, c.Join):
        assert len(command.note) <= MAX_NOTE_CHARS


# --- parsers ---------------------------------------------------------------------------------


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=typed, syntax=st.sampled_from([PLAIN, SLACK, DISCORD]))
def test_parse_text_accepts_or_refuses_kindly(text: str, syntax: Syntax) -> None:
    """With every platform's syntax: markup a platform reads (Slack's <url|label>, Discord's
    <@123>) never lets a label, markup or an over-long text through."""
    counted("parse_text")
    try:
        command = parse_text(text, syntax)
    except BadInput:
        return
    assert len(syntax.text(text)) <= MAX_COMMAND_CHARS
    check_command(command)


@settings(max_examples=600, deadline=None)
@given(action=action_ids)
def test_parse_action_accepts_only_well_formed_ids(action: str) -> None:
    counted("parse_action")
    try:
        command = parse_action(action)
    except BadInput:
        return
    parts = action.split(":")
    assert parts[0] == "rally" and _ID.match(parts[2]), action
    ref = getattr(command, "alert", None)
    if ref is not None:
        assert ref.id == parts[2] and ref.number is None
    if isinstance(command, c.Approve | c.Decline):
        assert command.member == c.MemberRef(member_id=parts[2])
    if isinstance(command, c.ForgetMe):
        assert command.confirmed and command.member_id == parts[2]
    if isinstance(command, c.AnswerCheckIn):
        assert command.checkin_id == parts[2]


FORM_FIELDS = {"links", "note", "post", "where", "kinds", "severity", "help", "visibility"}
form_text = st.one_of(hostile, big, st.sampled_from(["", "x", "pile_on", "high", "leads"]))
form_links = st.one_of(
    form_text,
    st.lists(
        st.sampled_from(
            [
                "https://x.com/a",
                "<https://x.com/b|label>",
                "http://evil.example/<c>",
                "ftp://x",
                "https://",
                "https://a b",
                "https://x.com/\u202e",
            ]
        )
        | hostile,
        max_size=12,
    ).map("\n".join),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    links=form_links,
    note=form_text,
    post=form_text,
    where=form_text,
    kinds=st.lists(form_text, max_size=4),
    severity=form_text,
    help_wanted=st.lists(form_text, max_size=4),
    visibility=form_text,
    anonymous=st.booleans(),
    target=st.one_of(st.none(), st.builds(lambda h: c.MemberRef(handle=h), hostile)),
    syntax=st.sampled_from([PLAIN, SLACK, DISCORD]),
)
def test_alert_from_form_accepts_or_names_the_bad_field(**fields: Any) -> None:
    counted("alert_from_form")
    try:
        command = alert_from_form(**fields)
    except FieldError as error:
        assert error.field in FORM_FIELDS
        return
    except BadInput as error:  # pragma: no cover - every form error names its field
        raise AssertionError(f"a form error without a field: {error.key}") from error
    check_command(command)


# --- the core and the console on arbitrary input ------------------------------------------


def _async_run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _fresh() -> Rally:
    return await build_rally(Policy(alerts_per_day=1000))


def _forged_only(before: Any, after: Any) -> None:
    new = [e for k, e in after.audit.items() if k not in before.audit]
    assert {e.action for e in new} <= {"forged_request_refused"}
    after.audit = {k: v for k, v in after.audit.items() if k in before.audit}
    assert after == before, "a refused request changed the store"


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(who=st.sampled_from(["ana", "ben", "lee", "zed"]), texts=st.lists(typed, max_size=3))
def test_the_core_never_raises_and_a_refusal_changes_nothing(who: str, texts: list[str]) -> None:
    counted("services.handle_text")

    async def scenario() -> None:
        rally = await _fresh()
        await rally.raise_alert("ana", "kinds=trolling")
        for text in texts:
            before = rally.snapshot()
            reply = await rally.say(as_(who), text)
            if not reply.ok:
                _forged_only(before, rally.snapshot())
        check_outbox_renders(rally)

    _async_run(scenario())


@settings(max_examples=120, deadline=None)
@given(who=st.sampled_from(["ana", "ben", "lee", "zed"]), actions=st.lists(action_ids, max_size=4))
def test_any_button_id_never_raises_and_a_refusal_changes_nothing(
    who: str, actions: list[str]
) -> None:
    counted("services.handle_action")

    async def scenario() -> None:
        rally = await _fresh()
        alert = await rally.raise_alert("ana", "kinds=trolling")
        for action in [a.replace("0" * 32, alert.id) for a in actions]:
            before = rally.snapshot()
            reply = await rally.act(as_(who), action)
            if not reply.ok:
                _forged_only(before, rally.snapshot())

    _async_run(scenario())


SHELL_LINES = st.one_of(
    st.builds(lambda verb, rest: f"/rally {verb} {rest}", st.sampled_from(VERBS), hostile),
    st.builds(
        lambda word, rest: f"{word} {rest}",
        st.sampled_from(["/as", "/press", "/clock", "/whoami", "/help", "/?", "rally", "#"]),
        hostile,
    ),
    st.sampled_from(["/press 1", "/press I'm on it", "/clock +1d", "/as ben", "/as lee"]),
    hostile,
    big,
)
_TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(SHELL_LINES, min_size=1, max_size=5))
def test_a_console_line_never_raises_and_prints_no_control_characters(lines: list[str]) -> None:
    counted("ConsoleShell.handle_line")

    async def scenario() -> str:
        store = MemoryStore()
        clock = ConsoleClock()
        services = Services(store.uow, clock, SeqIds(), load_copy(), Policy())
        await services.seed_demo()
        out = io.StringIO()
        buttons = Buttons()
        dispatcher = Dispatcher(services.uow, {"console": ConsoleChat(out, buttons)}, clock)
        shell = ConsoleShell(services, dispatcher.drain, clock, buttons, out)
        await shell.handle_line("/rally alert https://x.com/troll/status/1 pile-on kinds=trolling")
        for line in lines:
            assert await shell.handle_line(line) in (True, False)
        return out.getvalue()

    printed = _async_run(scenario())
    assert not _TERMINAL_CONTROL.search(printed), repr(_TERMINAL_CONTROL.findall(printed)[:5])


# --- renderers -------------------------------------------------------------------------------

# Long lines of anything but line breaks: the quadratic cost of many line breaks in Discord's
# escape has its own test below.
LINE_BREAKS = ("\n", "\r", "\x85", "\u2028")
big_span = st.builds(
    _repeat,
    st.sampled_from([f for f in FRAGMENTS if not any(b in f for b in LINE_BREAKS)]),
    st.integers(2_000, 20_000),
)
SLACK_USERS = ["U0AAA1", "W0BBB2", "U123"]
DISCORD_USERS = ["123456789012345678", "42"]
STYLES = ["plain", "bold", "italic", "code", "pre"]
valid_action = st.builds(
    lambda scope, ident, verb: f"rally:{scope}:{ident}:{verb}",
    st.sampled_from(["alert", "consent", "checkin", "member"]),
    HEX,
    st.sampled_from(["on_it", "yes", "ok", "approve", "did:reported"]),
)
text_span = st.one_of(
    st.builds(Text, hostile, st.sampled_from(STYLES)),
    st.builds(Text, big_span, st.sampled_from(STYLES)),
    st.builds(Link, st.one_of(hostile, st.sampled_from(FRAGMENTS))),
    # A mention no platform can resolve: shown as "@" + its label.
    st.builds(Mention, st.sampled_from(["m1", "m2", "m3"]), hostile, st.one_of(st.none(), hostile)),
)
pinging = st.builds(
    Mention,
    st.sampled_from(["m1", "m2", "m3"]),
    hostile,
    st.sampled_from(SLACK_USERS + DISCORD_USERS),
)


def _spaced(spans: list[Any]) -> tuple[Any, ...]:
    """Spans as the core composes them: never two user-text spans glued together."""
    out: list[Any] = []
    for i, s in enumerate(spans):
        if i:
            out.append(Text(" "))
        out.append(s)
    return tuple(out)


# A line that pings is never shortened (a cut could leave half a mention), so, as in the
# core's "Called to help: @…" lines, it carries no long text; any other line may be huge.
heading = st.one_of(st.none(), hostile)
block = st.one_of(
    st.builds(Block, st.lists(text_span, max_size=6).map(_spaced), heading),
    st.builds(
        Block,
        st.lists(st.one_of(pinging, st.builds(Text, hostile)), max_size=6).map(_spaced),
        heading,
    ),
)
messages = st.builds(
    Message,
    title=hostile,
    blocks=st.lists(block, max_size=5).map(tuple),
    buttons=st.lists(st.builds(Button, valid_action, hostile), max_size=4).map(tuple),
    has_attack_links=st.booleans(),
)


def mrkdwn_texts(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn":
            assert value.get("verbatim") is True, value
            yield value["text"]
        for item in value.values():
            yield from mrkdwn_texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from mrkdwn_texts(item)


def check_slack(message: Message) -> None:
    created = {
        m.user
        for m in message.mentions
        if m.user is not None and re.fullmatch(r"[UW][A-Z0-9]{2,30}", m.user)
    }
    rendered = slack_render(message)

    def created_only(match: re.Match[str]) -> str:
        assert match.group(1) in created, match.group(0)
        return ""

    for text in [*mrkdwn_texts(rendered.block_dicts()), rendered.text]:
        rest = re.sub(r"<@([UW][A-Z0-9]{2,30})>", created_only, text)
        # Every < and > is part of a mention the test created: no <!channel>, <!here>,
        # <!subteam^…>, <#C…>, <@U…> of anyone else, and no <url|label>.
        assert "<" not in rest and ">" not in rest, rest[max(0, rest.find("<") - 30) :][:80]


_AUTOLINK = re.compile(r"<https?://[^\s<>]*>", re.IGNORECASE)


def _outside_links(content: str) -> str:
    """The content with every <url> (a link Discord shows without an embed) blanked out."""
    return _AUTOLINK.sub(lambda m: " " * len(m.group(0)), content)


def _unescaped(content: str) -> Iterator[tuple[int, str, bool]]:
    """(position, character, inside inline code) for characters no backslash escapes."""
    in_code = False
    i = 0
    while i < len(content):
        ch = content[i]
        if ch == "\\" and not in_code:
            i += 2
            continue
        if ch == "`":
            in_code = not in_code
        yield i, ch, in_code
        i += 1


_LIVE = re.compile(r"@(everyone|here)\b|<@[&!]|<#|</|<a?:\w|<t:|<id:", re.IGNORECASE)


def check_discord(message: Message) -> None:
    created = {
        int(m.user)
        for m in message.mentions
        if m.user is not None and re.fullmatch(r"\d{1,20}", m.user)
    }
    for rendered in [discord_render(message), *render_pages(message)]:
        allowed = rendered.allowed_mentions().to_dict()
        assert allowed.get("parse") == [], allowed
        assert "roles" not in allowed or allowed["roles"] == []
        assert set(allowed.get("users", [])) <= created
        assert rendered.suppress_embeds
        content = rendered.content
        assert len(content) <= 2000
        assert not _LIVE.search(content), content[:300]
        assert {int(u) for u in re.findall(r"<@(\d+)>", content)} <= created
        text = _outside_links(content)
        chars = list(_unescaped(text))
        for (i, ch, code), (j, nxt, _) in itertools.pairwise(chars):
            # No masked link [label](url) outside code and outside <url>.
            if ch == "]" and nxt == "(" and j == i + 1 and not code:
                raise AssertionError(f"a masked link: {content[max(0, i - 40) : i + 40]!r}")
        in_code = {i for i, _, code in chars if code}
        for match in re.finditer(r"https?://\w", text, re.IGNORECASE):
            # Outside code, every URL is also wrapped in <…>: shown, never embedded.
            assert match.start() in in_code, content[max(0, match.start() - 40) :][:120]


def check_console(message: Message) -> None:
    out = console_render(message, lambda action, label: 1, "DM to ana")
    # Every C0 and C1 control character (Unicode category Cc) but newline and tab.
    bad = _TERMINAL_CONTROL.findall(out)
    assert not bad, [hex(ord(ch)) for ch in bad[:5]]


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    report_multiple_bugs=False,
)
@given(message=messages)
def test_slack_output_carries_no_markup_but_the_mentions_the_core_made(message: Message) -> None:
    counted("slack render")
    check_slack(message)


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    report_multiple_bugs=False,
)
@given(message=messages)
def test_discord_output_pings_nobody_but_the_mentions_the_core_made(message: Message) -> None:
    counted("discord render")
    check_discord(message)


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    report_multiple_bugs=False,
)
@given(message=messages)
def test_console_output_has_no_control_characters(message: Message) -> None:
    counted("console render")
    check_console(message)


def check_outbox_renders(rally: Rally) -> None:
    """Whatever the core wrote, every platform renders it without a smuggled ping."""
    for sent in rally.outbox():
        check_slack(sent.message)
        check_discord(sent.message)
        check_console(sent.message)
    for _, reply in rally.replies:
        check_slack(reply.message)
        check_discord(reply.message)
        check_console(reply.message)


@pytest.mark.parametrize("name", ["everyone", "here", "Everyone"])
def test_a_member_named_everyone_is_not_written_as_at_everyone_on_discord(name: str) -> None:
    """A Mention the platform can't resolve (the member has no account there) is shown as
    "@" + their display name: a display name is user text, and "@everyone" must stay inert
    text, as it does in every other span (allowed_mentions alone stops the ping)."""
    message = Message("Rally #1", (Block((Text("Called to help: "), Mention("m1", name))),))
    rendered = discord_render(message)
    assert rendered.allowed_mentions().to_dict()["parse"] == []
    assert not _LIVE.search(rendered.content), rendered.content


def test_shortening_a_long_code_span_never_exposes_the_next_one_as_markdown() -> None:
    """Inline code is shown without escapes. When a message is too long, _cut shortens a code
    span at a space and leaves its backtick open: Discord then pairs it with the next code
    span's opening backtick, and that span's text ([click](https://evil.example)) is parsed
    as markdown, a live masked link."""
    message = Message(
        "Rally #1",
        (
            Block((Text("a b c d e f " * 300, "code"),)),
            Block((Text("[click](https://evil.example)", "code"),)),
        ),
    )
    content = discord_render(message).content
    opened = [ch for _, ch, _ in _unescaped(content) if ch == "`"]
    assert len(opened) % 2 == 0, content[-120:]
    check_discord(message)


def test_discords_escape_takes_linear_time_in_line_breaks() -> None:
    """_LINE_START and _ORDERED match `^(\\s*)` with MULTILINE: at every line start `\\s*`
    runs over all the line breaks that follow and backtracks, so text of n line breaks costs
    n² steps (20,000 take seconds). Text a person typed must not cost the renderer that."""
    started = time.perf_counter()
    escape_for_discord("\n" * 20_000 + "# heading")
    assert time.perf_counter() - started < 0.5


# --- bidirectional overrides --------------------------------------------------------------

RLO_LINK = "https://evil.example/\u202egro.elpmaxe-ruoy"  # displayed as …your-example.org


@pytest.mark.parametrize("text", [f"alert {RLO_LINK} see", "alert https://x.com/a \u202etoN"])
async def test_a_bidirectional_override_never_reorders_what_slack_or_the_console_show(
    text: str,
) -> None:
    """Discord's escape drops U+202A-U+202E and U+2066-U+2069 ("can hide or reorder text:
    link spoofing"); the same typed text must not reach Slack or the console intact."""
    rally = await _fresh()
    reply = await rally.say("ana", text)
    shown: list[str] = []
    for sent in [*rally.outbox(), *(r for _, r in rally.replies)]:
        message = sent.message
        rendered = slack_render(message)
        shown += [*mrkdwn_texts(rendered.block_dicts()), rendered.text]
        shown.append(console_render(message, lambda action, label: 1, "#rally"))
    assert reply.ok or not rally.data.alerts
    bidi = re.compile("[\u202a-\u202e\u2066-\u2069]")
    assert not [s for s in shown if bidi.search(s)], "a bidi override reached the output"


# --- the count ---------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def report_counts(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    line = f"hypothesis: {sum(COUNTS.values())} generated cases " + (
        "(" + ", ".join(f"{k} {v}" for k, v in sorted(COUNTS.items())) + ")"
    )
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:  # pragma: no cover
        print(line)
        return
    with capture.global_and_fixture_disabled():  # shown even when output is captured
        reporter.write_line("")
        reporter.write_line(line)


def test_every_property_ran_its_cases() -> None:
    """Last in the module: when the whole module runs, every property generated cases."""
    if len(COUNTS) < 9:
        return  # a single property was selected: nothing to count
    print(f"hypothesis: {sum(COUNTS.values())} generated cases: {dict(COUNTS)}")
    assert all(n > 0 for n in COUNTS.values()), COUNTS
