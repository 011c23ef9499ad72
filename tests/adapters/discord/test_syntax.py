"""Discord's syntax: <@123> and <@!123> name a person, <@&123> a role, <https://…> is a link
shown without a preview. The core reads them only through DISCORD."""

from __future__ import annotations

import pytest

from bot.adapters.discord.syntax import DISCORD
from bot.core import commands as c
from bot.core.errors import BadInput
from bot.core.model import Role
from bot.core.parse import alert_from_form, parse_evidence, parse_text

LINK = "https://x.com/troll/status/1"
ID = "123456789012345678"


@pytest.mark.parametrize("word", [f"<@{ID}>", f"<@!{ID}>"])
def test_a_user_mention_is_that_users_id(word: str) -> None:
    assert DISCORD.member(word) == c.MemberRef(user=ID)
    assert DISCORD.role(word) is None


@pytest.mark.parametrize(
    "word",
    ["ben", "@ben", "@everyone", f"<@&{ID}>", "<@U123>", f"<#{ID}>", f"<@{ID}", f"x<@{ID}>",
     "<@12a>"],
)  # fmt: skip
def test_anything_else_mentions_nobody(word: str) -> None:
    assert DISCORD.member(word) is None


def test_a_role_mention_is_the_roles_id() -> None:
    assert DISCORD.role(f"<@&{ID}>") == ID
    assert DISCORD.role(f"<@{ID}>") is None and DISCORD.role("@leads") is None


def test_a_link_without_preview_is_its_address_and_slack_markup_is_not_discords() -> None:
    assert DISCORD.link(f"<{LINK}>") == LINK
    assert DISCORD.link(f"<{LINK}|label>") is None
    assert DISCORD.link(f"[label]({LINK})") is None
    assert DISCORD.text("&amp; <@1>") == "&amp; <@1>"  # Discord escapes nothing on the way in


def test_the_core_reads_discord_mentions_through_discord() -> None:
    assert parse_text(f"approve <@{ID}>", DISCORD) == c.Approve(c.MemberRef(user=ID))
    assert parse_text(f"role <@!{ID}> lead off", DISCORD) == c.SetRole(
        c.MemberRef(user=ID), Role.LEAD, False
    )
    assert parse_text(f"setup leadrole <@&{ID}>", DISCORD) == c.Setup("leadrole", ID)
    assert parse_text("setup leadrole 987", DISCORD) == c.Setup("leadrole", "987")  # an id
    with pytest.raises(BadInput):
        parse_text(f"setup leadrole <@{ID}>", DISCORD)  # a person is not a role
    cmd = parse_text(f"alert <{LINK}> for=<@{ID}>", DISCORD)
    assert isinstance(cmd, c.RaiseAlert)
    assert (cmd.links, cmd.target) == ((LINK,), c.MemberRef(user=ID))
    assert parse_evidence(f" <{LINK}> ", DISCORD) == LINK


def test_the_form_reads_discord_links_and_refuses_slacks() -> None:
    assert alert_from_form(links=f"<{LINK}>", syntax=DISCORD).links == (LINK,)
    with pytest.raises(BadInput) as refused:
        alert_from_form(links=f"<{LINK}|label>", syntax=DISCORD)
    assert refused.value.key == "error.bad_link"
