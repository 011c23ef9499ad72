"""Upkeep that falls due: reminders to quiet responders, and the retention purge."""

from __future__ import annotations

from datetime import timedelta

from bot.core.messages import Button
from bot.core.model import Alert, MemberStatus, Response
from bot.core.services.context import Ctx
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
