"""The platform registry and the composition root: a platform runs when the settings
configure it for the process's role, is served on the one HTTP server with its routes, and
is reported by /readyz through the Platform protocol."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import pytest
from aiohttp import web

from bot.bootstrap import Runtime
from bot.core.messages import Message
from bot.core.model import OutboxItem
from bot.core.ports import Limit
from bot.ops.platform import Health, Platform, Routes
from bot.platforms import PLATFORMS, Registered, configured, platforms_for
from bot.runtime import serve_role
from bot.runtime import web as rallybot_web
from bot.settings import ConfigError, Settings

NO_PLATFORM: dict[str, Any] = {
    "discord_token": None,
    "slack_bot_token": None,
    "slack_app_token": None,
    "slack_client_id": None,
    "slack_client_secret": None,
    "slack_signing_secret": None,
}


class FakeChat:
    platform = "fake"

    async def post(self, item: OutboxItem, message: Message) -> str:
        return "1"

    async def update(self, item: OutboxItem, ref: str, message: Message) -> None:
        return None

    def limits(self, item: OutboxItem) -> Sequence[Limit]:
        return [Limit("fake", 10.0, 5)]


class FakePlatform:
    """A platform that receives over HTTP (GET /fake/hello) and connects when told."""

    made: ClassVar[list[FakePlatform]] = []

    def __init__(self, runtime: Runtime) -> None:
        self.chat = FakeChat()
        self.inbox_handler = None  # receives nothing through the inbox
        self.started = self.stopped = False
        self.up = asyncio.Event()
        FakePlatform.made.append(self)

    def health(self) -> Health:
        if self.up.is_set():
            return Health(True)
        return Health(False, "the fake's API is not answering yet")

    def http(self) -> Routes:
        async def hello(request: web.Request) -> web.Response:
            return web.json_response({"hello": "from the fake platform"})

        return Routes([web.get("/fake/hello", hello)])

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True


def make_fake(runtime: Runtime) -> Platform:
    return FakePlatform(runtime)


FAKE = Registered(
    "fake",
    lambda settings, role: settings.command == "fake",  # a test-only way to configure it
    {"web": make_fake, "run": make_fake},
    needs={"web": "RALLYBOT_COMMAND=fake (the fake)"},
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings(tmp_path: Path, **more: Any) -> Settings:
    return Settings(**{"data_dir": tmp_path, "tick_seconds": 0.1, **NO_PLATFORM, **more})


def test_an_unconfigured_platform_is_not_made(tmp_path: Path) -> None:
    plain = settings(tmp_path)
    for role in ("run", "web", "worker"):
        assert configured(plain, role) == []
        assert configured(plain, role, (*PLATFORMS, FAKE)) == []
    with_discord = settings(tmp_path, discord_token="discord-token")
    assert [e.name for e in configured(with_discord, "worker")] == ["discord"]
    assert configured(with_discord, "web") == []  # Discord has no web role
    # Slack over HTTP in `web`, its sender in `worker`, not Socket Mode without the app token.
    with_slack = settings(tmp_path, slack_bot_token="xoxb-1", slack_signing_secret="s")
    assert [e.name for e in configured(with_slack, "web")] == ["slack"]
    assert [e.name for e in configured(with_slack, "worker")] == ["slack"]
    assert configured(with_slack, "run") == []


async def test_a_role_with_no_platform_configured_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="the worker has nothing to do") as refused:
        await serve_role(settings(tmp_path), "worker")
    assert "DISCORD_TOKEN" in str(refused.value)
    assert not (tmp_path / "rallybot.db").exists()  # refused before the database is opened


async def test_a_registered_platform_is_started_served_and_reported_by_readyz(
    tmp_path: Path,
) -> None:
    FakePlatform.made.clear()
    port = free_port()
    registry = (*PLATFORMS, FAKE)
    stop = asyncio.Event()
    serving = asyncio.create_task(
        rallybot_web(settings(tmp_path, port=port, command="fake"), registry, stop)
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(500):
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    async with session.get(f"{base}/livez") as answer:
                        if answer.status == 200:
                            break
                await asyncio.sleep(0.02)
            (fake,) = FakePlatform.made
            async with session.get(f"{base}/fake/hello") as answer:
                assert answer.status == 200
                assert await answer.json() == {"hello": "from the fake platform"}
            async with session.get(f"{base}/readyz") as answer:
                assert answer.status == 503
                body = await answer.json()
                assert body["failed"] == ["platform:fake"]
                assert body["checks"]["platform:fake"] == (
                    "not connected: the fake's API is not answering yet"
                )
            for _ in range(500):
                if fake.started:
                    break
                await asyncio.sleep(0.01)
            assert fake.started
            fake.up.set()
            async with session.get(f"{base}/readyz") as answer:
                assert answer.status == 200 and (await answer.json())["ready"] is True
            async with session.get(f"{base}/slack/events") as answer:
                assert answer.status == 404  # Slack is not configured: no Slack routes
    finally:
        stop.set()
        assert await asyncio.wait_for(serving, 10) == 0
    assert fake.stopped


async def test_platforms_for_makes_only_the_roles_platforms(tmp_path: Path) -> None:
    from bot.bootstrap import build

    FakePlatform.made.clear()
    runtime = build(settings(tmp_path, command="fake"))
    try:
        assert platforms_for(runtime, "worker", (FAKE,)) == []  # no worker factory
        (made,) = platforms_for(runtime, "run", (FAKE,))
        assert made.chat.platform == "fake" and FakePlatform.made == [made]
    finally:
        await runtime.close()
