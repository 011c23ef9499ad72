"""Choosing whom to rally, rallying them, and keeping the rally's tally current."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core.messages import Message
from bot.core.model import (
    Alert,
    AlertStatus,
    Channel,
    Help,
    Member,
    MemberStatus,
    Rallied,
    Role,
    Visibility,
)
from bot.core.services.context import Ctx
from bot.core.views import (
    TALLY_NAMES,
    more_hands_message,
    notice,
    rally_key,
    rally_message,
    target_label,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def in_quiet_hours(member: Member, now: datetime, default_tz: str) -> bool:
    if member.quiet_start is None or member.quiet_end is None:
        return False
    local = now.astimezone(ZoneInfo(member.timezone or default_tz))
    minute = local.hour * 60 + local.minute
    start, end = member.quiet_start, member.quiet_end
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end  # spans midnight


def is_available(member: Member, now: datetime) -> bool:
    return (
        member.is_active
        and member.has(Role.RESPONDER)
        and member.available
        and (member.paused_until is None or member.paused_until <= now)
    )


def select_responders(
    members: Sequence[Member],
    alert: Alert,
    already: set[str],
    now: datetime,
    default_tz: str,
    cap: int,
) -> list[Member]:
    """Opted-in, available responders, quiet hours honoured unless the alert is severe,
    least recently rallied first so the same people are not called every time."""
    candidates = [
        m
        for m in members
        if m.id not in already
        and m.id != alert.target_id
        and is_available(m, now)
        and (alert.is_severe or not in_quiet_hours(m, now, default_tz))
    ]
    candidates.sort(key=lambda m: (m.last_rallied_at or _EPOCH, m.joined_at, m.id))
    return candidates[: max(cap, 0)]


def is_public(alert: Alert) -> bool:
    """Whether the rally goes to the rally channel (else only to the responders called)."""
    return alert.visibility is Visibility.ALL and Help.QUIET not in alert.help_wanted


async def activate(ctx: Ctx, alert: Alert) -> list[Member]:
    """Make the alert active and rally the first wave; nobody available reaches the leads."""
    collective = await ctx.collective()
    alert.status = AlertStatus.ACTIVE
    alert.activated_at = ctx.now
    alert.escalate_at = ctx.now + timedelta(minutes=collective.escalation_wait_minutes)
    await ctx.uow.alerts.save(alert)
    called = await rally_wave(ctx, alert, 0)
    if not called:
        await ctx.to_leads(
            f"nobody:{alert.id}",
            notice(
                ctx.copy("leads.nobody_title", number=alert.number), ctx.copy("leads.nobody_body")
            ),
        )
    await ctx.audit("alert_rallied", alert, count=str(len(called)))
    return called


async def rally_wave(
    ctx: Ctx, alert: Alert, wave: int | None = None, everyone: bool = False
) -> list[Member]:
    """Call the next responders for this alert, in the next wave unless told (`everyone`:
    every available responder not called yet, not only the rally cap); returns who was
    called (maybe nobody)."""
    collective = await ctx.collective()
    members = await ctx.members()
    previous = await ctx.uow.rallied.for_alert(alert.id)
    if wave is None:
        wave = max((r.wave for r in previous), default=-1) + 1
    chosen = select_responders(
        members,
        alert,
        {r.member_id for r in previous},
        ctx.now,
        collective.timezone,
        len(members) if everyone else collective.rally_cap,
    )
    if not chosen:
        return []
    await ctx.uow.rallied.add_many([Rallied(alert.id, m.id, wave, ctx.now) for m in chosen])
    for m in chosen:
        m.last_rallied_at = ctx.now
    await ctx.uow.members.mark_rallied([m.id for m in chosen], ctx.now)
    by_id = {m.id: m for m in members}
    target = by_id.get(alert.target_id)
    first_wave = (
        chosen
        if wave == 0
        else [by_id[r.member_id] for r in previous if r.wave == 0 and r.member_id in by_id]
    )
    # Every full copy of the rally shares one key, so edits find all of them.
    rally = await current_rally(ctx, alert, target, first_wave, by_id)
    dm = list(chosen)
    live_dms = True
    if is_public(alert):
        if wave == 0:
            posted = await ctx.to_channel(Channel.RALLY, rally_key(alert), rally)
        else:
            follow_up = more_hands_message(ctx.copy, alert, target, chosen)
            posted = await ctx.to_channel(
                Channel.RALLY, f"{rally_key(alert)}:wave{wave}", follow_up
            )
        # Those the channel post can't ping (no account in that space) and those who
        # prefer DMs get the rally privately too.
        dm = [m for m in chosen if m.prefers_dm or m.id not in posted.pinged]
        live_dms = posted.count == 0
    if not live_dms:
        rally = await current_rally(ctx, alert, target, first_wave, by_id, live_tally=False)
    await ctx.to_members(dm, rally_key(alert), rally)
    return chosen


async def current_rally(
    ctx: Ctx,
    alert: Alert,
    target: Member | None,
    called: Sequence[Member],
    by_id: dict[str, Member],
    live_tally: bool = True,
) -> Message:
    names = {mid: m.display_name for mid, m in by_id.items()}
    if not live_tally:  # a copy that points to the channel's tally: nothing to count
        return rally_message(ctx.copy, alert, target, called, (), names, live_tally=False)
    counts, named = await ctx.uow.responses.tally(alert.id, TALLY_NAMES)
    return rally_message(ctx.copy, alert, target, called, named, names, counts=counts)


async def refresh_tally(ctx: Ctx, alert: Alert, tally_only: bool = False) -> None:
    """Edit the rally's copies in place with the current responses.

    A public rally's live tally is its channel post: the copies sent by DM (maybe hundreds)
    point there, so a response (`tally_only`) edits only the channel posts. Anything else
    that changes the rally, and closing it, edits every copy. A rally with no channel post
    keeps the live tally in its DMs."""
    key = rally_key(alert)
    rallied = await ctx.uow.rallied.for_alert(alert.id)
    # Counted in the database; only the first helpers are named, so a click costs the same
    # on the thousandth response as on the first.
    counts, named = await ctx.uow.responses.tally(alert.id, TALLY_NAMES)
    first_ids = [r.member_id for r in rallied if r.wave == 0]
    # Only the members the rally names: the target, the first wave and those helpers.
    shown = await ctx.uow.members.many([alert.target_id, *first_ids, *(r.member_id for r in named)])
    by_id = {m.id: m for m in shown if m.status is not MemberStatus.FORGOTTEN}
    names = {mid: m.display_name for mid, m in by_id.items()}
    target = by_id.get(alert.target_id)
    first_wave = [by_id[mid] for mid in first_ids if mid in by_id]
    message = rally_message(ctx.copy, alert, target, first_wave, named, names, counts=counts)
    public = alert.is_open and is_public(alert)
    if public and await ctx.update(key, message, address_kind="channel"):
        if not tally_only:
            pointer = rally_message(
                ctx.copy, alert, target, first_wave, (), names, live_tally=False
            )
            await ctx.update(key, pointer, address_kind="dm")
        return
    await ctx.update(key, message)


def who(ctx: Ctx, alert: Alert, target: Member | None, viewer: Member, start: bool = False) -> str:
    sees_all = viewer.is_lead or viewer.id in (alert.target_id, alert.raised_by_id)
    return target_label(ctx.copy, alert, target, for_leads=sees_all, start=start)
