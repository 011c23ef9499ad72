"""Private check-ins with the target after an alert: asked, counted, never nagged."""

from __future__ import annotations

from datetime import timedelta

from bot.core import commands as c
from bot.core.errors import Conflict, NotAllowed, NotFound
from bot.core.messages import Button, Reply
from bot.core.model import (
    Alert,
    CheckIn,
    CheckInAnswer,
    CheckInStatus,
    Collective,
)
from bot.core.services.context import Ctx, Forged
from bot.core.views import action_id, notice


async def schedule(ctx: Ctx, alert: Alert, collective: Collective) -> None:
    """Check-ins at the collective's offsets (default +1, +3, +7 days) after triage."""
    for hours in collective.checkin_offsets_hours:
        await ctx.uow.checkins.add(
            CheckIn(
                id=ctx.ids.new(),
                alert_id=alert.id,
                member_id=alert.target_id,
                due_at=ctx.now + timedelta(hours=hours),
            )
        )


async def send_due(ctx: Ctx, checkin: CheckIn, alert: Alert) -> None:
    """Ask the target privately; a paused series skips this one without asking."""
    if alert.checkins_paused:
        checkin.status = CheckInStatus.SKIPPED
        await ctx.uow.checkins.save(checkin)
        return
    target = await ctx.uow.members.get(checkin.member_id)
    checkin.status = CheckInStatus.SENT
    checkin.sent_at = ctx.now
    await ctx.uow.checkins.save(checkin)
    if target is None or not target.is_active:
        return
    copy = ctx.copy
    await ctx.to_members(
        [target],
        f"checkin:{checkin.id}",
        notice(
            copy("checkin.title", number=alert.number),
            copy("checkin.body", name=target.display_name),
            buttons=(
                Button(
                    action_id("checkin", checkin.id, "ok"), copy("button.checkin_ok"), "primary"
                ),
                Button(
                    action_id("checkin", checkin.id, "struggling"),
                    copy("button.checkin_struggling"),
                ),
                Button(
                    action_id("checkin", checkin.id, "need_help"),
                    copy("button.checkin_need_help"),
                    "danger",
                ),
                Button(action_id("checkins", alert.id, "pause"), copy("button.checkin_pause")),
                Button(action_id("checkins", alert.id, "stop"), copy("button.checkin_stop")),
            ),
        ),
    )


async def answer(ctx: Ctx, cmd: c.AnswerCheckIn) -> Reply:
    """Only the target answers; "I need help" reaches the leads at once."""
    actor = await ctx.actor()
    checkin = await ctx.uow.checkins.get(cmd.checkin_id)
    if checkin is None:
        raise NotFound("error.no_checkin")
    alert = await ctx.uow.alerts.get(checkin.alert_id)
    if alert is None or alert.collective_id != actor.collective_id:
        raise Forged("error.no_checkin", checkin_id=cmd.checkin_id)
    if checkin.member_id != actor.id:
        # Someone else's check-in does not exist for you; asking for it is audited.
        raise Forged("error.no_checkin", checkin_id=cmd.checkin_id)
    if checkin.answer is cmd.answer:
        return Reply(notice(ctx.copy("checkin.already")))
    checkin.answer = cmd.answer
    checkin.answered_at = ctx.now
    checkin.status = CheckInStatus.ANSWERED
    await ctx.uow.checkins.save(checkin)
    await ctx.audit("checkin_answered", alert, answer=cmd.answer.value)
    if cmd.answer is CheckInAnswer.NEED_HELP:
        await ctx.to_leads(
            f"needhelp:{checkin.id}",
            notice(
                ctx.copy(
                    "checkin.need_help_leads_title", name=actor.display_name, number=alert.number
                ),
                ctx.copy(
                    "checkin.need_help_leads_body", name=actor.display_name, number=alert.number
                ),
            ),
        )
    return Reply(notice(ctx.copy(f"checkin.thanks_{cmd.answer.value}")))


async def control(ctx: Ctx, cmd: c.ControlCheckIns) -> Reply:
    """The target pauses, resumes or stops their check-ins."""
    actor = await ctx.actor()
    alert = await ctx.alert(cmd.alert)
    if alert.target_id != actor.id:
        raise NotAllowed("error.not_your_alert")
    rows = await ctx.uow.checkins.for_alert(alert.id)
    if cmd.action == "stop":
        stopped = 0
        for row in rows:
            if row.status is CheckInStatus.SCHEDULED:
                row.status = CheckInStatus.CANCELLED
                await ctx.uow.checkins.save(row)
                stopped += 1
        if not stopped:
            raise Conflict("error.no_checkins_left", number=alert.number)
    else:
        alert.checkins_paused = cmd.action == "pause"
        await ctx.uow.alerts.save(alert)
    await ctx.audit(f"checkins_{cmd.action}", alert)
    done = {"pause": "paused", "resume": "resumed", "stop": "stopped"}[cmd.action]
    return Reply(notice(ctx.copy(f"checkin.{done}", number=alert.number)))
