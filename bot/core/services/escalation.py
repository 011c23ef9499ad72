"""Escalation: wait, widen the rally, tell the leads, repeat — no alert is silently dropped.
Each escalation says what a lead can act on, with buttons to act at once."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.core import commands as c
from bot.core.errors import Conflict
from bot.core.messages import Button, Reply
from bot.core.model import (
    Alert,
    AlertStatus,
    CloseReason,
    Member,
    Response,
    ResponseState,
    Visibility,
)
from bot.core.services import notices, review, safety, upkeep
from bot.core.services.context import Ctx
from bot.core.services.rally import rally_wave, refresh_tally
from bot.core.views import action_id, kinds_text, notice, private_details

DAY = timedelta(days=1)


async def expire_consent(ctx: Ctx, alert: Alert) -> None:
    """Nobody is rallied without consent: an unanswered request closes the alert. The raiser
    is told, and so is the target: a late "yes" still starts it for a while."""
    alert.status = AlertStatus.CLOSED
    alert.close_reason = CloseReason.EXPIRED
    alert.closed_at = ctx.now
    alert.escalate_at = None
    await upkeep.after_close(ctx, alert)
    copy = ctx.copy
    raiser = await ctx.uow.members.get(alert.raised_by_id)
    if raiser is not None and raiser.is_active:
        await ctx.to_members(
            [raiser],
            f"expired:{alert.id}",
            notice(
                copy("consent.expired_title", number=alert.number),
                copy("consent.expired_body"),
            ),
        )
    if ctx.policy.late_consent_days > 0 and not alert.purged_at:
        from bot.core.services.alerts import consent_buttons

        # Short: her request (who raised it, the links) is still in her messages.
        await notices.tell_target(
            ctx,
            alert,
            notice(
                copy("consent.expired_target_title", number=alert.number),
                copy("consent.expired_target", count=ctx.policy.late_consent_days),
                buttons=consent_buttons(ctx, alert),
            ),
        )
    await ctx.uow.alerts.save(alert)
    await ctx.audit("consent_expired", alert)


def minutes_since_start(ctx: Ctx, alert: Alert) -> int:
    """Minutes since the alert was rallied (or raised, before it was): the real wait."""
    return int((ctx.now - (alert.activated_at or alert.raised_at)).total_seconds() // 60)


async def escalate(ctx: Ctx, alert: Alert) -> None:
    """One escalation step for an alert whose timer fell due."""
    collective = await ctx.collective()
    copy = ctx.copy
    waited = minutes_since_start(ctx, alert)
    if alert.status is AlertStatus.PENDING_CONSENT:
        await expire_consent(ctx, alert)
        return
    waiting_for_safety = alert.is_severe and alert.safety_lead_id is None
    if (
        alert.status in (AlertStatus.HELD, AlertStatus.SAFETY_REVIEW)
        and waiting_for_safety
        and alert.escalation_step >= collective.escalation_max_steps
    ):
        await _still_waiting(ctx, alert)
        return
    if alert.status is AlertStatus.HELD:
        await review.remind_leads(ctx, alert)
        return
    buttons: tuple[Button, ...] = (
        Button(action_id("alert", alert.id, "standdown"), copy("button.standdown")),
    )
    if alert.status is AlertStatus.SAFETY_REVIEW:
        if alert.safety_lead_id is not None:
            alert.escalate_at = None
            await ctx.uow.alerts.save(alert)
            return
        alert.escalation_step += 1
        lines = [copy("escalation.safety_body", waited=copy.duration(waited))]
        called = 0
    elif alert.status is AlertStatus.ACTIVE:
        responses = await ctx.uow.responses.for_alert(alert.id)
        engaged = sum(1 for r in responses if r.state is not ResponseState.CANT)
        if (
            engaged >= collective.escalation_min_responders
            or alert.visibility is Visibility.LEADS
            or alert.taken_by_id is not None
        ):
            alert.escalate_at = None
            await ctx.uow.alerts.save(alert)
            return
        alert.escalation_step += 1
        silent = await _silent(ctx, alert, responses)
        called = len(await rally_wave(ctx, alert))
        lines = [
            copy("escalation.engaged", count=engaged, waited=copy.duration(waited)),
            _silent_line(ctx, alert, silent),
            copy("escalation.called", count=called),
        ]
        buttons = (*escalation_buttons(ctx, alert), *buttons)
        if engaged == 0:
            await notices.tell_target(
                ctx,
                alert,
                notice(
                    copy("escalation.target_title", number=alert.number),
                    copy("escalation.target_body", count=called),
                ),
            )
    else:
        alert.escalate_at = None
        await ctx.uow.alerts.save(alert)
        return
    final = alert.escalation_step >= collective.escalation_max_steps
    alert.last_escalated_at = ctx.now
    if not final:
        alert.escalate_at = ctx.now + timedelta(minutes=collective.escalation_wait_minutes)
    elif waiting_for_safety:
        alert.escalate_at = _next_day(ctx, alert)  # a day on, the target hears it still waits
    else:
        alert.escalate_at = None
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
            *lines,
            copy("escalation.final")
            if final
            else copy("escalation.next", count=collective.escalation_wait_minutes),
            buttons=buttons,
        ),
    )
    await ctx.audit("alert_escalated", alert, step=str(alert.escalation_step), called=str(called))


def escalation_buttons(ctx: Ctx, alert: Alert) -> tuple[Button, ...]:
    copy = ctx.copy
    return (
        Button(action_id("escalation", alert.id, "widen"), copy("button.widen"), "primary"),
        Button(action_id("escalation", alert.id, "page_all"), copy("button.page_all")),
        Button(action_id("escalation", alert.id, "take"), copy("button.take")),
    )


async def _silent(ctx: Ctx, alert: Alert, responses: Sequence[Response]) -> list[Member]:
    """Responders called to this alert who have not answered at all."""
    answered = {r.member_id for r in responses}
    called = [r.member_id for r in await ctx.uow.rallied.for_alert(alert.id)]
    return list(await ctx.uow.members.many([m for m in called if m not in answered]))


def _silent_line(ctx: Ctx, alert: Alert, silent: list[Member]) -> str:
    """Who was called and has not answered: names for leads to nudge, or only a count for
    an anonymous alert (the leads channel should not tie people to it)."""
    if not silent:
        return ""
    if alert.anonymous:
        return ctx.copy("escalation.silent_count", count=len(silent))
    names = ", ".join(sorted(m.display_name for m in silent))
    return ctx.copy("escalation.silent", count=len(silent), names=names)


def _next_day(ctx: Ctx, alert: Alert) -> datetime:
    days = math.floor((ctx.now - alert.raised_at) / DAY) + 1
    return alert.raised_at + days * DAY


async def _still_waiting(ctx: Ctx, alert: Alert) -> None:
    """A severe alert a day (or days) without a safety lead: every lead is reminded, and the
    target is told it still waits, with the resources again."""
    copy = ctx.copy
    days = max(1, math.floor((ctx.now - alert.raised_at) / DAY))
    alert.escalate_at = _next_day(ctx, alert)
    await ctx.to_leads(
        f"still-waiting:{alert.id}:{days}",
        notice(
            copy("escalation.day_title", number=alert.number),
            copy("escalation.day_body", count=days, kinds=kinds_text(copy, alert.kinds)),
            buttons=(Button(action_id("alert", alert.id, "standdown"), copy("button.standdown")),),
        ),
    )
    if safety.target_knows(alert):
        await notices.tell_target(
            ctx,
            alert,
            notice(
                copy("escalation.day_target_title", number=alert.number),
                copy("escalation.day_target", count=days),
                copy("safety.resources"),
            ),
        )
    await ctx.uow.alerts.save(alert)
    await ctx.audit("safety_still_waiting", alert, days=str(days))


async def act(ctx: Ctx, cmd: c.ActOnEscalation) -> Reply:
    """A lead acts on an escalation: call the next wave now, page every available responder,
    or take the alert on personally (escalation stops; the target is told)."""
    lead = await ctx.lead()
    alert = await ctx.uow.alerts.lock((await ctx.alert(cmd.alert)).id) or await ctx.alert(cmd.alert)
    copy = ctx.copy
    if alert.status is not AlertStatus.ACTIVE or alert.visibility is Visibility.LEADS:
        raise Conflict("error.not_active", number=alert.number)
    if cmd.action == "take":
        return await _take(ctx, alert, lead)
    called = await rally_wave(ctx, alert, everyone=cmd.action == "page_all")
    await ctx.audit(f"escalation_{cmd.action}", alert, called=str(len(called)))
    return Reply(
        notice(copy(f"escalation.done_{cmd.action}", count=len(called), number=alert.number))
    )


async def _take(ctx: Ctx, alert: Alert, lead: Member) -> Reply:
    copy = ctx.copy
    if lead.id == alert.target_id:
        raise Conflict("error.own_alert")
    if alert.taken_by_id not in (None, lead.id):
        other = await ctx.uow.members.get(alert.taken_by_id or "")
        raise Conflict(
            "error.already_taken",
            number=alert.number,
            name=other.display_name if other else copy("alert.anonymous_member"),
        )
    alert.taken_by_id = lead.id
    alert.escalate_at = None
    existing = await ctx.uow.responses.get(alert.id, lead.id)
    if existing is None or existing.state is ResponseState.CANT:
        await ctx.uow.responses.save(
            Response(
                alert_id=alert.id,
                member_id=lead.id,
                state=ResponseState.ON_IT,
                actions=existing.actions if existing else frozenset(),
                first_at=existing.first_at if existing else ctx.now,
                updated_at=ctx.now,
            )
        )
    if alert.first_response_at is None:
        alert.first_response_at = ctx.now
    await notices.tell_target(
        ctx,
        alert,
        notice(
            copy("escalation.taken_target_title", number=alert.number),
            copy("escalation.taken_target", name=lead.display_name),
        ),
    )
    await ctx.uow.alerts.save(alert)
    await refresh_tally(ctx, alert, tally_only=True)
    await ctx.audit("escalation_take", alert)
    target = await ctx.uow.members.get(alert.target_id)
    extras = (private_details(copy, alert, target),) if alert.keeps_details_private else ()
    return Reply(notice(copy("escalation.done_take", number=alert.number)), extras=extras)
