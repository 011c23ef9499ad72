"""B6: 100,000 due check-ins worked off by 1 or 4 worker processes on PostgreSQL, then a
restart in the middle.

Each worker is a real OS process (multiprocessing, spawn) that builds rallybot's runtime
(`bot.bootstrap.build`: its own engine and pool) and calls `Services.run_due` in a loop, as
`rallybot worker`'s scheduler tick does, claiming due check-ins up to 100 per transaction
with `FOR UPDATE SKIP LOCKED`. Sending a check-in writes its DM to the outbox; no platform is
involved (the outbox is not delivered here), so nothing limits the rate but rallybot and the
database.

Throughput: windows of the same length with 1 and with 4 workers, alternating (1, 4, 1, 4),
each ended by SIGKILL. Restart: 4 workers on what is left, all SIGKILLed part-way, then 4
new ones until nothing is due. Checked: no check-in still due, and every check-in has exactly
one outbox message. Each worker also counts single-row outbox inserts that the idempotency
key turned away (a check-in worked twice would show there even though the database refused the
copy); the batches' executemany reports no row count on asyncpg, so it sees none of those.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any, TextIO

from pydantic import SecretStr
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.b5_digest import Table, load_postgres
from bench.common import Config, Result, Stopwatch, database, new_id, poll, r, seed_collective
from bot.bootstrap import build
from bot.settings import Settings
from bot.store.tables import CheckInRow
from bot.store.uow import make_engine

ALERTS = 1000
TARGETS = 100


# --- the worker process ---------------------------------------------------------------------


def worker(url: str, ready: Event, go: Event, until_idle: bool, log: str) -> None:
    with open(log, "a", buffering=1) as refused:
        asyncio.run(_work(url, ready, go, until_idle, refused))


async def _work(url: str, ready: Event, go: Event, until_idle: bool, refused: TextIO) -> None:
    with tempfile.TemporaryDirectory(prefix="rallybot-b6-") as tmp:
        runtime = build(
            Settings(
                database_url=SecretStr(url),
                data_dir=Path(tmp),
                slack_bot_token=None,
                slack_app_token=None,
                discord_token=None,
            )
        )

        def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if statement.startswith("INSERT INTO outbox") and cursor.rowcount == 0:
                refused.write("refused\n")

        event.listen(runtime.engine.sync_engine, "after_cursor_execute", after)
        async with runtime.engine.connect() as conn:  # the pool's first connection
            await conn.execute(text("SELECT 1"))
        ready.set()
        await asyncio.to_thread(go.wait)
        services = runtime.services
        idle = 0
        while True:
            done = await services.run_due(limit=1000)
            if done:
                idle = 0
                continue
            idle += 1
            if until_idle and idle >= 3:
                break
            await asyncio.sleep(0.1)
        await runtime.close()


# --- the benchmark -------------------------------------------------------------------------


async def seed(engine: AsyncEngine, url: str, checkins: int) -> None:
    """TARGETS members with Slack identities, ALERTS closed alerts about them, and
    `checkins` check-ins spread over the alerts, all due in the past."""
    seeded = await seed_collective(engine, TARGETS + 1, 0)
    now = datetime.now(UTC)
    alerts, rows = [], []
    for k in range(ALERTS):
        aid = new_id()
        target = seeded.member_ids[1 + k % TARGETS]
        raised = now - timedelta(days=10)
        alerts.append(
            (aid, seeded.collective_id, k + 1, target, target, raised, '["https://x.com/t"]',
             '["pile_on"]', "medium", '["amplify"]', "all", "x", "", False, "closed",
             raised, 0, False, False, "[]", False, raised + timedelta(days=1), "stood_down")
        )  # fmt: skip
        for j in range(checkins // ALERTS):
            rows.append(
                (new_id(), aid, target, now - timedelta(hours=1, seconds=k * 100 + j), "scheduled")
            )
    alert_columns = [
        "id", "collective_id", "number", "target_id", "raised_by_id", "raised_at", "links",
        "kinds", "severity", "help_wanted", "visibility", "venue", "note", "anonymous", "status",
        "activated_at", "escalation_step", "safety_lead_ok", "target_ok", "delegates",
        "checkins_paused", "closed_at", "close_reason",
    ]  # fmt: skip
    await load_postgres(
        url,
        [
            Table("alerts", alert_columns, frozenset(), alerts),
            Table(
                "checkins", ["id", "alert_id", "member_id", "due_at", "status"], frozenset(), rows
            ),
        ],
    )


async def reached(engine: AsyncEngine, target: int) -> bool:
    return await worked(engine) >= target


async def worked(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        found = await conn.scalar(
            select(func.count()).select_from(CheckInRow).where(CheckInRow.status != "scheduled")
        )
    return int(found or 0)


class Pool:
    """N worker processes that start together on a signal."""

    def __init__(self, url: str, count: int, until_idle: bool, log: Path) -> None:
        ctx = mp.get_context("spawn")
        self.go = ctx.Event()
        self.ready = [ctx.Event() for _ in range(count)]
        self.processes = [
            ctx.Process(
                target=worker, args=(url, ready, self.go, until_idle, str(log)), daemon=True
            )
            for ready in self.ready
        ]

    async def start(self) -> None:
        for p in self.processes:
            p.start()
        deadline = time.monotonic() + 120
        while not all(e.is_set() for e in self.ready):
            if time.monotonic() > deadline or any(p.exitcode is not None for p in self.processes):
                self.kill()
                raise RuntimeError("a worker did not start")
            await asyncio.sleep(0.05)
        self.go.set()

    def kill(self) -> None:
        for p in self.processes:
            if p.is_alive() and p.pid is not None:
                os.kill(p.pid, 9)  # SIGKILL: no goodbye, transactions in flight roll back
        for p in self.processes:
            p.join(10)

    async def wait(self, seconds: float) -> bool:
        async def gone() -> bool:
            return not any(p.is_alive() for p in self.processes)

        return await poll(gone, seconds, 0.1)


async def main(cfg: Config) -> Result:
    total = 4_000 if cfg.quick else 100_000
    window = 2.0 if cfg.quick else 5.0
    result = Result(
        "B6",
        "Due work: 100,000 due check-ins, 1 vs 4 worker processes, and a restart",
        ["phase", "workers", "seconds", "check-ins done", "per second"],
        params={"checkins": total, "alerts": ALERTS, "window_seconds": window},
    )
    if not cfg.postgres:
        result.status = "skipped"
        result.notes.append("B6 needs PostgreSQL (--postgres)")
        return result
    async with database("postgresql", cfg.postgres) as url:
        engine = make_engine(url)
        try:
            with tempfile.TemporaryDirectory(prefix="rallybot-b6-") as tmp:
                log = Path(tmp) / "refused.log"
                log.touch()
                watch = Stopwatch()
                await seed(engine, url, total)
                result.notes.append(f"seeded {total:,} due check-ins in {r(watch.seconds, 1)} s")
                rates: dict[int, list[float]] = {1: [], 4: []}
                for count in (1, 4, 1, 4):
                    pool = Pool(url, count, False, log)
                    await pool.start()
                    before = await worked(engine)
                    clock = Stopwatch()  # time.perf_counter(): the window as it really ran
                    await asyncio.sleep(window)
                    pool.kill()
                    done = await worked(engine) - before
                    seconds = clock.seconds
                    rates[count].append(done / seconds)
                    result.rows.append(
                        {
                            "phase": "throughput",
                            "workers": count,
                            "seconds": r(seconds, 3),
                            "check-ins done": done,
                            "per second": r(done / seconds, 0),
                        }
                    )
                await restart(engine, url, total, log, 600 if cfg.quick else 15, result)
                refused = len(log.read_text().splitlines())
        finally:
            await engine.dispose()
        await verify(url, total, refused, result)
    one, four = (sum(v) / len(v) for v in (rates[1], rates[4]))
    result.goal("throughput 4 workers ÷ 1 worker", r(four / one), "> 1 (grows)", four > one)
    result.notes.append(f"mean: 1 worker {r(one, 0)}/s, 4 workers {r(four, 0)}/s")
    return result


async def restart(
    engine: AsyncEngine, url: str, total: int, log: Path, finish_within: float, result: Result
) -> None:
    before = await worked(engine)
    first = Pool(url, 4, True, log)
    await first.start()
    started = time.perf_counter()
    # SIGKILL once about a third of what is left is done (or after 8 s).
    target = before + (total - before) // 3
    await poll(lambda: reached(engine, target), 8, 0.02)
    first.kill()
    killed_at = await worked(engine)
    result.rows.append(
        {
            "phase": "restart: 4 workers, then SIGKILL",
            "workers": 4,
            "seconds": r(time.perf_counter() - started, 3),
            "check-ins done": killed_at - before,
        }
    )
    second = Pool(url, 4, True, log)
    restarted = time.perf_counter()
    await second.start()
    finished = await second.wait(finish_within)
    if not finished:
        second.kill()
    seconds = time.perf_counter() - restarted
    done = await worked(engine) - killed_at
    result.rows.append(
        {
            "phase": "restart: 4 new workers"
            + ("" if finished else f" (stopped at {finish_within:.0f} s)"),
            "workers": 4,
            "seconds": r(seconds, 1),
            "check-ins done": done,
            "per second": r(done / seconds, 0),
        }
    )


async def verify(url: str, total: int, refused: int, result: Result) -> None:
    """Every check-in is either still due with no message, or sent with exactly one."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            shapes = (
                await conn.execute(
                    text(
                        "SELECT c.status, n, count(*) FROM "
                        "(SELECT c.id, c.status, count(o.id) AS n FROM checkins c "
                        "LEFT JOIN outbox o ON o.key = 'checkin:' || c.id "
                        "GROUP BY c.id, c.status) c GROUP BY c.status, n"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    by_shape = {(str(status), int(n)): int(count) for status, n, count in shapes}
    due = by_shape.get(("scheduled", 0), 0)
    once = by_shape.get(("sent", 1), 0)
    lost = sum(c for (status, n), c in by_shape.items() if n == 0 and status != "scheduled")
    repeated = refused + sum(
        c for (status, n), c in by_shape.items() if n > 1 or (n == 1 and status == "scheduled")
    )
    result.notes.append(
        f"check-ins by (status, outbox messages): {dict(sorted(by_shape.items()))}; "
        f"outbox inserts refused as duplicates: {refused}"
    )
    if due:
        result.notes.append(
            f"{due:,} of {total:,} check-ins are still due (not yet worked, no message): the "
            "benchmark stops the restarted workers at a time limit (see docs/benchmarks.md)"
        )
    result.goal("check-ins lost after SIGKILL and restart", lost, "0", lost == 0)
    result.goal("check-ins repeated", repeated, "0", repeated == 0)
    result.goal(
        "worked check-ins with exactly one message",
        once,
        f"= {total - due:,} worked",
        once == total - due and once + due == total,
    )
