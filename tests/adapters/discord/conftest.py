"""The real discord.py bot against the fake Discord, on a migrated SQLite file per test."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import text

from bot.adapters.discord.client import DiscordPlatform, create
from bot.bootstrap import Runtime, build
from bot.core.model import OutboxStatus
from bot.delivery.outbox import Dispatcher
from bot.inbox.worker import InboxWorker
from bot.settings import Settings
from bot.store import schema
from tests.fakes.discord import Channel, FakeDiscord, Guild, Interaction, User
from tests.support.clock import MovableClock

Json = dict[str, Any]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated database per session; each test gets a copy of the file."""
    path = tmp_path_factory.mktemp("discord") / "template.db"
    await schema.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def db_url(sqlite_template: Path, tmp_path: Path) -> str:
    copy = tmp_path / "rallybot.db"
    shutil.copyfile(sqlite_template, copy)
    return f"sqlite:///{copy}"


def discord_settings(fake: FakeDiscord, db_url: str, **more: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "discord_token": fake.token,
        "discord_api_url": fake.api_url,
        "discord_gateway_url": fake.gateway_url,
    }
    return Settings(**{**values, **more})


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(heartbeat_interval=0.25) as server:
        yield server


class World:
    """A Discord server with people, the bot connected to the fake, and the outbox."""

    def __init__(self, fake: FakeDiscord, db_url: str, **settings: Any) -> None:
        self.fake = fake
        self.db_url = db_url
        # Most tests rally at once; the held-first-alert review has its own tests.
        self.settings: dict[str, Any] = {"review_first_alerts": False, **settings}
        self.clock = MovableClock()
        self.lee = fake.add_user("lee", "Lee")  # owns the server: Manage Server
        self.guild: Guild = fake.add_guild("Clinic advocates", self.lee)
        self.rally: Channel = fake.add_channel(self.guild, "rally")
        self.leads: Channel = fake.add_channel(self.guild, "leads")
        self.general: Channel = fake.add_channel(self.guild, "general")
        self.people: dict[str, User] = {"lee": self.lee}
        for name in ("ana", "ben", "cam", "dee", "sam"):
            self.people[name] = self.add_person(name)
        self.runtime: Runtime | None = None
        self.platform: DiscordPlatform | None = None
        self.dispatcher: Dispatcher | None = None
        self.inbox: InboxWorker | None = None

    def add_person(self, name: str) -> User:
        user = self.fake.add_user(name, name.title())
        self.guild.add_member(user)
        self.people[name] = user
        return user

    def __getattr__(self, name: str) -> User:
        people = self.__dict__.get("people", {})
        if name in people:
            return people[name]  # type: ignore[no-any-return]
        raise AttributeError(name)

    # --- the bot ------------------------------------------------------------------------

    async def start(self, **options: Any) -> DiscordPlatform:
        settings = discord_settings(self.fake, self.db_url, **self.settings)
        self.runtime = build(settings, self.clock)
        options.setdefault("guild_ready_timeout", 0.05)
        options.setdefault("heartbeat_timeout", 1.0)
        options.setdefault("identify_delay", 0.05)
        work_inbox = options.pop("work_inbox", True)
        self.platform = create(self.runtime, **options)
        await self.platform.start()
        self.dispatcher = Dispatcher(
            self.runtime.services.uow,
            {"discord": self.platform.chat},
            self.clock,
            base_backoff=0.05,
            max_backoff=0.5,
        )
        if work_inbox:
            self.start_inbox()
        return self.platform

    def start_inbox(self) -> InboxWorker:
        """An inbox worker in the test's loop, as `bot.runtime.serve` runs one."""
        assert self.runtime is not None and self.platform is not None
        chats = {"discord": self.platform.chat}
        handlers = {"discord": self.platform.inbox_handler}
        worker = InboxWorker(
            self.runtime.engine, handlers, chats, self.clock, "test-worker", 4, poll=0.05
        )
        self.runtime.inbox.on_write = worker.kick.set
        worker.start()
        self.inbox = worker
        return worker

    async def stop_inbox(self) -> None:
        if self.inbox is not None:
            await self.inbox.stop(5.0)
            self.inbox = None

    async def stop(self) -> None:
        await self.stop_inbox()
        if self.platform is not None:
            await self.platform.stop()
            self.platform = None
        if self.runtime is not None:
            await self.runtime.close()
            self.runtime = None

    async def restart(self, **options: Any) -> DiscordPlatform:
        """A new process: a new bot and runtime on the same database and the same Discord."""
        await self.stop()
        return await self.start(**options)

    # --- doing things ---------------------------------------------------------------------

    async def run(
        self, who: str, sub: str, channel: Channel | None = None, **options: Any
    ) -> Interaction:
        """`who` types /rally sub option:value… (in #general unless told)."""
        return await self.fake.command(
            self.people[who], sub, options, channel=channel or self.general
        )

    async def say(self, who: str, sub: str, channel: Channel | None = None, **options: Any) -> str:
        """Run a command and return what the person was shown (as Discord displays it)."""
        return shown(await (await self.run(who, sub, channel, **options)).text())

    async def press(self, who: str, message: Json, verb: str) -> Interaction:
        """Press the button whose custom id ends with `verb` (on_it, did:reported, yes…)."""
        return await self.fake.click(self.people[who], message, button(message, verb))

    async def deliver(self, within: float = 20.0) -> None:
        """Run what fell due and send the outbox until nothing is pending."""
        assert self.runtime is not None and self.dispatcher is not None
        services = self.runtime.services
        deadline = asyncio.get_running_loop().time() + within
        while True:
            while await services.run_due():
                pass
            await self.dispatcher.drain()
            if not await self.pending():
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{await self.pending()} outbox rows still pending")
            await asyncio.sleep(0.05)

    async def pending(self) -> int:
        """Outbox rows not yet sent (nor parked) that are due within a minute (a retry after
        a backoff counts); a message that waits for its time (someone's quiet hours, the
        hour between two notices to a target) is not pending yet."""
        assert self.runtime is not None
        async with self.runtime.engine.connect() as connection:
            count = await connection.scalar(
                text("SELECT count(*) FROM outbox WHERE status = :pending AND due_at <= :soon"),
                {
                    "pending": OutboxStatus.PENDING.value,
                    "soon": self.clock.now() + timedelta(minutes=1),
                },
            )
        return int(count or 0)

    async def outbox_statuses(self) -> dict[str, int]:
        assert self.runtime is not None
        async with self.runtime.engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT status, count(*) FROM outbox GROUP BY status")
            )
            return {str(status): int(n) for status, n in rows}

    async def founded(self) -> None:
        """Lee sets up the collective (#rally), the leads channel, and vets everyone:
        ben, cam and dee are responders, sam is the safety lead, ana a member."""
        assert "is set up" in await self.say("lee", "setup", self.rally)
        await self.say("lee", "setup", self.leads, what="leads")
        for name in ("ana", "ben", "cam", "dee", "sam"):
            await self.say(name, "join")
        await self.deliver()
        for name in ("ana", "ben", "cam", "dee", "sam"):
            await self.say("lee", "approve", member=self.people[name])
        for name in ("ben", "cam", "dee"):
            await self.say("lee", "role", role="responder", member=self.people[name])
        await self.say("lee", "role", role="safety_lead", member=self.sam)
        await self.deliver()

    def rally_posts(self) -> list[Json]:
        return self.fake.channel_messages(self.rally)

    def dms(self, who: str) -> list[Json]:
        return self.fake.dms(self.people[who])

    def latest(self, messages: list[Json], title: str) -> Json:
        found = [m for m in messages if title in m["content"].split("\n", 1)[0]]
        assert found, f"no message titled {title!r} in {[m['content'][:60] for m in messages]}"
        return self.fake.current(found[-1])


def shown(content: str) -> str:
    """Message content as Discord displays it: escapes and zero-width spaces gone."""
    return re.sub(r"\\([^A-Za-z0-9\s])", r"\1", content).replace("\u200b", "")


def button(message: Json, verb: str) -> str:
    ids = [
        c["custom_id"]
        for row in message.get("components") or []
        for c in row.get("components", [])
        if "custom_id" in c
    ]
    for custom_id in ids:
        if custom_id.endswith(":" + verb):
            return str(custom_id)
    raise AssertionError(f"no button ending in {verb!r}: {ids}")


@pytest_asyncio.fixture
async def world(fake: FakeDiscord, db_url: str) -> AsyncIterator[World]:
    w = World(fake, db_url)
    await w.start()
    try:
        yield w
    finally:
        await w.stop()
