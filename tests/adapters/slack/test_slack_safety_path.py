"""Issue 17 in Slack, through the real Bolt app and slack_sdk against the fake Slack: the
threatened member first."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

from sqlalchemy import text

from tests.adapters.slack.harness import LEADS, RALLY, SlackBot, buttons, text_of

DOXX = "https://x.com/doxxer/status/77"
PASTE = "https://pastebin.com/raw/ana-home"
POST = "https://x.com/ana/status/9"
NOTE = "they posted my home address 12 Elm Street"


def to_channel(bot: SlackBot, channel: str) -> Iterator[str]:
    """Everything sent to a channel: every post and every edit, whole."""
    for method in ("chat.postMessage", "chat.update"):
        for call in bot.fake.ok_calls(method):
            if call.args.get("channel") == channel:
                yield json.dumps(call.args, ensure_ascii=False)


async def distrust(bot: SlackBot, name: str) -> None:
    """A newly joined member, in a collective that reviews new members' first alerts."""
    async with bot.runtime.engine.begin() as connection:
        await connection.execute(
            text("UPDATE members SET trusted = :no WHERE display_name = :name"),
            {"no": False, "name": name},
        )
        await connection.execute(
            text("UPDATE collectives SET review_first_alerts = :yes"), {"yes": True}
        )


async def test_a_doxxing_rally_never_shows_the_crowd_its_note_or_links(bot: SlackBot) -> None:
    await bot.seed()
    said = await bot.ask("UANA", f"alert {DOXX} link={PASTE} kinds=doxxing post={POST} {NOTE}")
    assert "safety matter" in said
    await bot.deliver()
    mine = next(m for m in bot.fake.dms_to("UANA") if "safety lead is on it" in m.text)
    await bot.click("UANA", buttons(mine)["Yes, and you may name me"], channel="DUANA")
    review = next(m for m in bot.fake.dms_to("USAM") if "Safety review" in m.text)
    assert "the crowd is rallied" in await bot.click(
        "USAM", buttons(review)["Rally the crowd"], channel="DUSAM"
    )
    await bot.deliver()
    rally = bot.fake.in_channel(RALLY)[-1]

    sent = await bot.press("UBEN", buttons(rally)["I'm on it"])
    privately = await bot.said(sent, count=2)  # the thanks, then the details

    assert "you're on it for alert #1" in privately
    for secret in (DOXX, PASTE, POST, "Elm Street"):
        assert secret in privately
    assert "share screenshots" in privately  # the practice for doxxing
    replies = bot.fake.responses[str(sent.response_id)]
    assert {r["response_type"] for r in replies} == {"ephemeral"}
    await bot.deliver()
    assert bot.fake.ok_calls("chat.update")  # the tally was edited
    everything = list(to_channel(bot, RALLY))
    assert everything
    for message in everything:
        for secret in (DOXX, PASTE, POST, "Elm Street", "home address"):
            assert secret not in message
    assert "privately" in text_of({"blocks": rally.blocks})


async def test_a_new_members_doxxing_alert_reaches_the_safety_lead_before_any_review(
    bot: SlackBot,
) -> None:
    await bot.seed()
    await distrust(bot, "Dee")
    said = await bot.ask("UDEE", f"alert {DOXX} kinds=doxxing post={POST} {NOTE}")
    assert "safety lead has been told" in said
    await bot.deliver()
    review = next(m for m in bot.fake.dms_to("USAM") if "Safety review" in m.text)
    words = text_of({"blocks": review.blocks})
    assert "first alert of a new member" in words  # the reason it waits, shown
    assert POST in words and DOXX in words
    assert not [m for m in bot.fake.in_channel(LEADS) if "Review before rallying" in m.text]
    assert any("safety lead is on it" in m.text for m in bot.fake.dms_to("UDEE"))
    said = await bot.click("USAM", buttons(review)["Keep it with the safety team"])
    assert "Kept with the safety team" in said
    await bot.deliver()
    news = [m for m in bot.fake.dms_to("UDEE") if "news from the safety team" in m.text]
    assert news and "keep this with the safety team" in text_of({"blocks": news[-1].blocks})


async def test_on_behalf_the_safety_lead_hears_first_and_the_consent_shows_the_post(
    bot: SlackBot,
) -> None:
    await bot.seed()
    await bot.ask(
        "UBEN", f"alert {DOXX} for=<@UCAM> kinds=threat post={POST} visibility=responders"
    )
    await bot.deliver()
    to_sam = next(m for m in bot.fake.dms_to("USAM") if "Safety review" in m.text)
    ask = next(m for m in bot.fake.dms_to("UCAM") if "do you want the group's help" in m.text)
    # The core writes the safety leads' message first; the outbox sends oldest first.
    async with bot.runtime.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT key FROM outbox WHERE op = 'post' ORDER BY created_at, id")
        )
        kinds = [str(k).split(":")[0] for (k,) in rows]
    assert [k for k in kinds if k in ("safety", "consent")] == ["safety", "consent"]
    words = text_of({"blocks": ask.blocks})
    assert POST in words and DOXX in words
    assert "the responders called" in words  # who would see it
    assert "would name you" in words  # and whether it names her
    assert "Resources" in words or "law enforcement" in words
    assert "Cam's answer" in text_of({"blocks": to_sam.blocks})


async def test_escalation_buttons_widen_page_and_take(bot: SlackBot) -> None:
    await bot.seed()
    await bot.ask("UBEN", f"alert {DOXX} kinds=pile_on")
    await bot.deliver()
    bot.clock.offset += timedelta(minutes=31)
    assert await bot.runtime.services.run_due() >= 1
    await bot.deliver()
    escalation = bot.fake.in_channel(LEADS)[-1]
    words = text_of({"blocks": escalation.blocks})
    assert "Nobody has answered yet, 31 minutes after the rally" in words
    assert "Called and not answered yet (3): Ana, Cam, Dee" in words
    pressed = buttons(escalation)
    assert set(pressed) >= {"Call more now", "Page everyone available", "I'll take it on"}
    said = await bot.click("UANA", pressed["Call more now"], channel=LEADS)
    assert "Nobody else is available to call right now for alert #1" in said
    said = await bot.click("UANA", pressed["Page everyone available"], channel=LEADS)
    assert "Everyone available has been called already" in said
    said = await bot.click("UANA", pressed["I'll take it on"], channel=LEADS)
    assert "you're looking after alert #1" in said
    assert "Ana is looking after it" in await bot.ask("UBEN", "status #1")
    said = await bot.click("USAM", pressed["I'll take it on"], channel=LEADS)
    assert "Ana is already looking after alert #1" in said
    assert "Only leads" in await bot.click("UCAM", pressed["I'll take it on"], channel=LEADS)
    await bot.deliver()
    # Ben heard "nobody has answered yet" at the escalation: the news that a lead has it
    # waits for the hour between two such messages, then goes.
    assert any("still looking for helpers" in m.text for m in bot.fake.dms_to("UBEN"))
    assert not any("a lead is looking after it" in m.text for m in bot.fake.dms_to("UBEN"))
    bot.clock.offset += timedelta(hours=1)
    await bot.deliver()
    assert any("a lead is looking after it" in m.text for m in bot.fake.dms_to("UBEN"))


async def test_two_alerts_give_one_check_in_a_day(bot: SlackBot) -> None:
    await bot.seed()
    await bot.ask("UBEN", f"alert {DOXX} kinds=pile_on")
    await bot.ask("UBEN", f"alert {DOXX}/2 kinds=trolling")
    bot.clock.offset += timedelta(days=2)
    while await bot.runtime.services.run_due():
        pass
    await bot.deliver()
    asked = [m for m in bot.fake.dms_to("UBEN") if "Checking in" in m.text]
    assert len(asked) == 1
    assert "#1 and #2" in text_of({"blocks": asked[0].blocks})
    said = await bot.click("UBEN", buttons(asked[0])["Doing OK"], channel="DUBEN")
    assert "Glad to hear it" in said
