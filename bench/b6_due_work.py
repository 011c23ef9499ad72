"""B6: 100,000 due check-ins worked off by 1 or 4 worker processes on PostgreSQL, then a
restart in the middle.

Each worker is a real OS process (multiprocessing, spawn) that builds rallybot's runtime
(`bot.bootstrap.build`: its own engine and pool) and calls `Services.run_due` in a loop, as
`rallybot worker`'s scheduler tick does, claiming due check-ins up to 100 per transaction
with `FOR UPDATE SKIP LOCKED`. Sending a check-in writes its DM to the outbox; no platform is
involved (the outbox is not delivered here), so nothing limits the rate but rallybot and the
database.

Throughput: windows of the same length with 1 and with 4 workers, alternating (1, 4, 1, 4),
each ended by SIGKILL; a window that ends with nothing left to do measured the end of the
work, not a rate, and is left out of the ratio. Restart: 4 workers on what is left, all
SIGKILLed part-way, then 4 new ones until nothing is due.

Checked, as the product promises (`bot/core/services/checkins.py`): a person is asked once
about all her due check-ins, in one message keyed `checkin:<group id>` (the group id is the
first of them); at most one a day. So every sent check-in belongs to a group whose person
got exactly one message, and every other check-in is still due (not worked) or waits for a
later time (one message a day, never in quiet hours) with no message. Repeats are counted
from what committed transactions did, not from the end state alone: triggers installed in
the benchmark's database record every write that marks a check-in sent and every check-in
message the workers tried to insert (the outbox's idempotency key would turn a second copy away
silently, and asyncpg reports no row count for the batches' executemany).
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Event
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import func, select, text
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


def worker(url: str, ready: Event, go: Event, until_idle: bool) -> None:
    asyncio.run(_work(url, ready, go, until_idle))


async def _work(url: str, ready: Event, go: Event, until_idle: bool) -> None:
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


# Installed after seeding, in the benchmark's own database: what committed transactions did.
# A write that marks a check-in sent, and a check-in message a worker tried to insert (a
# BEFORE trigger fires for every row an INSERT … ON CONFLICT DO NOTHING proposes, the ones
# the idempotency key then turns away included). A SIGKILLed transaction rolls these back
# with everything else it did.
INSTRUMENT = [
    "CREATE TABLE b6_sent_writes (checkin_id text NOT NULL)",
    "CREATE TABLE b6_message_tries (key text NOT NULL)",
    """CREATE FUNCTION b6_sent_write() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN INSERT INTO b6_sent_writes VALUES (NEW.id); RETURN NULL; END $$""",
    """CREATE TRIGGER b6_sent_write AFTER UPDATE ON checkins FOR EACH ROW
       WHEN (NEW.status = 'sent') EXECUTE FUNCTION b6_sent_write()""",
    """CREATE FUNCTION b6_message_try() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN INSERT INTO b6_message_tries VALUES (NEW.key); RETURN NEW; END $$""",
    """CREATE TRIGGER b6_message_try BEFORE INSERT ON outbox FOR EACH ROW
       WHEN (NEW.key LIKE 'checkin:%') EXECUTE FUNCTION b6_message_try()""",
]


async def instrument(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for statement in INSTRUMENT:
            await conn.execute(text(statement))


async def reached(engine: AsyncEngine, target: int) -> bool:
    return await worked(engine) >= target


async def worked(engine: AsyncEngine) -> int:
    """Check-ins no longer scheduled. (One that waits for a later time under the once-a-day
    rule stays scheduled; none did in the runs measured, see `verify`.)"""
    async with engine.connect() as conn:
        found = await conn.scalar(
            select(func.count()).select_from(CheckInRow).where(CheckInRow.status != "scheduled")
        )
    return int(found or 0)


class Pool:
    """N worker processes that start together on a signal."""

    def __init__(self, url: str, count: int, until_idle: bool) -> None:
        ctx = mp.get_context("spawn")
        self.go = ctx.Event()
        self.ready = [ctx.Event() for _ in range(count)]
        self.processes = [
            ctx.Process(target=worker, args=(url, ready, self.go, until_idle), daemon=True)
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
            watch = Stopwatch()
            await seed(engine, url, total)
            await instrument(engine)
            result.notes.append(f"seeded {total:,} due check-ins in {r(watch.seconds, 1)} s")
            rates: dict[int, list[float]] = {1: [], 4: []}
            for count in (1, 4, 1, 4):
                pool = Pool(url, count, False)
                await pool.start()
                before = await worked(engine)
                clock = Stopwatch()  # time.perf_counter(): the window as it really ran
                await asyncio.sleep(window)
                pool.kill()
                after = await worked(engine)
                done = after - before
                seconds = clock.seconds
                # A window that ends with nothing left stopped for want of work: no rate.
                ran_out = after >= total
                if not ran_out:
                    rates[count].append(done / seconds)
                result.rows.append(
                    {
                        "phase": "throughput" + (" (ran out of work)" if ran_out else ""),
                        "workers": count,
                        "seconds": r(seconds, 3),
                        "check-ins done": done,
                        "per second": r(done / seconds, 0),
                    }
                )
            await restart(engine, url, total, 600 if cfg.quick else 15, result)
        finally:
            await engine.dispose()
        await verify(url, total, result)
    if rates[1] and rates[4]:
        one, four = (sum(v) / len(v) for v in (rates[1], rates[4]))
        result.goal("throughput 4 workers ÷ 1 worker", r(four / one), "> 1 (grows)", four > one)
        result.notes.append(
            f"mean of the windows that had work to the end: 1 worker {r(one, 0)}/s, "
            f"4 workers {r(four, 0)}/s"
        )
    else:
        result.goal("throughput 4 workers ÷ 1 worker", "-", "> 1 (grows)", None)
        result.notes.append(
            "no ratio: the work ran out before a window of "
            + " and of ".join(f"{n} worker{'s' * (n > 1)}" for n in (1, 4) if not rates[n])
            + " could run to its end"
        )
    return result


async def restart(
    engine: AsyncEngine, url: str, total: int, finish_within: float, result: Result
) -> None:
    before = await worked(engine)
    first = Pool(url, 4, True)
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
    second = Pool(url, 4, True)
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


async def verify(url: str, total: int, result: Result) -> None:
    """Every check-in is sent in a group whose person got exactly one message, or is still
    scheduled (due, or waiting for a later time) with none; nothing was marked sent twice, no
    message was tried twice, and nobody got two check-in messages."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            checkins = (
                await conn.execute(
                    text(
                        "SELECT id, member_id, status, due_at > now() AS later, group_id "
                        "FROM checkins"
                    )
                )
            ).all()
            messages = (
                await conn.execute(
                    text("SELECT key, address FROM outbox WHERE key LIKE 'checkin:%'")
                )
            ).all()
            slack_user = dict(
                (await conn.execute(text('SELECT member_id, "user" FROM identities'))).all()
            )
            writes, tries = [
                int(await conn.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
                for table in ("b6_sent_writes", "b6_message_tries")
            ]
            marked_twice = int(
                await conn.scalar(
                    text(
                        "SELECT count(*) FROM (SELECT checkin_id FROM b6_sent_writes "
                        "GROUP BY checkin_id HAVING count(*) > 1) t"
                    )
                )
                or 0
            )
            tried_twice = int(
                await conn.scalar(
                    text(
                        "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n "
                        "FROM b6_message_tries GROUP BY key) t"
                    )
                )
                or 0
            )
    finally:
        await engine.dispose()

    to: dict[str, list[str]] = {}  # a message's key -> the addresses it went to
    for key, address in messages:
        to.setdefault(str(key), []).append(str(address))
    member_of = {str(ch.id): str(ch.member_id) for ch in checkins}
    shapes: Counter[str] = Counter()
    groups: set[str] = set()
    for ch in checkins:
        if ch.status == "scheduled" and ch.group_id is None:
            shapes["waiting" if ch.later else "still due"] += 1
            continue
        if ch.status != "sent" or ch.group_id is None:
            shapes[f"{ch.status}, group {ch.group_id}"] += 1  # none expected: a lost one
            continue
        group = str(ch.group_id)
        groups.add(group)
        sent_to = to.get(f"checkin:{group}", [])
        if not sent_to:
            shapes["sent, no message"] += 1
        elif len(sent_to) > 1:
            shapes["sent, several messages"] += 1
        elif member_of.get(group) != ch.member_id or sent_to[0] != slack_user.get(ch.member_id):
            shapes["sent, message to someone else"] += 1
        else:
            shapes["sent, one message"] += 1
    # A message with no sent check-in behind it, and a second message to one person.
    orphans = sum(1 for key in to if key.removeprefix("checkin:") not in groups)
    per_person = Counter(address for addresses in to.values() for address in addresses)
    second_messages = sum(n - 1 for n in per_person.values() if n > 1)

    once = shapes["sent, one message"]
    due, later = shapes["still due"], shapes["waiting"]
    lost = total - once - due - later - shapes["sent, several messages"]
    repeated = (
        shapes["sent, several messages"] + marked_twice + tried_twice + orphans + second_messages
    )
    result.notes.append(
        f"check-ins: {dict(sorted(shapes.items()))}; {len(to):,} check-in messages to "
        f"{len(per_person):,} people ({r(once / max(len(to), 1), 1)} check-ins a message); "
        f"committed: {writes:,} writes marking a check-in sent, {tries:,} check-in messages "
        f"tried; check-ins marked sent twice: {marked_twice}; check-in messages tried twice: "
        f"{tried_twice}; messages with no sent check-in: {orphans}; second messages to one "
        f"person: {second_messages}"
    )
    if due:
        result.notes.append(
            f"{due:,} of {total:,} check-ins are still due (not yet worked, no message): the "
            "benchmark stops the restarted workers at a time limit (see docs/benchmarks.md)"
        )
    if later:
        result.notes.append(
            f"{later:,} check-ins wait for a later time with no message (one message a day, "
            "never in quiet hours)"
        )
    result.goal("check-ins lost after SIGKILL and restart", lost, "0", lost == 0)
    result.goal("check-ins repeated", repeated, "0", repeated == 0)
    result.goal(
        "worked check-ins in exactly one message, to their person",
        once,
        f"= {total - due - later:,} worked",
        once == total - due - later,
    )
