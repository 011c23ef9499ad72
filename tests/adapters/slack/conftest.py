"""Fixtures: the real Bolt app over HTTP, the real AsyncWebClient, a fake Slack on loopback."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from alembic import command

from bot.store import schema
from tests.adapters.slack.harness import (
    LEADS,
    OTHER,
    RALLY,
    T1,
    SlackBot,
    slack_settings,
    start_bot,
    stop_bot,
    users,
)
from tests.fakes.slack import FakeSlack


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to head once; each test works on a copy."""
    path = tmp_path_factory.mktemp("slack-db") / "template.db"
    command.upgrade(schema.alembic_config(f"sqlite:///{path}"), "head")
    return path


@pytest.fixture
def db_url(template_db: Path, tmp_path: Path) -> str:
    copy = tmp_path / "rallybot.db"
    shutil.copyfile(template_db, copy)
    return f"sqlite:///{copy}"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as slack:
        slack.add_workspace(T1, "clinicians", users(), {RALLY, LEADS, OTHER})
        yield slack


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def bot(
    fake: FakeSlack, db_url: str, tmp_path: Path, session: aiohttp.ClientSession
) -> AsyncIterator[SlackBot]:
    """Single-workspace HTTP mode (SLACK_BOT_TOKEN + SLACK_SIGNING_SECRET) on SQLite."""
    running = await start_bot(fake, slack_settings(fake, db_url, tmp_path), session)
    try:
        yield running
    finally:
        await stop_bot(running)
