"""App Home, Events API retries, and request signing (401 and nothing changed)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from tests.adapters.slack.harness import T1, X_LINK, SlackBot, buttons, text_of


def home_opened(user: str, tab: str = "home") -> dict[str, Any]:
    return {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": tab}


async def published(bot: SlackBot, user: str, count: int = 1) -> dict[str, Any]:
    views = await bot.fake.wait_for(lambda: len(bot.fake.homes.get((T1, user), [])) >= count)
    assert views
    return bot.fake.homes[(T1, user)][-1]


def home_buttons(view: dict[str, Any]) -> dict[str, str]:
    return buttons(view)


async def test_home_shows_my_alerts_availability_and_for_leads_the_members(bot: SlackBot) -> None:
    await bot.seed()
    await bot.ask("UBEN", f"alert {X_LINK} help me")
    sent = await bot.send.event(T1, home_opened("UCAM"), "Ev001")
    assert sent.status == 200
    view = await published(bot, "UCAM")
    assert view["type"] == "home"
    words = text_of(view)
    assert "#1 Ben: active" in words
    assert {"Raise an alert", "I'm available", "Not available", "Pause for a day"} <= set(
        home_buttons(view)
    )
    assert "For leads" not in words
    assert "You can be rallied." in words and "No quiet hours." in words  # the current state
    await bot.send.event(T1, home_opened("UANA"), "Ev002")
    lead_view = await published(bot, "UANA")
    assert "For leads" in text_of(lead_view) and "ben · Ben" in text_of(lead_view)


async def test_home_toggles_change_my_settings_and_republish(bot: SlackBot) -> None:
    await bot.seed()
    await bot.press("UCAM", "rally:home:available:off", in_home=True)
    view = await published(bot, "UCAM")
    assert "You won't be rallied" in text_of(view)
    await bot.press("UCAM", "rally:home:quiet", in_home=True, selected="22:00-07:00")
    view = await published(bot, "UCAM", 2)
    assert "Quiet hours set: 22:00" in text_of(view)
    assert "Quiet hours 22:00\u201307:00." in text_of(view)  # and shown as the current state
    await bot.press("UCAM", "rally:home:pause:1d", in_home=True)
    assert "Paused until" in text_of(await published(bot, "UCAM", 3))
    # The raise button opens the modal from Home.
    await bot.press("UCAM", "rally:home:alert", in_home=True)
    await bot.fake.wait_for(lambda: bot.fake.ok_calls("views.open"))


async def test_a_stranger_sees_only_how_to_join(bot: SlackBot) -> None:
    await bot.seed()
    await bot.send.event(T1, home_opened("UEVE"), "Ev003")
    view = await published(bot, "UEVE")
    assert "/rally join" in text_of(view)
    assert not home_buttons(view)


async def test_a_retried_event_is_handled_once(bot: SlackBot) -> None:
    await bot.seed()
    first = await bot.send.event(T1, home_opened("UCAM"), "Ev100")
    await published(bot, "UCAM")
    for retry in (1, 2, 3):
        again = await bot.send.event(T1, home_opened("UCAM"), "Ev100", retry_num=retry)
        assert again.status == 200
    await bot.send.event(T1, home_opened("UCAM"), "Ev101")  # a new event is handled
    await published(bot, "UCAM", 2)
    assert first.status == 200
    assert len(bot.fake.ok_calls("views.publish")) == 2


async def test_a_retry_whose_first_delivery_never_arrived_is_handled(bot: SlackBot) -> None:
    await bot.seed()
    await bot.send.event(T1, home_opened("UCAM"), "Ev200", retry_num=1)
    await published(bot, "UCAM")


async def test_the_messages_tab_publishes_nothing(bot: SlackBot) -> None:
    await bot.seed()
    await bot.send.event(T1, home_opened("UCAM", tab="messages"), "Ev300")
    await bot.send.event(T1, home_opened("UCAM"), "Ev301")
    await published(bot, "UCAM")
    assert len(bot.fake.ok_calls("views.publish")) == 1


async def test_a_bad_signature_is_refused_and_changes_nothing(bot: SlackBot) -> None:
    sent = await bot.send.command(T1, "UANA", "setup", signature="v0=" + "0" * 64)
    assert sent.status == 401
    stale = int(time.time()) - 6 * 60
    sent = await bot.send.command(T1, "UANA", "setup", timestamp=stale)
    assert sent.status == 401
    future = int(time.time()) + 6 * 60
    sent = await bot.send.command(T1, "UANA", "setup", timestamp=future)
    assert sent.status == 401
    sent = await bot.send.press(T1, "UANA", "rally:home:available:off", signature="v0=bad")
    assert sent.status == 401
    sent = await bot.send.event(T1, home_opened("UANA"), "Ev400", signature="v0=bad")
    assert sent.status == 401
    # Only the auth.test made once at start; no call for any of the refused requests.
    assert [c.method for c in bot.fake.calls] == ["auth.test"]
    assert all(not posts for posts in bot.fake.responses.values())
    assert "not a member" in await bot.ask("UANA", "status")  # no collective was created


async def test_a_request_signed_with_another_secret_is_refused(bot: SlackBot) -> None:
    from slack_sdk.signature import SignatureVerifier

    body = b"team_id=T0000001&user_id=UANA&command=%2Frally&text=setup"
    ts = str(int(time.time()))
    other = SignatureVerifier("someone-elses-secret").generate_signature(timestamp=ts, body=body)
    sent = await bot.send.post(
        body, "application/x-www-form-urlencoded", timestamp=int(ts), signature=other
    )
    assert sent.status == 401


async def test_an_unhandled_request_is_logged_without_its_body(
    bot: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.adapters.slack.bolt")
    sent = await bot.send.command(T1, "UANA", "secret words <!channel>", command="/other")
    assert sent.status == 404
    assert "Unhandled request (body not logged)" in caplog.text
    assert "secret words" not in caplog.text


async def test_an_uninstall_in_one_workspace_mode_schedules_the_deletion(
    bot: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    await bot.seed()
    sent = await bot.send.event(T1, {"type": "app_uninstalled"}, "EvUninstalled1")
    assert sent.status == 200
    space = None
    for _ in range(200):
        async with bot.runtime.services.uow() as uow:
            space = await uow.spaces.find("slack", T1)
        if space is not None and space.removed:
            break
        await asyncio.sleep(0.02)
    assert space is not None and space.delete_at is not None
    # SLACK_BOT_TOKEN is the operator's: rallybot stops using it and says to remove it.
    assert "remove the token from the environment" in caplog.text
    assert "xoxb-" not in caplog.text
