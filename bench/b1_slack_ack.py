"""B1: how fast `rallybot web` acknowledges a signed `/rally alert <link>` over HTTP, next to
a bare Bolt app that writes each request with one INSERT into the same database and acks (the
fair floor: rallybot writes each request into its inbox before the ack).

Three processes: this one plays Slack (the fake Slack's Web API, and 50 concurrent clients
sending signed slash commands, as bench/slack_ack.py does), `python -m bot web` is the real
`rallybot web` (Bolt over aiohttp, with its dispatcher and scheduler, on SQLite or
PostgreSQL; on PostgreSQL a `rallybot worker` process works the inbox), and
`python -m bench.bare_slack` is the baseline: the same aiohttp + Bolt stack whose handler
does one INSERT and acks. Both servers run side by side; the load goes to one at a time in
alternating blocks of 500, four pairs of adjacent blocks (rallybot, bare; bare, rallybot;
...), so the machine's noise falls on both alike, and the goal is the median of the four
pairs' p99 ratios: a stall of the shared machine that falls on one block moves one pair (the
ratio of all samples together is reported too). After each rallybot block but the last the
benchmark waits until rallybot has done the work of every alert it acknowledged (raised,
rallied, the reply posted to the response_url; the outbox is left to its 1-a-second channel
pacing), so that no block runs beside another's leftovers; the replies also tell which
alerts failed after the ack.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.common import (
    CHANNEL,
    LEADS,
    TEAM,
    WORKER_NICE,
    Config,
    Result,
    Stopwatch,
    clean_env,
    cpu_seconds,
    database,
    free_port,
    logged_errors,
    median,
    percentile,
    r,
    seed_collective,
    spawn,
    stop,
    tail,
    wait_http,
    wait_line,
)
from bench.slack_ack import SECRET
from bench.slack_load import CLIENTS, response_id
from bot.store.uow import make_engine
from tests.adapters.slack.harness import text_of
from tests.fakes.slack import FakeSlack, Limits, User

FAILED = "went wrong"  # the words of the slack.failed reply
MEMBERS, RESPONDERS = 60, 40
GOAL_RATIO = 1.3
# Blocks per server, in adjacent pairs (one block of each server, one after the other): the
# goal is the median of the pairs' p99 ratios, so a stall of the shared machine that falls on
# one block moves one pair, not the verdict (docs/benchmarks.md, B1).
PAIRS = 4
SLACK_DEADLINE_MS = 3000.0


class Load:
    """Closed-loop clients (bench/slack_load.py, a process of their own) sending signed
    `/rally alert` commands to one server; each sends its next request as soon as the last
    was acked."""

    def __init__(
        self, fake: FakeSlack, server: str, users: list[str], numbers: Iterator[int], log: Path
    ) -> None:
        self.fake = fake
        self.numbers = numbers  # shared by the servers' loads: every response id is new
        self.server = server
        self.users = users
        self.log = log
        self.process: asyncio.subprocess.Process | None = None
        self.rids: list[str] = []
        self.acked_at: dict[str, float] = {}  # response id -> perf_counter() at the ack

    async def start(self) -> None:
        with self.log.open("ab") as sink:
            self.process = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "bench.slack_load", self.server, self.fake.url),
                *(TEAM, CHANNEL, ",".join(self.users)),
                env=clean_env(),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=sink,
                limit=2**24,  # a block's answer is one long line
            )
        await wait_line(self.process, "ready")

    async def run(self, requests: int) -> tuple[list[float], int, float]:
        """(latencies in ms, errors, seconds) for `requests` slash commands."""
        process = self.process
        assert process is not None and process.stdin is not None and process.stdout is not None
        taken = list(itertools.islice(self.numbers, requests))
        first = taken[0]
        for n in taken:
            self.fake.responses[response_id(n)] = []  # the response_urls the block uses
        process.stdin.write(f"{requests} {first}\n".encode())
        await process.stdin.drain()
        line = await process.stdout.readline()
        if not line:
            raise RuntimeError(f"the clients stopped: see {self.log}")
        done = json.loads(line)
        for rid in done["acked"]:
            self.rids.append(rid)
        self.acked_at.update(done["acked"])
        return done["latencies"], done["errors"], done["seconds"]

    async def stop(self) -> None:
        if self.process is not None:
            await stop(self.process)


async def settle(fake: FakeSlack, load: Load, seconds: float = 600) -> float:
    """Wait until rallybot finished the work of every request it acked: the alert raised and
    rallied, the reply posted to the response_url (the last step); returns how long that
    took. The outbox is not waited for: rallybot paces rally posts at Slack's one message a
    second per channel, which costs no CPU and would make every block wait minutes."""
    watch = Stopwatch()
    await fake.wait_for(lambda: all(fake.responses[rid] for rid in load.rids), seconds)
    await asyncio.sleep(0.2)
    return watch.seconds


def outcomes(fake: FakeSlack, rids: list[str]) -> tuple[int, int]:
    """(raised, failed): the replies rallybot posted after the acks."""
    raised = failed = 0
    for rid in rids:
        words = " ".join(text_of(post) for post in fake.responses[rid])
        if FAILED in words:
            failed += 1
        elif "raised" in words:
            raised += 1
    return raised, failed


async def one_backend(backend: str, cfg: Config, result: Result) -> float | None:
    requests = 400 if cfg.quick else 2000
    per_block = requests // PAIRS
    async with database(backend, cfg.postgres) as url:
        engine = make_engine(url)
        try:
            seeded = await seed_collective(engine, MEMBERS, RESPONDERS)
        finally:
            await engine.dispose()
        generous = Limits(post_per_second=1000, post_burst=1000, tier_scale=100)
        async with FakeSlack(limits=generous) as fake:
            people = [User(u, f"m{n}", f"Member {n}") for n, u in enumerate(seeded.users)]
            people[0].is_admin = True
            workspace = fake.add_workspace(TEAM, "bench", people, {CHANNEL, LEADS})
            with tempfile.TemporaryDirectory(prefix="rallybot-b1-") as tmp_name:
                tmp = Path(tmp_name)
                rally_port, bare_port = free_port(), free_port()
                slack_env = {
                    "SLACK_BOT_TOKEN": workspace.bot_token,
                    "SLACK_SIGNING_SECRET": SECRET,
                    "SLACK_API_URL": fake.api_url,
                }
                rally = await spawn(
                    [sys.executable, "-m", "bot", "web"],
                    clean_env(
                        DATABASE_URL=url,
                        PORT=str(rally_port),
                        RALLYBOT_DATA_DIR=str(tmp),
                        RALLYBOT_LOG_LEVEL="WARNING",
                        **slack_env,
                    ),
                    tmp,
                    tmp / "rallybot-web.log",
                )
                # On PostgreSQL `rallybot web` only writes and acknowledges: a worker answers.
                worker = None
                if backend != "sqlite":
                    worker = await spawn(
                        [sys.executable, "-m", "bot", "worker"],
                        clean_env(
                            DATABASE_URL=url,
                            RALLYBOT_DATA_DIR=str(tmp),
                            RALLYBOT_LOG_LEVEL="WARNING",
                            **slack_env,
                        ),
                        tmp,
                        tmp / "rallybot-worker.log",
                        nice=WORKER_NICE,
                    )
                bare = await spawn(
                    [sys.executable, "-m", "bench.bare_slack", str(bare_port)],
                    clean_env(DATABASE_URL=url, **slack_env),
                    tmp,
                    tmp / "bare.log",
                    pipe_stdout=True,
                )
                try:
                    await wait_http(f"http://127.0.0.1:{rally_port}/readyz", rally)
                    await wait_line(bare, "ready")
                    ratio = await measure(
                        fake,
                        {"rallybot web": rally.pid, "bare Bolt": bare.pid},
                        rally_port,
                        bare_port,
                        seeded.users,
                        per_block,
                        backend,
                        result,
                        tmp,
                    )
                except Exception:
                    print(tail(tmp / "rallybot-web.log"), file=sys.stderr)
                    raise
                finally:
                    with contextlib.suppress(ProcessLookupError):
                        rally.kill()  # the last block's work after the ack is not measured
                        if worker is not None:
                            worker.kill()
                    await stop(rally)
                    if worker is not None:
                        await stop(worker)
                    await stop(bare)
                    errors = logged_errors(tmp / "rallybot-web.log")
                    if errors:
                        result.notes.append(f"{backend}: rallybot web logged {errors}")
                return ratio


async def measure(
    fake: FakeSlack,
    pids: dict[str, int],
    rally_port: int,
    bare_port: int,
    users: list[str],
    per_block: int,
    backend: str,
    result: Result,
    logs: Path,
) -> float:
    answered_at: dict[str, float] = {}  # response id -> perf_counter() at its first answer
    fake.on_response = lambda rid: answered_at.setdefault(rid, time.perf_counter())
    numbers = itertools.count(1)
    log = logs / "load.log"
    loads = {
        "rallybot web": Load(fake, f"http://127.0.0.1:{rally_port}", users, numbers, log),
        "bare Bolt": Load(fake, f"http://127.0.0.1:{bare_port}", users, numbers, log),
    }
    try:
        for load in loads.values():
            await load.start()
        for load in loads.values():  # warm up: connections, caches, first auth
            await load.run(100)
        await settle(fake, loads["rallybot web"])
        # Pairs of adjacent blocks, ABBA: R B, B R, R B, B R. Every rallybot block but the
        # last is followed by a wait for its work after the ack, so no block runs beside
        # another's leftovers; the last one's work is cut short when the process is killed
        # (it is no longer measured).
        order = ["rallybot web", "bare Bolt", "bare Bolt", "rallybot web"] * (PAIRS // 2)
        block_p99: list[float] = []
        seen: dict[str, list[float]] = {name: [] for name in loads}
        errors = dict.fromkeys(loads, 0)
        busy = dict.fromkeys(loads, 0.0)
        cpu = dict.fromkeys(loads, 0.0)  # the serving process's CPU seconds in its blocks
        settling: list[float] = []
        for n, name in enumerate(order):
            used = cpu_seconds(pids[name])
            latencies, refused, seconds = await loads[name].run(per_block)
            cpu[name] += cpu_seconds(pids[name]) - used
            # In the order the acks came back: a slow stretch shows where it fell.
            result.samples[f"{backend} / {name} / block {n + 1}"] = [r(v, 3) for v in latencies]
            seen[name] += latencies
            block_p99.append(percentile(latencies, 99))
            errors[name] += refused
            busy[name] += seconds
            if name == "rallybot web" and n < len(order) - 1:
                settling.append(await settle(fake, loads[name]))
                settled = list(loads[name].rids)
    finally:
        for load in loads.values():
            await load.stop()
    p99: dict[str, float] = {}
    for name, latencies in seen.items():
        p99[name] = percentile(latencies, 99)
        result.rows.append(
            {
                "database": backend,
                "server": name,
                "requests": len(latencies),
                "errors": errors[name],
                "acks/s": r(len(latencies) / busy[name], 0),
                "p50 ms": r(percentile(latencies, 50)),
                "p90 ms": r(percentile(latencies, 90)),
                "p99 ms": r(p99[name]),
                "max ms": r(max(latencies)),
                "CPU ms": r(cpu[name] * 1000 / len(latencies)),
            }
        )
    raised, failed = outcomes(fake, settled)
    acked_at = loads["rallybot web"].acked_at
    waits = [(answered_at[rid] - acked_at[rid]) * 1000 for rid in settled if rid in answered_at]
    result.notes.append(
        f"{backend}: ack → answer for the {len(waits)} alerts settled: p50 "
        f"{r(percentile(waits, 50) / 1000, 2)} s, p99 {r(percentile(waits, 99) / 1000, 2)} s "
        "(a backlog: a block's acks come first, and its work, about 25 ms of CPU an alert, after)"
    )
    pooled = p99["rallybot web"] / p99["bare Bolt"]
    result.rows.append({"database": backend, "server": "p99 ratio, all", "p99 ms": r(pooled)})
    # Each pair is one rallybot block and the bare block next to it (in either order).
    pairs = []
    for first in range(0, len(order), 2):
        by_name = {order[first + k]: block_p99[first + k] for k in (0, 1)}
        pairs.append(by_name["rallybot web"] / by_name["bare Bolt"])
    ratio = median(pairs)
    result.rows.append({"database": backend, "server": "p99 ratio, pairs", "p99 ms": r(ratio)})
    result.notes.append(
        f"{backend}: p99 ratio of each pair of adjacent blocks, in order: "
        + ", ".join(str(r(x)) for x in pairs)
        + f"; their median {r(ratio)} is the goal's, all samples together give {r(pooled)}"
    )
    result.notes.append(
        f"{backend}: after a rallybot block of {per_block} acks, the raises, rallies and "
        f"replies took up to {r(max(settling), 1)} s more to finish (the work after the ack)"
    )
    result.notes.append(
        f"{backend}: of the {len(settled)} alerts acknowledged before the last block (warm-up "
        f"included), {raised} were raised and {failed} failed after the ack "
        "(the person is told 'something went wrong')"
    )
    result.goal(f"alerts that failed after the ack, {backend}", failed, "0", failed == 0)
    result.goal(
        f"p99 ratio (median of {len(pairs)} pairs), {backend}",
        r(ratio),
        f"≤ {GOAL_RATIO}",
        ratio <= GOAL_RATIO,
    )
    result.goal(
        f"p99 under Slack's 3 s, {backend}",
        r(p99["rallybot web"]),
        f"< {SLACK_DEADLINE_MS:.0f} ms",
        p99["rallybot web"] < SLACK_DEADLINE_MS,
    )
    return ratio


async def main(cfg: Config) -> Result:
    result = Result(
        "B1",
        "Slack ack: signed /rally alert <link> over HTTP, rallybot web vs a bare Bolt app",
        [
            "database",
            "server",
            "requests",
            "errors",
            "acks/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "CPU ms",
        ],
        params={
            "clients": CLIENTS,
            "requests_per_server": 400 if cfg.quick else 2000,
            "blocks_per_server": PAIRS,
            "members": MEMBERS,
            "responders": RESPONDERS,
        },
    )
    for backend in cfg.backends():
        await one_backend(backend, cfg, result)
    return result
