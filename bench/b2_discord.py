"""B2: how fast rallybot's Discord bot gives an interaction its initial response, next to a
bare discord.py client that writes each interaction with one INSERT into the same database and
responds (the fair floor: rallybot writes each interaction into its inbox before deferring).

Three processes, as in B1: this one plays Discord (two fake Discords of tests/fakes/discord,
one per bot, with generous limits), `python -m bot run` is rallybot with Discord configured
(its outbox dispatcher, scheduler and inbox worker in the same loop, on SQLite and
PostgreSQL), and
`python -m bench.bare_discord` is the baseline. Timed by the fake: from writing
INTERACTION_CREATE to the bot's gateway socket to receiving the interaction callback, one
interaction at a time, in alternating blocks (ABBA). Kinds: `/rally alert link:<url>` (raise
and rally) and `/rally status` (a read). Each alert is stood down afterwards (untimed), so
the collective keeps a realistic handful of open alerts. After each block the benchmark waits
(untimed) until every interaction the block deferred got its answer and rallybot's outbox
sent every rally post and DM its alerts queued, and half a second more,
so that no block runs beside the work another block left: on SQLite the bare client writes
into the same file, and rallybot's work after a block would hold the write lock in the bare
client's block (its p99 went up to 81 ms, and the ratio down to 0.05).
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import (
    WORKER_NICE,
    Config,
    Result,
    Stopwatch,
    clean_env,
    cpu_seconds,
    database,
    free_port,
    logged_errors,
    percentile,
    r,
    spawn,
    stop,
    tail,
    wait_http,
    wait_line,
)
from bot.store import stats
from bot.store.uow import make_engine
from tests.fakes.discord import Channel, FakeDiscord, Interaction, Limits, User

GOAL_RATIO = 1.3
DEFERRED = 5  # the initial response "thinking…": the answer follows
SETTLE_PAUSE = 0.5  # seconds after a block's last answer and the last send of its rallies
OUTBOX_WAIT = 300  # seconds at most for a block's rally sends to go out
KINDS = ("alert", "status")
GENEROUS = Limits(messages=1000, edits=1000, dms=1000, other=1000, global_per_second=10_000)


@dataclass
class World:
    """One fake Discord with a server, a rally channel, a lead and 12 members."""

    fake: FakeDiscord
    lead: User = field(init=False)
    channel: Channel = field(init=False)
    people: list[User] = field(init=False)
    alerts: int = 0
    failed: int = 0
    deferred: list[Interaction] = field(default_factory=list)  # answered by a follow-up
    pid: int = 0  # the process that receives the gateway's interactions and answers them
    engine: AsyncEngine | None = None  # rallybot's database: its outbox is waited for
    outbox_waits: list[float] = field(default_factory=list)  # seconds, one per settle

    def __post_init__(self) -> None:
        self.lead = self.fake.add_user("lead", "Lead")
        guild = self.fake.add_guild("bench", self.lead)
        self.channel = self.fake.add_channel(guild, "rally")
        self.people = [self.fake.add_user(f"m{n}", f"Member {n}") for n in range(12)]
        for person in self.people:
            guild.add_member(person)

    async def command(self, user: User, sub: str, **options: Any) -> Interaction:
        return await self.fake.command(user, sub, options, channel=self.channel)

    async def setup(self) -> None:
        await (await self.command(self.lead, "setup")).reply()
        for person in self.people:
            await (await self.command(person, "join")).reply()
            await (await self.command(self.lead, "approve", member=person)).reply()
            await (await self.command(self.lead, "role", member=person, role="responder")).reply()

    async def timed(self, kind: str, n: int) -> float:
        who = self.people[n % len(self.people)]
        if kind == "alert":
            asked = await self.command(who, "alert", link=f"https://x.com/troll/status/{n}")
        else:
            asked = await self.command(who, "status")
        await asked.wait(10)
        if asked.failed or asked.latency is None:
            self.failed += 1
            return float("nan")
        if asked.response_type == DEFERRED:
            self.deferred.append(asked)
        if kind == "alert":
            self.alerts += 1
            # Collectives have a few open alerts, not hundreds: close this one (untimed).
            closing = await (await self.command(self.lead, "standdown", alert=self.alerts)).wait(10)
            if closing.response_type == DEFERRED:
                self.deferred.append(closing)
        return asked.latency * 1000

    async def settle(self) -> None:
        """Until every deferred interaction got its answer and every rally post and DM the
        block's alerts queued was sent, and a moment after: the next block, this bot's or the
        other's, never runs beside this one's work (a rally is a dozen sends; at this pace
        a block's rallies take seconds to go out after its last answer)."""
        for interaction in self.deferred:
            await asyncio.wait_for(interaction.followed.wait(), 120)
        self.deferred.clear()
        if self.engine is not None:
            watch = Stopwatch()
            while await outbox_due(self.engine):
                if watch.seconds > OUTBOX_WAIT:
                    raise RuntimeError(f"rallybot's outbox still had sends after {OUTBOX_WAIT}s")
                await asyncio.sleep(0.05)
            self.outbox_waits.append(watch.seconds)
        await asyncio.sleep(SETTLE_PAUSE)


async def outbox_due(engine: AsyncEngine) -> bool:
    """Whether rallybot's outbox has a send due now (the figures its metrics report)."""
    oldest = (await stats.figures(engine, datetime.now(UTC))).outbox_oldest_due
    return oldest is not None and oldest <= datetime.now(UTC)


async def main(cfg: Config) -> Result:
    per_kind = 60 if cfg.quick else 500  # p99 of 500: the 5th worst, not the 2nd
    blocks = 2 if cfg.quick else 4
    result = Result(
        "B2",
        "Discord first response: interaction to initial response, rallybot vs bare discord.py",
        [
            "database",
            "bot",
            "kind",
            "interactions",
            "failed",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "CPU ms",
        ],
        params={"per_kind": per_kind, "blocks": blocks},
    )
    for backend in cfg.backends():
        async with (
            database(backend, cfg.postgres) as url,
            FakeDiscord(limits=GENEROUS) as rally_fake,
            FakeDiscord(limits=GENEROUS) as bare_fake,
        ):
            worlds = {"rallybot": World(rally_fake), "bare discord.py": World(bare_fake)}
            with tempfile.TemporaryDirectory(prefix="rallybot-b2-") as tmp_name:
                tmp = Path(tmp_name)
                port = free_port()

                def discord_env(fake: FakeDiscord) -> dict[str, str]:
                    return {
                        "DISCORD_TOKEN": fake.token,
                        "DISCORD_API_URL": fake.api_url,
                        "DISCORD_GATEWAY_URL": fake.gateway_url,
                    }

                rally = await spawn(
                    [sys.executable, "-m", "bot", "run" if backend == "sqlite" else "worker"],
                    clean_env(
                        DATABASE_URL=url,
                        RALLYBOT_DATA_DIR=str(tmp),
                        RALLYBOT_METRICS_PORT=str(port),
                        RALLYBOT_LOG_LEVEL="WARNING",
                        RALLYBOT_ALERTS_PER_DAY="1000",
                        RALLYBOT_REVIEW_FIRST_ALERTS="false",
                        # PostgreSQL: the gateway process only writes and defers; a second
                        # worker process (below) works the inbox, delivers and ticks.
                        RALLYBOT_WORKER_ID="b2-gateway",
                        **({} if backend == "sqlite" else {"RALLYBOT_REQUEST_WORKERS": "0"}),
                        **discord_env(rally_fake),
                    ),
                    tmp,
                    tmp / "rallybot-run.log",
                )
                helper = None
                if backend != "sqlite":
                    await wait_http(f"http://127.0.0.1:{port}/readyz", rally, 120)
                    helper = await spawn(
                        [sys.executable, "-m", "bot", "worker"],
                        clean_env(
                            DATABASE_URL=url,
                            RALLYBOT_DATA_DIR=str(tmp),
                            RALLYBOT_LOG_LEVEL="WARNING",
                            RALLYBOT_WORKER_ID="b2-worker",
                            RALLYBOT_ALERTS_PER_DAY="1000",
                            RALLYBOT_REVIEW_FIRST_ALERTS="false",
                            **discord_env(rally_fake),
                        ),
                        tmp,
                        tmp / "rallybot-run.log",
                        nice=WORKER_NICE,
                    )
                bare = await spawn(
                    [sys.executable, "-m", "bench.bare_discord"],
                    clean_env(DATABASE_URL=url, **discord_env(bare_fake)),
                    tmp,
                    tmp / "bare.log",
                    pipe_stdout=True,
                )
                try:
                    await wait_http(f"http://127.0.0.1:{port}/readyz", rally, 120)
                    await wait_line(bare, "ready", 120)
                    worlds["rallybot"].pid = rally.pid
                    worlds["rallybot"].engine = make_engine(url)
                    worlds["bare discord.py"].pid = bare.pid
                    for world in worlds.values():
                        await world.setup()
                    await measure(worlds, per_kind, blocks, result, backend)
                except Exception:
                    print(tail(tmp / "rallybot-run.log"), file=sys.stderr)
                    raise
                finally:
                    if worlds["rallybot"].engine is not None:
                        await worlds["rallybot"].engine.dispose()
                        waits = worlds["rallybot"].outbox_waits
                        if waits:
                            result.notes.append(
                                f"{backend}: after a block, rallybot's outbox took up to "
                                f"{max(waits):.1f} s to send its rallies (waited, untimed)"
                            )
                    await stop(rally)
                    if helper is not None:
                        await stop(helper)
                    await stop(bare)
                    errors = logged_errors(tmp / "rallybot-run.log")
                    if errors:
                        result.notes.append(f"{backend}: rallybot run logged {errors}")
    return result


async def measure(
    worlds: dict[str, World], per_kind: int, blocks: int, result: Result, backend: str
) -> None:
    counter = itertools.count(1)
    for world in worlds.values():  # warm up
        for kind in KINDS:
            for _ in range(10):
                await world.timed(kind, next(counter))
        await world.settle()
        world.failed = 0
    # This process is the clock (its fake Discord reads the callbacks), and it keeps every
    # message and interaction: its full garbage collections took 48-88 ms in a run, during
    # whichever bot's block was timed. What exists now is left out of those walks.
    gc.collect()
    gc.freeze()
    seen: dict[tuple[str, str], list[float]] = {(b, k): [] for b in worlds for k in KINDS}
    cpu: dict[tuple[str, str], float] = dict.fromkeys(seen, 0.0)
    names = list(worlds)
    for b in range(blocks):
        order = names if b % 2 == 0 else names[::-1]
        for name in order:
            for kind in KINDS:
                used = cpu_seconds(worlds[name].pid)
                for _ in range(per_kind // blocks):
                    seen[(name, kind)].append(await worlds[name].timed(kind, next(counter)))
                cpu[(name, kind)] += cpu_seconds(worlds[name].pid) - used
                await worlds[name].settle()  # untimed: its work done before the next block
    p99: dict[tuple[str, str], float] = {}
    for (name, kind), values in seen.items():
        ok = [v for v in values if v == v]
        p99[(name, kind)] = percentile(ok, 99)
        result.samples[f"{backend} / {name} / {kind}"] = [round(v, 3) for v in values]
        result.rows.append(
            {
                "database": backend,
                "bot": name,
                "kind": kind,
                "interactions": len(values),
                "failed": len(values) - len(ok),
                "p50 ms": r(percentile(ok, 50)),
                "p90 ms": r(percentile(ok, 90)),
                "p99 ms": r(p99[(name, kind)]),
                "max ms": r(max(ok)),
                "CPU ms": r(cpu[(name, kind)] * 1000 / len(values)),
            }
        )
    for kind in KINDS:
        ratio = p99[("rallybot", kind)] / p99[("bare discord.py", kind)]
        result.rows.append(
            {"database": backend, "bot": "p99 ratio", "kind": kind, "p99 ms": r(ratio)}
        )
        result.goal(
            f"p99 ratio, {kind}, {backend}", r(ratio), f"≤ {GOAL_RATIO}", ratio <= GOAL_RATIO
        )
    failed = worlds["rallybot"].failed
    result.goal(
        f"interactions that failed Discord's 3 s deadline, {backend}", failed, "0", failed == 0
    )
