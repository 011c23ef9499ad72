"""The outbox through the Discord Chat: rate limits, server errors, nonces, DMs, files."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest_asyncio

from bot.adapters.discord.chat import nonce_for
from bot.core.messages import Message, para, to_dict
from bot.core.model import OutboxItem
from tests.adapters.discord.conftest import World, shown
from tests.fakes.discord import FakeDiscord, Limits
from tests.fakes.discord.model import SUPPRESS_EMBEDS

ATTACK = "https://x.com/troll/status/1"
CHANNEL_POSTS = r"^/channels/\d+/messages$"
CHANNEL_EDITS = r"^/channels/\d+/messages/\d+$"


@pytest_asyncio.fixture
async def tight(db_url: str) -> AsyncIterator[World]:
    """Discord with small buckets (2 posts and 2 edits per channel per 0.3 s, 3 DMs)."""
    limits = Limits(messages=2, edits=2, dms=3, window=0.3)
    async with FakeDiscord(limits=limits) as fake:
        world = World(fake, db_url)
        await world.start()
        try:
            yield world
        finally:
            await world.stop()


async def test_a_429_storm_during_a_rally_delivers_every_message_exactly_once(tight: World) -> None:
    world, fake = tight, tight.fake
    await world.founded()
    fake.inject("POST", CHANNEL_POSTS, status=429, times=6, retry_after=0.05)
    fake.inject("PATCH", CHANNEL_EDITS, status=429, times=6, retry_after=0.05)
    fake.inject(
        "POST", r"^/(channels|users)/", status=429, times=3, retry_after=0.1, is_global=True
    )
    for n in (1, 2, 3):
        await world.say("ana", "alert", link=f"{ATTACK}{n}", note=f"wave {n}")
    await world.deliver()
    rallies = [world.latest(world.rally_posts(), f"Rally #{n}:") for n in (1, 2, 3)]
    for rally in rallies:
        for who in ("ben", "cam", "dee"):
            await (await world.press(who, rally, "on_it")).reply()
    await world.deliver()

    titles = [m["content"].split("\n", 1)[0] for m in world.rally_posts()]
    assert sorted(titles) == sorted(f"**Rally #{n}: Ana is under attack**" for n in (1, 2, 3))
    for rally in rallies:
        assert "On it: 3 · Done: 0" in shown(fake.current(rally)["content"])
    assert world.latest(world.dms("ana"), "Alert #1: help is here")
    assert fake.rate_limited, "the storm never happened"
    assert any(r.status == 429 and r.path.startswith("/channels") for r in fake.rate_limited)
    statuses = await world.outbox_statuses()
    assert "failed" not in statuses and statuses.get("pending", 0) == 0, statuses
    assert fake.failed_interactions() == []


async def test_server_errors_are_retried_and_a_lost_response_is_not_posted_twice(
    world: World,
) -> None:
    await world.founded()
    fake = world.fake
    fake.inject("POST", CHANNEL_POSTS, status=503, times=1)  # refused: the outbox retries
    fake.inject("POST", CHANNEL_POSTS, status=500, times=1, after=True)  # posted, answer lost
    await world.say("ana", "alert", link=ATTACK)
    await world.deliver()
    posts = [
        r
        for r in fake.requests
        if r.method == "POST" and r.path == f"/channels/{world.rally.id}/messages"
    ]
    assert [r.status for r in posts[-3:]] == [503, 500, 200]
    assert len({r.body["nonce"] for r in posts[-3:]}) == 1  # the same outbox row, the same nonce
    assert len([m for m in world.rally_posts() if "Rally #1" in m["content"]]) == 1
    assert set(await world.outbox_statuses()) == {"sent"}


async def test_a_resend_after_a_crash_returns_the_message_already_posted(world: World) -> None:
    await world.founded()
    assert world.platform is not None
    chat = world.platform.chat
    now = datetime.now(UTC)
    item = OutboxItem(
        id="0123456789abcdef0123456789abcdef",
        collective_id="c",
        key="test",
        idempotency_key="test",
        platform="discord",
        workspace=world.guild.id,
        address_kind="channel",
        address=world.general.id,
        op="post",
        payload=to_dict(Message("Once only", (para("hello"),))),
        created_at=now,
        due_at=now,
    )
    message = Message("Once only", (para("hello"),))
    first = await chat.post(item, message)
    again = await chat.post(item, message)  # the process died before the row was marked sent
    assert first == again
    assert len(world.fake.channel_messages(world.general)) == 1
    assert world.fake.channel_messages(world.general)[0]["nonce"] == nonce_for(item)


async def test_a_channel_that_is_gone_is_parked_not_retried_forever(world: World) -> None:
    await world.founded()
    del world.fake.channels[world.rally.id]  # the rally channel was deleted in Discord
    await world.say("ana", "alert", link=ATTACK)
    await world.deliver()
    statuses = await world.outbox_statuses()
    assert statuses.get("failed") == 1, statuses
    gone = [r for r in world.fake.requests if r.path == f"/channels/{world.rally.id}/messages"]
    assert len(gone) == 1  # parked at once: a retry would not bring the channel back


async def test_dms_open_a_channel_once_and_the_evidence_packet_arrives_as_files(
    world: World,
) -> None:
    await world.founded()
    await world.say("ana", "alert", link=ATTACK)
    await world.say("ana", "evidence", alert=1, item="case 12345")
    await world.say("ana", "export", alert=1)
    await world.deliver()
    packet = world.latest(world.dms("ana"), "Evidence packet: alert #1")
    names = [a["filename"] for a in packet["attachments"]]
    assert names == ["alert-1-evidence.pdf", "alert-1-evidence.md", "alert-1-evidence.json"]
    files = packet["_files"]
    assert files["alert-1-evidence.pdf"].startswith(b"%PDF-")
    data = json.loads(files["alert-1-evidence.json"])
    assert [i["content"] for i in data["items"]] == [ATTACK, "12345"]
    assert data["items"][0]["sha256"] == hashlib.sha256(ATTACK.encode()).hexdigest()
    assert b"12345" in files["alert-1-evidence.md"]
    opened = [r for r in world.fake.requests if r.path == "/users/@me/channels"]
    recipients = [r.body["recipient_id"] for r in opened]
    assert len(recipients) == len(set(recipients))  # one DM channel per person, then reused


async def test_the_rally_pings_exactly_the_called_responders_and_embeds_nothing(
    world: World,
) -> None:
    await world.founded()
    await world.say("ana", "alert", link=ATTACK)
    await world.deliver()
    rally = world.latest(world.rally_posts(), "Rally #1")
    ping = world.fake.pings[rally["id"]]
    called = {world.people[n].id for n in ("lee", "ben", "cam", "dee")}
    assert ping.users == called and not ping.roles and not ping.everyone
    assert rally["flags"] & SUPPRESS_EMBEDS
    assert "<" + ATTACK + ">" in rally["content"]


async def test_slow_answers_from_discord_delay_but_lose_nothing(world: World) -> None:
    await world.founded()
    world.fake.inject("POST", CHANNEL_POSTS, status=0, times=3, delay=0.3)
    world.fake.inject("POST", r"^/interactions/", status=0, times=2, delay=0.4)
    text = await world.say("ana", "alert", link=ATTACK)
    assert "Alert #1 raised" in text
    await world.deliver()
    assert world.latest(world.rally_posts(), "Rally #1")
    assert set(await world.outbox_statuses()) == {"sent"}
    assert world.fake.failed_interactions() == []
