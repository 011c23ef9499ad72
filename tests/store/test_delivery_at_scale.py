"""Delivery on the real database: many workers, crashes, faults and shutdowns lose nothing
and send nothing twice."""

from __future__ import annotations

import asyncio
import os
import random
import sys
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.messages import Message, to_dict
from bot.core.model import OutboxItem, OutboxStatus
from bot.core.ports import Limit, RateLimited
from bot.delivery.outbox import Dispatcher
from bot.store.tables import CheckInRow, CollectiveRow, OutboxRow
from bot.store.uow import SqlUnitOfWork, make_engine, uow_factory
from tests.store.conftest import Backend

T0 = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Clock:
    at: datetime = T0

    def now(self) -> datetime:
        return self.at


class CountingChat:
    """A fake platform without limits that counts every delivery of every row."""

    platform = "slack"

    def __init__(
        self,
        seen: Counter[str],
        fail: Callable[[], Exception | None] = lambda: None,
        pause: float = 0.0,
    ) -> None:
        self.seen = seen
        self.fail = fail
        self.pause = pause
        self.twenty = asyncio.Event()  # set once 20 rows went out

    async def post(self, item: OutboxItem, message: Message) -> str:
        if self.pause:
            await asyncio.sleep(self.pause)
        error = self.fail()
        if error is not None:
            raise error
        self.seen[item.id] += 1
        if sum(self.seen.values()) >= 20:
            self.twenty.set()
        return f"ts-{item.id}"

    async def update(self, item: OutboxItem, ref: str, message: Message) -> None:
        self.seen[item.id] += 1

    def limits(self, item: OutboxItem) -> list[Limit]:
        return []


async def seed_outbox(engine: AsyncEngine, count: int) -> list[str]:
    """`count` pending posts to 50 channels, inserted in bulk."""
    collective = uuid.uuid4().hex
    payload = to_dict(Message(title="Rally"))
    rows = [
        {
            "id": uuid.uuid4().hex,
            "collective_id": collective,
            "key": f"k{n}",
            "idempotency_key": uuid.uuid4().hex,
            "platform": "slack",
            "workspace": "T1",
            "address_kind": "channel",
            "address": f"C{n % 50}",
            "op": "post",
            "payload": payload,
            "created_at": T0 + timedelta(microseconds=n),
            "due_at": T0,
            "status": "pending",
            "attempts": 0,
        }
        for n in range(count)
    ]
    async with engine.begin() as conn:
        await conn.execute(
            insert(CollectiveRow),
            [
                {
                    "id": collective,
                    "name": "Scale",
                    "timezone": "UTC",
                    "created_at": T0,
                    "rally_cap": 8,
                    "escalation_wait_minutes": 30,
                    "escalation_min_responders": 2,
                    "escalation_max_steps": 3,
                    "checkin_offsets_hours": [24],
                    "alerts_per_day": 5,
                    "alert_seq": 0,
                    "digest_weekday": 0,
                    "digest_hour": 9,
                    "digest_to_channel": False,
                    "review_first_alerts": True,
                    "brigade_threshold": 3,
                }
            ],
        )
        for start in range(0, count, 1000):
            await conn.execute(insert(OutboxRow), rows[start : start + 1000])
    return [r["id"] for r in rows]


async def statuses(engine: AsyncEngine) -> Counter[str]:
    async with engine.connect() as conn:
        result = await conn.execute(
            select(OutboxRow.status, func.count()).group_by(OutboxRow.status)
        )
        return Counter({status: n for status, n in result.all()})


# Enough rows for every dispatcher to claim many batches of 100 side by side; throughput is
# benchmark B6's, so the tests stay quick.
ROWS = 2000


@pytest.mark.backends("postgres")
@pytest.mark.parametrize("workers", [2, 4])
async def test_several_workers_deliver_every_row_exactly_once(
    migrated: Backend, engine: AsyncEngine, workers: int
) -> None:
    ids = await seed_outbox(engine, ROWS)
    seen: Counter[str] = Counter()
    engines = [make_engine(migrated.url) for _ in range(workers)]  # one pool per "process"
    try:
        dispatchers = [
            Dispatcher(uow_factory(e), {"slack": CountingChat(seen)}, Clock(), batch=100)
            for e in engines
        ]
        done = await asyncio.gather(*(d.drain() for d in dispatchers))
    finally:
        for e in engines:
            await e.dispose()
    assert sum(done) == ROWS
    assert set(seen) == set(ids) and set(seen.values()) == {1}
    assert all(n > 0 for n in done)  # the work was really shared
    assert await statuses(engine) == Counter({"sent": ROWS})


async def test_one_worker_on_either_database_delivers_every_row_once(
    uow: Callable[[], SqlUnitOfWork], engine: AsyncEngine
) -> None:
    ids = await seed_outbox(engine, 1000)
    seen: Counter[str] = Counter()
    assert await Dispatcher(uow, {"slack": CountingChat(seen)}, Clock()).drain() == 1000
    assert set(seen) == set(ids) and set(seen.values()) == {1}


async def test_rate_limits_and_server_errors_lose_nothing_and_park_only_at_the_limit(
    uow: Callable[[], SqlUnitOfWork], engine: AsyncEngine
) -> None:
    ids = await seed_outbox(engine, 400)
    seen: Counter[str] = Counter()
    dice = random.Random(4)

    def fault() -> Exception | None:
        roll = dice.random()
        if roll < 0.3:
            return RateLimited(1.0)
        if roll < 0.4:
            return ConnectionResetError("503")
        return None

    clock = Clock()
    dispatcher = Dispatcher(
        uow, {"slack": CountingChat(seen, fault)}, clock, max_attempts=20, base_backoff=1.0
    )
    dispatcher.pacer.hold = lambda limits, seconds: None  # type: ignore[method-assign]
    for _ in range(60):
        await dispatcher.drain()
        clock.at += timedelta(minutes=20)
    assert set(seen) == set(ids) and set(seen.values()) == {1}
    assert await statuses(engine) == Counter({"sent": 400})
    assert dispatcher.rate_limited > 0 and dispatcher.failed == 0


WORKER_THAT_DIES = """
import asyncio, os, signal, sys
from datetime import UTC, datetime
from bot.delivery.outbox import Dispatcher
from bot.store.uow import make_engine, uow_factory

class Clock:
    def now(self):
        return datetime(2026, 11, 25, 15, 0, tzinfo=UTC)

async def main():
    engine = make_engine(sys.argv[1])
    dispatcher = Dispatcher(uow_factory(engine), {"slack": object()}, Clock(), batch=50,
                            lease_seconds=60)
    claimed = await dispatcher.claim()
    print(len(claimed), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # between claim and send

asyncio.run(main())
"""


async def test_a_worker_killed_between_claim_and_send_is_covered_after_its_lease(
    migrated: Backend, engine: AsyncEngine, uow: Callable[[], SqlUnitOfWork]
) -> None:
    url = (
        migrated.url
        if migrated.template is None
        else str(engine.url).replace("sqlite+aiosqlite", "sqlite")
    )
    ids = await seed_outbox(engine, 120)
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WORKER_THAT_DIES,
        url,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(worker.communicate(), timeout=60)
    assert worker.returncode == -9, err.decode()
    assert out.decode().strip() == "50"
    seen: Counter[str] = Counter()
    clock = Clock()
    survivor = Dispatcher(uow, {"slack": CountingChat(seen)}, clock, lease_seconds=60)
    assert await survivor.drain() == 70  # the dead worker's 50 are still leased
    clock.at += timedelta(seconds=61)
    assert await survivor.drain() == 50
    assert set(seen) == set(ids) and set(seen.values()) == {1}


async def test_a_shutdown_mid_burst_leaves_nothing_claimed_and_unsent(
    uow: Callable[[], SqlUnitOfWork], engine: AsyncEngine
) -> None:
    await seed_outbox(engine, 300)
    seen: Counter[str] = Counter()
    chat = CountingChat(seen, pause=0.01)
    dispatcher = Dispatcher(uow, {"slack": chat}, Clock(), concurrency=4)
    draining = asyncio.create_task(dispatcher.drain())
    await asyncio.wait_for(chat.twenty.wait(), timeout=30)
    dispatcher.stopping = True  # what SIGTERM does in serve()
    await draining
    released = await dispatcher.release()
    assert released > 0
    async with engine.connect() as conn:
        leased = await conn.scalar(
            select(func.count())
            .select_from(OutboxRow)
            .where(
                OutboxRow.status == OutboxStatus.PENDING.value, OutboxRow.lease_until.is_not(None)
            )
        )
    assert leased == 0
    counts = await statuses(engine)
    assert counts["sent"] == sum(seen.values()) and counts["pending"] == 300 - counts["sent"]
    # Another worker takes the released rows at once, and nothing goes twice.
    assert (
        await Dispatcher(uow, {"slack": CountingChat(seen)}, Clock()).drain() == (counts["pending"])
    )
    assert set(seen.values()) == {1}


async def seed_due_checkins(
    engine: AsyncEngine, uow: Callable[[], SqlUnitOfWork], count: int
) -> None:
    """The demo collective with `count` check-ins, all due, on 1,000 alerts."""
    from bot.store.tables import AlertRow
    from tests.store.test_services_on_store import services

    core = services(uow, Clock())  # type: ignore[arg-type]
    collective = await core.seed_demo()
    async with uow() as u:
        ana = await u.members.by_handle(collective.id, "ana")
    assert ana is not None
    alerts, checkins = [], []
    for n in range(1000):
        alert_id = uuid.uuid4().hex
        alerts.append(
            {
                "id": alert_id,
                "collective_id": collective.id,
                "number": n + 1,
                "target_id": ana.id,
                "raised_by_id": ana.id,
                "raised_at": T0,
                "links": ["https://x.com/a"],
                "kinds": [],
                "severity": "medium",
                "help_wanted": ["amplify"],
                "visibility": "all",
                "venue": "x",
                "note": "",
                "anonymous": False,
                "status": "closed",
                "escalation_step": 0,
                "safety_lead_ok": False,
                "target_ok": False,
                "delegates": [],
                "checkins_paused": False,
                "closed_at": T0,
                "close_reason": "stood_down",
            }
        )
        for k in range(count // 1000):
            checkins.append(
                {
                    "id": uuid.uuid4().hex,
                    "alert_id": alert_id,
                    "member_id": ana.id,
                    "due_at": T0 - timedelta(minutes=k),
                    "status": "scheduled",
                }
            )
    async with engine.begin() as conn:
        await conn.execute(insert(AlertRow), alerts)
        for start in range(0, len(checkins), 1000):
            await conn.execute(insert(CheckInRow), checkins[start : start + 1000])


@pytest.mark.backends("postgres")
@pytest.mark.parametrize("workers", [2, 4])
async def test_several_workers_send_every_due_check_in_exactly_once(
    migrated: Backend, engine: AsyncEngine, uow: Callable[[], SqlUnitOfWork], workers: int
) -> None:
    from tests.store.test_services_on_store import services

    await seed_due_checkins(engine, uow, ROWS)
    engines = [make_engine(migrated.url) for _ in range(workers)]
    clock = Clock(T0 + timedelta(hours=1))
    try:
        cores = [services(uow_factory(e), clock) for e in engines]  # type: ignore[arg-type]
        done = await asyncio.gather(*(c.run_due(limit=10_000) for c in cores))
    finally:
        for e in engines:
            await e.dispose()
    async with engine.connect() as conn:
        messages = await conn.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.key.startswith("checkin:"))
        )
        by_status = dict(
            (
                await conn.execute(
                    select(CheckInRow.status, func.count()).group_by(CheckInRow.status)
                )
            ).all()
        )
        groups = await conn.scalar(
            select(func.count(func.distinct(CheckInRow.group_id))).where(
                CheckInRow.group_id.is_not(None)
            )
        )
    # Every check-in is Ana's: she is asked once (one message a day, however many workers),
    # about every check-in the asking worker held; those another worker held wait a day.
    assert messages == groups == 1
    assert by_status.get("sent", 0) + by_status.get("scheduled", 0) == ROWS
    assert by_status.get("sent", 0) > 0
    # Every check-in was handled once, by whichever worker held it (one person's check-ins
    # are asked by one worker: the others' claims of hers wait for the next day).
    assert sum(done) == ROWS
