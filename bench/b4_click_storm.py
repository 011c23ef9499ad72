"""B4: 1,000 "I'm on it" clicks on one rally within 10 seconds, through the real Bolt app.

`rallybot web`'s SlackHttp (Bolt over aiohttp) receives signed block_actions requests from
1,000 different responders, sent open-loop at an even 100 a second; the real Dispatcher and
SlackChat deliver the tally edits (chat.update) to the fake Slack, which enforces Slack's
published limits (chat.update is Tier 3: 50 a minute per workspace). Checked afterwards:
every click is one row in `responses` (none lost, none doubled), how many chat.update calls
the rally message got in any one second, and that the last one shows the exact tally.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import tempfile
import time
from pathlib import Path

import aiohttp
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import (
    CHANNEL,
    LEADS,
    TEAM,
    Config,
    Result,
    database,
    percentile,
    poll,
    r,
    seed_collective,
)
from bench.slack_ack import SECRET
from bot.adapters.slack.web import SlackHttp
from bot.bootstrap import build
from bot.core.commands import Caller
from bot.core.services import Services
from bot.delivery.outbox import Dispatcher
from bot.ops.http import start_public
from bot.ops.observe import Observer
from bot.settings import Settings
from bot.store.tables import AlertRow, OutboxRow, ResponseRow
from bot.store.uow import make_engine
from tests.adapters.slack.harness import buttons, text_of
from tests.fakes.slack import FakeSlack, Sent, SlackSender, User

FAILED = "went wrong"
CONVERGE = 20.0  # seconds after the last click was answered for the last edit to land
TALLY = re.compile(r"On it: (\d+) · Done: (\d+) · Can't right now: (\d+)")


def busiest_second(times: list[float], jitter: float = 0.05) -> int:
    """The most events in any window of one second, as the fake received them: rallybot's
    pacer spaces edits by exactly a second when sending, and loopback delivery may shift
    two arrivals closer by a few milliseconds, so the window is a second less `jitter`."""
    times = sorted(times)
    most, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0 - jitter:
            start += 1
        most = max(most, end - start + 1)
    return most


async def pending(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        found = await conn.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.status == "pending")
        )
    return int(found or 0)


async def one_backend(backend: str, cfg: Config, result: Result) -> None:
    clicks = 200 if cfg.quick else 1000
    seconds = 2.0 if cfg.quick else 10.0
    async with database(backend, cfg.postgres) as url:
        engine = make_engine(url)
        try:
            seeded = await seed_collective(engine, clicks + 2, clicks)
        finally:
            await engine.dispose()
        async with FakeSlack() as fake:  # Slack's published limits
            people = [User(u, f"m{n}", f"Member {n}") for n, u in enumerate(seeded.users)]
            workspace = fake.add_workspace(TEAM, "bench", people, {CHANNEL, LEADS})
            with tempfile.TemporaryDirectory(prefix="rallybot-b4-") as tmp:
                settings = Settings(
                    database_url=SecretStr(url),
                    data_dir=Path(tmp),
                    slack_api_url=fake.api_url,
                    slack_bot_token=SecretStr(workspace.bot_token),
                    slack_signing_secret=SecretStr(SECRET),
                    slack_app_token=None,
                    slack_client_id=None,
                    slack_client_secret=None,
                )
                runtime = build(settings)
                http = SlackHttp(runtime)
                observer = Observer(runtime, platforms=[http])
                server = await start_public(observer, [http], 0, "127.0.0.1")
                await http.start()
                services = runtime.services
                dispatcher = Dispatcher(
                    services.uow,
                    {"slack": http.chat},
                    runtime.clock,
                    on_failed=services.report_undelivered,
                )
                wake = asyncio.Event()
                services.on_commit = wake.set
                delivery = asyncio.create_task(dispatcher.run_forever(wake, 1.0))
                try:
                    connector = aiohttp.TCPConnector(limit=0)
                    async with aiohttp.ClientSession(connector=connector) as session:
                        url = f"http://127.0.0.1:{server.port}"
                        sender = SlackSender(fake, url, SECRET, session)
                        await storm(
                            backend,
                            fake,
                            runtime.engine,
                            sender,
                            seeded.users,
                            clicks,
                            seconds,
                            services,
                            result,
                        )
                finally:
                    dispatcher.stopping = True
                    wake.set()
                    with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                        await asyncio.wait_for(delivery, 10)
                    await server.stop()
                    await http.stop()
                    await runtime.close()


async def storm(
    backend: str,
    fake: FakeSlack,
    engine: AsyncEngine,
    sender: SlackSender,
    users: list[str],
    clicks: int,
    seconds: float,
    services: Services,
    result: Result,
) -> None:
    target = users[clicks + 1]
    reply = await services.handle_text(
        Caller("slack", TEAM, target, "Target", channel=CHANNEL),
        "alert https://x.com/troll/status/1 pile-on",
    )
    assert reply.ok, reply.message.plain_text()
    rally = await fake.wait_for(lambda: fake.in_channel(CHANNEL), 30)
    rally_ts = rally[0].ts
    on_it = next(a for label, a in buttons(rally[0]).items() if a.endswith(":on_it"))
    alert_id = on_it.split(":")[2]
    fake.calls.clear()

    sent: list[Sent] = []
    errors = 0

    async def click(user: str) -> None:
        nonlocal errors
        try:
            answer = await sender.press(TEAM, user, on_it, channel=CHANNEL)
        except (aiohttp.ClientError, OSError):
            errors += 1
            return
        if answer.status != 200:
            errors += 1
        sent.append(answer)

    clickers = users[1 : clicks + 1]
    gap = seconds / clicks
    started = time.monotonic()
    tasks = []
    for n, user in enumerate(clickers):
        delay = started + n * gap - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(click(user)))
    await asyncio.gather(*tasks)
    sending = time.monotonic() - started

    # Every click answered (its private reply), then the outbox empty: the last edit landed
    # (given at most CONVERGE seconds more: a tally still wrong then is wrong for the people).
    await fake.wait_for(
        lambda: all(s.response_id and fake.responses[s.response_id] for s in sent), 600
    )
    replied = time.monotonic() - started

    async def drained() -> bool:
        return await pending(engine) == 0

    converged = await poll(drained, CONVERGE, 0.1)
    await asyncio.sleep(1.0)
    done = time.monotonic() - started

    failed = sum(
        1
        for s in sent
        if s.response_id and FAILED in " ".join(text_of(p) for p in fake.responses[s.response_id])
    )
    async with engine.connect() as conn:
        recorded = (
            await conn.execute(
                select(ResponseRow.member_id, ResponseRow.state).where(
                    ResponseRow.alert_id == alert_id
                )
            )
        ).all()
        status = await conn.scalar(select(AlertRow.status).where(AlertRow.id == alert_id))
    clicked_members = len({m for m, _ in recorded})
    edits = [
        c
        for c in fake.calls
        if c.method == "chat.update" and c.args.get("ts") == rally_ts and c.args.get("channel")
    ]
    ok_edits = [c for c in edits if c.ok]
    limited = [c for c in edits if c.status == 429]
    last = ok_edits[-1] if ok_edits else None
    shown = TALLY.search(text_of(last.args) if last else "")
    tally = tuple(int(x) for x in shown.groups()) if shown else None
    by_state = {k: sum(1 for _, state in recorded if state == k) for k in ("on_it", "done", "cant")}
    in_database = (by_state["on_it"], by_state["done"], by_state["cant"])
    exact = converged and tally == in_database  # the last edit shows what was recorded
    most = busiest_second([c.at for c in ok_edits])
    gaps = [b.at - a.at for a, b in itertools.pairwise(ok_edits)]
    moments = [started] + [c.at for c in ok_edits] + ([] if converged else [time.monotonic()])
    stale = max((b - a for a, b in itertools.pairwise(moments)), default=0.0)
    span = (ok_edits[-1].at - ok_edits[0].at) if len(ok_edits) > 1 else 0.0
    latencies = [s.seconds * 1000 for s in sent]
    result.rows.append(
        {
            "database": backend,
            "clicks sent": len(sent),
            "sent in (s)": r(sending, 1),
            "ack p99 ms": r(percentile(latencies, 99)),
            "all answered (s)": r(replied, 1),
            "last edit (s)": r(done, 1) if converged else f"> {r(done, 0)}",
            "longest without an edit (s)": r(stale, 1),
            "recorded": len(recorded),
            "failed": failed + errors,
            "chat.update": len(ok_edits),
            "max edits/s": most,
            "shortest gap (s)": r(min(gaps), 3) if gaps else None,
            "mean edits/s": r(len(ok_edits) / span, 2) if span else None,
            "429s": len(limited),
            "final tally": "/".join(map(str, tally)) if tally else "none",
        }
    )
    result.notes.append(
        f"{backend}: alert status {status}; {clicked_members} distinct members recorded for "
        f"{clicks} clickers; the last edit shows {tally} (on it / done / can't), the "
        f"database holds {in_database}"
    )
    if not converged:
        result.notes.append(
            f"{backend}: tally edits were still pending {CONVERGE:.0f} s after the last click "
            "was answered"
        )
    once = len(recorded) == clicks == clicked_members and failed + errors == 0
    result.goal(f"every click recorded exactly once, {backend}", len(recorded), f"= {clicks}", once)
    result.goal(f"tally edits per second per message, {backend}", most, "≤ 1", most <= 1)
    result.goal(f"final tally exact, {backend}", exact, "yes", exact)


async def main(cfg: Config) -> Result:
    result = Result(
        "B4",
        "Click storm: 1,000 clicks on one rally in 10 s through the real Bolt app",
        [
            "database",
            "clicks sent",
            "sent in (s)",
            "ack p99 ms",
            "all answered (s)",
            "last edit (s)",
            "longest without an edit (s)",
            "recorded",
            "failed",
            "chat.update",
            "max edits/s",
            "shortest gap (s)",
            "mean edits/s",
            "429s",
            "final tally",
        ],
        params={"clicks": 200 if cfg.quick else 1000, "seconds": 2 if cfg.quick else 10},
    )
    for backend in cfg.backends():
        await one_backend(backend, cfg, result)
    return result
