"""Acknowledged means saved, with real processes on PostgreSQL: `rallybot web` writes and
acknowledges Slack's requests, `rallybot worker` works and answers them. A kill -9 after the
acks and before the work, during the work, or after the work and before the answer: after a
restart, every acknowledged request is answered exactly once and worked exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import text

from bot.adapters.slack.syntax import SLACK
from bot.bootstrap import build
from bot.core.commands import Caller
from bot.settings import Settings
from bot.store import schema
from tests.fakes.slack import FakeSlack, SlackSender, User
from tests.fakes.slack.server import Fault
from tests.support.postgres import POSTGRES_URL, throwaway_postgres
from tests.support.secrets import TEST_KEY

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,
    pytest.mark.skipif(POSTGRES_URL is None, reason="RALLYBOT_TEST_POSTGRES_URL is not set"),
]

RALLYBOT = Path(sys.executable).with_name("rallybot")
TEAM, RALLY = "T0000001", "CRALLY"
SECRET = "inbox-crash-signing-secret"
WORKER = "inbox-crash-worker"
PEOPLE = ("UBEN", "UCAM", "UDEE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Deployment:
    url: str
    fake: FakeSlack
    env: dict[str, str]
    port: int
    log: Path
    session: aiohttp.ClientSession

    async def start(self, command: str) -> asyncio.subprocess.Process:
        with self.log.open("ab") as out:
            process = await asyncio.create_subprocess_exec(
                str(RALLYBOT),
                command,
                # Each process its own worker id; a restarted worker takes its old one back.
                env={**self.env, "RALLYBOT_WORKER_ID": f"{WORKER}-{command}"},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )
        if command == "web":
            await self._listening()
        return process

    async def _listening(self) -> None:
        for _ in range(600):
            try:
                async with self.session.get(f"http://127.0.0.1:{self.port}/livez") as answer:
                    if answer.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
        raise AssertionError(self.log.read_text()[-3000:])

    @property
    def slack(self) -> SlackSender:
        return SlackSender(self.fake, f"http://127.0.0.1:{self.port}", SECRET, self.session)

    async def rows(self, where: str) -> int:
        runtime = build(Settings(database_url=SecretStr(self.url)))
        try:
            async with runtime.engine.connect() as connection:
                return int(await connection.scalar(text(f"SELECT count(*) FROM {where}")) or 0)
        finally:
            await runtime.close()

    async def until(self, where: str, wanted: int, seconds: float = 60) -> None:
        for _ in range(int(seconds / 0.1)):
            if await self.rows(where) == wanted:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{where}: not {wanted}\n" + self.log.read_text()[-3000:])


async def kill(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGKILL)
    await process.wait()


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)


async def seed(url: str, data_dir: Path) -> None:
    """A collective on the workspace: Ana set it up, Ben, Cam and Dee are members."""
    runtime = build(Settings(database_url=SecretStr(url), data_dir=data_dir))
    try:
        services = runtime.services
        ana = Caller("slack", TEAM, "UANA", "Ana", channel=RALLY, can_manage=True)
        assert (await services.handle_text(ana, "setup")).ok
        for uid in PEOPLE:
            assert (await services.handle_text(Caller("slack", TEAM, uid, uid), "join")).ok
            assert (await services.handle_text(ana, f"approve <@{uid}>", SLACK)).ok
    finally:
        await runtime.close()


@asynccontextmanager
async def deployment(tmp_path: Path) -> AsyncIterator[Deployment]:
    assert POSTGRES_URL is not None
    async with (
        throwaway_postgres(POSTGRES_URL) as url,
        FakeSlack() as fake,
        aiohttp.ClientSession() as session,
    ):
        people = [User(uid, uid.lower(), uid.title()) for uid in PEOPLE]
        fake.add_workspace(TEAM, "clinicians", [User("UANA", "ana", "Ana", True), *people], {RALLY})
        await schema.upgrade(url)
        await seed(url, tmp_path)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "DISCORD_", "RALLYBOT_", "DATABASE_URL", "PORT"))
        }
        port = free_port()
        env.update(
            DATABASE_URL=url,
            PORT=str(port),
            RALLYBOT_DATA_DIR=str(tmp_path),
            RALLYBOT_SECRET_KEY=TEST_KEY,
            SLACK_BOT_TOKEN=fake.workspaces[TEAM].bot_token,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=fake.api_url,
        )
        yield Deployment(url, fake, env, port, tmp_path / "rallybot.log", session)


async def answered_once(d: Deployment, rids: list[str]) -> None:
    """Every response_url got its answer, and only one."""
    await d.fake.wait_for(lambda: all(d.fake.responses[r] for r in rids), seconds=60)
    await d.until("inbox WHERE done_at IS NULL", 0)
    await asyncio.sleep(0.3)
    assert [len(d.fake.responses[r]) for r in rids] == [1] * len(rids)
    assert "Traceback" not in d.log.read_text()


async def test_killed_after_the_acks_before_any_work(tmp_path: Path) -> None:
    async with deployment(tmp_path) as d:
        web = await d.start("web")  # on PostgreSQL: writes and acknowledges, works nothing
        try:
            sent = [
                await d.slack.command(TEAM, uid, f"alert https://x.com/troll/status/{uid}{n}")
                for n in range(3)
                for uid in PEOPLE
            ]
            assert [s.status for s in sent] == [200] * len(sent)
            assert await d.rows("inbox WHERE done_at IS NULL") == len(sent)
        finally:
            await kill(web)
        assert not any(d.fake.responses[s.response_id or ""] for s in sent)
        worker = await d.start("worker")
        try:
            await answered_once(d, [s.response_id or "" for s in sent])
            assert await d.rows("alerts") == len(sent)
        finally:
            await stop(worker)


async def test_killed_during_the_work(tmp_path: Path) -> None:
    async with deployment(tmp_path) as d:
        web = await d.start("web")
        worker = await d.start("worker")
        try:
            # Ana's setup asks Slack who she is: that call hangs, so the work is under way.
            d.fake.inject("users.info", Fault("slow", seconds=60))
            setup = await d.slack.command(TEAM, "UANA", "setup", RALLY)
            assert setup.status == 200
            # The worker is a fresh process: under a loaded CI it may take seconds to start,
            # and other calls (the channel's own lookups) may come after the one that hangs.
            await d.fake.wait_for(
                lambda: any(c.method == "users.info" for c in d.fake.calls), seconds=60
            )
            assert await d.rows("inbox WHERE worked_at IS NULL AND claimed_by IS NOT NULL") == 1
            await kill(worker)
            alert = await d.slack.command(TEAM, "UBEN", "alert https://x.com/troll/status/9")
            worker = await d.start("worker")  # the same worker id: takes its row back at once
            await answered_once(d, [setup.response_id or "", alert.response_id or ""])
            assert await d.rows("alerts") == 1
        finally:
            await stop(worker)
            await stop(web)


async def test_killed_after_the_work_before_the_answer(tmp_path: Path) -> None:
    async with deployment(tmp_path) as d:
        web = await d.start("web")
        worker = await d.start("worker")
        try:
            d.fake.inject("response", Fault("hang", seconds=60))  # the answer never arrives
            sent = await d.slack.command(TEAM, "UCAM", "alert https://x.com/troll/status/5")
            assert sent.status == 200
            await d.fake.wait_for(lambda: d.fake.hanging == 1, seconds=60)
            # Worked and committed (the alert is there), not answered yet.
            assert await d.rows("alerts") == 1
            assert await d.rows("inbox WHERE worked_at IS NOT NULL AND done_at IS NULL") == 1
            await kill(worker)
            worker = await d.start("worker")
            await answered_once(d, [sent.response_id or ""])
            assert "raised" in str(d.fake.responses[sent.response_id or ""][0])
            assert await d.rows("alerts") == 1  # worked once
        finally:
            await stop(worker)
            await stop(web)
