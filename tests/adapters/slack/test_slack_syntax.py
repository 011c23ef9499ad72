"""Slack's syntax: its mentions, links and entities become core values in the adapter; the
core reads them only through SLACK (tests/unit/test_parse.py: the plain syntax reads none)."""

from __future__ import annotations

import pytest

from bot.adapters.slack.syntax import SLACK, unescape
from bot.core import commands as c
from bot.core.errors import BadInput
from bot.core.parse import alert_from_form, parse_text
from tests.adapters.slack.harness import SlackBot

LINK = "https://x.com/troll/status/1"


@pytest.mark.parametrize(
    ("word", "user"),
    [("<@U123ABC>", "U123ABC"), ("<@U1|ben>", "U1"), ("<@W0ENT|boss>", "W0ENT")],
)
def test_a_user_mention_is_that_users_id_on_slack(word: str, user: str) -> None:
    assert SLACK.member(word) == c.MemberRef(user=user)


@pytest.mark.parametrize(
    "word",
    ["ben", "@ben", "<!channel>", "<#C123|general>", "<!subteam^S1|@docs>", "<@123>",
     "&lt;@U123&gt;", "<@U123", "x<@U123>"],
)  # fmt: skip
def test_anything_else_mentions_nobody(word: str) -> None:
    assert SLACK.member(word) is None
    assert SLACK.role(word) is None  # Slack has no roles a space names


def test_a_link_loses_its_label_and_its_entities() -> None:
    assert SLACK.link(f"<{LINK}|totally-safe.example>") == LINK
    assert SLACK.link(f"<{LINK}>") == LINK
    assert SLACK.link("<https://x.com/?a=1&amp;b=2>") == "https://x.com/?a=1&b=2"
    assert SLACK.link("<mailto:a@b.c|a@b.c>") is None
    assert SLACK.link(LINK) is None  # a bare link is just a word


def test_text_is_what_the_person_typed() -> None:
    assert unescape("Q&amp;A &lt;3 &gt; &amp;lt;") == "Q&A <3 > &lt;"
    assert SLACK.text("<@U1> stays") == "<@U1> stays"


def test_the_core_reads_slack_markup_through_slack() -> None:
    cmd = parse_text(f"alert <{LINK}|totally-safe.example> for=<@UCAM|cam> Q&amp;A look", SLACK)
    assert isinstance(cmd, c.RaiseAlert)
    assert cmd.links == (LINK,)
    assert cmd.target == c.MemberRef(user="UCAM")
    assert cmd.note == "Q&A look" and "totally-safe" not in cmd.note
    assert parse_text("approve <@UEVE>", SLACK) == c.Approve(c.MemberRef(user="UEVE"))
    assert parse_text("approve ben", SLACK) == c.Approve(c.MemberRef(handle="ben"))
    assert parse_text(f"evidence #5 <{LINK}|label>", SLACK) == c.AddEvidence(
        c.AlertRef(number=5), LINK
    )
    library = parse_text("library add reply source=<https://cdc.gov/a|CDC> Q&amp;A", SLACK)
    assert isinstance(library, c.LibraryAdd)
    assert library.draft.sources == ("https://cdc.gov/a",) and library.draft.text == "Q&A"


def test_a_typed_mention_that_slack_escaped_is_a_handle_not_a_mention() -> None:
    """Someone who types a literal "<@U1>" sends "&lt;@U1&gt;": undone only after the
    markup was read, so it names nobody."""
    assert parse_text("approve &lt;@UEVE&gt;", SLACK) == c.Approve(c.MemberRef("<@UEVE>"))


def test_the_form_reads_slack_links_too() -> None:
    cmd = alert_from_form(links=f"<{LINK}|label> https://x.com/b", syntax=SLACK)
    assert cmd.links == (LINK, "https://x.com/b")
    with pytest.raises(BadInput):
        alert_from_form(links=f"<{LINK}|label>")  # not to the plain syntax


async def test_through_bolt_a_mention_names_the_person_and_an_escaped_one_nobody(
    bot: SlackBot,
) -> None:
    await bot.seed()
    assert "Request sent" in await bot.ask("UEVE", "join")
    said = await bot.ask("UANA", "approve &lt;@UEVE&gt;")
    assert "There is no member called &lt;@UEVE&gt;" in said  # escaped again on the way out
    assert "Eve is now a member" in await bot.ask("UANA", "approve <@UEVE|eve>")
    assert "Usage: /rally delegate #12 &lt;member&gt;" in await bot.ask("UANA", "delegate #1")
