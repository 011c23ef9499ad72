"""Slack's requests through the inbox: written before the ack, worked once, in each person's
order, answered through the response_url, or by DM once it has expired; forget-me drops what
the person sent that still waits, from any of her accounts."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from urllib.parse import urlencode

from sqlalchemy import func, select, text

from bot.core.commands import Caller
from bot.core.parse import PLAIN, parse_text
from bot.inbox.codec import dump_caller, dump_command
from bot.inbox.entry import DISCORD_HOLD, DISCORD_TOKEN
from bot.store.tables import AlertRow, IdentityRow, InboxRow, MemberRow
from tests.adapters.slack.harness import RALLY, T1, SlackBot, buttons, start_inbox, text_of

PEOPLE = ("UBEN", "UCAM", "UDEE", "USAM")
EACH = 8


async def count(bot: SlackBot, sql: str) -> int:
    async with bot.runtime.engine.connect() as connection:
        return int(await connection.scalar(text(sql)) or 0)


async def test_a_burst_from_several_people_is_worked_in_each_persons_order(bot: SlackBot) -> None:
    await bot.seed()

    async def person(user: str) -> list[str]:
        # One after the other, as a person types: each acknowledged before the next.
        return [
            (
                await bot.cmd(user, f"alert https://x.com/troll/status/{user}{n} wave {n}")
            ).response_id
            or ""
            for n in range(EACH)
        ]

    sent = await asyncio.gather(*(person(u) for u in PEOPLE))
    answers = [
        text_of(p) for rids in sent for rid in rids for p in await bot.fake.response(rid, 1, 60)
    ]
    assert len(answers) == len(PEOPLE) * EACH
    assert all("raised" in a for a in answers), answers[0]
    async with bot.runtime.engine.connect() as connection:
        rows = await connection.execute(
            select(MemberRow.handle, AlertRow.number, AlertRow.links)
            .join(MemberRow, MemberRow.id == AlertRow.raised_by_id)
            .order_by(AlertRow.number)
        )
        by_person: dict[str, list[int]] = {}
        for handle, _number, links in rows:
            by_person.setdefault(handle, []).append(int(str(links[0]).rsplit("/", 1)[1][4:]))
    # Each person's alerts got numbers in the order they sent them; nobody's was lost.
    assert sorted(by_person) == ["ben", "cam", "dee", "sam"]
    assert all(waves == list(range(EACH)) for waves in by_person.values()), by_person
    # Answered rows keep nothing of what was typed, nor who typed it.
    await until_answered(bot)
    assert await count(bot, "SELECT count(*) FROM inbox WHERE payload != '{}' OR user != ''") == 0


async def test_a_request_delivered_twice_is_written_and_worked_once(bot: SlackBot) -> None:
    await bot.seed()
    rid, url = bot.fake.new_response_url()
    form = {
        "team_id": T1,
        "channel_id": RALLY,
        "user_id": "UBEN",
        "user_name": "ben",
        "command": "/rally",
        "text": "alert https://x.com/troll/status/77 once only",
        "response_url": url,
        "trigger_id": bot.fake.new_trigger_id(),
    }
    body = urlencode(form).encode()
    first = await bot.send.post(body, "application/x-www-form-urlencoded")
    again = await bot.send.post(
        body,
        "application/x-www-form-urlencoded",
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert first.status == again.status == 200  # both acknowledged
    await bot.fake.response(rid, 1, 30)
    await bot.inbox.drain()
    await asyncio.sleep(0.2)
    assert len(bot.fake.responses[rid]) == 1  # answered once
    async with bot.runtime.engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(AlertRow)) == 1
        assert await connection.scalar(select(func.count()).select_from(InboxRow)) == 1
    assert bot.runtime.inbox.duplicates == 1


async def test_an_expired_response_url_is_answered_by_dm(bot: SlackBot) -> None:
    await bot.seed()
    await bot.inbox.stop(5.0)  # nobody works the inbox: the request waits
    sent = await bot.cmd("UBEN", "available off")
    assert await count(bot, "SELECT count(*) FROM inbox WHERE done_at IS NULL") == 1
    bot.clock.offset += timedelta(minutes=31)  # Slack's response_url lives 30 minutes
    bot.inbox = start_inbox(
        bot.runtime, {"slack": bot.http.inbox_handler}, {"slack": bot.http.chat}
    )
    await bot.fake.wait_for(
        lambda: [
            c for c in bot.fake.ok_calls("chat.postMessage") if c.args.get("channel") == "UBEN"
        ],
        seconds=30,
    )
    (dm,) = [c for c in bot.fake.ok_calls("chat.postMessage") if c.args.get("channel") == "UBEN"]
    assert "unavailable" in str(dm.args).lower() or "available" in str(dm.args).lower()
    assert not bot.fake.responses[sent.response_id or ""]  # the old url was not used
    await until_answered(bot)


BEN_DISCORD = Caller("discord", "", "990011223344", "Ben on Discord", space="G1", channel="CH1")
ON_DISCORD = "zq-typed-on-discord"
AFTER = "zq-typed-after-forgetme"


async def test_forget_me_drops_what_she_sent_that_waits_from_any_of_her_accounts(
    bot: SlackBot,
) -> None:
    await bot.seed()
    services = bot.runtime.services
    said = (await services.handle_text(bot.caller("UBEN"), "link")).message.plain_text()
    code = re.search(r"link ([A-Z0-9]{8})", said)
    assert code, said
    assert (await services.handle_text(BEN_DISCORD, f"link {code.group(1)}")).ok
    asked = await bot.cmd("UBEN", "forgetme")
    (confirm,) = buttons((await bot.fake.response(asked.response_id or "", 1, 30))[0]).values()
    await until_answered(bot)
    # Nobody works the inbox for a moment: her confirmation waits, and so does what she sends
    # after it on Slack and, as a Discord entry point writes it, an alert from Discord.
    await bot.inbox.stop(5.0)
    pressed = await bot.press("UBEN", confirm)
    await bot.cmd("UBEN", f"alert https://x.com/troll/status/9 {AFTER}")
    alert = parse_text(f"alert https://x.com/troll/status/8 {ON_DISCORD}", PLAIN)
    assert await bot.runtime.inbox.write(
        platform="discord",
        request_id="1300000000000000001",
        workspace="",
        user=BEN_DISCORD.user,
        kind="command",
        payload={"caller": dump_caller(BEN_DISCORD), "command": dump_command(alert)},
        respond_to="interaction-token",
        valid_for=DISCORD_TOKEN,
        hold=DISCORD_HOLD,
    )
    assert await count(bot, "SELECT count(*) FROM inbox WHERE done_at IS NULL") == 3

    bot.inbox = start_inbox(
        bot.runtime, {"slack": bot.http.inbox_handler}, {"slack": bot.http.chat}
    )
    assert "personal data has been removed" in await bot.said(pressed)
    await until_answered(bot)
    # Her Slack request after the forgetme and her Discord one were never worked: gone.
    async with bot.runtime.engine.connect() as connection:
        rows = (await connection.execute(select(InboxRow))).mappings().all()
        assert await connection.scalar(select(func.count()).select_from(AlertRow)) == 0
        assert await connection.scalar(select(func.count()).select_from(IdentityRow)) == 4
    assert len(rows) == 2  # "forgetme" and its confirmation: answered and emptied
    assert not [r for r in rows if r["platform"] == "discord" or r["done_at"] is None]
    stored = str([dict(r) for r in rows]).lower()
    for needle in ("uben", BEN_DISCORD.user, "ben on discord", ON_DISCORD, AFTER, "troll"):
        assert needle.lower() not in stored, needle


async def until_answered(bot: SlackBot) -> None:
    for _ in range(500):
        if await count(bot, "SELECT count(*) FROM inbox WHERE done_at IS NULL") == 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the inbox still holds unanswered requests")
