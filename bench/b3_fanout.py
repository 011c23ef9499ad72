"""B3: a rally of 500 responders who take DMs, delivered under the fake Slack's published
limits, next to the floor those limits allow.

The real core raises the alert (one transaction writes the channel post and 500 DM rows),
the real Dispatcher with the real SlackChat delivers them (`rallybot worker`'s Slack sender)
through the real AsyncWebClient to the fake Slack, which enforces Slack's published limits
with token buckets and answers 429 when they are exceeded. Each DM is a chat.postMessage to
the member's user id (about one a second per DM channel, a burst of 4); the rally channel gets
one post. Until 5e8f820 each DM also cost a conversations.open (Tier 3: 50 a minute per
workspace, a minute's worth of burst), which made the floor (500 - 50) / (50/60) = 540 s.

Time compression: the fake's refill rates and rallybot's pacing constants
(bot.adapters.slack.chat) are both multiplied by the same speed (bursts unchanged); the floor
scales by 1/speed. `--b3-speed 1` runs it at Slack's real rates. When no bucket runs dry the
floor is 0 and completion ÷ floor has no meaning: the completion is then rallybot's own time,
reported next to the floor the old call pattern (conversations.open per DM) had.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import func, select

import bot.adapters.slack.chat as slack_chat
from bench.common import (
    CHANNEL,
    LEADS,
    TEAM,
    Config,
    Result,
    database,
    r,
    seed_collective,
)
from bot.adapters.slack.sender import create_sender
from bot.bootstrap import build
from bot.core.commands import Caller
from bot.delivery.outbox import Dispatcher
from bot.settings import Settings
from bot.store.tables import AlertRow, OutboxRow
from bot.store.uow import make_engine
from tests.fakes.slack import FakeSlack, Limits, User
from tests.fakes.slack.limits import METHOD_TIER, TIER, Bucket, RateLimiter

GOAL_RATIO = 1.10


class CompressedLimiter(RateLimiter):
    """The fake's buckets with every refill rate multiplied by `speed`; capacities as
    published (chat.postMessage: the burst; the tiers: a minute's worth)."""

    def __init__(self, limits: Limits, speed: float) -> None:
        super().__init__(limits)
        self.speed = speed

    def rate_and_capacity(self, method: str) -> tuple[float, float]:
        if method == "chat.postMessage":
            return self.limits.post_per_second * self.speed, float(self.limits.post_burst)
        per_minute = TIER[METHOD_TIER.get(method, 3)] * self.limits.tier_scale
        return per_minute / 60.0 * self.speed, per_minute

    def _bucket(self, key: tuple[str, ...], rate: float, capacity: float) -> Bucket:
        method = key[1]
        rate, capacity = self.rate_and_capacity(method)
        return super()._bucket(key, rate, capacity)


def floor_seconds(limiter: CompressedLimiter, calls: Counter[tuple[str, str]]) -> float:
    """The least time the limits allow for these successful calls, per bucket: a bucket
    holding `capacity` tokens, refilled at `rate`, serves n calls in (n - capacity) / rate.
    calls: (method, channel or "") -> count. Buckets fill side by side, so the floor is the
    slowest bucket's."""
    worst = 0.0
    per_bucket: Counter[tuple[str, str]] = Counter()
    for (method, channel), n in calls.items():
        per_bucket[(method, channel if method == "chat.postMessage" else "")] += n
    for (method, _), n in per_bucket.items():
        rate, capacity = limiter.rate_and_capacity(method)
        worst = max(worst, max(0.0, n - capacity) / rate)
    return worst


@contextlib.contextmanager
def rallybot_paced_at(speed: float) -> Iterator[None]:
    """rallybot's published-limit constants, sped up like the fake's (bursts unchanged)."""
    saved = slack_chat.POST_PER_SECOND, slack_chat.TIER3_PER_SECOND
    slack_chat.POST_PER_SECOND = saved[0] * speed
    slack_chat.TIER3_PER_SECOND = saved[1] * speed
    try:
        yield
    finally:
        slack_chat.POST_PER_SECOND, slack_chat.TIER3_PER_SECOND = saved


async def main(cfg: Config) -> Result:
    responders = 100 if cfg.quick else 500
    speed = cfg.b3_speed
    result = Result(
        "B3",
        f"Rally fan-out: {responders} responders by DM under Slack's published limits",
        ["figure", "value"],
        params={"responders": responders, "speed": speed, "database": "sqlite"},
    )
    async with database("sqlite", None) as url:
        engine = make_engine(url)
        try:
            # Members 1..N respond and take DMs; member N+1 is the target, who raises.
            seeded = await seed_collective(
                engine, responders + 2, responders, prefers_dm=True, rally_cap=responders
            )
        finally:
            await engine.dispose()
        fake = FakeSlack()
        limiter = CompressedLimiter(Limits(), speed)
        fake.limiter = limiter
        async with fake:
            people = [User(u, f"m{n}", f"Member {n}") for n, u in enumerate(seeded.users)]
            workspace = fake.add_workspace(TEAM, "bench", people, {CHANNEL, LEADS})
            with (
                tempfile.TemporaryDirectory(prefix="rallybot-b3-") as tmp,
                rallybot_paced_at(speed),
            ):
                settings = Settings(
                    database_url=SecretStr(url),
                    data_dir=Path(tmp),
                    slack_api_url=fake.api_url,
                    slack_bot_token=SecretStr(workspace.bot_token),
                    slack_app_token=None,
                    slack_signing_secret=None,
                    slack_client_id=None,
                    slack_client_secret=None,
                )
                runtime = build(settings)
                sender = create_sender(runtime)
                await sender.start()
                services = runtime.services
                dispatcher = Dispatcher(
                    services.uow,
                    {"slack": sender.chat},
                    runtime.clock,
                    max_attempts=settings.delivery_attempts,
                    on_failed=services.report_undelivered,
                )
                wake = asyncio.Event()
                services.on_commit = wake.set
                delivery = asyncio.create_task(dispatcher.run_forever(wake, 1.0))
                try:
                    await fan_out(
                        fake, runtime.engine, services, seeded.users, responders, limiter, result
                    )
                finally:
                    dispatcher.stopping = True
                    wake.set()
                    with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                        await asyncio.wait_for(delivery, 10)
                    await sender.stop()
                    await runtime.close()
    return result


async def fan_out(
    fake: FakeSlack,
    engine: object,
    services: object,
    users: list[str],
    responders: int,
    limiter: CompressedLimiter,
    result: Result,
) -> None:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.core.services import Services

    assert isinstance(engine, AsyncEngine) and isinstance(services, Services)
    target = users[responders + 1]
    wanted = {f"D{u}" for u in users[1 : responders + 1]}
    caller = Caller("slack", TEAM, target, "Target", channel=CHANNEL)
    started = time.perf_counter()
    reply = await services.handle_text(caller, "alert https://x.com/troll/status/1 pile-on")
    raised = time.perf_counter() - started
    assert reply.ok, reply.message.plain_text()

    def delivered() -> set[str]:
        return {m.channel for m in fake.messages} & wanted

    budget = 60 + 2 * (responders / (50 / 60 * limiter.speed))
    await fake.wait_for(lambda: len(delivered()) == len(wanted), budget)
    dms = [
        c
        for c in fake.ok_calls("chat.postMessage")
        if f"D{c.args.get('channel')}" in wanted or c.args.get("channel") in wanted
    ]
    finished = max(c.at for c in dms) - started
    await asyncio.sleep(1.0)  # anything else (the channel post) settles
    calls: Counter[tuple[str, str]] = Counter()
    for c in fake.calls:
        if c.ok:
            calls[(c.method, str(c.args.get("channel") or ""))] += 1
    floor = floor_seconds(limiter, calls)
    rejected = [c for c in fake.calls if c.status == 429]
    async with engine.connect() as conn:
        states = dict(
            (
                await conn.execute(
                    select(OutboxRow.status, func.count()).group_by(OutboxRow.status)
                )
            ).all()
        )
    per_dm = Counter(m.channel for m in fake.messages if m.channel in wanted)
    lost = len(wanted) - len(per_dm)
    doubled = sum(1 for n in per_dm.values() if n > 1)
    ratio = finished / floor if floor else None
    # The floor of the same rally when every DM also cost a conversations.open (Tier 3).
    rate3, burst3 = limiter.rate_and_capacity("conversations.open")
    old_floor = max(0.0, len(wanted) - burst3) / rate3
    # Only the waiting scales with the speed; the raise's transaction takes as long at any.
    # (With a floor of 0 nothing waited for tokens, so nothing scales.)
    real = (finished - raised) * limiter.speed + raised if floor else finished
    opens = calls[("conversations.open", "")]
    rows: list[tuple[str, object]] = [
        ("responders rallied by DM", len(wanted)),
        ("raise: the alert's transaction (s)", r(raised, 3)),
        ("raise to last DM delivered (s)", r(finished, 1)),
        ("floor of the fake's limits for these calls (s)", r(floor, 1)),
        ("completion ÷ floor", r(ratio) if ratio is not None else "- (floor 0)"),
        ("floor with a conversations.open per DM, as before (s)", r(old_floor, 1)),
        ("completion ÷ that floor", r(finished / old_floor) if old_floor else "-"),
        ("conversations.open calls", opens),
        (
            "chat.postMessage calls",
            sum(n for (m, _), n in calls.items() if m == "chat.postMessage"),
        ),
        ("429s met", len(rejected)),
        ("DMs lost / sent twice", f"{lost} / {doubled}"),
        ("outbox rows by status", ", ".join(f"{k} {v}" for k, v in sorted(states.items()))),
        (
            "projected at Slack's real rates: completion, floor (s), ratio",
            f"{r(real, 0)}, {r(floor * limiter.speed, 0)}, {r(real / (floor * limiter.speed))}"
            if floor
            else f"{r(real, 1)} (nothing waits for a token), 0, -",
        ),
    ]
    result.rows.extend({"figure": k, "value": v} for k, v in rows)
    result.notes.append(
        f"DMs go to the member's user id: {opens} conversations.open calls; each DM channel "
        "gets one post, inside its burst, so no limit forces a wait (the fake, like Slack's "
        "documentation, gives no number for chat.postMessage's workspace-wide limit)"
    )
    # What one "I'm on it" on this rally costs: every copy of the rally (the channel's and
    # each DM) gets its own chat.update, all under one Tier 3 bucket per workspace.
    async with engine.connect() as conn:
        alert_id = await conn.scalar(select(AlertRow.id))
    clicker = Caller("slack", TEAM, users[1], "Responder", channel=CHANNEL)
    assert (await services.handle_action(clicker, f"rally:alert:{alert_id}:on_it")).ok
    async with engine.connect() as conn:
        edits = await conn.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.op == "update")
        )
    edits = int(edits or 0)
    tier3 = 50 / 60
    result.rows.append({"figure": "chat.update rows written by one click", "value": edits})
    result.rows.append(
        {
            "figure": "  time to send them at Tier 3, Slack's real rate (s)",
            "value": r(max(0, edits - slack_chat.TIER3_BURST) / tier3, 0),
        }
    )
    if ratio is not None:
        result.goal("completion ÷ floor", r(ratio), f"≤ {GOAL_RATIO}", ratio <= GOAL_RATIO)
    else:
        result.goal(
            "completion ÷ floor (floor 0: report the completion)",
            f"{r(finished, 1)} s; {r(finished / old_floor)} of the old floor",
            f"≤ {GOAL_RATIO} of the floor",
            None,
        )
    result.goal("DMs lost", lost, "0", lost == 0)
    result.goal("429s met", len(rejected), "≈ 0", len(rejected) <= 1)
