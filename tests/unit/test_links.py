"""Every link is reviewed where it is used: links that hide where they go are refused, or held
for a lead with the reason shown; the post= link is shown wherever the alert is judged."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core import links
from bot.core.errors import BadInput
from bot.core.model import AlertStatus
from bot.core.parse import alert_from_form, parse_link, parse_text
from bot.settings import ConfigError, Settings
from tests.unit.conftest import Rally

RULES = links.LinkRules.from_lists(["bit.ly", "t.co"], ["grabify.link", "iplogger.org"])


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://x.com@evil.example/", "error.link_userinfo"),
        ("https://user:pass@x.com/a", "error.link_userinfo"),
        ("http://localhost/admin", "error.link_private"),
        ("http://printer.local/", "error.link_private"),
        ("http://intranet/", "error.link_private"),
        ("http://127.0.0.1/", "error.link_private"),
        ("http://2130706433/", "error.link_private"),  # 127.0.0.1 as one number
        ("http://0x7f.1/", "error.link_private"),
        ("http://0177.0.0.1/", "error.link_private"),
        ("http://10.1.2.3/", "error.link_private"),
        ("http://172.16.0.1/", "error.link_private"),
        ("http://192.168.1.1/", "error.link_private"),
        ("http://169.254.169.254/latest/meta-data", "error.link_private"),  # link-local
        ("http://100.64.0.1/", "error.link_private"),  # carrier-grade NAT
        ("http://[::1]/", "error.link_private"),
        ("http://[fe80::1]/", "error.link_private"),
        ("http://[::ffff:192.168.0.1]/", "error.link_private"),
        ("http://224.0.0.1/", "error.link_private"),
        ("https://1.2.3.4.5/", "error.bad_link"),
        ("https://x.com:99999/", "error.bad_link"),
    ],
)
def test_links_that_hide_where_they_go_are_refused_with_the_reason(url: str, key: str) -> None:
    with pytest.raises(BadInput) as refused:
        parse_link(url)
    assert refused.value.key == key


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://x.com/troll/status/1", "https://x.com/troll/status/1"),
        ("HTTPS://X.COM/Troll", "https://x.com/Troll"),
        ("https://bücher.example/seite", "https://xn--bcher-kva.example/seite"),
        ("https://\u0430\u0440\u0440\u04cf\u0435.com/", "https://xn--80ak6aa92e.com/"),  # Cyrillic
        ("https://8.8.8.8/", "https://8.8.8.8/"),
        ("https://x.com:8443/a?b=c#d", "https://x.com:8443/a?b=c#d"),
    ],
)
def test_a_link_is_shown_in_one_form_with_international_hosts_in_punycode(
    url: str, shown: str
) -> None:
    assert parse_link(url) == shown


def test_trackers_are_refused_and_shorteners_and_mixed_scripts_are_held() -> None:
    with pytest.raises(BadInput) as refused:
        links.assess("https://grabify.link/ABC", RULES)
    assert refused.value.key == "error.link_tracker"
    with pytest.raises(BadInput):
        links.assess("https://www.iplogger.org/x", RULES)  # subdomains too
    assert links.assess("https://bit.ly/3xyz", RULES) == links.Held(
        "https://bit.ly/3xyz", links.SHORTENER
    )
    mixed = parse_link("https://\u0430pple.com/login")  # a Cyrillic a, then Latin
    assert mixed.startswith("https://xn--")
    assert links.assess(mixed, RULES) == links.Held(mixed, links.MIXED_SCRIPT)
    assert links.assess("https://x.com/a", RULES) is None
    assert links.assess("https://notbit.ly/a", RULES) is None


def test_the_form_refuses_them_field_by_field() -> None:
    with pytest.raises(BadInput) as refused:
        alert_from_form(links="https://x.com/a", post="https://ana@evil.example/")
    assert (refused.value.key, getattr(refused.value, "field", None)) == (
        "error.link_userinfo",
        "post",
    )
    command = parse_text("alert https://bücher.example/a post=https://x.com/ana/status/9")
    assert command.links == ("https://xn--bcher-kva.example/a",)  # type: ignore[union-attr]


# --- in an alert --------------------------------------------------------------------------------


async def test_a_tracker_link_is_refused_kindly_and_nothing_is_raised(make_rally) -> None:
    rally = await make_rally(link_rules=RULES)
    before = rally.snapshot()
    reply = await rally.say("ana", "alert https://grabify.link/ABC pile-on")
    assert not reply.ok
    text = reply.message.plain_text()
    assert rally.copy("error.link_tracker", link="https://grabify.link/ABC") in text
    assert rally.snapshot().alerts == before.alerts


async def test_a_shortened_post_link_is_held_for_a_lead_with_the_reason(make_rally) -> None:
    rally = await make_rally(link_rules=RULES)
    reply = await rally.say("ana", "alert https://x.com/troll/1 post=https://bit.ly/ana-post")

    assert rally.copy("held.raiser_link") in reply.message.plain_text()
    alert = rally.alert(1)
    assert (alert.status, alert.held_reason) == (AlertStatus.HELD, "link")
    review = rally.posts_in("#leads", prefix="held:")[-1]
    assert rally.copy("held.why_link_shortener", link="https://bit.ly/ana-post") in review.text
    assert "https://x.com/troll/1" in review.text
    assert review.message.has_attack_links
    assert rally.outbox(prefix="rally:") == []
    released = await rally.press("lee", review, rally.copy("button.release"))
    assert released.ok
    assert rally.alert(1).status is AlertStatus.ACTIVE
    assert rally.member("ana").trusted  # a trusted member stays trusted


async def test_a_first_alert_with_a_held_link_shows_both_reasons(make_rally) -> None:
    rally = await make_rally(link_rules=RULES)
    await rally.edit_member("ana", trusted=False)
    await rally.say("ana", "alert https://t.co/abc pile-on")
    assert rally.alert(1).held_reason == "first_alert,link"
    review = rally.posts_in("#leads", prefix="held:")[-1]
    assert rally.copy("held.why_first_alert", raiser="Ana") in review.text
    assert rally.copy("held.why_link_shortener", link="https://t.co/abc") in review.text
    status = (await rally.say("lee", "status #1")).message.plain_text()
    assert rally.copy("gate.held_first_alert") in status
    assert rally.copy("gate.held_link") in status


async def test_the_review_shows_the_post_link_and_who_would_see_it(rally: Rally) -> None:
    await rally.edit_member("ben", trusted=False)
    await rally.say("ben", "alert https://x.com/troll/1 post=https://x.com/ben/status/5 hi")
    review = rally.posts_in("#leads", prefix="held:")[-1]
    assert "https://x.com/ben/status/5" in review.text
    assert rally.literal("status.visibility") in review.text
    # Raised for himself: not "Ben raised it for Ben".
    assert rally.copy("held.summary_self", name="Ben", kinds="online attacks", venue="X") in (
        review.text
    )
    assert "Ben raised it for Ben" not in review.text


async def test_status_shows_the_post_link_to_those_who_may_see_it(rally: Rally) -> None:
    await rally.say("ana", "alert https://x.com/troll/1 post=https://x.com/ana/status/9 hi")
    for who in ("ana", "lee", "ben"):
        assert (
            "https://x.com/ana/status/9" in (await rally.say(who, "status #1")).message.plain_text()
        )
    await rally.say(
        "cam", "alert https://x.com/troll/2 post=https://x.com/cam/status/7 anonymous=yes"
    )
    # Anonymous: her own post would name her, so responders don't see it.
    assert (
        "https://x.com/cam/status/7"
        not in (await rally.say("ben", "status #2")).message.plain_text()
    )
    assert (
        "https://x.com/cam/status/7" in (await rally.say("lee", "status #2")).message.plain_text()
    )


# --- the list comes from config/links.toml, through the settings -------------------------------


def test_the_shipped_link_rules_are_loaded() -> None:
    rules = Settings().link_rules()
    assert {"bit.ly", "tinyurl.com", "t.co"} <= rules.shorteners
    assert {"grabify.link", "iplogger.org"} <= rules.trackers
    assert Settings().policy().link_rules == rules


def test_a_links_file_of_ones_own_is_used_and_a_broken_one_refused(tmp_path: Path) -> None:
    own = tmp_path / "links.toml"
    own.write_text('shorteners = ["sho.rt"]\ntrackers = ["spy.example"]\n', encoding="utf-8")
    rules = Settings(links_file=own).link_rules()
    assert (rules.shorteners, rules.trackers) == (frozenset({"sho.rt"}), frozenset({"spy.example"}))
    broken = tmp_path / "broken.toml"
    broken.write_text('shorteners = "bit.ly"\n', encoding="utf-8")
    with pytest.raises(ConfigError):
        Settings(links_file=broken).link_rules()
