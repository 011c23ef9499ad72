"""Upkeep that falls due: reminders to quiet responders, closing alerts left idle, and the
retention purge."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core import commands as c
from bot.core.errors import Conflict, NotAllowed
from bot.core.messages import Button, Reply
from bot.core.model import Alert, AlertStatus, CloseReason, MemberStatus, Response
from bot.core.services.context import Ctx
from bot.core.services.rally import refresh_tally
from bot.core.views import action_id, notice


async def remind(ctx: Ctx, response: Response, alert: Alert) -> None:
    """Once, privately: a responder who said "I'm on it" and went quiet is asked how it went
    (never nagged again for this alert)."""
    response.reminded_at = ctx.now
    await ctx.uow.responses.save(response)
    member = await ctx.uow.members.get(response.member_id)
    if member is None or not member.is_active:
        return
    await ctx.to_members(
        [member],
        f"reminder:{alert.id}:{member.id}",
        notice(
            ctx.copy("reminder.title", number=alert.number),
            ctx.copy("reminder.body", number=alert.number),
            buttons=(
                Button(action_id("alert", alert.id, "done"), ctx.copy("button.done"), "primary"),
                Button(action_id("alert", alert.id, "cant"), ctx.copy("button.cant")),
            ),
        ),
    )


async def purge(ctx: Ctx, alert: Alert) -> None:
    """A closed alert past the retention period keeps its numbers (for digests) and loses
    its personal data: links, note, the target's post, evidence and check-in answers."""
    alert.links, alert.note, alert.target_post = (), "", None
    alert.delegates = frozenset()
    alert.purged_at = ctx.now
    await ctx.uow.alerts.save(alert)
    await ctx.uow.evidence.delete_for_alert(alert.id)
    for checkin in await ctx.uow.checkins.for_alert(alert.id):
        checkin.answer = None
        await ctx.uow.checkins.save(checkin)
    await ctx.audit("alert_purged", alert)


async def after_close(ctx: Ctx, alert: Alert) -> None:
    """A safety case kept after its target asked to be forgotten is purged once it closes,
    as they were told."""
    target = await ctx.uow.members.get(alert.target_id)
    if target is not None and target.status is MemberStatus.FORGOTTEN and not alert.purged_at:
        await purge(ctx, alert)


def retention_cutoff(ctx: Ctx) -> timedelta:
    return timedelta(days=ctx.policy.retention_days)


# --- open alerts nobody touches -----------------------------------------------------------


def idle_notice_cutoff(ctx: Ctx) -> datetime:
    """Open alerts with no activity since before this time are told they close soon."""
    policy = ctx.policy
    return ctx.now - timedelta(days=policy.open_alert_idle_days - policy.open_alert_notice_days)


def idle_close_cutoff(ctx: Ctx) -> datetime:
    """Alerts told before this time that they close, with no activity since, close."""
    return ctx.now - timedelta(days=ctx.policy.open_alert_notice_days)


async def notice_idle(ctx: Ctx, alert: Alert) -> None:
    """An open alert with no activity for a long time: its target and the leads are told,
    open_alert_notice_days ahead, that it closes, and can keep it open with one press."""
    collective = await ctx.collective()
    tz, copy = collective.timezone, ctx.copy
    since = await ctx.uow.alerts.last_activity(alert.id) or alert.raised_at
    alert.idle_notice_at = ctx.now
    await ctx.uow.alerts.save(alert)
    closes = ctx.now + timedelta(days=ctx.policy.open_alert_notice_days)
    message = notice(
        copy("retention.notice_title", number=alert.number, date=day(ctx, closes, tz)),
        copy(
            "retention.notice_body",
            number=alert.number,
            since=day(ctx, since, tz),
            date=day(ctx, closes, tz),
            removed=day(ctx, closes + retention_cutoff(ctx), tz),
        ),
        buttons=(
            Button(action_id("alert", alert.id, "keep"), copy("button.keep_open"), "primary"),
            Button(action_id("alert", alert.id, "standdown"), copy("button.close_now")),
        ),
    )
    stamp = int(ctx.now.timestamp())
    target = await ctx.uow.members.get(alert.target_id)
    if target is not None and target.is_active:
        await ctx.to_members([target], f"idle:{alert.id}:{stamp}", message)
    await ctx.to_leads(f"idle-leads:{alert.id}:{stamp}", message)
    await ctx.audit("alert_idle_notice", alert)


async def close_idle(ctx: Ctx, alert: Alert) -> None:
    """Told it would close, and nothing happened since: the alert closes (then follows the
    closed alerts' retention). Anything that happened since the notice starts the clock
    again instead."""
    noticed = alert.idle_notice_at
    last = await ctx.uow.alerts.last_activity(alert.id)
    if noticed is None or (last is not None and last > noticed):
        alert.idle_notice_at = None
        await ctx.uow.alerts.save(alert)
        return
    was_active = alert.status is AlertStatus.ACTIVE
    alert.status, alert.close_reason = AlertStatus.CLOSED, CloseReason.IDLE
    alert.closed_at, alert.closed_by_id, alert.escalate_at = ctx.now, None, None
    await ctx.uow.alerts.save(alert)
    await after_close(ctx, alert)
    if was_active:
        await refresh_tally(ctx, alert)
    collective = await ctx.collective()
    message = notice(
        ctx.copy("retention.closed_title", number=alert.number),
        ctx.copy(
            "retention.closed_body",
            number=alert.number,
            period=period(ctx, ctx.policy.open_alert_idle_days),
            removed=day(ctx, ctx.now + retention_cutoff(ctx), collective.timezone),
        ),
    )
    target = await ctx.uow.members.get(alert.target_id)
    if target is not None and target.is_active:
        await ctx.to_members([target], f"idle-closed:{alert.id}", message)
    await ctx.to_leads(f"idle-closed-leads:{alert.id}", message)
    await ctx.audit("alert_closed_idle", alert)


async def keep_open(ctx: Ctx, cmd: c.KeepOpen) -> Reply:
    """The target or a lead keeps an alert open: pressing it counts as activity."""
    actor = await ctx.actor()
    alert = await ctx.alert(cmd.alert)
    if not (actor.is_lead or actor.id == alert.target_id):
        raise NotAllowed("error.keep_open_not_allowed")
    if not alert.is_open:
        raise Conflict("error.already_closed", number=alert.number)
    alert.kept_open_at, alert.idle_notice_at = ctx.now, None
    await ctx.uow.alerts.save(alert)
    await ctx.audit("alert_kept_open", alert)
    return Reply(
        notice(
            ctx.copy("retention.kept_title", number=alert.number),
            ctx.copy(
                "retention.kept_body",
                period=period(ctx, ctx.policy.open_alert_idle_days),
                notice=period(ctx, ctx.policy.open_alert_notice_days),
            ),
        )
    )


def period(ctx: Ctx, days: int) -> str:
    """ "1 day", "30 days": a number of days in words."""
    return ctx.copy("period.days", count=days)


def day(ctx: Ctx, when: datetime, tz: str) -> str:
    """A date as people in the collective read it."""
    return when.astimezone(ZoneInfo(tz)).strftime(ctx.copy("period.date_format"))
