"""The outbox through SlackChat and the real AsyncWebClient: 429 storms, 5xx, dropped links."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import func, select

from bot.core.model import OutboxStatus
from bot.store.tables import OutboxRow
from bot.store.uow import SqlUnitOfWork
from tests.adapters.slack.harness import RALLY, X_LINK, SlackBot, buttons, text_of
from tests.fakes.slack import Fault


async def statuses(bot: SlackBot) -> dict[str, int]:
    uow = bot.runtime.services.uow()
    assert isinstance(uow, SqlUnitOfWork)
    async with uow:
        rows = await uow.session.execute(
            select(OutboxRow.status, func.count()).group_by(OutboxRow.status)
        )
        return {str(status): int(n) for status, n in rows.all()}


async def deliver_everything(bot: SlackBot, seconds: float = 20.0) -> None:
    """Drain until no row is pending (rate-limited rows come due after Retry-After)."""
    deadline = time.monotonic() + seconds
    while True:
        await bot.deliver()
        if not (await statuses(bot)).get(OutboxStatus.PENDING.value):
            return
        assert time.monotonic() < deadline, await statuses(bot)
        await asyncio.sleep(0.1)


async def test_a_429_storm_during_a_rally_delivers_every_message(bot: SlackBot) -> None:
    await bot.seed()
    fake = bot.fake
    # Each 429 costs its Retry-After (1 s) in real time: a short storm keeps the suite quick.
    fake.fail("chat.postMessage", 429, count=2, retry_after=1)
    fake.inject("chat.postMessage", Fault("status", 503), Fault("drop"))
    assert "raised" in await bot.ask("UANA", f"alert {X_LINK} a storm of replies")
    await deliver_everything(bot)
    pressed = buttons(fake.in_channel(RALLY)[-1])
    await bot.click("UBEN", pressed["I'm on it"])
    await bot.click("UCAM", pressed["Can't right now"])
    fake.fail("chat.update", 429, count=1, retry_after=1)
    await bot.click("UDEE", pressed["I'm on it"])
    await deliver_everything(bot)

    assert set(await statuses(bot)) <= {OutboxStatus.SENT.value, OutboxStatus.SUPERSEDED.value}
    assert len([c for c in fake.calls if c.status == 429]) >= 3
    assert bot.dispatcher.rate_limited >= 1
    (rally,) = fake.in_channel(RALLY)  # posted once, despite the retries
    assert "On it: 2 · Done: 0 · Can't right now: 1" in text_of({"blocks": rally.blocks})
    assert any("help is here" in m.text for m in fake.dms_to("UANA"))


async def test_a_dm_goes_to_the_member_s_user_id_and_is_edited_in_the_dm(
    bot: SlackBot,
) -> None:
    await bot.seed()
    fake = bot.fake
    assert "private message" in await bot.ask("UBEN", "prefer dm")
    assert "raised" in await bot.ask("UANA", f"alert {X_LINK} a pile-on")
    await deliver_everything(bot)
    (dm,) = [m for m in fake.dms_to("UBEN") if "I'm on it" in buttons(m)]
    assert dm.args["channel"] == "UBEN"  # Slack opens the app's DM itself: no extra call
    assert not [c for c in fake.calls if c.method == "conversations.open"]
    assert "stood down" in (await bot.ask("UANA", "standdown #1")).lower()
    await deliver_everything(bot)  # closing the rally edits every copy, the DMs too
    edits = [c for c in fake.ok_calls("chat.update") if c.args["channel"] == "DUBEN"]
    assert [c.args["ts"] for c in edits] == [dm.ts]


async def test_a_message_to_a_channel_that_is_gone_is_parked_not_retried(bot: SlackBot) -> None:
    await bot.seed()
    bot.fake.workspaces["T0000001"].channels.discard(RALLY)  # archived or deleted
    await bot.ask("UANA", f"alert {X_LINK} nobody will see it")
    await deliver_everything(bot)
    posts = [c for c in bot.fake.calls if c.method == "chat.postMessage"]
    assert [c.error for c in posts if c.args["channel"] == RALLY] == ["channel_not_found"]
    assert (await statuses(bot)).get(OutboxStatus.FAILED.value, 0) >= 1


async def test_every_post_switches_unfurling_off(bot: SlackBot) -> None:
    await bot.seed()
    await bot.ask("UANA", f"alert {X_LINK} post=https://x.com/ana/status/2 look")
    await deliver_everything(bot)
    posts = bot.fake.ok_calls("chat.postMessage")
    assert posts
    for call in posts:
        assert call.args["unfurl_links"] is False and call.args["unfurl_media"] is False
        assert "link_names" not in call.args and "parse" not in call.args


async def test_the_weekly_digest_reaches_each_lead_with_its_chart_as_a_png(
    bot: SlackBot,
) -> None:
    await bot.seed()
    assert "raised" in await bot.ask("UBEN", f"alert {X_LINK} pile-on")
    await deliver_everything(bot)
    data = await bot.runtime.services.digest_report(None, None, send=True)
    await deliver_everything(bot)
    title = f"weekly digest for {data.week}"
    for lead in ("UANA", "USAM"):  # the lead and the safety lead, each privately
        assert any(title in m.text for m in bot.fake.dms_to(lead))
    pngs = [content for content in bot.fake.uploads.values() if content.startswith(b"\x89PNG")]
    assert len(pngs) == 2 and all(len(png) > 1000 for png in pngs)
