"""Safety invariants 1 and 2 on Discord: whatever people type, nobody is pinged but the
responders the core chose, and no link is ever embedded."""

from __future__ import annotations

import logging
import re

import pytest

from tests.adapters.discord.conftest import World
from tests.fakes.discord.model import SUPPRESS_EMBEDS

CORPUS = "@everyone @here <@&123> <@456> <#789> <https://evil> </rally alert:1> <@!456>"
LINKS = ("https://x.com/@everyone/status/1", "https://x.com/@here/status/2")
LIVE = re.compile(r"@(everyone|here)\b|<@&|<#|</|<@!")
USER_MENTION = re.compile(r"<@(\d+)>")
ATTACK_WITH_MARKER = "https://x.com/troll/status/5150"


async def test_injection_in_every_user_text_field_pings_nobody_unintended(world: World) -> None:
    mal = world.fake.add_user("mal", CORPUS[:32])  # a display name is user text too
    world.guild.add_member(mal, nick="@everyone <@&123>")
    world.people["mal"] = mal
    await world.founded()
    await world.say("mal", "join", note=CORPUS)
    await world.deliver()
    await world.say("lee", "approve", member=mal)
    await world.say("lee", "role", member=mal, role="responder")
    await world.say("lee", "setup", world.rally, what="name", value=CORPUS[:80])
    await world.say(
        "ana",
        "alert",
        link=LINKS[0],
        more_links=LINKS[1],
        note=CORPUS,
        post="https://x.com/@here/status/9",
        kinds="pile_on",
    )
    await world.say("ana", "evidence", alert=1, item=CORPUS)
    await world.say("ana", "delegate", alert=1, handle=CORPUS)
    await world.say("ben", "timezone", zone="<@&123>")
    await world.say("ben", "pause", duration="@everyone")
    await world.say("ana", "alert", link=LINKS[0], **{"for": world.ben}, note=CORPUS)
    opened = await (await world.run("cam", "alert", note=CORPUS)).wait()
    await (
        await world.fake.submit(
            world.cam, opened, {"links": LINKS[1], "note": CORPUS, "post": LINKS[0]}
        )
    ).reply()
    await world.deliver()
    rally = world.latest(world.rally_posts(), "Rally #1")
    await (await world.press("mal", rally, "on_it")).reply()
    await world.say("ana", "export", alert=1)
    await world.say("lee", "members")
    await world.say("lee", "digest")
    await world.deliver()

    responders = {world.people[n].id for n in ("lee", "ben", "cam", "dee", "mal")}
    bodies = world.fake.bodies()
    assert len(bodies) > 40
    for request, body in bodies:
        where = f"{request.method} {request.path}"
        allowed = body.get("allowed_mentions")
        assert isinstance(allowed, dict), (
            f"{where} has no allowed_mentions: Discord would parse all"
        )
        assert allowed.get("parse") == [], where
        assert not allowed.get("roles") and not allowed.get("replied_user"), where
        assert {str(u) for u in allowed.get("users", [])} <= responders, where
        content = str(body.get("content") or "")
        assert not LIVE.search(content.replace("<https://evil>", "")), f"{where}: {content[:300]}"
        assert set(USER_MENTION.findall(content)) <= responders, where
    for message_id, ping in world.fake.pings.items():
        assert not ping.everyone and not ping.roles, message_id
        assert ping.users <= responders, message_id
    assert all(m["flags"] & SUPPRESS_EMBEDS for m in world.fake.posted if m["content"])
    assert CORPUS.split()[2] not in rally["content"]  # shown, but broken: "<\u200b@&123>"
    assert "<\u200b@&123>" in world.fake.current(rally)["content"]


async def test_a_rally_in_the_channel_never_embeds_its_attack_links(world: World) -> None:
    await world.founded()
    await world.say("ana", "alert", link=LINKS[0], note="see also https://evil.example/x")
    await world.deliver()
    rally = world.latest(world.rally_posts(), "Rally #1")
    assert rally["flags"] & SUPPRESS_EMBEDS
    assert f"<{LINKS[0]}>".replace("@everyone", "@\u200beveryone") in rally["content"]
    assert "<https://evil.example/x>" in rally["content"]  # a typed link is wrapped too
    assert rally["embeds"] == []


async def test_logs_carry_neither_message_text_nor_the_token(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("discord").setLevel(logging.NOTSET)  # as in a fresh process
    await world.restart()  # starts under RALLYBOT_LOG_LEVEL=DEBUG, so to speak
    await world.founded()
    marker = "private-note-7d1f"
    await world.say("ana", "alert", link=ATTACK_WITH_MARKER, note=marker)
    await world.deliver()
    rally = world.latest(world.rally_posts(), "Rally #1")
    await (await world.press("ben", rally, "on_it")).reply()
    await world.fake.gateway.close(4000)
    await world.fake.gateway.wait_for(lambda: world.fake.gateway.resumes == 1)
    await world.deliver()
    ours = [r for r in caplog.records if r.name.split(".")[0] in ("bot", "discord")]
    assert {r.name.split(".")[0] for r in ours} == {"bot", "discord"}
    for record in ours:
        text = record.getMessage() + (record.exc_text or "")
        assert marker not in text and ATTACK_WITH_MARKER not in text, record.name
        assert world.fake.token not in text, record.name
