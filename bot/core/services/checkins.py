"""Private check-ins with the target after an alert: one message a day at most, covering all
her alerts that are due, at her check-in hour outside her quiet hours; never nagged."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import groupby
from zoneinfo import ZoneInfo

from bot.core import commands as c
from bot.core.errors import Conflict, NotAllowed, NotFound
from bot.core.messages import Button, Message, Reply
from bot.core.model import (
    Alert,
    CheckIn,
    CheckInAnswer,
    CheckInStatus,
    Collective,
    Member,
)
from bot.core.services.context import Ctx, Forged
from bot.core.services.notices import not_quiet
from bot.core.views import action_id, notice


def checkin_time(member: Member, at: datetime, hour: int, default_tz: str) -> datetime:
    """The member's check-in hour on the local day of `at`, outside her quiet hours."""
    tz = ZoneInfo(member.timezone or default_tz)
    day = at.astimezone(tz).date()
    when = datetime(day.year, day.month, day.day, hour, tzinfo=tz).astimezone(ZoneInfo("UTC"))
    return not_quiet(member, when, default_tz)


async def schedule(ctx: Ctx, alert: Alert, collective: Collective, target: Member) -> None:
    """Check-ins on the days of the collective's offsets (default +1, +3, +7 days) after
    triage, each at the target's check-in hour."""
    for hours in collective.checkin_offsets_hours:
        due = checkin_time(
            target, ctx.now + timedelta(hours=hours), ctx.policy.checkin_hour, collective.timezone
        )
        if due <= ctx.now:
            due = checkin_time(
                target, due + timedelta(days=1), ctx.policy.checkin_hour, collective.timezone
            )
        await ctx.uow.checkins.add(
            CheckIn(id=ctx.ids.new(), alert_id=alert.id, member_id=alert.target_id, due_at=due)
        )


async def send_due(ctx: Ctx, due: Sequence[CheckIn]) -> int:
    """Ask each person once about all her check-ins that are due: at most one message a
    day, outside her quiet hours (otherwise they wait). Check-ins of a paused alert are
    skipped without asking. Returns how many check-ins were handled."""
    if not due:
        return 0
    uow = ctx.uow
    member_ids = sorted({ch.member_id for ch in due})
    # Their rows locked first: another worker asking the same person waits, then sees when
    # she was last asked (one message a day).
    people = {m.id: m for m in await uow.members.lock_many(member_ids)}
    rows = list(await uow.checkins.scheduled_for(member_ids, ctx.now))
    rows += [ch for ch in due if ch.id not in {r.id for r in rows}]
    alerts = {a.id: a for a in await uow.alerts.many(sorted({ch.alert_id for ch in rows}))}
    last = await uow.checkins.last_sent(member_ids)
    await ctx.prefetch_identities(member_ids)
    handled = 0
    rows.sort(key=lambda ch: (ch.member_id, ch.due_at, ch.id))
    for member_id, group in groupby(rows, key=lambda ch: ch.member_id):
        mine = [ch for ch in group if ch.alert_id in alerts]
        person = people.get(member_id)
        if not mine or person is None:
            continue
        collective = await uow.collectives.get(person.collective_id)
        if collective is None:
            continue
        ctx.set_collective(collective)
        handled += len(mine)
        await _ask(ctx, person, collective, mine, alerts, last.get(member_id))
    return handled


async def _ask(
    ctx: Ctx,
    person: Member,
    collective: Collective,
    rows: list[CheckIn],
    alerts: dict[str, Alert],
    last: datetime | None,
) -> None:
    uow = ctx.uow
    if not person.is_active:
        for ch in rows:
            ch.status = CheckInStatus.CANCELLED
            await uow.checkins.save(ch)
        return
    live = []
    for ch in rows:
        if alerts[ch.alert_id].checkins_paused:
            ch.status = CheckInStatus.SKIPPED
            await uow.checkins.save(ch)
        else:
            live.append(ch)
    if not live:
        return
    tz = ZoneInfo(person.timezone or collective.timezone)
    later: datetime | None = None
    if last is not None and last.astimezone(tz).date() == ctx.now.astimezone(tz).date():
        later = checkin_time(
            person, ctx.now + timedelta(days=1), ctx.policy.checkin_hour, collective.timezone
        )
    elif (quiet := not_quiet(person, ctx.now, collective.timezone)) != ctx.now:
        later = quiet
    if later is not None:  # one a day, never in her quiet hours: these wait together
        for ch in live:
            ch.due_at = later
            await uow.checkins.save(ch)
        return
    group_id = live[0].id
    for ch in live:
        ch.status, ch.sent_at, ch.group_id = CheckInStatus.SENT, ctx.now, group_id
        await uow.checkins.save(ch)
    about = sorted({alerts[ch.alert_id].number: alerts[ch.alert_id] for ch in live}.items())
    await ctx.to_members(
        [person],
        f"checkin:{group_id}",
        checkin_message(ctx, person, group_id, [a for _, a in about]),
    )


def numbers_text(ctx: Ctx, alerts: Sequence[Alert]) -> str:
    """#12, or #12 and #13, or #12, #13 and #14."""
    labels = [f"#{a.number}" for a in alerts]
    if len(labels) == 1:
        return labels[0]
    return ctx.copy("word.and_list", items=", ".join(labels[:-1]), last=labels[-1])


def checkin_message(ctx: Ctx, person: Member, group_id: str, about: list[Alert]) -> Message:
    copy = ctx.copy
    answers = (
        Button(action_id("checkin", group_id, "ok"), copy("button.checkin_ok"), "primary"),
        Button(action_id("checkin", group_id, "struggling"), copy("button.checkin_struggling")),
        Button(
            action_id("checkin", group_id, "need_help"), copy("button.checkin_need_help"), "danger"
        ),
    )
    if len(about) == 1:
        controls = (
            Button(action_id("checkins", about[0].id, "pause"), copy("button.checkin_pause")),
            Button(action_id("checkins", about[0].id, "stop"), copy("button.checkin_stop")),
        )
        hint = ""
    else:
        controls = (
            Button(action_id("checkgroup", group_id, "pause"), copy("button.checkin_pause")),
            Button(action_id("checkgroup", group_id, "stop"), copy("button.checkin_stop")),
        )
        hint = copy("checkin.one_alert", number=about[0].number)
    numbers = numbers_text(ctx, about)
    return notice(
        copy("checkin.title", count=len(about), numbers=numbers),
        copy("checkin.body", name=person.display_name),
        copy("checkin.covers", count=len(about), numbers=numbers) if len(about) > 1 else "",
        hint,
        buttons=(*answers, *controls),
    )


async def _group_of(ctx: Ctx, actor: Member, checkin_id: str) -> tuple[list[CheckIn], list[Alert]]:
    """The check-ins one message asked (by any of their ids), only the caller's own."""
    checkin = await ctx.uow.checkins.get(checkin_id)
    if checkin is None:
        raise NotFound("error.no_checkin")
    rows = (
        list(await ctx.uow.checkins.in_group(checkin.group_id)) if checkin.group_id else [checkin]
    )
    alerts = list(await ctx.uow.alerts.many(sorted({ch.alert_id for ch in rows})))
    if any(a.collective_id != actor.collective_id for a in alerts) or not alerts:
        raise Forged("error.no_checkin", checkin_id=checkin_id)
    if any(ch.member_id != actor.id for ch in rows):
        # Someone else's check-in does not exist for you; asking for it is audited.
        raise Forged("error.no_checkin", checkin_id=checkin_id)
    return rows, sorted(alerts, key=lambda a: a.number)


async def answer(ctx: Ctx, cmd: c.AnswerCheckIn) -> Reply:
    """Only the target answers, for every alert the check-in named; "I need help" reaches
    the leads at once."""
    actor = await ctx.actor()
    rows, alerts = await _group_of(ctx, actor, cmd.checkin_id)
    if all(ch.answer is cmd.answer for ch in rows):
        return Reply(notice(ctx.copy("checkin.already")))
    for ch in rows:
        ch.answer, ch.answered_at, ch.status = cmd.answer, ctx.now, CheckInStatus.ANSWERED
        await ctx.uow.checkins.save(ch)
    for alert in alerts:
        await ctx.audit("checkin_answered", alert, answer=cmd.answer.value)
    if cmd.answer is CheckInAnswer.NEED_HELP:
        numbers = numbers_text(ctx, alerts)
        await ctx.to_leads(
            f"needhelp:{rows[0].id}",
            notice(
                ctx.copy(
                    "checkin.need_help_leads_title",
                    name=actor.display_name,
                    count=len(alerts),
                    numbers=numbers,
                ),
                ctx.copy(
                    "checkin.need_help_leads_body",
                    name=actor.display_name,
                    count=len(alerts),
                    numbers=numbers,
                ),
            ),
        )
    return Reply(notice(ctx.copy(f"checkin.thanks_{cmd.answer.value}")))


async def control(ctx: Ctx, cmd: c.ControlCheckIns) -> Reply:
    """The target pauses, resumes or stops the check-ins of one alert."""
    actor = await ctx.actor()
    alert = await ctx.alert(cmd.alert)
    if alert.target_id != actor.id:
        raise NotAllowed("error.not_your_alert")
    await _control(ctx, alert, cmd.action)
    done = {"pause": "paused", "resume": "resumed", "stop": "stopped"}[cmd.action]
    return Reply(notice(ctx.copy(f"checkin.{done}", count=1, numbers=f"#{alert.number}")))


async def control_group(ctx: Ctx, cmd: c.ControlCheckInGroup) -> Reply:
    """The target pauses or stops the check-ins of every alert one check-in asked about."""
    actor = await ctx.actor()
    _, alerts = await _group_of(ctx, actor, cmd.group_id)
    for alert in alerts:
        await _control(ctx, alert, cmd.action, strict=False)
    done = {"pause": "paused", "stop": "stopped"}[cmd.action]
    return Reply(
        notice(ctx.copy(f"checkin.{done}", count=len(alerts), numbers=numbers_text(ctx, alerts)))
    )


async def _control(ctx: Ctx, alert: Alert, action: str, strict: bool = True) -> None:
    if action == "stop":
        stopped = 0
        for row in await ctx.uow.checkins.for_alert(alert.id):
            if row.status is CheckInStatus.SCHEDULED:
                row.status = CheckInStatus.CANCELLED
                await ctx.uow.checkins.save(row)
                stopped += 1
        if not stopped and strict:
            raise Conflict("error.no_checkins_left", number=alert.number)
    else:
        alert.checkins_paused = action == "pause"
        await ctx.uow.alerts.save(alert)
    await ctx.audit(f"checkins_{action}", alert)
