"""Defences against infiltration: held alerts a lead reviews, and suspension."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core import commands as c
from bot.core import links
from bot.core.errors import Conflict
from bot.core.messages import Button, Message, Reply, para
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
from bot.core.views import action_id, held_reasons, kinds_text, notice

FIRST_ALERT = "first_alert"
BRIGADING = "brigading"
LINK = "link"  # a link that hides where it goes (bot/core/links.py)


async def hold_reason(ctx: Ctx, collective: Collective, raiser: Member, alert: Alert) -> str | None:
    """Why a lead should see this alert before anyone is rallied, if at all: a new member's
    first alert, or one attack link reported by several recently joined members."""
    if collective.review_first_alerts and not raiser.trusted:
        return FIRST_ALERT
    window = timedelta(hours=ctx.policy.brigade_window_hours)
    reporters = await ctx.uow.alerts.raisers_of_links(
        collective.id, frozenset(alert.links), ctx.now - window, ctx.now + timedelta(seconds=1)
    ) | {raiser.id}
    if len(reporters) < collective.brigade_threshold:
        return None
    joined_after = ctx.now - timedelta(days=ctx.policy.new_member_days)
    newcomers = [
        m for m in await ctx.uow.members.many(sorted(reporters)) if m.joined_at >= joined_after
    ]
    return BRIGADING if len(newcomers) >= collective.brigade_threshold else None


async def hold(ctx: Ctx, alert: Alert, reasons: list[str], raiser: Member, target: Member) -> Reply:
    """Nobody is rallied yet: the leads review it (and are reminded until someone does). A
    severe alert reaches the safety leads at once instead, the reason it waits shown: their
    decision is the review."""
    from bot.core.services import safety

    collective = await ctx.collective()
    alert.status = AlertStatus.HELD
    alert.held_reason = ",".join(reasons)
    alert.escalate_at = ctx.now + timedelta(minutes=collective.escalation_wait_minutes)
    await ctx.uow.alerts.add(alert)
    await ctx.audit("alert_held", alert, reason=alert.held_reason)
    copy = ctx.copy
    lines = [copy("held.raiser")]
    if alert.is_severe:
        await safety.tell_safety_leads(ctx, alert, raiser, target)
        if not alert.on_behalf:
            await safety.ask_target(ctx, alert, target)
        lines = [copy("held.raiser_severe")]
    else:
        await ctx.to_leads(f"held:{alert.id}", review_message(ctx, alert, raiser, target))
    if LINK in reasons:
        lines.append(copy("held.raiser_link"))
    return Reply(notice(copy("raised.title", number=alert.number), *lines))


def review_message(ctx: Ctx, alert: Alert, raiser: Member, target: Member) -> Message:
    """Everything a lead needs to judge a held alert: why it waits (each link that hides
    where it goes, named), who raised it for whom, and every link it would send people to."""
    from bot.core.services import safety

    copy = ctx.copy
    why: list[str] = []
    for reason in held_reasons(alert):
        if reason == LINK:
            for held in links.assess_all(
                (*alert.links, *filter(None, [alert.target_post])), ctx.policy.link_rules
            ):
                why.append(copy(f"held.why_link_{held.reason}", link=held.link))
        else:
            why.append(copy(f"held.why_{reason}", raiser=raiser.display_name))
    summary = copy(
        "held.summary_self" if raiser.id == target.id else "held.summary",
        raiser=raiser.display_name,
        name=target.display_name,
        kinds=kinds_text(copy, alert.kinds),
        venue=copy(f"venue.{alert.venue}"),
    )
    visibility = copy(
        "status.visibility",
        visibility=copy(f"visibility.{alert.visibility}"),
        help=", ".join(copy(f"want.{h}") for h in sorted(alert.help_wanted)),
    )
    return Message(
        title=copy("held.title", number=alert.number),
        blocks=(
            *(para(line) for line in (*why, summary, visibility)),
            *safety.details_blocks(ctx, alert),
        ),
        buttons=(
            Button(action_id("review", alert.id, "release"), copy("button.release"), "primary"),
            Button(action_id("review", alert.id, "reject"), copy("button.reject"), "danger"),
        ),
        has_attack_links=True,
    )


async def review(ctx: Ctx, cmd: c.ReviewAlert) -> Reply:
    """A lead lets a held alert through (it goes on as if just raised) or turns it down."""
    lead = await ctx.lead()
    alert = await ctx.alert(cmd.alert)
    if alert.status is not AlertStatus.HELD:
        raise Conflict("error.not_held", number=alert.number)
    raiser = await ctx.uow.members.get(alert.raised_by_id)
    target = await ctx.uow.members.get(alert.target_id)
    if raiser is None or target is None:
        raise Conflict("error.not_held", number=alert.number)
    if not cmd.release:
        reason, alert.held_reason, alert.escalate_at = alert.held_reason, None, None
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
    await release(ctx, alert, raiser, target)
    return Reply(notice(ctx.copy("held.released_lead", number=alert.number)))


async def release(ctx: Ctx, alert: Alert, raiser: Member, target: Member) -> None:
    """The hold is lifted (a lead's review, or a safety lead's decision): a new member is
    trusted from now on, and the alert goes on as if just raised."""
    from bot.core.services import alerts  # the lifecycle continues there

    reasons = held_reasons(alert)
    alert.held_reason, alert.escalate_at = None, None
    if FIRST_ALERT in reasons and not raiser.trusted:
        raiser.trusted = True
        await ctx.uow.members.save(raiser)
    await ctx.audit("alert_released", alert, reason=",".join(reasons))
    if not (alert.is_severe and raiser.id == target.id):
        # (The target of a severe alert hears the safety lead's decision itself instead.)
        await ctx.to_members(
            [raiser],
            f"released:{alert.id}",
            notice(
                ctx.copy("held.released_title", number=alert.number),
                ctx.copy("held.released_body"),
            ),
        )
    await alerts.proceed(ctx, alert, raiser, target)


async def remind_leads(ctx: Ctx, alert: Alert) -> None:
    """A held alert nobody reviewed: the leads are told again (escalation's timer)."""
    collective = await ctx.collective()
    alert.escalation_step += 1
    final = alert.escalation_step >= collective.escalation_max_steps
    alert.escalate_at = (
        None if final else ctx.now + timedelta(minutes=collective.escalation_wait_minutes)
    )
    if final and alert.is_severe and alert.safety_lead_id is None:
        alert.escalate_at = alert.raised_at + timedelta(days=1)  # then daily: still waiting
    await ctx.uow.alerts.save(alert)
    raiser = await ctx.uow.members.get(alert.raised_by_id)
    target = await ctx.uow.members.get(alert.target_id)
    if raiser is None or target is None:
        return
    if alert.is_severe:
        # Every lead hears that a severe alert still waits; the details stay with the
        # safety leads, who have them already.
        await ctx.to_leads(
            f"held:{alert.id}:{alert.escalation_step}",
            notice(
                ctx.copy("held.reminder_severe_title", number=alert.number),
                ctx.copy("held.reminder_severe", kinds=kinds_text(ctx.copy, alert.kinds)),
                buttons=(
                    Button(action_id("alert", alert.id, "standdown"), ctx.copy("button.standdown")),
                ),
            ),
        )
        return
    await ctx.to_leads(
        f"held:{alert.id}:{alert.escalation_step}", review_message(ctx, alert, raiser, target)
    )


async def suspend(ctx: Ctx, cmd: c.Suspend) -> Reply:
    """A suspended member can do nothing and is rallied by no one, at once; the alerts they
    raised that are still open are closed (a genuine target can raise their own, and hears
    that this one closed)."""
    from bot.core.services import notices, safety
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
            asked = safety.target_knows(alert) or alert.status is AlertStatus.PENDING_CONSENT
            alert.status, alert.close_reason = AlertStatus.CLOSED, CloseReason.SUSPENDED
            alert.closed_at, alert.closed_by_id, alert.escalate_at = ctx.now, lead.id, None
            if asked and alert.target_id != member.id:
                # Someone else closed an alert about her: she hears it (not why).
                await notices.tell_target(
                    ctx,
                    alert,
                    notice(
                        ctx.copy("standdown.target_title", number=alert.number),
                        ctx.copy(
                            "standdown.target_body", name=lead.display_name, number=alert.number
                        ),
                    ),
                )
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
