"""Defences against infiltration: held alerts a lead reviews, and suspension."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core import commands as c
from bot.core.errors import Conflict
from bot.core.messages import Button, Message, Reply
from bot.core.model import (
    Alert,
    AlertStatus,
    CloseReason,
    Collective,
    Member,
    MemberStatus,
)
from bot.core.services import upkeep
from bot.core.services.context import Ctx
from bot.core.views import action_id, kinds_text, notice

FIRST_ALERT = "first_alert"
BRIGADING = "brigading"


async def hold_reason(ctx: Ctx, collective: Collective, raiser: Member, alert: Alert) -> str | None:
    """Why a lead should see this alert before anyone is rallied, if at all: a new member's
    first alert, or one attack link reported by several recently joined members."""
    if collective.review_first_alerts and not raiser.trusted:
        return FIRST_ALERT
    window = timedelta(hours=ctx.policy.brigade_window_hours)
    recent = await ctx.uow.alerts.raised_between(
        collective.id, ctx.now - window, ctx.now + timedelta(seconds=1)
    )
    links = set(alert.links)
    reporters = {a.raised_by_id for a in recent if links & set(a.links)} | {raiser.id}
    if len(reporters) < collective.brigade_threshold:
        return None
    joined_after = ctx.now - timedelta(days=ctx.policy.new_member_days)
    newcomers = [
        m for m in await ctx.uow.members.many(sorted(reporters)) if m.joined_at >= joined_after
    ]
    return BRIGADING if len(newcomers) >= collective.brigade_threshold else None


async def hold(ctx: Ctx, alert: Alert, reason: str, raiser: Member, target: Member) -> Reply:
    """Nobody is rallied yet: the leads review it (and are reminded until someone does)."""
    collective = await ctx.collective()
    alert.status = AlertStatus.HELD
    alert.held_reason = reason
    alert.escalate_at = ctx.now + timedelta(minutes=collective.escalation_wait_minutes)
    await ctx.uow.alerts.add(alert)
    await ctx.audit("alert_held", alert, reason=reason)
    await ctx.to_leads(f"held:{alert.id}", review_message(ctx, alert, reason, raiser, target))
    return Reply(notice(ctx.copy("raised.title", number=alert.number), ctx.copy("held.raiser")))


def review_message(ctx: Ctx, alert: Alert, reason: str, raiser: Member, target: Member) -> Message:
    copy = ctx.copy
    return notice(
        copy("held.title", number=alert.number),
        copy(f"held.why_{reason}", raiser=raiser.display_name),
        copy(
            "held.summary",
            raiser=raiser.display_name,
            name=target.display_name,
            kinds=kinds_text(copy, alert.kinds),
            venue=copy(f"venue.{alert.venue}"),
        ),
        copy("leads.note", note=alert.note) if alert.note else "",
        links=alert.links,
        buttons=(
            Button(action_id("review", alert.id, "release"), copy("button.release"), "primary"),
            Button(action_id("review", alert.id, "reject"), copy("button.reject"), "danger"),
        ),
    )


async def review(ctx: Ctx, cmd: c.ReviewAlert) -> Reply:
    """A lead lets a held alert through (it goes on as if just raised) or turns it down."""
    from bot.core.services import alerts  # the lifecycle continues there

    lead = await ctx.lead()
    alert = await ctx.alert(cmd.alert)
    if alert.status is not AlertStatus.HELD:
        raise Conflict("error.not_held", number=alert.number)
    raiser = await ctx.uow.members.get(alert.raised_by_id)
    target = await ctx.uow.members.get(alert.target_id)
    if raiser is None or target is None:
        raise Conflict("error.not_held", number=alert.number)
    reason, alert.held_reason, alert.escalate_at = alert.held_reason, None, None
    if not cmd.release:
        alert.status = AlertStatus.CLOSED
        alert.close_reason = CloseReason.REJECTED
        alert.closed_at, alert.closed_by_id = ctx.now, lead.id
        await ctx.uow.alerts.save(alert)
        await ctx.audit("alert_rejected", alert, reason=reason or "")
        await ctx.to_members(
            [raiser],
            f"rejected:{alert.id}",
            notice(
                ctx.copy("held.rejected_title", number=alert.number), ctx.copy("held.rejected_body")
            ),
        )
        return Reply(notice(ctx.copy("held.rejected_lead", number=alert.number)))
    if reason == FIRST_ALERT and not raiser.trusted:
        raiser.trusted = True
        await ctx.uow.members.save(raiser)
    await ctx.audit("alert_released", alert, reason=reason or "")
    await ctx.to_members(
        [raiser],
        f"released:{alert.id}",
        notice(
            ctx.copy("held.released_title", number=alert.number), ctx.copy("held.released_body")
        ),
    )
    await alerts.proceed(ctx, alert, raiser, target)
    return Reply(notice(ctx.copy("held.released_lead", number=alert.number)))


async def remind_leads(ctx: Ctx, alert: Alert) -> None:
    """A held alert nobody reviewed: the leads are told again (escalation's timer)."""
    collective = await ctx.collective()
    alert.escalation_step += 1
    final = alert.escalation_step >= collective.escalation_max_steps
    alert.escalate_at = (
        None if final else ctx.now + timedelta(minutes=collective.escalation_wait_minutes)
    )
    await ctx.uow.alerts.save(alert)
    raiser = await ctx.uow.members.get(alert.raised_by_id)
    target = await ctx.uow.members.get(alert.target_id)
    if raiser is not None and target is not None:
        await ctx.to_leads(
            f"held:{alert.id}:{alert.escalation_step}",
            review_message(ctx, alert, alert.held_reason or FIRST_ALERT, raiser, target),
        )


async def suspend(ctx: Ctx, cmd: c.Suspend) -> Reply:
    """A suspended member can do nothing and is rallied by no one, at once; the alerts they
    raised that are still open are closed (a genuine target can raise their own)."""
    from bot.core.services.rally import refresh_tally

    lead = await ctx.lead()
    member = await ctx.member(cmd.member)
    if member.id == lead.id:
        raise Conflict("error.not_yourself")
    if cmd.on:
        if member.status is not MemberStatus.ACTIVE:
            raise Conflict("error.target_not_active", name=member.display_name)
        if member.is_lead and len(await ctx.leads()) <= 1:
            raise Conflict("error.last_lead")
        member.status = MemberStatus.SUSPENDED
        closed = 0
        collective = await ctx.collective()
        for alert in await ctx.uow.alerts.open_for_collective(collective.id):
            if alert.raised_by_id != member.id:
                continue
            was_active = alert.status is AlertStatus.ACTIVE
            alert.status, alert.close_reason = AlertStatus.CLOSED, CloseReason.SUSPENDED
            alert.closed_at, alert.closed_by_id, alert.escalate_at = ctx.now, lead.id, None
            await ctx.uow.alerts.save(alert)
            await upkeep.after_close(ctx, alert)
            if was_active:
                await refresh_tally(ctx, alert)
            closed += 1
        await ctx.uow.members.save(member)
        await ctx.audit("member_suspended", subject=member.id, alerts_closed=str(closed))
        return Reply(notice(ctx.copy("suspend.done", name=member.display_name, count=closed)))
    if member.status is not MemberStatus.SUSPENDED:
        raise Conflict("error.not_suspended", name=member.display_name)
    member.status = MemberStatus.ACTIVE
    await ctx.uow.members.save(member)
    await ctx.audit("member_unsuspended", subject=member.id)
    return Reply(notice(ctx.copy("suspend.lifted", name=member.display_name)))


async def audit_log(ctx: Ctx, cmd: c.ShowAudit) -> Reply:
    """Leads read the recent sensitive actions, optionally of one member or one alert."""
    await ctx.lead()
    collective = await ctx.collective()
    events = await ctx.uow.audit.recent(collective.id, 500)
    member: Member | None = await ctx.member(cmd.member) if cmd.member else None
    alert: Alert | None = await ctx.alert(cmd.alert) if cmd.alert else None
    chosen = [
        e
        for e in events
        if (member is None or member.id in (e.actor_id, e.subject_id))
        and (alert is None or e.alert_id == alert.id)
    ][: cmd.limit]
    people = {
        m.id: m
        for m in await ctx.uow.members.many(
            sorted({x for e in chosen for x in (e.actor_id, e.subject_id) if x})
        )
    }
    numbers: dict[str, int] = {}
    for e in chosen:
        if e.alert_id and e.alert_id not in numbers:
            found = await ctx.uow.alerts.get(e.alert_id)
            numbers[e.alert_id] = found.number if found else 0
    tz = collective.timezone

    def name(mid: str | None) -> str:
        return people[mid].handle if mid and mid in people else ctx.copy("audit.system")

    lines = [
        ctx.copy(
            "audit.line",
            at=_when(e.at, tz),
            action=e.action,
            actor=name(e.actor_id),
            subject=name(e.subject_id) if e.subject_id else "-",
            alert=f"#{numbers[e.alert_id]}" if e.alert_id else "-",
        )
        for e in chosen
    ]
    await ctx.audit("audit_viewed", alert, subject=member.id if member else None)
    return Reply(
        notice(ctx.copy("audit.title", count=len(lines)), *lines)
        if lines
        else notice(ctx.copy("audit.none"))
    )


def _when(at: datetime, tz: str) -> str:
    return at.astimezone(ZoneInfo(tz)).strftime("%d %b %H:%M")
