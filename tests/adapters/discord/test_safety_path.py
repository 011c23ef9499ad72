"""Issue 17 in Discord, through the real discord.py against the fake Discord: the threatened
member first."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import text

from tests.adapters.discord.conftest import World, shown
from tests.fakes.discord import FakeDiscord

DOXX = "https://x.com/doxxer/status/77"
PASTE = "https://pastebin.com/raw/ana-home"
POST = "https://x.com/ana/status/9"
NOTE = "they posted my home address 12 Elm Street"
PILE_ON = "https://x.com/troll/status/5"
QUOTE = "https://x.com/troll2/status/6"


async def world_keys_in_order(world: World) -> list[str]:
    assert world.runtime is not None
    async with world.runtime.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT key FROM outbox WHERE op = 'post' ORDER BY created_at, id")
        )
        kinds = [str(k).split(":")[0] for (k,) in rows]
    return [k for k in kinds if k in ("safety", "consent")]


def to_rally_channel(world: World) -> list[str]:
    """Every post and every edit sent to the rally channel, whole."""
    prefix = f"/channels/{world.rally.id}/messages"
    return [
        json.dumps(r.body, ensure_ascii=False)
        for r in world.fake.requests
        if r.path.startswith(prefix) and r.method in ("POST", "PATCH")
    ]


async def test_a_doxxing_rally_never_shows_the_crowd_its_note_or_links(world: World) -> None:
    await world.founded()
    said = await world.say(
        "ana", "alert", link=DOXX, more_links=PASTE, kinds="doxxing", post=POST, note=NOTE
    )
    assert "safety matter" in said
    await world.deliver()
    mine = world.latest(world.dms("ana"), "Alert #1: a safety lead is on it")
    await (await world.press("ana", mine, "rally")).text()
    review = world.latest(world.dms("sam"), "Safety review: alert #1")
    assert "the crowd is rallied" in await (await world.press("sam", review, "rally")).text()
    await world.deliver()
    rally = world.latest(world.rally_posts(), "Rally #1")

    pressed = await world.press("ben", rally, "on_it")
    await pressed.followed_by(2)  # the thanks, then the details
    privately = shown(await pressed.text())

    assert "you're on it for alert #1" in privately
    for secret in (DOXX, PASTE, POST, "Elm Street"):
        assert secret in privately
    assert "share screenshots" in privately
    assert all(m.get("flags", 0) & 64 for m in pressed.followups)  # ephemeral: only Ben
    await world.deliver()
    sent = to_rally_channel(world)
    assert len(sent) >= 2  # the rally and its tally edit
    for message in sent:
        for secret in (DOXX, PASTE, POST, "Elm Street", "home address"):
            assert secret not in message
    assert "privately" in shown(world.fake.current(rally)["content"])


async def test_a_new_members_doxxing_alert_reaches_the_safety_lead_before_any_review(
    fake: FakeDiscord, db_url: str
) -> None:
    world = World(fake, db_url, review_first_alerts=True)
    await world.start()
    try:
        await world.founded()
        said = await world.say("dee", "alert", link=DOXX, kinds="doxxing", post=POST, note=NOTE)
        assert "safety lead has been told" in said
        await world.deliver()
        review = world.latest(world.dms("sam"), "Safety review: alert #1")
        words = shown(review["content"])
        assert "first alert of a new member" in words and POST in words
        assert not [
            m
            for m in fake.channel_messages(world.leads)
            if "Review before rallying" in m["content"]
        ]
        assert world.latest(world.dms("dee"), "Alert #1: a safety lead is on it")
        said = await (await world.press("sam", review, "hold")).text()
        assert "Kept with the safety team" in shown(said)
    finally:
        await world.stop()


async def test_on_behalf_the_safety_lead_hears_first_and_the_consent_shows_the_post(
    world: World,
) -> None:
    await world.founded()
    await world.say("ben", "alert", link=DOXX, kinds="threat", post=POST, **{"for": world.cam})
    await world.deliver()
    heard = world.latest(world.dms("sam"), "Safety review: alert #1")
    asked = world.latest(world.dms("cam"), "Alert #1: do you want the group's help?")
    # The core writes the safety leads' message first; the outbox sends oldest first.
    assert await world_keys_in_order(world) == ["safety", "consent"]
    words = shown(asked["content"])
    assert POST in words and DOXX in words
    assert "the whole collective" in words and "would name you" in words
    assert "law enforcement" in words  # the resources, at once
    assert "Cam's answer" in shown(heard["content"])
    said = await (await world.press("cam", asked, "safety")).text()
    assert "no crowd" in shown(said).lower()


async def test_escalation_buttons_widen_page_and_take(world: World) -> None:
    await world.founded()
    await world.say("ana", "alert", link=DOXX, kinds="pile_on")
    await world.deliver()
    world.clock.offset += timedelta(minutes=31)
    await world.deliver()
    escalation = world.latest(
        world.fake.channel_messages(world.leads), "Alert #1 needs attention (escalation 1 of 3)"
    )
    words = shown(escalation["content"])
    assert "Nobody has answered yet, 31 minutes after the rally" in words
    assert "Called and not answered yet (4): Ben, Cam, Dee, Lee" in words
    said = await (await world.press("lee", escalation, "widen")).text()
    assert "Nobody else is available" in shown(said)
    said = await (await world.press("lee", escalation, "page_all")).text()
    assert "Everyone available has been called already" in shown(said)
    said = await (await world.press("lee", escalation, "take")).text()
    assert "you're looking after alert #1" in shown(said)
    assert "Lee is looking after it" in await world.say("ana", "status", alert=1)
    said = await (await world.press("ben", escalation, "take")).text()
    assert "Only leads" in shown(said)


async def test_two_alerts_give_one_check_in_a_day(world: World) -> None:
    await world.founded()
    await world.say("ana", "alert", link=DOXX, kinds="pile_on")
    await world.say("ana", "alert", link=DOXX + "2", kinds="trolling")
    world.clock.offset += timedelta(days=2)
    await world.deliver()
    asked = [m for m in world.dms("ana") if "Checking in" in m["content"]]
    assert len(asked) == 1
    assert "#1 and #2" in shown(asked[0]["content"])
    said = await (await world.press("ana", world.fake.current(asked[0]), "ok")).text()
    assert "Glad to hear it" in said


async def test_a_target_who_forgets_herself_leaves_a_closed_rally_that_names_nobody(
    world: World,
) -> None:
    await world.founded()
    note = "they piled on after my vaccine video"
    await world.say("ana", "alert", link=PILE_ON, more_links=QUOTE, post=POST, note=note)
    await world.deliver()
    rally = world.latest(world.rally_posts(), "Rally #1: Ana is under attack")
    await (await world.press("ben", rally, "on_it")).reply()
    await world.deliver()
    before = shown(world.fake.current(rally)["content"])
    assert "Ben (on it)" in before
    assert all(secret in before for secret in ("Ana", note, PILE_ON, QUOTE, POST))
    sent_before = len(world.fake.requests)

    asked = await (await world.run("ana", "forgetme")).reply()
    said = await (await world.press("ana", asked, "confirm")).text()
    assert "Your personal data has been removed" in said
    await world.deliver()

    posts = [world.fake.current(m) for m in world.rally_posts()]
    assert [m["id"] for m in posts] == [rally["id"]]
    closed = shown(posts[0]["content"])
    assert "This alert is closed (the member it is about asked to be forgotten)" in closed
    assert "Ben (on it)" in closed and posts[0]["components"] == []
    assert "Attack links" not in closed  # no heading left over nothing
    for post in posts:
        words = shown(post["content"])
        for secret in ("Ana", note, PILE_ON, QUOTE, POST):
            assert secret not in words, (secret, words)
    after = [r for r in world.fake.requests[sent_before:] if r.method in ("POST", "PATCH")]
    assert any(r.path.startswith(f"/channels/{world.rally.id}/messages/") for r in after)
    for request in after:
        body = shown(json.dumps(request.body, ensure_ascii=False))
        for secret in ("Ana", note, PILE_ON, QUOTE, POST):
            assert secret not in body, (secret, request.path, body)
    assert "not a member" in await world.say("ana", "status")
    assert "No open alerts you can see" in await world.say("lee", "status")
    one = await world.say("lee", "status", alert=1)
    assert "closed (the member it is about asked to be forgotten)" in one
