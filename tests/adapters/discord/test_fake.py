"""The fake answers the way Discord does, where a client can tell the difference."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.fakes.discord import FakeDiscord, Limits
from tests.fakes.discord.server import validate_commands


async def call(
    fake: FakeDiscord, method: str, path: str, *, token: str | None = None, **kw: Any
) -> tuple[int, Any, Any]:
    headers = {"Authorization": f"Bot {token or fake.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, fake.api_url + path, headers=headers, **kw) as response,
    ):
        return response.status, response.headers, await response.json(content_type=None)


async def test_answers_are_exactly_application_json_with_rate_limit_headers(
    fake: FakeDiscord,
) -> None:
    status, headers, body = await call(fake, "GET", "/users/@me")
    assert status == 200 and body["bot"] is True
    assert headers["Content-Type"] == "application/json"
    for name in (
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "X-RateLimit-Reset-After",
        "X-RateLimit-Bucket",
    ):
        assert name in headers
    status, _, body = await call(fake, "GET", "/users/@me", token="wrong")
    assert (status, body["message"]) == (401, "401: Unauthorized")


async def test_a_full_bucket_answers_429_with_retry_after_and_via() -> None:
    async with FakeDiscord(limits=Limits(messages=1, window=5.0)) as fake:
        lee = fake.add_user("lee")
        channel = fake.add_channel(fake.add_guild("g", lee), "c")
        path = f"/channels/{channel.id}/messages"
        assert (await call(fake, "POST", path, json={"content": "one"}))[0] == 200
        status, headers, body = await call(fake, "POST", path, json={"content": "two"})
        assert status == 429 and headers["Via"] and headers["X-RateLimit-Scope"] == "user"
        assert body["global"] is False and 0 < body["retry_after"] <= 5.0
        assert len(fake.channel_messages(channel)) == 1


async def test_the_global_limit_is_fifty_a_second() -> None:
    async with FakeDiscord(limits=Limits(other=1000)) as fake:
        results = await asyncio.gather(*(call(fake, "GET", "/users/@me") for _ in range(60)))
        limited = [r for r in results if r[0] == 429]
        assert len(limited) == 10
        assert all(r[2]["global"] is True and r[1]["X-RateLimit-Global"] == "true" for r in limited)


async def test_a_repeated_nonce_returns_the_first_message(fake: FakeDiscord) -> None:
    lee = fake.add_user("lee")
    channel = fake.add_channel(fake.add_guild("g", lee), "c")
    body = {"content": "once", "nonce": "abc", "enforce_nonce": True}
    first = await call(fake, "POST", f"/channels/{channel.id}/messages", json=body)
    again = await call(fake, "POST", f"/channels/{channel.id}/messages", json=body)
    assert first[2]["id"] == again[2]["id"]
    assert len(fake.channel_messages(channel)) == 1


async def test_unknown_channels_and_oversized_messages_are_refused(fake: FakeDiscord) -> None:
    status, _, body = await call(fake, "POST", "/channels/1/messages", json={"content": "x"})
    assert (status, body["code"]) == (404, 10003)
    lee = fake.add_user("lee")
    channel = fake.add_channel(fake.add_guild("g", lee), "c")
    status, _, body = await call(
        fake, "POST", f"/channels/{channel.id}/messages", json={"content": "x" * 2001}
    )
    assert (status, body["code"]) == (400, 50035)


async def test_command_registration_is_checked_like_discord_does() -> None:
    good = [
        {
            "name": "rally",
            "description": "d",
            "options": [{"type": 1, "name": "status", "description": "s"}],
        }
    ]
    assert validate_commands(good) == {}
    assert validate_commands([{"name": "Rally!", "description": ""}])
    too_long = [{"name": "rally", "description": "x" * 101}]
    assert validate_commands(too_long)
    order = [
        {
            "name": "r",
            "description": "d",
            "options": [
                {"type": 3, "name": "a", "description": "a"},
                {"type": 3, "name": "b", "description": "b", "required": True},
            ],
        }
    ]
    assert validate_commands(order)
