"""Telling the target where her alert stands: at most once an hour per alert, the latest news
winning, never in her quiet hours."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core.messages import Message
from bot.core.model import Alert, Member
from bot.core.services.context import Ctx

NOTICE_GAP = timedelta(hours=1)


def quiet_end(member: Member, at: datetime, default_tz: str) -> datetime | None:
    """When the member's quiet hours that `at` falls in end (None: `at` is not in them)."""
    if member.quiet_start is None or member.quiet_end is None:
        return None
    tz = ZoneInfo(member.timezone or default_tz)
    local = at.astimezone(tz)
    minute = local.hour * 60 + local.minute
    start, end = member.quiet_start, member.quiet_end
    inside = start <= minute < end if start < end else (minute >= start or minute < end)
    if not inside:
        return None
    day = local.date() if minute < end else local.date() + timedelta(days=1)
    wall = datetime(day.year, day.month, day.day, end // 60, end % 60, tzinfo=tz)
    return wall.astimezone(ZoneInfo("UTC"))


def not_quiet(member: Member, at: datetime, default_tz: str) -> datetime:
    """`at`, or the end of the quiet hours it falls in."""
    return quiet_end(member, at, default_tz) or at


async def tell_target(
    ctx: Ctx, alert: Alert, message: Message, target: Member | None = None
) -> datetime | None:
    """One "where your alert stands" message. A message still waiting to go (for the hour
    to pass, or her quiet hours to end) is replaced by this newer one at the same time;
    otherwise it goes an hour after the last one at the earliest. Returns when it goes
    (None: she can't be reached). The caller saves the alert."""
    target = target or await ctx.uow.members.get(alert.target_id)
    if target is None or not target.is_active:
        return None
    collective = await ctx.collective()
    prefix = f"standing:{alert.id}:"
    last = alert.target_told_at
    if last is not None and last > ctx.now and await ctx.uow.outbox.withdraw(prefix, ctx.now):
        due = last  # the waiting message's turn: the latest news takes it
    else:
        due = max(ctx.now, last + NOTICE_GAP) if last is not None else ctx.now
        due = not_quiet(target, due, collective.timezone)
    await ctx.to_members([target], f"{prefix}{int(due.timestamp())}", message, due_at=due)
    alert.target_told_at = due
    return due
