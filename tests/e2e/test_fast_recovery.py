"""Fast recovery: a `rallybot worker` killed with SIGKILL while it delivers, on PostgreSQL, is
restarted with the same worker id and sends the rows it had claimed at once, not after their
120-second lease; nothing is lost, and only a message in flight at the kill may go twice."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from bot.bootstrap import build
from bot.core.commands import Caller
from bot.core.messages import to_dict
from bot.core.model import OutboxItem
from bot.core.views import notice
from bot.settings import Settings
from bot.store import schema
from tests.fakes.slack import FakeSlack, User
from tests.support.postgres import POSTGRES_URL, throwaway_postgres
from tests.support.secrets import TEST_KEY

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,
    pytest.mark.skipif(POSTGRES_URL is None, reason="RALLYBOT_TEST_POSTGRES_URL is not set"),
]

RALLYBOT = Path(sys.executable).with_name("rallybot")
TEAM, RALLY = "T0000001", "CRALLY"
WORKER = "recovery-test-worker"
MESSAGES = 12  # paced at about one a second to one channel: the kill lands mid-delivery
RESUME_BOUND = 10.0  # seconds: the requirement, not a benchmark


async def seed(url: str, data_dir: Path) -> str:
    """A collective on the Slack workspace and MESSAGES rows waiting for its rally channel."""
    runtime = build(Settings(database_url=SecretStr(url), data_dir=data_dir))
    try:
        services = runtime.services
        ana = Caller("slack", TEAM, "UANA", "Ana", channel=RALLY, can_manage=True)
        assert (await services.handle_text(ana, "setup")).ok
        now = datetime.now(UTC)
        async with services.uow() as uow:
            space = await uow.spaces.find("slack", TEAM)
            assert space is not None
            for i in range(MESSAGES):
                await uow.outbox.add(
                    OutboxItem(
                        id=f"{i:032x}",
                        collective_id=space.collective_id,
                        key=f"recovery:{i}",
                        idempotency_key=f"recovery:{i}",
                        platform="slack",
                        workspace=TEAM,
                        address_kind="channel",
                        address=RALLY,
                        op="post",
                        payload=to_dict(notice(f"Recovery message {i:02d}")),
                        created_at=now,
                        due_at=now,
                    )
                )
            await uow.commit()
        return space.collective_id
    finally:
        await runtime.close()


async def outbox(url: str) -> list[tuple[str, str, str | None, datetime | None]]:
    runtime = build(Settings(database_url=SecretStr(url)))
    try:
        async with runtime.engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT key, status, claimed_by, lease_until FROM outbox "
                    "WHERE key LIKE 'recovery:%'"
                )
            )
            return [(str(k), str(s), c, lease) for k, s, c, lease in rows]
    finally:
        await runtime.close()


async def start_worker(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            str(RALLYBOT),
            "worker",
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )


def received(fake: FakeSlack) -> list[str]:
    texts = [m.text.strip("*") for m in fake.in_channel(RALLY, TEAM)]
    return [t for t in texts if t.startswith("Recovery message")]


async def test_a_worker_killed_during_delivery_resumes_within_ten_seconds(tmp_path: Path) -> None:
    assert POSTGRES_URL is not None
    async with throwaway_postgres(POSTGRES_URL) as url, FakeSlack() as fake:
        fake.add_workspace(TEAM, "clinicians", [User("UANA", "ana", "Ana", is_admin=True)], {RALLY})
        await schema.upgrade(url)
        await seed(url, tmp_path)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "DISCORD_", "RALLYBOT_", "DATABASE_URL"))
        }
        env.update(
            DATABASE_URL=url,
            RALLYBOT_DATA_DIR=str(tmp_path),
            RALLYBOT_SECRET_KEY=TEST_KEY,
            RALLYBOT_WORKER_ID=WORKER,
            SLACK_BOT_TOKEN=fake.workspaces[TEAM].bot_token,
            SLACK_API_URL=fake.api_url,
        )
        log = tmp_path / "worker.log"
        first = await start_worker(env, log)
        try:
            await fake.wait_for(lambda: len(received(fake)) >= 3, seconds=60)
        finally:
            first.send_signal(signal.SIGKILL)
            await first.wait()
        before = len(received(fake))
        held = [r for r in await outbox(url) if r[1] == "pending"]
        # Killed during delivery: rows it had claimed are still leased to its worker id.
        assert held and all(claimed == WORKER for _, _, claimed, _ in held), held
        assert all(lease is not None for _, _, _, lease in held)

        started = time.monotonic()
        second = await start_worker(env, log)
        try:
            await fake.wait_for(lambda: len(received(fake)) > before, seconds=60)
            resumed = time.monotonic() - started
            await fake.wait_for(lambda: len(set(received(fake))) == MESSAGES, seconds=60)
            finished = time.monotonic() - started
        finally:
            second.send_signal(signal.SIGTERM)
            await asyncio.wait_for(second.wait(), 30)
        print(
            f"\nresumed {resumed:.2f} s after the restart "
            f"(everything sent after {finished:.2f} s; {len(held)} rows were held)"
        )
        assert resumed <= RESUME_BOUND, log.read_text()[-3000:]

        # Nothing lost: every row sent, every message at Slack; a message in flight when the
        # process was killed (posted, not yet marked sent) is the only one that may repeat.
        rows = await outbox(url)
        assert sorted(s for _, s, _, _ in rows) == ["sent"] * MESSAGES
        texts = received(fake)
        assert sorted(set(texts)) == [f"Recovery message {i:02d}" for i in range(MESSAGES)]
        assert len(texts) - MESSAGES <= 1, texts
        assert "Traceback" not in log.read_text()
