"""Every button, pressed in Discord; buttons keep working after the bot restarts."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.adapters.discord.conftest import World, shown
from tests.fakes.discord import FakeDiscord

ATTACK = "https://x.com/troll/status/1"


async def raise_rally(world: World, who: str = "ana", **options: object) -> dict[str, object]:
    await world.say(who, "alert", link=ATTACK, **options)
    await world.deliver()
    return world.latest(world.rally_posts(), "Rally #")


async def test_on_it_done_with_what_you_did_and_cant_update_the_tally(world: World) -> None:
    await world.founded()
    rally = await raise_rally(world)
    assert "you're on it for alert #1" in await (await world.press("ben", rally, "on_it")).text()
    done = await (await world.press("cam", rally, "done")).reply()
    assert "What did you do for alert #1?" in done["content"]
    assert "Thank you for helping" in await (await world.press("cam", done, "did:reported")).text()
    await (await world.press("cam", done, "did:amplified")).reply()
    assert "No problem" in await (await world.press("dee", rally, "cant")).text()
    await world.deliver()
    tally = shown(world.fake.current(rally)["content"])
    assert "On it: 1 · Done: 1 · Can't right now: 1" in tally
    assert "Ben (on it); Cam (done: amplified, reported)" in tally
    assert "help is here" in world.latest(world.dms("ana"), "Alert #1: help is here")["content"]


async def test_the_target_answers_consent_with_a_button(world: World) -> None:
    await world.founded()
    await world.say("ana", "alert", link=ATTACK, **{"for": world.ben})
    await world.say("ana", "alert", link=ATTACK + "0", **{"for": world.cam})
    await world.deliver()
    yes = world.latest(world.dms("ben"), "Alert #1: do you want the group's help?")
    assert "<" + ATTACK + ">" in yes["content"]  # the attack link, never previewed
    assert "The group is on its way" in await (await world.press("ben", yes, "yes")).text()
    no = world.latest(world.dms("cam"), "Alert #2: do you want the group's help?")
    assert "Nobody was rallied" in await (await world.press("cam", no, "no")).text()
    await world.deliver()
    assert world.latest(world.rally_posts(), "Rally #1: Ben is under attack")
    assert world.latest(world.dms("ana"), "Alert #1: consent given")
    assert world.latest(world.dms("ana"), "Alert #2 closed")


async def test_severe_alerts_need_the_target_and_a_safety_lead(world: World) -> None:
    await world.founded()
    await world.say("ana", "alert", link=ATTACK, kinds="threat")
    await world.say("ana", "alert", link=ATTACK + "9", kinds="doxxing")
    await world.deliver()
    review = world.latest(world.dms("sam"), "Safety review: alert #1")
    mine = world.latest(world.dms("ana"), "Alert #1: a safety lead is on it")
    assert "waiting for Ana's choice" in await (await world.press("sam", review, "rally")).text()
    assert world.rally_posts() == []
    assert "the crowd is rallied" in await (await world.press("ana", mine, "rally")).text()
    await world.deliver()
    assert world.latest(world.rally_posts(), "Rally #1")
    hold = world.latest(world.dms("sam"), "Safety review: alert #2")
    assert "Safety decision recorded" in await (await world.press("sam", hold, "hold")).text()
    keep = world.latest(world.dms("ana"), "Alert #2: a safety lead is on it")
    assert "Your choice is recorded" in await (await world.press("ana", keep, "hold")).text()


async def test_check_in_buttons(world: World) -> None:
    await world.founded()
    await raise_rally(world)
    for answer, reply in (
        ("ok", "Glad to hear it"),
        ("struggling", "Thank you for telling us"),
        ("need_help", "A lead has been told"),
    ):
        world.clock.offset += timedelta(days=3, hours=1)
        await world.deliver()
        checkin = world.latest(world.dms("ana"), "Checking in after alert #1")
        assert reply in await (await world.press("ana", checkin, answer)).text()
    await world.deliver()
    assert world.latest(world.fake.channel_messages(world.leads), "Ana needs help (alert #1)")
    await raise_rally(world)
    world.clock.offset += timedelta(days=1, hours=1)
    await world.deliver()
    second = world.latest(world.dms("ana"), "Checking in after alert #2")
    assert "are paused" in await (await world.press("ana", second, "pause")).text()
    assert "are stopped" in await (await world.press("ana", second, "stop")).text()


async def test_leads_approve_and_stand_down_with_buttons(world: World) -> None:
    await world.founded()
    world.add_person("zed")
    await world.say("zed", "join", note="a nurse from the clinic")
    await world.say("ana", "alert", link=ATTACK, visibility="leads")
    await world.deliver()
    leads = world.fake.channel_messages(world.leads)
    request = world.latest(leads, "Zed asks to join")
    assert "Zed is now a member" in await (await world.press("lee", request, "approve")).text()
    logged = world.latest(leads, "Logged (leads only): alert #1")
    assert "Alert #1 stood down" in await (await world.press("lee", logged, "standdown")).text()
    assert "already closed" in await (await world.press("lee", logged, "standdown")).text()


async def test_forget_me_is_confirmed_with_a_button(world: World) -> None:
    await world.founded()
    asked = await (await world.run("dee", "forgetme")).reply()
    assert (
        "Your personal data has been removed"
        in await (await world.press("dee", asked, "confirm")).text()
    )
    assert "not a member" in await world.say("dee", "status")


async def test_standing_down_removes_the_rally_buttons(world: World) -> None:
    await world.founded()
    rally = await raise_rally(world)
    await (await world.press("ben", rally, "on_it")).reply()
    await world.say("ana", "standdown", alert=1)
    await world.deliver()
    closed = world.fake.current(rally)
    assert closed["components"] == []
    assert "This alert is closed (stood down)" in shown(closed["content"])
    assert world.latest(world.dms("ben"), "Alert #1 is closed")


async def test_buttons_keep_working_after_the_bot_restarts(world: World) -> None:
    await world.founded()
    rally = await raise_rally(world)
    await world.say("ana", "alert", link=ATTACK + "2", **{"for": world.cam})
    await world.deliver()
    consent = world.latest(world.dms("cam"), "Alert #2: do you want")
    first = world.fake.gateway.identifies
    await world.restart()  # a new process: new bot, new runtime, same database and Discord
    assert world.fake.gateway.identifies == first + 1
    assert "you're on it for alert #1" in await (await world.press("ben", rally, "on_it")).text()
    done = await (await world.press("dee", rally, "done")).reply()
    await world.restart()
    assert "Thank you for helping" in await (await world.press("dee", done, "did:countered")).text()
    await (await world.press("cam", consent, "yes")).reply()
    world.clock.offset += timedelta(days=1, hours=1)
    await world.deliver()
    checkin = world.latest(world.dms("ana"), "Checking in after alert #1")
    await world.restart()
    assert "Glad to hear it" in await (await world.press("ana", checkin, "ok")).text()
    await world.deliver()
    tally = shown(world.fake.current(rally)["content"])
    assert "Ben (on it); Dee (done: counter-messaged)" in tally
    assert world.latest(world.rally_posts(), "Rally #2: Cam is under attack")


async def test_a_forged_or_stale_button_id_is_refused_kindly(world: World) -> None:
    await world.founded()
    rally = await raise_rally(world)
    forged = dict(rally)
    row = rally["components"][0]  # type: ignore[index]
    forged_id = re.sub(r"[0-9a-f]{32}", "f" * 32, row["components"][0]["custom_id"])
    forged["components"] = [
        {"type": 1, "components": [{**row["components"][0], "custom_id": forged_id}]}
    ]
    text = await (await world.fake.click(world.ben, forged, forged_id)).text()
    assert "That alert doesn't exist" in shown(text)
    assert world.fake.failed_interactions() == []


async def test_a_new_members_first_alert_waits_for_a_leads_review(
    fake: FakeDiscord, db_url: str
) -> None:
    world = World(fake, db_url, review_first_alerts=True)
    await world.start()
    try:
        await world.founded()
        assert "A lead looks at this first" in await world.say("ana", "alert", link=ATTACK)
        await world.deliver()
        assert world.rally_posts() == []
        held = world.latest(fake.channel_messages(world.leads), "Review before rallying: alert #1")
        assert "going ahead" in await (await world.press("lee", held, "release")).text()
        await world.deliver()
        assert world.latest(world.rally_posts(), "Rally #1: Ana is under attack")
        assert "The group is on its way" in await world.say("ana", "alert", link=ATTACK + "2")
        await world.say("ben", "alert", link=ATTACK + "3")
        assert "Alert #3 was turned down" in await world.say(
            "lee", "review", alert=3, decision="reject"
        )
        await world.deliver()
        assert world.latest(world.dms("ben"), "Alert #3 was not taken forward")
    finally:
        await world.stop()
