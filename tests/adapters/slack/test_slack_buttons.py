"""Every button: pressed in Slack, answered privately, the rally's tally edited in place."""

from __future__ import annotations

from datetime import timedelta

from tests.adapters.slack.harness import LEADS, RALLY, X_LINK, SlackBot, buttons, text_of


async def rally(bot: SlackBot, user: str = "UANA", options: str = "") -> dict[str, str]:
    """Raise an alert and deliver; the rally's buttons, label → action id."""
    assert "raised" in await bot.ask(user, f"alert {X_LINK} {options} they piled on")
    await bot.deliver()
    return buttons(bot.fake.in_channel(RALLY)[-1])


async def test_on_it_done_what_you_did_and_cant_update_the_tally(bot: SlackBot) -> None:
    await bot.seed()
    pressed = await rally(bot)
    assert set(pressed) == {"I'm on it", "Done", "Can't right now", "Suggest a message"}
    assert "you're on it for alert #1" in await bot.click("UBEN", pressed["I'm on it"])
    sent = await bot.press("UCAM", pressed["Done"])
    await bot.said(sent)
    choices = buttons(bot.fake.responses[str(sent.response_id)][0])
    assert set(choices) == {
        "amplified", "counter-messaged", "reported", "sent support", "documented"
    }  # fmt: skip
    said = await bot.click("UCAM", choices["reported"], ephemeral=True)
    assert "Thank you for helping" in said
    assert "Thanks for letting us know" in await bot.click("UDEE", pressed["Can't right now"])
    await bot.deliver()
    post = bot.fake.in_channel(RALLY)[-1]
    assert post.edits >= 1  # chat.update on the same message, not new posts
    words = text_of({"blocks": post.blocks})
    assert "On it: 1 · Done: 1 · Can't right now: 1" in words
    assert "Ben (on it)" in words and "Cam (done: reported)" in words
    # Edits of one message in one drain are coalesced: fewer updates than clicks.
    updates = bot.fake.ok_calls("chat.update")
    assert 1 <= len(updates) <= 4
    assert all(c.args["channel"] == RALLY for c in updates)
    # The target heard that help is here.
    assert any("help is here" in m.text for m in bot.fake.dms_to("UANA"))


async def test_stand_down_button_closes_the_rally(bot: SlackBot) -> None:
    await bot.seed()
    await rally(bot, "UBEN")
    bot.clock.offset += timedelta(minutes=31)  # nobody answered: escalation tells the leads
    assert await bot.runtime.services.run_due() >= 1
    await bot.deliver()
    escalation = bot.fake.in_channel(LEADS)[-1]
    assert "needs attention" in escalation.text
    said = await bot.click("UANA", buttons(escalation)["Stand down"], channel=LEADS)
    assert "Alert #1 stood down" in said
    await bot.deliver()
    assert "This alert is closed (stood down)" in text_of(
        {"blocks": bot.fake.in_channel(RALLY)[0].blocks}
    )


async def test_consent_yes_and_no_buttons(bot: SlackBot) -> None:
    await bot.seed()
    await bot.ask("UBEN", f"alert {X_LINK} for=<@UCAM>")
    await bot.ask("UDEE", f"alert {X_LINK} for=<@UCAM>")
    await bot.deliver()
    asks = [m for m in bot.fake.dms_to("UCAM") if "do you want the group's help" in m.text]
    assert len(asks) == 2
    first, second = buttons(asks[0]), buttons(asks[1])
    assert "Only the person the alert is about" in await bot.click(
        "UBEN", first["Yes, and you may name me"], channel="DUCAM"
    )
    said = await bot.click("UCAM", first["Yes, and you may name me"], channel="DUCAM")
    assert "responders called" in said
    assert "Nobody was rallied" in await bot.click("UCAM", second["No, thank you"], channel="DUCAM")
    await bot.deliver()
    assert [m.text for m in bot.fake.in_channel(RALLY)] == ["Rally #1: Cam is under attack"] or (
        bot.fake.in_channel(RALLY)[0].text.startswith("*Rally #1: Cam is under attack*")
    )


async def test_safety_decisions_by_the_safety_lead_and_the_target(bot: SlackBot) -> None:
    await bot.seed()
    assert "safety matters first" in await bot.ask("UDEE", f"alert {X_LINK} kinds=threat")
    await bot.deliver()
    assert not bot.fake.in_channel(RALLY)  # nobody rallied yet
    review = next(m for m in bot.fake.dms_to("USAM") if "Safety review" in m.text)
    target = next(m for m in bot.fake.dms_to("UDEE") if "safety lead is on it" in m.text)
    assert "Only a safety lead" in await bot.click(
        "UANA", buttons(review)["Rally the crowd"], channel="DUANA"
    )
    said = await bot.click("USAM", buttons(review)["Rally the crowd"], channel="DUSAM")
    assert "waiting for Dee's choice" in said
    said = await bot.click("UDEE", buttons(target)["Yes, and you may name me"], channel="DUDEE")
    assert "the crowd is rallied" in said
    await bot.deliver()
    assert bot.fake.in_channel(RALLY)


async def test_keep_it_with_the_safety_team(bot: SlackBot) -> None:
    await bot.seed()
    await bot.ask("UDEE", f"alert {X_LINK} kinds=doxxing")
    await bot.deliver()
    review = next(m for m in bot.fake.dms_to("USAM") if "Safety review" in m.text)
    target = next(m for m in bot.fake.dms_to("UDEE") if "safety lead is on it" in m.text)
    said = await bot.click("USAM", buttons(review)["Keep it with the safety team"])
    assert "Safety decision recorded" in said
    said = await bot.click("UDEE", buttons(target)["No crowd for now"])
    assert "Your choice is recorded" in said


async def test_check_in_answers_and_controls(bot: SlackBot) -> None:
    await bot.seed()
    await rally(bot, "UBEN")
    bot.clock.offset += timedelta(hours=25)
    while await bot.runtime.services.run_due():
        pass
    await bot.deliver()
    checkin = next(m for m in bot.fake.dms_to("UBEN") if "Checking in" in m.text)
    pressed = buttons(checkin)
    assert set(pressed) >= {"Doing OK", "Still dealing with it", "I need help", "Pause check-ins"}
    assert "Glad to hear it" in await bot.click("UBEN", pressed["Doing OK"], channel="DUBEN")
    assert "If you'd like a lead" in await bot.click("UBEN", pressed["Still dealing with it"])
    assert "A lead has been told" in await bot.click("UBEN", pressed["I need help"])
    assert "didn't work" in await bot.click("UCAM", pressed["Doing OK"])  # not Cam's
    assert "paused" in await bot.click("UBEN", pressed["Pause check-ins"])
    assert "stopped" in await bot.click("UBEN", pressed["Stop check-ins"])
    await bot.deliver()
    assert any("Ben needs help" in m.text for m in bot.fake.in_channel(LEADS))


async def test_approve_and_forget_me_buttons(bot: SlackBot) -> None:
    await bot.seed()
    await bot.ask("UEVE", "join please")
    await bot.deliver()
    request = bot.fake.in_channel(LEADS)[-1]
    assert "Only leads" in await bot.click("UBEN", buttons(request)["Approve"], channel=LEADS)
    assert "Eve is now a member" in await bot.click(
        "UANA", buttons(request)["Approve"], channel=LEADS
    )
    sent = await bot.cmd("UEVE", "forgetme")
    await bot.said(sent)
    confirm = buttons(bot.fake.responses[str(sent.response_id)][0])["Yes, forget me"]
    assert "not valid any more" in await bot.click("UBEN", confirm)  # not Ben's button
    assert "Your personal data has been removed" in await bot.click("UEVE", confirm)
    assert "not a member" in await bot.ask("UEVE", "status")


async def test_decline_button_deletes_the_request_and_edits_the_leads_copy(
    bot: SlackBot,
) -> None:
    await bot.seed()
    await bot.ask("UEVE", "join eve-note-0451 from the clinic")
    await bot.deliver()
    request = bot.fake.in_channel(LEADS)[-1]
    assert set(buttons(request)) == {"Approve", "Decline"}
    assert "Only leads" in await bot.click("UBEN", buttons(request)["Decline"], channel=LEADS)

    said = await bot.click("UANA", buttons(request)["Decline"], channel=LEADS)

    assert "The request from Eve is declined" in said
    await bot.deliver()
    assert request.edits == 1  # chat.update on the leads' copy: closed, no name, no note
    words = text_of({"blocks": request.blocks})
    assert "A request to join is closed" in words
    assert "Eve" not in words and "eve-note-0451" not in words
    assert buttons(request) == {}
    assert "not a member" in await bot.ask("UEVE", "status")


async def test_a_target_who_forgets_herself_leaves_a_closed_rally_that_names_nobody(
    bot: SlackBot,
) -> None:
    await bot.seed()
    pressed = await rally(bot, "UBEN", "post=https://x.com/ben-own/status/7")
    await bot.click("UCAM", pressed["I'm on it"])
    await bot.deliver()
    post = bot.fake.in_channel(RALLY)[-1]
    before = text_of({"blocks": post.blocks})
    assert "Ben" in before and "they piled on" in before and X_LINK in before

    sent = await bot.cmd("UBEN", "forgetme")
    await bot.said(sent)
    confirm = buttons(bot.fake.responses[str(sent.response_id)][0])["Yes, forget me"]
    assert "Your personal data has been removed" in await bot.click("UBEN", confirm)
    await bot.deliver()

    words = text_of({"blocks": post.blocks})
    assert "(the member it is about asked to be forgotten)" in words
    assert "Attack links" not in words  # no heading left over nothing
    for gone in ("Ben", "they piled on", X_LINK, "ben-own"):
        assert gone not in words, (gone, words)
    assert buttons(post) == {}
    assert "not a member" in await bot.ask("UBEN", "status")


async def test_a_forged_or_garbled_button_is_refused(bot: SlackBot) -> None:
    await bot.seed()
    assert "not valid any more" in await bot.click("UBEN", "rally:alert:nothex:on_it")
    assert "not valid any more" in await bot.click("UBEN", "rally:home:quiet", selected="03:00")
    said = await bot.click("UBEN", "rally:alert:" + "0" * 32 + ":on_it")
    assert "That alert doesn't exist" in said
