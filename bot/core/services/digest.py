"""The weekly digest for leads: what it reads, who gets it and when (figures and words are
in bot.core.digest)."""

from __future__ import annotations

from datetime import timedelta

from bot.core import commands as c
from bot.core.digest.figures import CHART_WEEKS, LOAD_DAYS, Care, DigestData, DigestRows, compute
from bot.core.digest.render import render_message
from bot.core.digest.weeks import (
    Week,
    last_complete_week,
    next_digest_time,
    parse_week,
    week_containing,
)
from bot.core.errors import BadInput
from bot.core.library import topics_without_messages
from bot.core.messages import Reply
from bot.core.model import CheckInAnswer, Collective
from bot.core.ports import ChartRenderer
from bot.core.services.context import Ctx

LIBRARY_SHOWN = 3  # the library messages used most this week


GIST_CHARS = 80


async def gather(ctx: Ctx, collective: Collective, week: Week) -> DigestData:
    """A handful of queries bounded by time; the 30-day load is counted in the database."""
    chart_start = week.start - timedelta(days=7 * (CHART_WEEKS - 1))
    previous_start = week.start - (week.end - week.start)
    uow, cid = ctx.uow, collective.id
    # Only what has fallen due so far counts (a preview of the current week).
    checkins = await uow.checkins.due_between(cid, week.start, min(week.end, ctx.now))
    load = await uow.responses.helping_per_member(
        cid, week.end - timedelta(days=LOAD_DAYS), week.end
    )
    # Alert numbers are only shown for the check-ins that need a follow-up.
    worrying = {ch.alert_id for ch in checkins if ch.answer not in (None, CheckInAnswer.OK)}
    about = await uow.alerts.many(sorted(worrying))
    new_members, pending_members = await uow.members.digest_people(cid, week.start, week.end)
    rows = DigestRows(
        alerts=await uow.alerts.raised_between(cid, previous_start, week.end),
        chart=await uow.alerts.first_response_times(cid, chart_start, week.end),
        open_alerts=await uow.alerts.open_for_collective(cid),
        week_responses=await uow.responses.first_between(cid, week.start, week.end),
        load=load,
        checkins=checkins,
        numbers={a.id: a.number for a in about},
        names=await uow.members.display_names([*load, *(ch.member_id for ch in checkins)]),
        new_members=new_members,
        pending_members=pending_members,
    )
    data = compute(collective, week, ctx.now, rows, Care.of(ctx.policy))
    await add_library(ctx, collective, week, data)
    return data


async def add_library(ctx: Ctx, collective: Collective, week: Week, data: DigestData) -> None:
    """The messages used most this week, and the topics the library has nothing for yet."""
    used = await ctx.uow.library.most_used(collective.id, week.start, week.end, LIBRARY_SHOWN)
    data.library_used = [
        {"message": f"m{e.number}", "kind": e.kind.value, "uses": n, "text": _gist(e.text)}
        for e, n in used
    ]
    entries = await ctx.uow.library.for_collective(collective.id)
    data.topics_without_messages = topics_without_messages(collective.topics, entries)


def _gist(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= GIST_CHARS else flat[: GIST_CHARS - 1] + "…"


async def preview(ctx: Ctx, _: c.Digest) -> Reply:
    """Leads see this week so far, on demand."""
    await ctx.lead()
    collective = await ctx.collective()
    data = await gather(ctx, collective, week_containing(ctx.now, collective.timezone))
    return Reply(render_message(ctx.copy, data))


async def send_weekly(ctx: Ctx, collective: Collective, chart: ChartRenderer | None) -> None:
    """The last complete week's digest to the leads; schedules the next one."""
    await send(ctx, collective, last_complete_week(ctx.now, collective.timezone), chart)
    collective.next_digest_at = next_digest_time(collective, ctx.now)
    await ctx.uow.collectives.save(collective)


async def send(
    ctx: Ctx, collective: Collective, week: Week, chart: ChartRenderer | None
) -> DigestData:
    """A week's digest to the leads: the leads channel or a DM to each (a collective setting)."""
    data = await gather(ctx, collective, week)
    message = render_message(ctx.copy, data, chart)
    key = f"digest:{collective.id}:{week.label}"
    if collective.digest_to_channel:
        await ctx.to_leads(key, message)
    else:
        await ctx.to_members(await ctx.leads(), key, message)
    await ctx.audit("digest_sent", collective_id=collective.id, week=week.label)
    return data


async def pick_collective(ctx: Ctx, name: str | None) -> Collective:
    """The command line names a collective (or there is only one)."""
    everyone = await ctx.uow.collectives.all()
    chosen = [x for x in everyone if name is None or x.name == name]
    if len(chosen) != 1:
        raise BadInput(
            "error.which_collective",
            names=", ".join(x.name for x in everyone) or ctx.copy("word.none"),
        )
    ctx.set_collective(chosen[0])
    return chosen[0]


async def report(
    ctx: Ctx, name: str | None, label: str | None, deliver: bool, chart: ChartRenderer | None
) -> DigestData:
    """For the command line: one collective's digest of a week (default: the last complete
    one), optionally queued for the leads."""
    collective = await pick_collective(ctx, name)
    week = (
        parse_week(label, collective.timezone)
        if label
        else last_complete_week(ctx.now, collective.timezone)
    )
    if deliver:
        return await send(ctx, collective, week, chart)
    return await gather(ctx, collective, week)
