"""Socket Mode against the fake's WebSocket, `rallybot web` as a whole, and the manifest."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from bot.adapters.slack import sender, socket_mode
from bot.adapters.slack.manifest import manifest, render_manifest
from bot.adapters.slack.web import SlackHttp
from bot.bootstrap import build
from bot.ops.startup import StartupError
from bot.runtime import serve, web
from bot.settings import Settings
from tests.adapters.slack.harness import RALLY, T1, slack_settings, start_inbox
from tests.fakes.slack import FakeSlack, SlackSender
from tests.fakes.slack.server import Fault
from tests.support.clock import MovableClock

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "metrics-token-for-the-slack-web-test"


async def test_socket_mode_connects_receives_a_command_and_acks_it(
    fake: FakeSlack, db_url: str, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    runtime = build(slack_settings(fake, db_url, tmp_path), MovableClock())
    platform = socket_mode.create(runtime)
    await platform.start()
    inbox = start_inbox(runtime, {"slack": platform.inbox_handler}, {"slack": platform.chat})
    try:
        assert fake.socket_connections == 1
        assert [c.token for c in fake.ok_calls("apps.connections.open")] == [fake.app_token]
        sender = SlackSender(fake, "http://unused", "unused", session)
        rid, payload = sender.command_payload(T1, "UANA", "setup", RALLY)
        envelope = await fake.send_envelope("slash_commands", payload)
        await fake.wait_for(lambda: envelope in fake.acks)
        assert fake.acks[envelope] == {"envelope_id": envelope}  # acked, with no payload
        (reply,) = await fake.response(rid)
        assert "is set up" in str(reply)
        # An Events API envelope retried over the socket is handled once too.
        event = {
            "team_id": T1,
            "event_id": "EvSock1",
            "type": "event_callback",
            "event": {"type": "app_home_opened", "user": "UANA", "tab": "home"},
        }
        for attempt in (0, 1):
            await fake.send_envelope("events_api", event, retry_attempt=attempt)
        await fake.wait_for(lambda: fake.ok_calls("views.publish"))
        await asyncio.sleep(0.2)
        assert len(fake.ok_calls("views.publish")) == 1
    finally:
        await inbox.stop(5.0)
        await platform.stop()
        await runtime.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_rallybot_web_serves_health_and_stops_cleanly(
    fake: FakeSlack, db_url: str, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    port = free_port()
    settings = slack_settings(
        fake, db_url, tmp_path, port=port, tick_seconds=0.2, metrics_token=SecretStr(TOKEN)
    )
    gc.unfreeze()  # as in a new process
    task = asyncio.create_task(web(settings))
    try:

        async def healthy() -> bool:
            try:
                async with session.get(f"http://127.0.0.1:{port}/readyz") as answer:
                    return answer.status == 200 and (await answer.json())["ready"] is True
            except aiohttp.ClientConnectionError:
                return False

        for _ in range(200):
            if await healthy():
                break
            await asyncio.sleep(0.02)
        assert await healthy()
        # Once running, start-up's objects are out of the garbage collector's full walks.
        for _ in range(200):
            if gc.get_freeze_count():
                break
            await asyncio.sleep(0.01)
        assert gc.get_freeze_count() > 0
        async with session.get(f"http://127.0.0.1:{port}/slack/install") as answer:
            assert answer.status == 404  # single-workspace mode has no install page
        async with session.get(f"http://127.0.0.1:{port}/livez") as answer:
            assert answer.status == 200 and await answer.json() == {"alive": True}
        async with session.get(f"http://127.0.0.1:{port}/healthz") as answer:
            assert answer.status == 200 and answer.headers["Deprecation"] == "true"
        async with session.get(f"http://127.0.0.1:{port}/metrics") as answer:
            assert answer.status == 401  # the public port: no token, no figures
            assert "rallybot_" not in await answer.text()
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        async with session.get(f"http://127.0.0.1:{port}/metrics", headers=bearer) as answer:
            assert answer.status == 200
            metrics = await answer.text()
            assert "rallybot_outbox_pending" in metrics
            assert "rallybot_requests_waiting 0.0" in metrics  # the inbox: nothing unanswered
    finally:
        task.cancel()
    assert await task == 0


async def test_slack_unreachable_at_start_is_retried_while_readyz_says_why(
    fake: FakeSlack, db_url: str, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    fake.inject("auth.test", *[Fault("drop")] * 1000)  # every connection dropped, for now
    port = free_port()
    runtime = build(slack_settings(fake, db_url, tmp_path, port=port, tick_seconds=0.2))
    platform = SlackHttp(runtime)
    platform.retry_first = 0.05
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(runtime, [platform], stop))
    try:
        answer: dict[str, object] = {}
        for _ in range(500):
            with contextlib.suppress(aiohttp.ClientConnectionError):
                async with session.get(f"http://127.0.0.1:{port}/readyz") as got:
                    assert got.status == 503
                    answer = await got.json()
                    if "unreachable" in str(answer):
                        break
            await asyncio.sleep(0.01)
        assert answer["failed"] == ["platform:slack"]
        assert answer["checks"]["platform:slack"] == (  # type: ignore[index]
            "not connected: Slack's API is unreachable (ServerDisconnectedError); retrying"
        )
        assert not serving.done()  # no crash, no crash loop: the process waits for Slack
        fake._faults.clear()  # Slack is back
        for _ in range(1000):
            if platform.connected:
                break
            await asyncio.sleep(0.01)
        async with session.get(f"http://127.0.0.1:{port}/readyz") as got:
            assert got.status == 200 and (await got.json())["ready"] is True
    finally:
        stop.set()
        await asyncio.wait_for(serving, 10)
        await runtime.close()


async def test_a_refused_slack_token_at_start_is_a_configuration_error(
    fake: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    settings = slack_settings(
        fake, db_url, tmp_path, port=free_port(), slack_bot_token=SecretStr("xoxb-not-ours")
    )
    with pytest.raises(StartupError, match=r"Slack refused SLACK_BOT_TOKEN \(invalid_auth\)") as e:
        await web(settings)
    assert e.value.code == 2


async def test_rallybot_web_refuses_to_start_without_a_signing_secret(
    fake: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    settings = slack_settings(fake, db_url, tmp_path, slack_signing_secret=None)
    assert await web(settings) == 2


def test_the_shipped_manifest_is_the_rendered_one() -> None:
    shipped = (ROOT / "config" / "slack-manifest.yml").read_text()
    assert shipped == render_manifest(Settings(command="rally"), None)


def test_the_manifest_asks_for_minimal_scopes_and_switches_to_http_with_a_url() -> None:
    settings = Settings(command="rally")
    socket = manifest(settings)
    assert socket["oauth_config"] == {
        "scopes": {
            "bot": [
                "commands",
                "chat:write",
                "im:write",
                "users:read",
                "files:write",
                "channels:read",
                "groups:read",
            ]
        }
    }
    assert socket["settings"]["socket_mode_enabled"] is True  # type: ignore[index]
    http = manifest(settings, "https://rally.example.org/")
    assert http["settings"]["socket_mode_enabled"] is False  # type: ignore[index]
    assert http["settings"]["event_subscriptions"]["request_url"] == (  # type: ignore[index]
        "https://rally.example.org/slack/events"
    )
    assert http["oauth_config"]["redirect_urls"] == [  # type: ignore[index]
        "https://rally.example.org/slack/oauth_redirect"
    ]
    text = render_manifest(settings, "https://rally.example.org")
    assert 'url: "https://rally.example.org/slack/events"' in text


async def test_socket_mode_with_a_refused_app_token_is_a_configuration_error(
    fake: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    runtime = build(slack_settings(fake, db_url, tmp_path, slack_app_token=SecretStr("xapp-no")))
    platform = socket_mode.create(runtime)
    try:
        with pytest.raises(StartupError, match=r"Slack refused SLACK_APP_TOKEN") as refused:
            await platform.start()
        assert refused.value.code == 2 and not platform.connected
    finally:
        await platform.stop()
        await runtime.close()


async def test_the_workers_slack_sender_waits_for_slack_and_then_sends(
    fake: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    fake.inject("auth.test", *[Fault("drop")] * 4)  # the SDK retries a dropped connection once
    runtime = build(slack_settings(fake, db_url, tmp_path))
    platform = sender.create_sender(runtime)
    platform.retry_first = 0.01
    try:
        await platform.start()
        assert platform.connected and platform.problem is None
        assert len([c for c in fake.calls if c.method == "auth.test"]) == 5  # 2 tries of 2, 1 ok
    finally:
        await platform.stop()
        await runtime.close()
