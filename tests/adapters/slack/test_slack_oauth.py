"""OAuth install into two workspaces, on rallybot's own database, and isolation between them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from pydantic import SecretStr
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from sqlalchemy import func, select, update

from bot.adapters.slack import storage
from bot.adapters.slack.storage import TOKEN_COLUMNS, oauth_states
from bot.cli import _rotate_key
from bot.core.model import Space
from bot.keys import KEY_FILE
from bot.settings import Settings
from bot.store import schema
from tests.adapters.slack.harness import (
    LEADS,
    RALLY,
    T1,
    T2,
    X_LINK,
    SlackBot,
    buttons,
    slack_settings,
    start_bot,
    stop_bot,
    users,
)
from tests.fakes.slack import FakeSlack
from tests.support.postgres import POSTGRES_URL, throwaway_postgres
from tests.support.secrets import OTHER_KEY, TEST_KEY

# slack_sdk's oauth.v2.access still sends the client credentials with aiohttp.BasicAuth.
pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")

BACKENDS: list[Any] = ["sqlite"]
if POSTGRES_URL:
    BACKENDS.append(pytest.param("postgres", marks=pytest.mark.postgres))


@pytest.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest, db_url: str) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield db_url
        return
    assert POSTGRES_URL is not None
    async with throwaway_postgres(POSTGRES_URL) as url:
        await schema.upgrade(url)
        yield url


def oauth_settings(fake: FakeSlack, database: str, tmp_path: Path, **more: Any) -> Settings:
    """OAuth mode; on PostgreSQL with RALLYBOT_SECRET_KEY, on SQLite with the key file."""
    if not database.startswith("sqlite"):
        more.setdefault("secret_key", SecretStr(TEST_KEY))
    return slack_settings(
        fake,
        database,
        tmp_path,
        slack_bot_token=None,
        slack_client_id=fake.client_id,
        slack_client_secret=SecretStr(fake.client_secret),
        **more,
    )


@pytest.fixture
async def oauth_bot(
    fake: FakeSlack, database: str, tmp_path: Path, session: aiohttp.ClientSession
) -> AsyncIterator[SlackBot]:
    """HTTP mode with SLACK_CLIENT_ID/SECRET: any number of workspaces, no SLACK_BOT_TOKEN."""
    fake.add_workspace(T2, "nurses", users("2"), {"CRALLY2", "CLEADS2"})
    running = await start_bot(fake, oauth_settings(fake, database, tmp_path), session)
    try:
        yield running
    finally:
        await stop_bot(running)


async def install(bot: SlackBot, session: aiohttp.ClientSession, team: str, installer: str) -> str:
    """What a browser does: /slack/install → Slack's consent page → /slack/oauth_redirect."""
    base = f"http://127.0.0.1:{bot.port}"
    async with session.get(f"{base}/slack/install", allow_redirects=False) as started:
        assert started.status == 302
        location = urlsplit(started.headers["Location"])
        cookie = started.headers["Set-Cookie"].split(";")[0]
    assert location.netloc == f"127.0.0.1:{bot.fake.port}"  # beside SLACK_API_URL
    assert location.path == "/oauth/v2/authorize"
    query = parse_qs(location.query)
    assert query["client_id"] == [bot.fake.client_id]
    assert query["scope"] == [
        "commands,chat:write,im:write,users:read,files:write,channels:read,groups:read"
    ]
    code = bot.fake.oauth_code(team, installer)
    async with session.get(
        f"{base}/slack/oauth_redirect",
        params={"code": code, "state": query["state"][0]},
        headers={"Cookie": cookie},
        allow_redirects=False,
    ) as finished:
        return f"{finished.status} {await finished.text()}"


async def test_install_into_two_workspaces_and_keep_them_apart(
    oauth_bot: SlackBot, session: aiohttp.ClientSession
) -> None:
    bot, fake = oauth_bot, oauth_bot.fake
    assert "is not installed" not in await install(bot, session, T1, "UANA")
    page = await install(bot, session, T2, "UBEN2")
    assert page.startswith("200") and "rallybot is installed" in page
    assert [c.args.get("code") is not None for c in fake.ok_calls("oauth.v2.access")] == [
        True,
        True,
    ]

    # Workspace A: Ana (an admin) sets up; Ben joins and is made a responder.
    assert "is set up" in await bot.ask("UANA", "setup")
    await bot.ask("UANA", "setup leads", channel=LEADS)
    await bot.ask("UBEN", "join")
    await bot.ask("UANA", "approve <@UBEN>")
    await bot.ask("UANA", "role <@UBEN> responder")
    # Workspace B: Ben2 is not an admin there but installed rallybot, so he may set it up.
    assert "is set up" in await bot.ask("UBEN2", "setup", channel="CRALLY2", team=T2)

    assert "Alert #1 raised" in await bot.ask("UANA", f"alert {X_LINK} team A's alert")
    await bot.deliver()
    rally = fake.in_channel(RALLY, T1)[-1]
    on_it = buttons(rally)["I'm on it"]
    # Every call for A used A's token, every call for B used B's.
    for call in fake.calls:
        if call.team_id is not None and call.method.startswith("chat."):
            assert call.token == fake.workspaces[call.team_id].bot_token
    assert not fake.in_channel("CRALLY2", T2) or all(
        "team A" not in m.text for m in fake.in_channel("CRALLY2", T2)
    )

    # B's member can neither see A's alert nor act on it with A's ids.
    said = await bot.ask("UBEN2", "status", channel="CRALLY2", team=T2)
    assert "No open alerts" in said and "team A" not in said
    assert "There is no alert" in await bot.ask("UBEN2", "status #1", channel="CRALLY2", team=T2)
    refused = await bot.click("UBEN2", on_it, team=T2, channel="CRALLY2")
    assert "That alert doesn't exist" in refused
    # Typing A's user id in B finds nobody.
    assert "no member" in await bot.ask("UBEN2", "approve <@UANA>", channel="CRALLY2", team=T2)
    await bot.deliver()
    assert "On it: 0" in " ".join(str(b) for b in fake.in_channel(RALLY, T1)[-1].blocks)
    assert fake.ok_calls("chat.update") == []  # nothing changed in A

    # A request from a workspace that never installed rallybot does nothing.
    sent = await bot.send.command("T0000009", "UANA", "status")
    assert sent.status == 200
    (told,) = await fake.response(str(sent.response_id))
    assert "isn't installed in this workspace" in told["text"]
    assert not [c for c in fake.calls if c.args.get("team") == "T0000009"]


async def test_a_callback_without_the_state_cookie_is_refused(
    oauth_bot: SlackBot, session: aiohttp.ClientSession
) -> None:
    base = f"http://127.0.0.1:{oauth_bot.port}"
    code = oauth_bot.fake.oauth_code(T1, "UANA")
    async with session.get(
        f"{base}/slack/oauth_redirect", params={"code": code, "state": "forged"}
    ) as answer:
        assert answer.status == 400
        assert "The installation did not finish" in await answer.text()
    assert not oauth_bot.fake.ok_calls("oauth.v2.access")


async def stored_tokens(bot: SlackBot) -> list[str]:
    """Every token as the database holds it (raw rows, no store in between)."""
    found: list[str] = []
    async with bot.runtime.engine.connect() as connection:
        for table, names in TOKEN_COLUMNS.items():
            for row in (await connection.execute(table.select())).mappings():
                found += [row[n] for n in names if row[n] is not None]
    return found


async def test_tokens_are_unreadable_in_the_database_and_survive_a_key_rotation(
    oauth_bot: SlackBot, session: aiohttp.ClientSession, database: str, tmp_path: Path
) -> None:
    bot, fake = oauth_bot, oauth_bot.fake
    token = fake.workspaces[T1].bot_token
    await install(bot, session, T1, "UANA")
    stored = await stored_tokens(bot)
    assert len(stored) == 2  # the installation's bot token and the bot row's
    assert all(token not in value and "xox" not in value for value in stored)
    if database.startswith("sqlite"):
        # No RALLYBOT_SECRET_KEY on SQLite: a key file beside the database, for its owner only.
        key_file = tmp_path / KEY_FILE
        assert key_file.stat().st_mode & 0o777 == 0o600
        old_key = key_file.read_text().strip()
    else:
        old_key = TEST_KEY
    # Found and decrypted: rallybot answers in that workspace with the real token.
    assert "is set up" in await bot.ask("UANA", "setup")
    assert [c.token for c in fake.calls if c.method == "users.info"] == [token]

    # Rotation: the new key encrypts, the old one is read; one transaction rewrites them all.
    rotated = oauth_settings(
        fake,
        database,
        tmp_path,
        secret_key=SecretStr(OTHER_KEY),
        old_secret_keys=SecretStr(old_key),
    )
    assert await _rotate_key(rotated) == 0
    after = await stored_tokens(bot)
    assert len(after) == 2 and not set(after) & set(stored)
    assert all(token not in value for value in after)
    await stop_bot(bot)

    # With only the old key, nothing can be read: the workspace looks uninstalled.
    only_old = oauth_settings(fake, database, tmp_path, secret_key=SecretStr(old_key))
    stale = await start_bot(fake, only_old, session)
    try:
        assert "isn't installed in this workspace" in await stale.ask("UANA", "status")
    finally:
        await stop_bot(stale)
    # With only the new key, it works as before.
    fresh = await start_bot(
        fake, oauth_settings(fake, database, tmp_path, secret_key=SecretStr(OTHER_KEY)), session
    )
    try:
        assert "No open alerts" in await fresh.ask("UANA", "status")
    finally:
        await stop_bot(fresh)


async def test_tokens_stored_in_plain_text_before_are_encrypted_when_web_starts(
    oauth_bot: SlackBot, session: aiohttp.ClientSession, database: str, tmp_path: Path
) -> None:
    bot, fake = oauth_bot, oauth_bot.fake
    await install(bot, session, T1, "UANA")
    await stop_bot(bot)
    # As an older rallybot stored it: slack_sdk's store with no encryption in between.
    plain = AsyncSQLAlchemyInstallationStore(fake.client_id, bot.runtime.engine)
    stored = await plain.async_find_installation(enterprise_id=None, team_id=T1)
    assert stored is not None
    opened = await bot.http.workspaces.installations.async_find_installation(  # type: ignore[union-attr]
        enterprise_id=None, team_id=T1
    )
    assert opened is not None
    stored.bot_token = opened.bot_token
    await plain.async_save(stored)
    assert fake.workspaces[T1].bot_token in await stored_tokens(bot)

    again = await start_bot(fake, oauth_settings(fake, database, tmp_path), session)
    try:
        assert not any("xox" in value for value in await stored_tokens(again))
        assert "is set up" in await again.ask("UANA", "setup")
    finally:
        await stop_bot(again)


async def test_anonymous_install_visits_do_not_grow_the_state_table_forever(
    oauth_bot: SlackBot, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage, "STATE_PURGE_SECONDS", 0.0)  # purge on every visit
    base = f"http://127.0.0.1:{oauth_bot.port}"

    async def visit() -> None:
        async with session.get(f"{base}/slack/install", allow_redirects=False) as started:
            assert started.status == 302

    async def states() -> int:
        async with oauth_bot.runtime.engine.connect() as connection:
            return int(await connection.scalar(select(func.count()).select_from(oauth_states)))

    for _ in range(5):
        await visit()
    assert await states() == 5  # each visit's state lives its ten minutes
    async with oauth_bot.runtime.engine.begin() as connection:
        await connection.execute(
            update(oauth_states).values(expire_at=datetime.now(UTC).replace(tzinfo=None))
        )
    await visit()
    assert await states() == 1  # the expired ones went when the next was issued


async def tokens_of(bot: SlackBot, team: str) -> int:
    found = 0
    async with bot.runtime.engine.connect() as connection:
        for table in TOKEN_COLUMNS:
            query = select(func.count()).select_from(table).where(table.c.team_id == team)
            found += int(await connection.scalar(query) or 0)
    return found


async def space_of(bot: SlackBot, team: str) -> Space | None:
    async with bot.runtime.services.uow() as uow:
        return await uow.spaces.find("slack", team)


async def test_uninstalling_deletes_the_tokens_at_once_and_the_data_after_the_grace_period(
    oauth_bot: SlackBot, session: aiohttp.ClientSession
) -> None:
    bot, fake = oauth_bot, oauth_bot.fake
    await install(bot, session, T1, "UANA")
    await install(bot, session, T2, "UBEN2")
    assert "is set up" in await bot.ask("UANA", "setup")
    assert "is set up" in await bot.ask("UBEN2", "setup", channel="CRALLY2", team=T2)
    assert await tokens_of(bot, T1) == 2

    sent = await bot.send.event(T1, {"type": "app_uninstalled"}, "EvGone1")
    assert sent.status == 200
    # Bolt's revocation listener deleted the tokens before the ack; T2's stay.
    assert await tokens_of(bot, T1) == 0 and await tokens_of(bot, T2) == 2
    told = await bot.send.command(T1, "UANA", "status")
    (reply,) = await fake.response(str(told.response_id))
    assert "isn't installed in this workspace" in reply["text"]
    space = None
    for _ in range(200):
        space = await space_of(bot, T1)
        if space is not None and space.removed:
            break
        await asyncio.sleep(0.02)
    assert space is not None and space.delete_at is not None
    # Slack retries the event: nothing changes.
    assert (
        await bot.send.event(T1, {"type": "app_uninstalled"}, "EvGone1", retry_num=1)
    ).status == 200

    bot.clock.offset = timedelta(days=29)
    await bot.runtime.services.run_due()
    assert await space_of(bot, T1) is not None
    bot.clock.offset = timedelta(days=31)
    await bot.runtime.services.run_due()
    # It was its collective's only space: the collective is gone; T2's is untouched.
    assert await space_of(bot, T1) is None and await space_of(bot, T2) is not None
    async with bot.runtime.services.uow() as uow:
        assert len(await uow.collectives.all()) == 1

    # tokens_revoked with the bot's token is the same as an uninstall.
    revoked = {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["UBOT0000002"]}}
    assert (await bot.send.event(T2, revoked, "EvRevoked2")).status == 200
    assert await tokens_of(bot, T2) == 0
    for _ in range(200):
        found = await space_of(bot, T2)
        if found is not None and found.removed:
            break
        await asyncio.sleep(0.02)
    assert found is not None and found.removed


async def test_reinstalling_and_setting_up_within_the_grace_period_keeps_everything(
    oauth_bot: SlackBot, session: aiohttp.ClientSession
) -> None:
    bot = oauth_bot
    await install(bot, session, T1, "UANA")
    assert "is set up" in await bot.ask("UANA", "setup")
    assert "Alert #1 raised" in await bot.ask("UANA", f"alert {X_LINK} keep me")
    await bot.send.event(T1, {"type": "app_uninstalled"}, "EvGone3")
    for _ in range(200):
        space = await space_of(bot, T1)
        if space is not None and space.removed:
            break
        await asyncio.sleep(0.02)
    bot.clock.offset = timedelta(days=10)
    await install(bot, session, T1, "UANA")
    said = await bot.ask("UANA", "setup")
    assert "nothing will be deleted" in said
    bot.clock.offset = timedelta(days=40)
    await bot.runtime.services.run_due()
    assert "#1" in await bot.ask("UANA", "status")
