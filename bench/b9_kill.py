"""B9: kill -9 in the middle of 1,000 signed slash commands; every acknowledged request must be
answered exactly once after the restart.

This process plays Slack: the fake Slack's Web API and response_urls, and 20 closed-loop
clients sending signed `/rally available off|on` to `rallybot web` (on SQLite it also works the
inbox; on PostgreSQL a `rallybot worker` does). Once half of the requests are acknowledged,
every rallybot process is killed with SIGKILL and started again (the same worker ids). A client
whose request got no answer (refused connection, reset) sends the very same signed body again,
as Slack's own retry would, until it is acknowledged: the inbox knows its trigger id. Counted:
for each acknowledged request, how many answers its response_url got (goal: exactly one each),
and the time from the ack to the answer (p50, p99), timed with time.perf_counter().
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

from bench.common import (
    CHANNEL,
    TEAM,
    Config,
    Result,
    Stopwatch,
    clean_env,
    database,
    free_port,
    logged_errors,
    percentile,
    r,
    seed_collective,
    spawn,
    stop,
    tail,
    wait_http,
)
from bench.slack_ack import SECRET
from bot.store.uow import make_engine
from tests.fakes.slack import FakeSlack, Limits, SlackSender, User

CLIENTS = 20
MEMBERS = 40


class Processes:
    """`rallybot web` (and on PostgreSQL a `rallybot worker`), started and killed together."""

    def __init__(self, backend: str, url: str, port: int, slack_env: dict[str, str], tmp: Path):
        self.backend, self.url, self.port, self.tmp = backend, url, port, tmp
        self.slack_env = slack_env
        self.running: list[asyncio.subprocess.Process] = []

    def _env(self, worker_id: str) -> dict[str, str]:
        return clean_env(
            DATABASE_URL=self.url,
            PORT=str(self.port),
            RALLYBOT_DATA_DIR=str(self.tmp),
            RALLYBOT_LOG_LEVEL="WARNING",
            RALLYBOT_WORKER_ID=worker_id,
            **self.slack_env,
        )

    async def start(self) -> float:
        watch = Stopwatch()
        web = await spawn(
            [sys.executable, "-m", "bot", "web"],
            self._env("b9-web"),
            self.tmp,
            self.tmp / "rallybot.log",
        )
        self.running = [web]
        if self.backend != "sqlite":
            self.running.append(
                await spawn(
                    [sys.executable, "-m", "bot", "worker"],
                    self._env("b9-worker"),
                    self.tmp,
                    self.tmp / "rallybot.log",
                )
            )
        await wait_http(f"http://127.0.0.1:{self.port}/livez", web, 120)
        return watch.seconds

    async def kill(self) -> None:
        for process in self.running:
            with contextlib.suppress(ProcessLookupError):
                process.kill()  # SIGKILL
        for process in self.running:
            await process.wait()

    async def stop(self) -> None:
        for process in self.running:
            await stop(process)


async def one_backend(backend: str, cfg: Config, result: Result) -> None:
    total = 300 if cfg.quick else 1000
    async with database(backend, cfg.postgres) as url:
        engine = make_engine(url)
        try:
            seeded = await seed_collective(engine, MEMBERS, MEMBERS // 2)
        finally:
            await engine.dispose()
        generous = Limits(post_per_second=1000, post_burst=1000, tier_scale=100)
        async with FakeSlack(limits=generous) as fake:
            people = [User(u, f"m{n}", f"Member {n}") for n, u in enumerate(seeded.users)]
            workspace = fake.add_workspace(TEAM, "bench", people, {CHANNEL})
            answered_at: dict[str, float] = {}
            fake.on_response = lambda rid: answered_at.setdefault(rid, time.perf_counter())
            with tempfile.TemporaryDirectory(prefix="rallybot-b9-") as tmp_name:
                tmp = Path(tmp_name)
                slack_env = {
                    "SLACK_BOT_TOKEN": workspace.bot_token,
                    "SLACK_SIGNING_SECRET": SECRET,
                    "SLACK_API_URL": fake.api_url,
                }
                processes = Processes(backend, url, free_port(), slack_env, tmp)
                await processes.start()
                try:
                    await measure(
                        fake, processes, seeded.users, total, answered_at, backend, result
                    )
                except Exception:
                    print(tail(tmp / "rallybot.log"), file=sys.stderr)
                    raise
                finally:
                    await processes.stop()
                    errors = logged_errors(tmp / "rallybot.log")
                    if errors:
                        result.notes.append(f"{backend}: rallybot logged {errors}")


async def measure(
    fake: FakeSlack,
    processes: Processes,
    users: list[str],
    total: int,
    answered_at: dict[str, float],
    backend: str,
    result: Result,
) -> None:
    acked_at: dict[str, float] = {}
    resent = 0
    killed = asyncio.Event()
    restarted = asyncio.Event()
    left = iter(range(total))
    async with aiohttp.ClientSession() as session:
        sender = SlackSender(fake, f"http://127.0.0.1:{processes.port}", SECRET, session)

        async def client() -> None:
            nonlocal resent
            for n in left:
                rid, response_url = fake.new_response_url()
                form = {
                    "team_id": TEAM,
                    "channel_id": CHANNEL,
                    "user_id": users[1 + n % (len(users) - 1)],
                    "user_name": f"m{n}",
                    "command": "/rally",
                    "text": "available off" if n % 2 else "available on",
                    "response_url": response_url,
                    "trigger_id": fake.new_trigger_id(),
                }
                body = urlencode(form).encode()
                while True:
                    try:
                        sent = await sender.post(body, "application/x-www-form-urlencoded")
                        if sent.status == 200:
                            acked_at[rid] = time.perf_counter()
                            break
                    except (aiohttp.ClientError, OSError):
                        pass
                    resent += 1  # no ack: Slack sends the same request again
                    await asyncio.sleep(0.05)
                if len(acked_at) >= total // 2 and not killed.is_set():
                    killed.set()

        back = 0.0

        async def crash() -> float:
            nonlocal back
            await killed.wait()
            await processes.kill()
            down = Stopwatch()
            await processes.start()
            back = time.perf_counter()
            restarted.set()
            return down.seconds

        watch = Stopwatch()
        clients = asyncio.gather(*(client() for _ in range(CLIENTS)))
        downtime = await crash()
        await clients
        sending = watch.seconds
        with contextlib.suppress(TimeoutError):
            await fake.wait_for(lambda: all(fake.responses[rid] for rid in acked_at), 300)
        await asyncio.sleep(1.0)  # any second answer would come now
    counts = [len(fake.responses[rid]) for rid in acked_at]
    once = counts.count(1)
    never = counts.count(0)
    twice = sum(1 for c in counts if c > 1)
    waits = [(answered_at[rid] - at) * 1000 for rid, at in acked_at.items() if rid in answered_at]
    # Acknowledged after the restart: ack to answer in normal running, under the same load.
    calm = [
        (answered_at[rid] - at) * 1000
        for rid, at in acked_at.items()
        if rid in answered_at and at > back
    ]
    result.rows.append(
        {
            "database": backend,
            "acknowledged": len(acked_at),
            "answered once": once,
            "twice or more": twice,
            "never": never,
            "resent (no ack)": resent,
            "down s": r(downtime, 1),
            "ack→answer p50 ms": r(percentile(waits, 50)),
            "ack→answer p99 ms": r(percentile(waits, 99)),
            "after restart p50 ms": r(percentile(calm, 50)),
            "after restart p99 ms": r(percentile(calm, 99)),
            "seconds": r(sending, 1),
        }
    )
    result.goal(f"acknowledged requests never answered, {backend}", never, "0", never == 0)
    result.goal(
        f"acknowledged requests answered exactly once, {backend}",
        f"{once}/{len(acked_at)}",
        "all",
        once == len(acked_at) == total,
    )


async def main(cfg: Config) -> Result:
    result = Result(
        "B9",
        "kill -9 mid-way through signed commands: every acknowledged request answered once",
        [
            "database",
            "acknowledged",
            "answered once",
            "twice or more",
            "never",
            "resent (no ack)",
            "down s",
            "ack→answer p50 ms",
            "ack→answer p99 ms",
            "after restart p50 ms",
            "after restart p99 ms",
            "seconds",
        ],
        params={"commands": 300 if cfg.quick else 1000, "clients": CLIENTS},
    )
    for backend in cfg.backends():
        await one_backend(backend, cfg, result)
    return result
