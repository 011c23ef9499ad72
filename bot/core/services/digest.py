"""A preview of this week's digest for leads (the full weekly digest builds on it)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core import commands as c
from bot.core.messages import Reply
from bot.core.model import Alert, ResponseState
from bot.core.services.context import Ctx
from bot.core.views import notice


def week_start(now: datetime, tz: str) -> datetime:
    """Monday 00:00 of the current week in the collective's time zone."""
    local = now.astimezone(ZoneInfo(tz))
    monday = (local - timedelta(days=local.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return monday


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100), at least 1
    return ordered[int(rank) - 1]


def minutes_to_first_response(alerts: Sequence[Alert]) -> list[float]:
    return [
        (a.first_response_at - (a.activated_at or a.raised_at)).total_seconds() / 60
        for a in alerts
        if a.first_response_at is not None
    ]


async def preview(ctx: Ctx, _: c.Digest) -> Reply:
    await ctx.lead()
    collective = await ctx.collective()
    copy = ctx.copy
    start = week_start(ctx.now, collective.timezone)
    alerts = await ctx.uow.alerts.raised_between(collective.id, start, ctx.now)
    open_alerts = await ctx.uow.alerts.open_for_collective(collective.id)
    responses = await ctx.uow.responses.for_alerts([a.id for a in alerts])
    kinds = Counter(k for a in alerts for k in a.kinds)
    venues = Counter(a.venue for a in alerts)
    waits = minutes_to_first_response(alerts)
    median, p90 = percentile(waits, 50), percentile(waits, 90)
    engaged = {r.member_id for r in responses if r.state is not ResponseState.CANT}
    unanswered = [a for a in alerts if a.first_response_at is None and a.activated_at]
    lines = [
        copy("digest.alerts", count=len(alerts)),
        copy(
            "digest.kinds",
            kinds=", ".join(f"{copy(f'kind.{k}')} {n}" for k, n in kinds.most_common())
            or copy("word.none"),
        ),
        copy(
            "digest.venues",
            venues=", ".join(f"{copy(f'venue.{v}')} {n}" for v, n in venues.most_common())
            or copy("word.none"),
        ),
        copy(
            "digest.first_response",
            median=copy("word.none") if median is None else f"{median:.0f}",
            p90=copy("word.none") if p90 is None else f"{p90:.0f}",
        ),
        copy("digest.responders", count=len(engaged)),
        copy(
            "digest.unanswered",
            count=len(unanswered),
            escalated=sum(1 for a in alerts if a.escalation_step > 0),
        ),
        copy("digest.open", count=len(open_alerts)),
    ]
    title = copy("digest.title", name=collective.name, start=start.strftime("%a %d %b"))
    return Reply(notice(title, *lines))
