"""Every /rally subcommand through a signed slash command, answered privately via response_url."""

from __future__ import annotations

import re

from tests.adapters.slack.harness import LEADS, OTHER, RALLY, X_LINK, SlackBot, buttons, text_of
from tests.fakes.slack import Fault


async def test_setup_needs_a_workspace_admin_then_makes_the_first_lead(bot: SlackBot) -> None:
    assert "Only someone who manages" in await bot.ask("UBEN", "setup")
    assert "set up" in await bot.ask("UANA", "setup")
    # users.info was asked who Ana is (admin flag, display name); a later setup shows the config.
    assert [c.args["user"] for c in bot.fake.ok_calls("users.info")] == ["UBEN", "UANA"]
    said = await bot.ask("UANA", "setup leads", channel=LEADS)
    assert f"Rally channel {RALLY}; leads channel {LEADS}" in said
    assert "Our collective" in await bot.ask("UANA", "setup")
    assert f"Rally channel {OTHER}" in await bot.ask("UANA", "setup rally", channel=OTHER)


async def test_the_ack_never_waits_for_the_web_api_or_the_work(bot: SlackBot) -> None:
    bot.fake.inject("users.info", Fault("slow", seconds=1.5))
    sent = await bot.cmd("UANA", "setup")
    assert sent.seconds < 0.5 and sent.body == ""  # acknowledged before users.info answered
    assert "is set up" in await bot.said(sent)


async def test_setup_in_a_direct_message_is_refused(bot: SlackBot) -> None:
    said = await bot.ask("UANA", "setup", channel="DUANA")
    assert "not in a direct message" in said
    assert "not a member" in await bot.ask("UANA", "status")


async def test_a_stranger_only_learns_how_to_join(bot: SlackBot) -> None:
    await bot.seed()
    for text in ("status", "alert " + X_LINK, "members", "digest", "available off"):
        said = await bot.ask("UEVE", text)
        assert "not a member" in said and "/rally join" in said
    assert "rallybot helps" in await bot.ask("UEVE", "help")


async def test_every_member_and_lead_subcommand(bot: SlackBot) -> None:
    await bot.seed()
    ask = bot.ask
    assert "Commands:" in await ask("UBEN", "help")
    assert "One line is enough" in await ask("UBEN", "help alert")
    assert "For leads" in await ask("UANA", "help")

    # join → a lead sees the request with an Approve button, approves, grants a role
    assert "Request sent" in await ask("UEVE", "join I'm a nurse in Peoria")
    await bot.deliver()
    request = bot.fake.in_channel(LEADS)[-1]
    assert "Eve asks to join" in request.text and "Approve" in buttons(request)
    assert "waiting for approval" in await ask("UANA", "members")
    assert "Eve is now a member" in await ask("UANA", "approve <@UEVE>")
    assert "responder" in await ask("UANA", "role <@UEVE> responder")
    assert "Only leads" in await ask("UBEN", "members")

    # alert, status, evidence, delegate, export, check-ins, stand-down
    raised = await ask("UEVE", f"alert {X_LINK} kinds=pile_on they swarmed my vaccine video")
    assert "Alert #1 raised" in raised
    await bot.deliver()
    assert "Rally #1: Eve is under attack" in bot.fake.in_channel(RALLY)[-1].text
    assert "#1 Eve: active" in await ask("UBEN", "status")
    assert "Alert #1" in await ask("UEVE", "status #1")
    assert "report case number" in await ask("UEVE", "evidence #1 case 4471")
    assert "Ben can now add evidence" in await ask("UEVE", "delegate #1 <@UBEN>")
    assert "link" in await ask("UBEN", "evidence #1 https://x.com/troll/status/2")
    assert "sent to you privately" in await ask("UEVE", "export #1")
    assert "paused" in await ask("UEVE", "checkins #1 pause")
    assert "back on" in await ask("UEVE", "checkins #1 resume")
    assert "stood down" in await ask("UEVE", "standdown #1")
    await bot.deliver()
    # The packet went by DM as three files (files_upload_v2 → getUploadURLExternal + complete).
    packets = [f for f in bot.fake.shared_files if f["channel"] == "DUEVE"]
    assert {f["title"] for f in packets} == {
        "alert-1-evidence.pdf",
        "alert-1-evidence.md",
        "alert-1-evidence.json",
    }
    assert next(f["content"] for f in packets if f["title"].endswith(".pdf")).startswith(b"%PDF-")
    assert b"case" in next(f["content"] for f in packets if f["title"].endswith(".md"))

    # consent for an alert raised on someone's behalf
    assert "asked Cam privately" in await ask("UBEN", f"alert {X_LINK} for=<@UCAM>")
    assert "Nobody was rallied" in await ask("UCAM", "consent #2 no")

    # one's own availability
    assert "You won't be rallied" in await ask("UDEE", "available off")
    assert "available to be rallied" in await ask("UDEE", "available on")
    assert "Paused until" in await ask("UDEE", "pause 2h")
    assert "Welcome back" in await ask("UDEE", "pause off")
    assert "Quiet hours set: 22:00" in await ask("UDEE", "quiet 22:00-07:00")
    assert "Quiet hours removed" in await ask("UDEE", "quiet off")
    assert "Europe/London" in await ask("UDEE", "timezone Europe/London")
    code = re.search(r"link ([0-9A-Z]{8})", await ask("UDEE", "link"))
    assert code is not None
    assert "already linked" in await ask("UDEE", f"link {code.group(1)}")

    # leads
    assert "Alerts raised: 2" in await ask("UANA", "digest")
    assert "Peoria Collective" in await ask("UANA", "setup name Peoria Collective")
    assert "America/Denver" in await ask("UANA", "setup timezone America/Denver")

    # forget me asks first, with a button
    sent = await bot.cmd("UDEE", "forgetme")
    await bot.said(sent)
    reply = bot.fake.responses[str(sent.response_id)][0]
    assert "Yes, forget me" in buttons(reply)

    assert 'don\'t know the command "dance"' in await ask("UBEN", "dance")


async def test_replies_are_ephemeral_and_never_unfurl(bot: SlackBot) -> None:
    await bot.seed()
    sent = await bot.cmd("UBEN", f"alert {X_LINK} note")
    reply = (await bot.fake.response(str(sent.response_id)))[0]
    assert reply["response_type"] == "ephemeral"
    assert reply["replace_original"] is False
    assert reply["unfurl_links"] is False and reply["unfurl_media"] is False
    assert "Alert #1 raised" in text_of(reply)
