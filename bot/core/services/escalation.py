"""Escalation: wait, widen the rally, tell the leads, repeat — no alert is silently dropped."""

from __future__ import annotations

from datetime import timedelta

from bot.core.messages import Button
from bot.core.model import Alert, AlertStatus, CloseReason, ResponseState, Visibility
from bot.core.services import review, upkeep
from bot.core.services.context import Ctx
from bot.core.services.rally import rally_wave
from bot.core.views import action_id, notice


async def expire_consent(ctx: Ctx, alert: Alert) -> None:
    """Nobody is rallied without consent: an unanswered request closes the alert, and the
    raiser is told (the safety leads already know of a severe one)."""
    alert.status = AlertStatus.CLOSED
    alert.close_reason = CloseReason.EXPIRED
    alert.closed_at = ctx.now
    alert.escalate_at = None
    await ctx.uow.alerts.save(alert)
    await upkeep.after_close(ctx, alert)
    raiser = await ctx.uow.members.get(alert.raised_by_id)
    if raiser is not None and raiser.is_active:
        await ctx.to_members(
            [raiser],
            f"expired:{alert.id}",
            notice(
                ctx.copy("consent.expired_title", number=alert.number),
                ctx.copy("consent.expired_body"),
            ),
        )
    await ctx.audit("consent_expired", alert)


async def escalate(ctx: Ctx, alert: Alert) -> None:
    """One escalation step for an alert whose timer fell due."""
    collective = await ctx.collective()
    copy = ctx.copy
    waited = int(
        (
            ctx.now - (alert.last_escalated_at or alert.activated_at or alert.raised_at)
        ).total_seconds()
        // 60
    )
    if alert.status is AlertStatus.PENDING_CONSENT:
        await expire_consent(ctx, alert)
        return
    if alert.status is AlertStatus.HELD:
        await review.remind_leads(ctx, alert)
        return
    if alert.status is AlertStatus.SAFETY_REVIEW:
        if alert.safety_lead_id is not None:
            alert.escalate_at = None
            await ctx.uow.alerts.save(alert)
            return
        alert.escalation_step += 1
        body = copy("escalation.safety_body", minutes=waited)
        called = 0
    elif alert.status is AlertStatus.ACTIVE:
        responses = await ctx.uow.responses.for_alert(alert.id)
        engaged = sum(1 for r in responses if r.state is not ResponseState.CANT)
        if engaged >= collective.escalation_min_responders or alert.visibility is Visibility.LEADS:
            alert.escalate_at = None
            await ctx.uow.alerts.save(alert)
            return
        alert.escalation_step += 1
        called = len(await rally_wave(ctx, alert, alert.escalation_step))
        body = copy("escalation.body", engaged=engaged, minutes=waited, called=called)
    else:
        alert.escalate_at = None
        await ctx.uow.alerts.save(alert)
        return
    final = alert.escalation_step >= collective.escalation_max_steps
    alert.last_escalated_at = ctx.now
    alert.escalate_at = (
        None if final else ctx.now + timedelta(minutes=collective.escalation_wait_minutes)
    )
    await ctx.uow.alerts.save(alert)
    await ctx.to_leads(
        f"escalation:{alert.id}:{alert.escalation_step}",
        notice(
            copy(
                "escalation.title",
                number=alert.number,
                step=alert.escalation_step,
                steps=collective.escalation_max_steps,
            ),
            body,
            copy("escalation.final")
            if final
            else copy("escalation.next", minutes=collective.escalation_wait_minutes),
            buttons=(Button(action_id("alert", alert.id, "standdown"), copy("button.standdown")),),
        ),
    )
    await ctx.audit("alert_escalated", alert, step=str(alert.escalation_step), called=str(called))
