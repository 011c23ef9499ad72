"""Typed text can never ping or disguise a link: the injection corpus in every user-text field."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from bot.adapters.slack.render import escape, render, span
from bot.core.messages import Link, Mention, Message, Text, para
from tests.adapters.slack.harness import LEADS, RALLY, T1, X_LINK, SlackBot, strings
from tests.adapters.slack.test_slack_modal import form, open_modal, text
from tests.fakes.slack import User

CORPUS = (
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!subteam^S1>",
    "<@U123>",
    "<https://evil.example|innocent>",
    "&<>",
)
EVIL = " ".join(CORPUS)
_TOKEN = re.compile(r"<([^<>]*)>")


def outgoing(bot: SlackBot, acks: list[str]) -> Iterator[str]:
    """Every string rallybot sent to Slack: Web API arguments, response_url posts, acks."""
    for call in bot.fake.calls:
        yield from strings({k: v for k, v in call.args.items() if k != "trigger_id"})
    for posts in bot.fake.responses.values():
        yield from strings(posts)
    yield from acks


def mrkdwn_objects(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn":
            yield value
        for item in value.values():
            yield from mrkdwn_objects(item)
    elif isinstance(value, list):
        for item in value:
            yield from mrkdwn_objects(item)


async def test_the_corpus_in_every_field_never_becomes_a_ping_or_a_link(bot: SlackBot) -> None:
    # A display name full of markup, for someone who joins and is later rallied.
    bot.fake.workspaces[T1].users["UMAL"] = User("UMAL", "mal", f"Mal {EVIL}")
    await bot.seed()
    acks: list[str] = []
    ask = bot.ask
    await ask("UMAL", f"join {EVIL}")  # the join note and the display name go to the leads
    await ask("UANA", "approve <@UMAL>")
    await ask("UANA", "role <@UMAL> responder")
    # the note of a one-line alert (the rally, the status), and a disguised post link
    await ask("UMAL", f"alert {X_LINK} post=<https://evil.example|innocent> note {EVIL}")
    await ask("UBEN", f"alert {X_LINK} for=<@UMAL> {EVIL}")  # the consent request quotes it
    await ask("UMAL", f"evidence #1 {EVIL}")
    await ask("UMAL", "evidence #1 <https://evil.example|innocent>")
    await ask("UMAL", f"status #1 {EVIL}")
    await ask("UBEN", "<!channel> please")  # an unknown command is echoed in the error
    await ask("UBEN", "alert https://x.com/<!here>")  # a bad link is echoed in the error
    await ask("UBEN", f"join {EVIL}")  # already a member
    await ask("UANA", "members")  # Mal's name in the lead's list
    # the modal: note, links, post, and a bad link echoed in the ack's field error
    view = await open_modal(bot, "UMAL")
    bad = await bot.send.submit(
        T1, "UMAL", form(links=text(f"{X_LINK} <!channel>")), view["private_metadata"]
    )
    acks.append(bad.body)
    good = await bot.send.submit(
        T1,
        "UMAL",
        form(
            links=text("<https://evil.example|innocent>"),
            post=text("<https://evil.example/post|my post>"),
            note=text(EVIL),
        ),
        view["private_metadata"],
    )
    acks.append(good.body)
    await bot.fake.wait_for(lambda: bot.fake.ok_calls("chat.postEphemeral"))
    await bot.deliver()
    rallies = bot.fake.in_channel(RALLY)
    assert rallies and bot.fake.in_channel(LEADS)

    seen = list(outgoing(bot, acks))
    # The corpus really went out, escaped.
    assert any("&lt;!channel&gt;" in s for s in seen)
    assert any("&lt;https://evil.example|innocent&gt;" in s for s in seen)
    assert any("&amp;&lt;&gt;" in s for s in seen)
    members = {"UANA", "UBEN", "UCAM", "UDEE", "USAM", "UMAL"}
    for s in seen:
        for token in _TOKEN.findall(s):
            # The only markup allowed: a mention of a member the core chose to call.
            assert re.fullmatch(r"@U[A-Z0-9]+", token), (token, s)
            assert token[1:] in members, (token, s)
        assert "<!" not in s and "<http" not in s and "<#" not in s


async def test_every_mrkdwn_text_is_verbatim(bot: SlackBot) -> None:
    await bot.seed()
    await bot.ask("UBEN", f"alert {X_LINK} see https://example.org and #general @channel")
    await bot.send.event(T1, {"type": "app_home_opened", "user": "UBEN", "tab": "home"}, "EvV1")
    await bot.fake.wait_for(lambda: bot.fake.ok_calls("views.publish"))
    await bot.deliver()
    payloads: list[Any] = [c.args for c in bot.fake.calls]
    payloads += [p for posts in bot.fake.responses.values() for p in posts]
    found = [o for p in payloads for o in mrkdwn_objects(p)]
    assert len(found) > 10
    assert all(o.get("verbatim") is True for o in found)


def test_escape_is_the_one_boundary() -> None:
    assert escape("<!here> & <@U1>") == "&lt;!here&gt; &amp; &lt;@U1&gt;"
    assert span(Text("<!channel>", "bold")) == "*&lt;!channel&gt;*"
    assert span(Link("https://x.com/a?b=1&c=<d>")) == "https://x.com/a?b=1&amp;c=&lt;d&gt;"
    # A mention pings only with a resolved Slack user id; otherwise it is its escaped label.
    assert span(Mention("m1", "Ben", "UBEN")) == "<@UBEN>"
    assert span(Mention("m1", "<!channel>")) == "@&lt;!channel&gt;"
    assert span(Mention("m1", "Ben", "U123|x> <!here")) == "@Ben"


def test_long_text_is_split_between_sections_never_inside_an_entity() -> None:
    message = Message(title="t", blocks=(para("&" * 5000 + " <@U1> " + "x" * 4000),))
    rendered = render(message)
    texts = [b.to_dict()["text"]["text"] for b in rendered.blocks]
    assert all(len(t) <= 3000 for t in texts)
    for t in texts:
        assert re.fullmatch(r"[^&]*(&(amp|lt|gt);[^&]*)*", t), t[:40]
    assert len(rendered.text) <= 3000
