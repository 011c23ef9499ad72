"""The renderer: one escaping function, mentions only for chosen users, nothing embeds."""

from __future__ import annotations

import re

import pytest

from bot.adapters.discord.render import (
    CONTENT_LIMIT,
    check_action,
    escape,
    render,
    render_pages,
    safe_filename,
)
from bot.core.messages import Attachment, Block, Button, Link, Mention, Message, Text, para

CORPUS = (
    "@everyone",
    "@here",
    "<@&123>",
    "<@456>",
    "<#789>",
    "<https://evil>",
    "<@!456>",
    "</rally alert:1>",
)
# What Discord would read as a ping or markup, anywhere in rendered text.
LIVE_SYNTAX = re.compile(r"@(everyone|here)\b|<[@#/]|<a?:|<t:")


@pytest.mark.parametrize("text", CORPUS)
def test_typed_mentions_are_shown_but_inert(text: str) -> None:
    out = escape(f"hello {text} there")
    assert not LIVE_SYNTAX.search(out.replace("<https://evil>", "")), out
    assert out.replace("\u200b", "").replace("\\", "").startswith("hello ")


def test_markdown_and_masked_links_are_escaped() -> None:
    out = escape("**bold** __u__ ~~s~~ ||spoiler|| `code` [label](https://evil.example/x)")
    assert "\\*\\*bold\\*\\*" in out and "\\|\\|spoiler\\|\\|" in out
    assert "\\[label\\](<https://evil.example/x>)" in out  # no masked link, and no embed


def test_block_markdown_only_matters_at_line_starts() -> None:
    out = escape("# big\n> quote\n- item\n-# small\n12. list\nmid - dash # hash")
    assert out.split("\n") == [
        "\\# big",
        "\\> quote",
        "\\- item",
        "\\-# small",
        "12\\. list",
        "mid - dash # hash",
    ]


def test_bare_links_in_text_are_wrapped_so_they_never_embed() -> None:
    assert escape("see https://x.com/a_b?c=1. thanks") == "see <https://x.com/a_b?c=1>. thanks"


def test_bidirectional_overrides_and_control_characters_are_removed() -> None:
    assert escape("pay\u202egnp.exe\x07") == "paygnp.exe"


def test_only_addressed_mentions_ping_and_only_those_users_are_allowed() -> None:
    message = Message(
        "Rally",
        (
            Block((Mention("m1", "Ben", user="1111"), Text(" "), Mention("m2", "Cam"))),
            para("<@2222> says hi"),
        ),
    )
    out = render(message)
    assert "<@1111>" in out.content and "@Cam" in out.content
    assert "<@2222>" not in out.content
    assert out.users == (1111,)
    allowed = out.allowed_mentions().to_dict()
    assert allowed == {"parse": [], "users": [1111]}


def test_a_mention_user_that_is_not_a_snowflake_is_shown_as_text() -> None:
    out = render(Message("t", (Block((Mention("m", "X", user="<@&1>"),)),)))
    assert out.users == () and "<@&1>" not in out.content


def test_links_are_wrapped_and_every_message_suppresses_embeds() -> None:
    out = render(
        Message("t", (Block((Link("https://x.com/troll/status/1"),)),), has_attack_links=True)
    )
    assert "<https://x.com/troll/status/1>" in out.content
    assert out.suppress_embeds
    assert render(Message("plain")).suppress_embeds


def test_a_link_that_is_not_a_web_url_is_plain_text() -> None:
    out = render(Message("t", (Block((Link("javascript:alert(1)"),)),)))
    assert "<javascript" not in out.content


def test_long_messages_are_shortened_to_fit_keeping_the_mentions() -> None:
    mentions = Block(tuple(Mention(f"m{i}", f"P{i}", user=str(1000 + i)) for i in range(8)))
    message = Message(
        "Rally #1",
        (
            para("x " * 900, heading="What happened:"),
            Block(tuple(Link(f"https://x.com/{'a' * 150}/{i}") for i in range(10))),
            mentions,
        ),
        has_attack_links=True,
    )
    out = render(message)
    assert len(out.content) <= CONTENT_LIMIT
    assert all(f"<@{1000 + i}>" in out.content for i in range(8))
    assert out.users == tuple(1000 + i for i in range(8))
    assert "…" in out.content
    assert out.content.count("<https://") == out.content.count(">") - out.content.count(
        "<@"
    )  # no cut link


def test_private_replies_are_split_into_pages_with_buttons_last() -> None:
    lines = tuple(para(f"member {i} · " + "x" * 80) for i in range(60))
    message = Message(
        "Members (60)", lines, buttons=(Button("rally:member:" + "a" * 32 + ":approve", "Approve"),)
    )
    pages = render_pages(message)
    assert len(pages) > 1
    assert all(len(p.content) <= CONTENT_LIMIT for p in pages)
    assert [bool(p.buttons) for p in pages] == [False] * (len(pages) - 1) + [True]
    assert sum(p.content.count("member ") for p in pages) == 60


def test_button_ids_must_match_the_persistent_template() -> None:
    good = "rally:alert:" + "0" * 32 + ":did:reported"
    assert check_action(good) == good
    for bad in (
        "rally:alert:12:on_it",
        "other:alert:" + "0" * 32 + ":on_it",
        "rally:alert:" + "0" * 32 + ":ON",
    ):
        with pytest.raises(ValueError):
            check_action(bad)
    with pytest.raises(ValueError):
        render(Message("t", buttons=(Button("nope", "x"),)))


def test_attachment_names_are_made_safe() -> None:
    assert safe_filename("../../etc/passwd") == "etc-passwd"
    assert safe_filename("alert-3-evidence.md") == "alert-3-evidence.md"
    out = render(Message("t", attachments=(Attachment("a b.md", "# x"),)))
    assert out.attachments[0].filename == "a b.md"
