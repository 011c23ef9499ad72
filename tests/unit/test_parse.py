"""The /rally language: every command and option, every refusal, and fuzzing with hypothesis."""

from __future__ import annotations

import contextlib
import re
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import commands as c
from bot.core.errors import BadInput, FieldError
from bot.core.model import (
    Action,
    CheckInAnswer,
    Help,
    Kind,
    ResponseState,
    Role,
    Severity,
    Venue,
    Visibility,
)
from bot.core.parse import (
    MAX_COMMAND_CHARS,
    MAX_EVIDENCE_CHARS,
    MAX_LINKS,
    MAX_NOTE_CHARS,
    PLAIN,
    alert_from_form,
    parse_action,
    parse_link,
    parse_text,
)
from bot.core.parse.text import VERBS as TABLE
from bot.core.text import clean

README = Path(__file__).resolve().parents[2] / "README.md"
LINK = "https://x.com/troll/status/1"
ID = "0123456789abcdef0123456789abcdef"


def refused(text: str) -> BadInput:
    with pytest.raises(BadInput) as caught:
        parse_text(text)
    return caught.value


# --- raising an alert -----------------------------------------------------------------


def test_empty_text_asks_for_help() -> None:
    assert parse_text("") == c.ShowHelp()
    assert parse_text("   ") == c.ShowHelp()


def test_alert_without_arguments_opens_the_form() -> None:
    assert parse_text("alert") == c.OpenAlertForm()


def test_one_line_alert_is_a_link_and_a_note_with_every_option_left_to_the_defaults() -> None:
    cmd = parse_text(f"alert {LINK} pile-on after my vaccine video")
    assert cmd == c.RaiseAlert(links=(LINK,), note="pile-on after my vaccine video")
    assert isinstance(cmd, c.RaiseAlert)
    assert cmd.target is None and cmd.venue is None and cmd.severity is None
    assert cmd.visibility is None and cmd.kinds == frozenset() and cmd.help_wanted == frozenset()
    assert cmd.anonymous is False


def test_raise_is_a_synonym_and_the_verb_is_case_insensitive() -> None:
    assert parse_text(f"RAISE {LINK}") == c.RaiseAlert(links=(LINK,))
    assert parse_text(f"/alert {LINK}") == c.RaiseAlert(links=(LINK,))


def test_every_alert_option() -> None:
    cmd = parse_text(
        f"alert {LINK} link=https://x.com/troll/status/2 for=ben post=https://x.com/me/status/9 "
        "where=instagram kinds=trolling,pile_on severity=low help=amplify,support "
        "visibility=responders anonymous=yes they keep coming"
    )
    assert cmd == c.RaiseAlert(
        links=(LINK, "https://x.com/troll/status/2"),
        note="they keep coming",
        target=c.MemberRef("ben"),
        post="https://x.com/me/status/9",
        venue=Venue.INSTAGRAM,
        kinds=frozenset({Kind.TROLLING, Kind.PILE_ON}),
        severity=Severity.LOW,
        help_wanted=frozenset({Help.AMPLIFY, Help.SUPPORT}),
        visibility=Visibility.RESPONDERS,
        anonymous=True,
    )


@pytest.mark.parametrize(
    ("option", "field", "value"),
    [
        ("where=twitter", "venue", Venue.X),
        ("platform=fb", "venue", Venue.FACEBOOK),
        ("where=reviews", "venue", Venue.REVIEW_SITE),
        ("kind=pile-on", "kinds", frozenset({Kind.PILE_ON})),
        ("kinds=dox,harassment", "kinds", frozenset({Kind.DOXXING, Kind.SEXUAL_HARASSMENT})),
        ("kinds=misinfo,threats", "kinds", frozenset({Kind.MISINFORMATION, Kind.THREAT})),
        ("help=counter-message,dms", "help_wanted", frozenset({Help.COUNTER, Help.SUPPORT})),
        ("help=quiet", "help_wanted", frozenset({Help.QUIET})),
        ("vis=leads-only", "visibility", Visibility.LEADS),
        ("visibility=everyone", "visibility", Visibility.ALL),
        ("severity=CRITICAL", "severity", Severity.CRITICAL),
        ("anon=no", "anonymous", False),
        ("anonymous=on", "anonymous", True),
        ("target=@ben", "target", c.MemberRef("@ben")),
        ("on-behalf=<@U123>", "target", c.MemberRef("<@U123>")),
        ("mypost=https://x.com/me/status/9", "post", "https://x.com/me/status/9"),
    ],
)
def test_option_aliases(option: str, field: str, value: object) -> None:
    cmd = parse_text(f"alert {LINK} {option}")
    assert getattr(cmd, field) == value


def test_links_come_before_the_note_and_a_link_inside_the_note_stays_text() -> None:
    cmd = parse_text(f"alert {LINK} https://x.com/b said see https://example.org")
    assert isinstance(cmd, c.RaiseAlert)
    assert cmd.links == (LINK, "https://x.com/b")
    assert cmd.note == "said see https://example.org"


def test_a_repeated_link_is_kept_once_in_order() -> None:
    cmd = parse_text(f"alert {LINK} https://x.com/b {LINK}")
    assert isinstance(cmd, c.RaiseAlert)
    assert cmd.links == (LINK, "https://x.com/b")


def test_the_core_reads_no_platform_markup() -> None:
    """Mentions, roles and wrapped links are each platform's Syntax (tests/adapters/…); to
    the plain syntax they are words like any other."""
    assert refused(f"alert <{LINK}|totally-safe.example> look").key == "error.bad_link"
    cmd = parse_text(f"alert {LINK} for=<@U123>")
    assert isinstance(cmd, c.RaiseAlert)
    assert cmd.target == c.MemberRef(handle="<@U123>")  # a handle nobody has, not a mention
    assert parse_text("approve <@!4242>") == c.Approve(c.MemberRef(handle="<@!4242>"))
    assert refused("setup leadrole <@&123456>").key == "error.usage"
    assert parse_text(f"evidence #5 <{LINK}|label>") == c.AddEvidence(
        c.AlertRef(number=5), f"<{LINK}|label>"
    )
    assert parse_text("join Q&amp;A") == c.Join("Q&amp;A")  # no entities to undo


def test_a_member_id_is_the_same_word_everywhere() -> None:
    """id:<32 hex> names a member by id, as buttons do (the core then refuses another
    collective's); anything else after id: is a handle."""
    assert parse_text(f"approve id:{ID}") == c.Approve(c.MemberRef(member_id=ID))
    assert parse_text("approve id:ben") == c.Approve(c.MemberRef(handle="id:ben"))


def test_every_verb_of_the_readme_has_a_parser_in_the_table() -> None:
    section = README.read_text().split("## The command language", 1)[1].split("\n## ", 1)[0]
    verbs = {
        verb
        for line in section.splitlines()
        if line.startswith("| `")
        for verb in re.findall(r"`([a-z]+)", line.split("|")[1])
    }
    assert {"alert", "digest", "library", "prefer", "decline"} <= verbs
    assert verbs <= set(TABLE), verbs - set(TABLE)
    assert {"raise", "close", "tz", "lib", "forget-me"} <= set(TABLE)  # aliases


def test_ten_links_and_a_thousand_character_note_are_accepted() -> None:
    links = " ".join(f"https://x.com/t/{i}" for i in range(MAX_LINKS))
    note = "n" * MAX_NOTE_CHARS
    cmd = parse_text(f"alert {links} {note}")
    assert isinstance(cmd, c.RaiseAlert)
    assert len(cmd.links) == MAX_LINKS
    assert cmd.note == note


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("frobnicate", "error.unknown_command"),
        ("alert just words no link", "error.alert_needs_link"),
        ("alert for=ben nothing else", "error.alert_needs_link"),
        ("alert ftp://x.com/file", "error.bad_link"),
        ("alert www.x.com/troll", "error.bad_link"),
        ("alert link=javascript:alert(1)", "error.bad_link"),
        ("alert javascript:alert(1)", "error.alert_needs_link"),
        ("alert link=JaVaScRiPt://x.com/%0aalert(1)", "error.bad_link"),
        ("alert link=data:text/html,hi", "error.bad_link"),
        ("alert https://", "error.bad_link"),
        ("alert https://x.com/a`b", "error.bad_link"),
        ('alert https://x.com/a"b', "error.bad_link"),
        (f"alert {LINK} post=ftp://x.com/me", "error.bad_link"),
        (f"alert {LINK} post=", "error.bad_link"),
        (f"alert https://x.com/{'a' * 2000}", "error.too_long"),
        (f"alert {LINK} {'n' * (MAX_NOTE_CHARS + 1)}", "error.too_long"),
        ("alert " + " ".join(f"https://x.com/t/{i}" for i in range(11)), "error.too_many_links"),
        (f"alert {LINK} where=myspace", "error.bad_choice"),
        (f"alert {LINK} kinds=trolling,spam", "error.bad_choice"),
        (f"alert {LINK} severity=extreme", "error.bad_choice"),
        (f"alert {LINK} severity=", "error.bad_choice"),
        (f"alert {LINK} help=everything", "error.bad_choice"),
        (f"alert {LINK} visibility=public", "error.bad_choice"),
        (f"alert {LINK} anonymous=maybe", "error.bad_yes_no"),
        (f"alert {LINK} severity=low severity=high", "error.option_twice"),
        (f"alert {LINK} kind=threat kinds=doxxing", "error.option_twice"),
        ("x" * (MAX_COMMAND_CHARS + 1), "error.too_long"),
    ],
)
def test_bad_alert_input_is_refused_with_a_kind_key(text: str, key: str) -> None:
    assert refused(text).key == key


def test_the_refusal_quotes_the_bad_word_shortened() -> None:
    error = refused(f"alert {LINK} where={'m' * 100}")
    assert error.params["word"] == "m" * 40
    assert error.params["option"] == "where"
    assert "instagram" in str(error.params["choices"])


# --- the other commands -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("status", c.ShowStatus()),
        ("status #12", c.ShowStatus(c.AlertRef(number=12))),
        ("status 7", c.ShowStatus(c.AlertRef(number=7))),
        ("standdown #3", c.StandDown(c.AlertRef(number=3))),
        ("stand-down #3", c.StandDown(c.AlertRef(number=3))),
        ("close #3", c.StandDown(c.AlertRef(number=3))),
        ("resolve #3", c.StandDown(c.AlertRef(number=3))),
        ("consent #4 yes", c.GiveConsent(c.AlertRef(number=4), True)),
        ("consent #4 NO", c.GiveConsent(c.AlertRef(number=4), False)),
        ("evidence #5 case 123-456", c.AddEvidence(c.AlertRef(number=5), "case 123-456")),
        (
            "evidence #5   they   wrote this",
            c.AddEvidence(c.AlertRef(number=5), "they   wrote this"),
        ),
        ("export #6", c.ExportEvidence(c.AlertRef(number=6))),
        ("delegate #6 cam", c.Delegate(c.AlertRef(number=6), c.MemberRef("cam"))),
        ("available on", c.SetAvailable(True)),
        ("available off", c.SetAvailable(False)),
        ("pause 2h", c.Pause(timedelta(hours=2))),
        ("pause 30m", c.Pause(timedelta(minutes=30))),
        ("pause 3d", c.Pause(timedelta(days=3))),
        ("pause 1w", c.Pause(timedelta(weeks=1))),
        ("pause off", c.Pause(None)),
        ("quiet 22:00-07:00", c.SetQuiet(22 * 60, 7 * 60)),
        ("quiet 8-9:30", c.SetQuiet(8 * 60, 9 * 60 + 30)),
        ("quiet off", c.SetQuiet(None, None)),
        ("timezone Europe/London", c.SetTimezone("Europe/London")),
        ("tz UTC", c.SetTimezone("UTC")),
        ("link", c.LinkIdentity()),
        ("link ab12cd34", c.LinkIdentity("AB12CD34")),
        ("forgetme", c.ForgetMe()),
        ("forget-me", c.ForgetMe()),
        ("help", c.ShowHelp()),
        ("help ALERT", c.ShowHelp("alert")),
        ("join", c.Join("")),
        ("join I'm a nurse in Peoria", c.Join("I'm a nurse in Peoria")),
        ("setup", c.Setup()),
        ("setup rally", c.Setup("rally")),
        ("setup leads", c.Setup("leads")),
        ("setup name Peoria Docs", c.Setup("name", "Peoria Docs")),
        ("setup timezone America/Denver", c.Setup("timezone", "America/Denver")),
        ("setup leadrole 987", c.Setup("leadrole", "987")),
        ("setup leadrole off", c.Setup("leadrole", None)),
        ("members", c.ListMembers()),
        ("approve zoe", c.Approve(c.MemberRef("zoe"))),
        ("role ben lead", c.SetRole(c.MemberRef("ben"), Role.LEAD, True)),
        ("role ben safety off", c.SetRole(c.MemberRef("ben"), Role.SAFETY_LEAD, False)),
        ("role ben member", c.SetRole(c.MemberRef("ben"), None, True)),
        ("digest", c.Digest()),
        ("checkins #2 pause", c.ControlCheckIns(c.AlertRef(number=2), "pause")),
        ("checkins #2 Resume", c.ControlCheckIns(c.AlertRef(number=2), "resume")),
        ("checkins #2 stop", c.ControlCheckIns(c.AlertRef(number=2), "stop")),
        ("prefer dm", c.Prefer(dm=True)),
        ("prefer channel", c.Prefer(dm=False)),
        ("prefer Discord", c.Prefer(platform="discord")),
        # Any platform's name: the service says which the member has linked.
        ("prefer matrix", c.Prefer(platform="matrix")),
        ("decline zoe", c.Decline(c.MemberRef("zoe"))),
        ("suspend @zoe", c.Suspend(c.MemberRef("@zoe"))),
        ("unsuspend zoe", c.Suspend(c.MemberRef("zoe"), False)),
        ("review #3 release", c.ReviewAlert(c.AlertRef(number=3), True)),
        ("audit ben #3 50", c.ShowAudit(c.MemberRef("ben"), c.AlertRef(number=3), 50)),
        ("me", c.ShowMe()),
    ],
)
def test_commands(text: str, command: c.Command) -> None:
    assert parse_text(text) == command


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("status abc", "error.bad_alert_number"),
        ("status #", "error.bad_alert_number"),
        ("status #-1", "error.bad_alert_number"),
        ("status #1234567890", "error.bad_alert_number"),
        ("standdown", "error.usage"),
        ("standdown #1 #2", "error.usage"),
        ("standdown twelve", "error.bad_alert_number"),
        ("consent #1", "error.usage"),
        ("consent #1 perhaps", "error.bad_yes_no"),
        ("evidence #1", "error.usage"),
        ("evidence one two", "error.bad_alert_number"),
        (f"evidence #1 {'e' * (MAX_EVIDENCE_CHARS + 1)}", "error.too_long"),
        ("export", "error.usage"),
        ("delegate #1", "error.usage"),
        ("available", "error.usage"),
        ("available sometimes", "error.bad_yes_no"),
        ("pause", "error.usage"),
        ("pause forever", "error.bad_duration"),
        ("pause 0m", "error.bad_duration"),
        ("pause 91d", "error.bad_duration"),
        ("pause 14w", "error.bad_duration"),
        ("quiet 22:00", "error.bad_quiet"),
        ("quiet 22:00-22:00", "error.bad_quiet"),
        ("quiet 25:00-07:00", "error.bad_quiet"),
        ("quiet 22:60-07:00", "error.bad_quiet"),
        ("quiet", "error.usage"),
        ("timezone Mars/Olympus", "error.bad_timezone"),
        ("timezone", "error.usage"),
        ("link a b", "error.usage"),
        (f"join {'j' * (MAX_NOTE_CHARS + 1)}", "error.too_long"),
        ("setup channel", "error.usage"),
        ("setup name", "error.usage"),
        (f"setup name {'n' * 81}", "error.usage"),
        ("setup timezone Nowhere/Else", "error.bad_timezone"),
        ("setup leadrole", "error.usage"),
        ("setup leadrole @leads", "error.usage"),
        ("setup leadrole <@U123>", "error.usage"),
        ("setup leadrole <@&123456>", "error.usage"),
        ("prefer", "error.usage"),
        ("prefer sms now", "error.usage"),
        ("prefer <@U1>", "error.usage"),
        ("approve", "error.usage"),
        ("role ben", "error.usage"),
        ("role ben boss", "error.bad_choice"),
        ("role ben lead maybe", "error.bad_yes_no"),
        ("checkins #1", "error.usage"),
        ("checkins #1 snooze", "error.usage"),
    ],
)
def test_bad_command_input_is_refused(text: str, key: str) -> None:
    assert refused(text).key == key


def test_an_unknown_command_quotes_at_most_forty_characters() -> None:
    error = refused("z" * 100)
    assert error.key == "error.unknown_command"
    assert error.params["word"] == "z" * 40


# --- the alert form ---------------------------------------------------------------------


def test_a_form_makes_the_same_alert_as_the_one_line_command() -> None:
    cmd = alert_from_form(
        links=f"{LINK}\nhttps://x.com/b {LINK}",
        note="  they keep coming  ",
        post="https://x.com/me/status/9",
        where="twitter",
        kinds=["pile-on", "threat"],
        severity="high",
        help_wanted=["amplify", "dms"],
        visibility="responders-only",
        anonymous=True,
        target=c.MemberRef("ben"),
        syntax=PLAIN,
    )
    assert cmd == c.RaiseAlert(
        links=(LINK, "https://x.com/b"),
        note="they keep coming",
        target=c.MemberRef("ben"),
        post="https://x.com/me/status/9",
        venue=Venue.X,
        kinds=frozenset({Kind.PILE_ON, Kind.THREAT}),
        severity=Severity.HIGH,
        help_wanted=frozenset({Help.AMPLIFY, Help.SUPPORT}),
        visibility=Visibility.RESPONDERS,
        anonymous=True,
    )


def test_an_empty_form_field_means_the_default() -> None:
    assert alert_from_form(links=LINK) == c.RaiseAlert(links=(LINK,))


@pytest.mark.parametrize(
    ("fields", "field", "key"),
    [
        ({"links": "  "}, "links", "error.alert_needs_link"),
        ({"links": "ftp://x.com/a"}, "links", "error.bad_link"),
        ({"links": "javascript:alert(1)"}, "links", "error.bad_link"),
        ({"links": " ".join(f"https://x.com/{i}" for i in range(11))}, "links",
         "error.too_many_links"),
        ({"links": LINK, "note": "n" * (MAX_NOTE_CHARS + 1)}, "note", "error.too_long"),
        ({"links": LINK, "post": "javascript:alert(1)"}, "post", "error.bad_link"),
        ({"links": LINK, "where": "myspace"}, "where", "error.bad_choice"),
        ({"links": LINK, "kinds": ["spam"]}, "kinds", "error.bad_choice"),
        ({"links": LINK, "severity": "extreme"}, "severity", "error.bad_choice"),
        ({"links": LINK, "help_wanted": ["everything"]}, "help", "error.bad_choice"),
        ({"links": LINK, "visibility": "public"}, "visibility", "error.bad_choice"),
    ],
)  # fmt: skip
def test_a_bad_form_field_is_named_in_the_refusal(fields, field, key) -> None:
    with pytest.raises(FieldError) as caught:
        alert_from_form(**fields)
    assert (caught.value.field, caught.value.key) == (field, key)


# --- buttons --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "command"),
    [
        (f"rally:alert:{ID}:on_it", c.Respond(c.AlertRef(id=ID), ResponseState.ON_IT)),
        (f"rally:alert:{ID}:cant", c.Respond(c.AlertRef(id=ID), ResponseState.CANT)),
        (f"rally:alert:{ID}:done", c.ShowDoneChoices(c.AlertRef(id=ID))),
        *[
            (
                f"rally:alert:{ID}:did:{a.value}",
                c.Respond(c.AlertRef(id=ID), ResponseState.DONE, a),
            )
            for a in Action
        ],
        (f"rally:alert:{ID}:standdown", c.StandDown(c.AlertRef(id=ID))),
        (f"rally:consent:{ID}:yes", c.GiveConsent(c.AlertRef(id=ID), True, anonymous=False)),
        (
            f"rally:consent:{ID}:yes_anon",
            c.GiveConsent(c.AlertRef(id=ID), True, anonymous=True),
        ),
        (f"rally:consent:{ID}:safety", c.GiveConsent(c.AlertRef(id=ID), True, crowd=False)),
        (f"rally:consent:{ID}:no", c.GiveConsent(c.AlertRef(id=ID), False)),
        (f"rally:safety:{ID}:rally", c.SafetyDecision(c.AlertRef(id=ID), True)),
        (f"rally:safety:{ID}:hold", c.SafetyDecision(c.AlertRef(id=ID), False)),
        (f"rally:target:{ID}:rally", c.TargetSafetyChoice(c.AlertRef(id=ID), True, False)),
        (f"rally:target:{ID}:rally_anon", c.TargetSafetyChoice(c.AlertRef(id=ID), True, True)),
        (f"rally:target:{ID}:hold", c.TargetSafetyChoice(c.AlertRef(id=ID), False)),
        *[
            (f"rally:escalation:{ID}:{verb}", c.ActOnEscalation(c.AlertRef(id=ID), verb))
            for verb in ("widen", "page_all", "take")
        ],
        (f"rally:checkgroup:{ID}:pause", c.ControlCheckInGroup(ID, "pause")),
        (f"rally:checkgroup:{ID}:stop", c.ControlCheckInGroup(ID, "stop")),
        (f"rally:checkins:{ID}:pause", c.ControlCheckIns(c.AlertRef(id=ID), "pause")),
        (f"rally:checkins:{ID}:resume", c.ControlCheckIns(c.AlertRef(id=ID), "resume")),
        (f"rally:checkins:{ID}:stop", c.ControlCheckIns(c.AlertRef(id=ID), "stop")),
        *[(f"rally:checkin:{ID}:{a.value}", c.AnswerCheckIn(ID, a)) for a in CheckInAnswer],
        (f"rally:member:{ID}:approve", c.Approve(c.MemberRef(member_id=ID))),
        (f"rally:member:{ID}:decline", c.Decline(c.MemberRef(member_id=ID))),
        (f"rally:alert:{ID}:keep", c.KeepOpen(c.AlertRef(id=ID))),
        (f"rally:alert:{ID}:suggest", c.SuggestMessages(c.AlertRef(id=ID))),
        (f"rally:alert:{ID}:suggest:12", c.SuggestMessages(c.AlertRef(id=ID), 12)),
        (f"rally:lib:{ID}:use:{ID}", c.UseMessage(ID, c.AlertRef(id=ID))),
        (f"rally:lib:{ID}:approve", c.LibraryApprove(entry_id=ID)),
        (f"rally:review:{ID}:release", c.ReviewAlert(c.AlertRef(id=ID), True)),
        (f"rally:review:{ID}:reject", c.ReviewAlert(c.AlertRef(id=ID), False)),
        (f"rally:forgetme:{ID}:confirm", c.ForgetMe(confirmed=True, member_id=ID)),
    ],
)
def test_buttons(action: str, command: c.Command) -> None:
    assert parse_action(action) == command


@pytest.mark.parametrize(
    "action",
    [
        "",
        "rally",
        f"other:alert:{ID}:on_it",
        f"rally:alert:{ID}",
        f"rally:alert:{ID.upper()}:on_it",
        f"rally:alert:{ID[:-1]}:on_it",
        "rally:alert:../../etc:on_it",
        f"rally:alert:{ID}:on_it:extra",
        f"rally:alert:{ID}:did",
        f"rally:alert:{ID}:did:bribed",
        f"rally:alert:{ID}:delete",
        f"rally:consent:{ID}:maybe",
        f"rally:consent:{ID}:yes:anon",
        f"rally:target:{ID}:rally_named",
        f"rally:escalation:{ID}:everyone",
        f"rally:escalation:{ID}:take:{ID}",
        f"rally:escalation:{ID[:-1]}:widen",
        f"rally:checkgroup:{ID}:resume",
        f"rally:checkgroup:{ID}:pause:now",
        f"rally:checkin:{ID}:fine",
        f"rally:member:{ID}:promote",
        f"rally:forgetme:{ID}:now",
        f"rally:nuke:{ID}:all",
        f"rally:alert:{ID}:suggest:12345",
        f"rally:alert:{ID}:suggest:x",
        f"rally:lib:{ID}:use:{ID[:-1]}",
        f"rally:lib:{ID}:use",
        f"rally:member:{ID}:approve:{ID}",
    ],
)
def test_a_bad_or_unknown_button_is_refused_never_guessed(action: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse_action(action)
    assert caught.value.key == "error.bad_button"


# --- fuzzing --------------------------------------------------------------------------

VERBS = st.sampled_from(
    [
        "alert", "status", "standdown", "consent", "evidence", "export", "delegate",
        "available", "pause", "quiet", "timezone", "link", "forgetme", "help", "join",
        "setup", "members", "approve", "role", "digest", "checkins", "",
    ]
)  # fmt: skip
WORDS = st.lists(
    st.one_of(
        st.text(max_size=30),
        st.sampled_from(
            [
                LINK, "#1", "yes", "off", "for=ben", "where=", "kinds=threat,", "severity=",
                "help=quiet", "visibility=leads", "anonymous=1", "link=", "post=http://a",
                "<!channel>", "@everyone", "<@U123>", "<@&1>", "<https://evil|label>",
                "22:00-07:00", "2h", "name", "timezone", "rally", "lead", "member",
            ]
        ),
    ),
    max_size=8,
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_parses_or_is_refused_kindly(text: str) -> None:
    with contextlib.suppress(BadInput):
        parse_text(text)


@settings(max_examples=400, deadline=None)
@given(VERBS, WORDS)
def test_arbitrary_commands_parse_or_are_refused_kindly(verb: str, words: list[str]) -> None:
    with contextlib.suppress(BadInput):
        parse_text(" ".join([verb, *words]))


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=80),
        st.builds(
            ":".join,
            st.lists(
                st.one_of(
                    st.sampled_from(["rally", "alert", ID, "did", "checkin", "ok"]),
                    st.text(max_size=8),
                ),
                max_size=6,
            ),
        ),
    )
)
def test_arbitrary_button_ids_parse_or_are_refused_kindly(action: str) -> None:
    with contextlib.suppress(BadInput):
        parse_action(action)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_a_link_that_is_accepted_is_an_http_url_without_markup_or_spaces(word: str) -> None:
    try:
        url = parse_link(word)
    except BadInput:
        return
    assert url.lower().startswith(("http://", "https://"))
    assert not any(ch.isspace() or ch in '<>|`"' or ord(ch) < 32 for ch in url)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=20).filter(lambda w: "=" not in w), max_size=20))
def test_note_words_after_the_link_are_kept_as_typed_text(words: list[str]) -> None:
    """As typed, except control characters (removed, or a space where they act as one)."""
    note = " ".join(w for w in " ".join(words).split())
    try:
        cmd = parse_text(f"alert {LINK} . {note}")
    except BadInput as error:
        assert error.key == "error.too_long"
        return
    assert isinstance(cmd, c.RaiseAlert)
    assert cmd.links == (LINK,)
    assert cmd.note == " ".join(clean(f". {note}").split())
