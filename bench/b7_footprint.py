"""B7: `rallybot run` with Slack (Socket Mode) and Discord both connected to the fakes: cold
start to ready, resident memory idle, and after B4's click storm.

The real command (`python -m bot run`, SQLite) is started with SLACK_BOT_TOKEN +
SLACK_APP_TOKEN (Socket Mode against the fake Slack) and DISCORD_TOKEN (the fake Discord's
gateway), and RALLYBOT_METRICS_PORT for /readyz, which answers 200 once the database
answers and every platform is connected: that is "ready". Cold start is timed from spawning
the process (interpreter and imports included) to the first 200, twice (the median is
reported). Memory is the process's VmRSS (and its peak, VmHWM) from /proc. The storm: the
alert's target raises it with a Socket Mode slash command, then 1,000 responders press
"I'm on it" (Socket Mode interactive envelopes, 100 a second), as in B4.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    CHANNEL,
    LEADS,
    TEAM,
    Config,
    Result,
    Stopwatch,
    clean_env,
    database,
    free_port,
    logged_errors,
    median,
    r,
    seed_collective,
    spawn,
    stop,
    tail,
    wait_http,
)
from bench.slack_ack import SECRET
from bot.store.uow import make_engine
from tests.adapters.slack.harness import buttons
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack, Limits, SlackSender, User
from tests.fakes.slack.limits import RateLimiter

GOAL_IDLE_MB = 150.0


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MB (MiB)."""
    found: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) / 1024
    return found


def press_payload(fake: FakeSlack, user: str, action_id: str) -> tuple[str, dict[str, Any]]:
    """A block_actions payload as Socket Mode delivers it (what SlackSender.press posts)."""
    rid, response_url = fake.new_response_url()
    return rid, {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": TEAM.lower()},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
        "api_app_id": "A0RALLY",
        "token": "deprecated-verification-token",
        "trigger_id": fake.new_trigger_id(),
        "actions": [
            {
                "action_id": action_id,
                "block_id": "b1",
                "type": "button",
                "action_ts": str(time.time()),
            }
        ],
        "container": {
            "type": "message",
            "message_ts": "1700000000.000100",
            "channel_id": CHANNEL,
            "is_ephemeral": False,
        },
        "channel": {"id": CHANNEL, "name": "rally"},
        "response_url": response_url,
    }


async def main(cfg: Config) -> Result:
    clicks = 200 if cfg.quick else 1000
    seconds = 2.0 if cfg.quick else 10.0
    starts = 2
    result = Result(
        "B7",
        "Footprint: rallybot run with Slack (Socket Mode) and Discord connected",
        ["figure", "value"],
        params={"clicks": clicks, "seconds": seconds, "cold_starts": starts, "database": "sqlite"},
    )
    async with database("sqlite", None) as url:
        engine = make_engine(url)
        try:
            seeded = await seed_collective(engine, clicks + 2, clicks)
        finally:
            await engine.dispose()
        async with FakeSlack() as slack, FakeDiscord() as discord:
            people = [User(u, f"m{n}", f"Member {n}") for n, u in enumerate(seeded.users)]
            workspace = slack.add_workspace(TEAM, "bench", people, {CHANNEL, LEADS})
            lead = discord.add_user("lead", "Lead")
            discord.add_channel(discord.add_guild("bench", lead), "rally")
            with tempfile.TemporaryDirectory(prefix="rallybot-b7-") as tmp_name:
                tmp = Path(tmp_name)
                port = free_port()
                env = clean_env(
                    DATABASE_URL=url,
                    RALLYBOT_DATA_DIR=str(tmp),
                    RALLYBOT_METRICS_PORT=str(port),
                    RALLYBOT_LOG_LEVEL="WARNING",
                    SLACK_BOT_TOKEN=workspace.bot_token,
                    SLACK_APP_TOKEN=slack.app_token,
                    SLACK_API_URL=slack.api_url,
                    DISCORD_TOKEN=discord.token,
                    DISCORD_API_URL=discord.api_url,
                    DISCORD_GATEWAY_URL=discord.gateway_url,
                )
                log = tmp / "rallybot-run.log"
                cold: list[float] = []
                for n in range(starts):
                    # apps.connections.open is Tier 1 (one a minute): a restart within a
                    # minute waits up to 60 s for Socket Mode. Each cold start here is timed
                    # as a first start in a minute.
                    slack.limiter = RateLimiter(Limits())
                    watch = Stopwatch()
                    process = await spawn([sys.executable, "-m", "bot", "run"], env, tmp, log)
                    try:
                        await wait_http(f"http://127.0.0.1:{port}/readyz", process, 120)
                    except Exception:
                        print(tail(log), file=sys.stderr)
                        await stop(process)
                        raise
                    cold.append(watch.seconds)
                    if n < starts - 1:
                        await stop(process)
                try:
                    await footprint(slack, process.pid, seeded.users, clicks, seconds, cold, result)
                except Exception:
                    print(tail(log), file=sys.stderr)
                    raise
                finally:
                    await stop(process)
                    errors = logged_errors(log)
                    if errors:
                        result.notes.append(f"rallybot run logged {errors}")
    return result


async def footprint(
    slack: FakeSlack,
    pid: int,
    users: list[str],
    clicks: int,
    seconds: float,
    cold: list[float],
    result: Result,
) -> None:
    await asyncio.sleep(5.0)  # settle: the first ticks, the caches
    idle = memory_mb(pid)
    sender = SlackSender(slack, "http://unused", SECRET, None)  # type: ignore[arg-type]
    target = users[clicks + 1]
    _, raise_it = sender.command_payload(
        TEAM, target, "alert https://x.com/troll/status/1", CHANNEL
    )
    await slack.send_envelope("slash_commands", raise_it)
    rally = await slack.wait_for(lambda: slack.in_channel(CHANNEL), 60)
    on_it = next(a for a in buttons(rally[0]).values() if a.endswith(":on_it"))
    rids: list[str] = []
    started = time.perf_counter()
    for n, user in enumerate(users[1 : clicks + 1]):
        delay = started + n * seconds / clicks - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        rid, payload = press_payload(slack, user, on_it)
        rids.append(rid)
        await slack.send_envelope("interactive", payload)
    await slack.wait_for(lambda: all(slack.responses[rid] for rid in rids), 600)
    answered = time.perf_counter() - started
    await asyncio.sleep(2.0)
    after = memory_mb(pid)
    failed = sum(1 for rid in rids if "went wrong" in json.dumps(slack.responses[rid]))
    rows: list[tuple[str, object]] = [
        ("cold start to ready, median of runs (s)", r(median(cold), 2)),
        ("cold starts (s)", ", ".join(str(r(c, 2)) for c in cold)),
        ("RSS idle (MB)", r(idle["VmRSS"], 1)),
        (f"RSS after {clicks:,} clicks (MB)", r(after["VmRSS"], 1)),
        ("peak RSS, VmHWM (MB)", r(after["VmHWM"], 1)),
        ("clicks answered after (s)", r(answered, 1)),
        ("clicks that failed (pool timeouts, locks: see B4)", failed),
    ]
    result.rows.extend({"figure": k, "value": v} for k, v in rows)
    result.goal("RSS idle", r(idle["VmRSS"], 1), f"≤ {GOAL_IDLE_MB:.0f} MB", idle["VmRSS"] <= 150)
    result.goal("RSS after the click storm", r(after["VmRSS"], 1), "report", None)
    result.goal("cold start to ready (s)", r(median(cold), 2), "report", None)
