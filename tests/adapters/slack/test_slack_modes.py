"""Socket Mode against the fake's WebSocket, `rallybot web` as a whole, and the manifest."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp
from pydantic import SecretStr

from bot.adapters.slack import socket_mode
from bot.adapters.slack.manifest import manifest, render_manifest
from bot.adapters.slack.web import serve_web
from bot.bootstrap import build
from bot.settings import Settings
from tests.adapters.slack.harness import RALLY, T1, StepClock, slack_settings
from tests.fakes.slack import FakeSlack, SlackSender

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "metrics-token-for-the-slack-web-test"


async def test_socket_mode_connects_receives_a_command_and_acks_it(
    fake: FakeSlack, db_url: str, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    runtime = build(slack_settings(fake, db_url, tmp_path), StepClock())
    platform = socket_mode.create(runtime)
    await platform.start()
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
    task = asyncio.create_task(serve_web(settings))
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
        async with session.get(f"http://127.0.0.1:{port}/slack/install") as answer:
            assert answer.status == 404  # single-workspace mode has no install page
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        async with session.get(f"http://127.0.0.1:{port}/metrics", headers=bearer) as answer:
            assert answer.status == 200
            metrics = await answer.text()
            assert "rallybot_outbox_pending" in metrics
            assert 'rallybot_requests_waiting{queue="slack"} 0.0' in metrics
    finally:
        task.cancel()
    assert await task == 0


async def test_rallybot_web_refuses_to_start_without_a_signing_secret(
    fake: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    settings = slack_settings(fake, db_url, tmp_path, slack_signing_secret=None)
    assert await serve_web(settings) == 2


def test_the_shipped_manifest_is_the_rendered_one() -> None:
    shipped = (ROOT / "config" / "slack-manifest.yml").read_text()
    assert shipped == render_manifest(Settings(command="rally"), None)


def test_the_manifest_asks_for_minimal_scopes_and_switches_to_http_with_a_url() -> None:
    settings = Settings(command="rally")
    socket = manifest(settings)
    assert socket["oauth_config"] == {
        "scopes": {"bot": ["commands", "chat:write", "im:write", "users:read", "files:write"]}
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
