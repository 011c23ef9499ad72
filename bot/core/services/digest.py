"""The weekly digest for leads: computed from one week's rows, rendered for every surface."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from statistics import median
from zoneinfo import ZoneInfo

from bot.core import commands as c
from bot.core.copy import Copy
from bot.core.errors import BadInput
from bot.core.library import topics_without_messages
from bot.core.messages import Attachment, Block, Message, Reply, para
from bot.core.model import (
    Alert,
    AlertStatus,
    CheckIn,
    CheckInAnswer,
    CheckInStatus,
    Collective,
    Response,
    ResponseState,
    Visibility,
)
from bot.core.policy import Policy
from bot.core.ports import ChartRenderer, FirstResponseTimes
from bot.core.services.context import Ctx

CHART_WEEKS = 8
OPEN_SHOWN = 10  # the oldest open alerts listed; the JSON form lists them all
LOAD_DAYS = 30
LIBRARY_SHOWN = 3  # the library messages used most this week
GIST_CHARS = 80
_ISO_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True)
class Week:
    """A Monday-to-Monday week in a time zone, as UTC instants."""

    label: str  # ISO week, e.g. 2026-W48
    start: datetime
    end: datetime


def week_containing(when: datetime, tz: str) -> Week:
    local = when.astimezone(ZoneInfo(tz))
    monday = (local - timedelta(days=local.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return _week_from_local_monday(monday)


def _week_from_local_monday(monday: datetime) -> Week:
    # Add a calendar week in local time (a DST change makes it 167 or 169 hours long).
    next_monday = (monday.replace(tzinfo=None) + timedelta(days=7)).replace(tzinfo=monday.tzinfo)
    year, week, _ = monday.isocalendar()
    return Week(
        f"{year}-W{week:02d}",
        monday.astimezone(ZoneInfo("UTC")),
        next_monday.astimezone(ZoneInfo("UTC")),
    )


def parse_week(label: str, tz: str) -> Week:
    """An ISO week label ("2026-W48") in the collective's time zone."""
    m = _ISO_WEEK.match(label.strip())
    if not m:
        raise BadInput("error.bad_week", word=label[:20])
    try:
        monday = datetime.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError:
        raise BadInput("error.bad_week", word=label[:20]) from None
    return _week_from_local_monday(monday.replace(tzinfo=ZoneInfo(tz)))


def last_complete_week(now: datetime, tz: str) -> Week:
    current = week_containing(now, tz)
    return week_containing(current.start - timedelta(seconds=1), tz)


def next_digest_time(collective: Collective, after: datetime) -> datetime:
    """The next digest time strictly after `after`, at the collective's weekday and hour."""
    tz = ZoneInfo(collective.timezone)
    local = after.astimezone(tz)
    day = local.date() + timedelta(days=(collective.digest_weekday - local.weekday()) % 7)
    for extra in (0, 7):
        candidate = datetime(
            day.year, day.month, day.day, collective.digest_hour, tzinfo=tz
        ) + timedelta(days=extra)
        if candidate > after:
            return candidate.astimezone(ZoneInfo("UTC"))
    raise AssertionError("a week always holds the next digest time")


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (the smallest value with at least q% at or below it)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def _minutes_to_first(alert: Alert | FirstResponseTimes) -> float | None:
    if alert.first_response_at is None:
        return None
    start = alert.activated_at or alert.raised_at
    return round((alert.first_response_at - start).total_seconds() / 60, 1)


def _change(now: Counter[str], before: Counter[str]) -> dict[str, list[int]]:
    """{key: [this week, change from last week]} for every key seen in either week."""
    return {k: [now[k], now[k] - before[k]] for k in sorted(set(now) | set(before))}


@dataclass
class DigestData:
    """Everything a digest says; its JSON form is documented in docs/digest.md."""

    schema: str
    collective: str
    timezone: str
    week: str
    start: str
    end: str
    alerts: list[int]  # [this week, change from last week]
    by_kind: dict[str, list[int]]
    by_platform: dict[str, list[int]]
    by_severity: dict[str, list[int]]
    first_response: dict[str, float | int | None]
    unanswered: list[int]
    escalated: list[dict[str, int | bool]]
    responders_engaged: int
    actions: dict[str, int]
    open_alerts: list[dict[str, int | float | str]]
    checkins: dict[str, int]
    follow_up: list[dict[str, str | int]]
    load: list[dict[str, str | int]]
    tiring: list[str]
    new_members: list[str]
    pending_members: list[str]
    load_total: int = 0  # responses (not "can't") in the load window: the share's base
    weeks: list[dict[str, str | int | float | None]] = field(default_factory=list)
    library_used: list[dict[str, str | int]] = field(default_factory=list)
    topics_without_messages: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class DigestRows:
    """What a digest reads: each part bounded by time, the 30-day load counted in the
    database, so a week's digest costs the same however long the history is."""

    alerts: Sequence[Alert]  # raised this week and the week before
    chart: Sequence[FirstResponseTimes]  # every alert raised in the chart's weeks
    open_alerts: Sequence[Alert]
    week_responses: Sequence[Response]  # first given this week (their first_at)
    load: Mapping[str, int]  # responses other than "can't" per member, over LOAD_DAYS
    checkins: Sequence[CheckIn]  # fallen due this week
    numbers: Mapping[str, int]  # alert id -> number, for the check-ins' alerts
    names: Mapping[str, str]  # member id -> display name, for those the digest names
    new_members: list[str]
    pending_members: list[str]


@dataclass(frozen=True)
class Care:
    """When the digest calls a responder's load a care signal (docs/digest.md)."""

    share: float = 0.4  # of the 30 days' responses...
    least: int = 3  # ...and at least this many
    week_max: int = 10  # or more than this many in the week

    @classmethod
    def of(cls, policy: Policy) -> Care:
        return cls(policy.load_share, policy.load_min, policy.load_week_max)


CHECKIN_BUCKETS = ("ok", "struggling", "need_help", "unanswered", "skipped", "stopped", "waiting")


def checkin_bucket(ch: CheckIn) -> str:
    """Each check-in due in the week counts in exactly one bucket, so they add up to due."""
    if ch.status is CheckInStatus.ANSWERED and ch.answer is not None:
        return ch.answer.value
    return {
        CheckInStatus.SENT: "unanswered",
        CheckInStatus.SKIPPED: "skipped",  # fell due while paused
        CheckInStatus.CANCELLED: "stopped",  # stopped by the target, or she has left
    }.get(ch.status, "waiting")  # not asked yet: waiting for her hour or the next day


def compute(
    collective: Collective, week: Week, now: datetime, rows: DigestRows, care: Care | None = None
) -> DigestData:
    """The digest of `week` from rows already bounded by time (see DigestRows)."""
    care = care or Care()
    names, numbers, alerts, checkins = rows.names, rows.numbers, rows.alerts, rows.checkins
    previous_start = week.start - (week.end - week.start)
    this = [a for a in alerts if week.start <= a.raised_at < week.end]
    last = [a for a in alerts if previous_start <= a.raised_at < week.start]

    def counts(rows: Sequence[Alert], key: str) -> Counter[str]:
        out: Counter[str] = Counter()
        for a in rows:
            if key == "kind":
                out.update(k.value for k in a.kinds)
            elif key == "platform":
                out[a.venue.value] += 1
            else:
                out[a.severity.value] += 1
        return out

    # Leads-only alerts are logged, never rallied: they can't go unanswered.
    def was_rallied(a: Alert) -> bool:
        return a.activated_at is not None and a.visibility is not Visibility.LEADS

    # "Never answered": rallied, nobody answered, and the escalation window has passed
    # (an alert raised a minute ago, or stood down within it, is not unanswered).
    window = timedelta(minutes=collective.escalation_wait_minutes)

    def never_answered(a: Alert) -> bool:
        if not was_rallied(a) or a.first_response_at is not None or a.activated_at is None:
            return False
        return (a.closed_at or now) - a.activated_at >= window

    rallied = [a for a in this if was_rallied(a)]
    waits = [w for a in rallied if (w := _minutes_to_first(a)) is not None]
    unanswered_now = [a for a in this if never_answered(a)]
    unanswered_before = [a for a in last if never_answered(a)]
    week_responses = rows.week_responses
    actions: Counter[str] = Counter(
        act.value for r in week_responses if r.state is ResponseState.DONE for act in r.actions
    )
    load = rows.load
    loads = sorted(load.items(), key=lambda kv: (-kv[1], names.get(kv[0], "")))
    total = sum(load.values())
    this_week: Counter[str] = Counter(
        r.member_id for r in week_responses if r.state is not ResponseState.CANT
    )
    tiring = [
        names.get(mid, "?")
        for mid, n in loads
        if (n >= care.least and n >= care.share * total) or this_week[mid] > care.week_max
    ]
    buckets: Counter[str] = Counter(checkin_bucket(ch) for ch in checkins)
    follow: dict[str, tuple[CheckInAnswer, int]] = {}
    for ch in sorted(checkins, key=lambda ch: ch.due_at):
        if ch.status is CheckInStatus.ANSWERED and ch.answer is not None:
            if ch.answer is not CheckInAnswer.OK:
                follow[ch.member_id] = (ch.answer, numbers.get(ch.alert_id, 0))
            else:
                follow.pop(ch.member_id, None)
    urgency = {CheckInAnswer.NEED_HELP: 0, CheckInAnswer.STRUGGLING: 1}
    follow_up = [
        {"member": names.get(mid, "?"), "answer": ans.value, "alert": num}
        for mid, (ans, num) in sorted(
            follow.items(), key=lambda kv: (urgency.get(kv[1][0], 2), kv[1][1])
        )
    ]
    chart_weeks: list[dict[str, str | int | float | None]] = []
    for back in range(CHART_WEEKS - 1, -1, -1):
        wk = week_containing(
            week.start - timedelta(days=7 * back) + timedelta(hours=12), collective.timezone
        )
        in_week = [t for t in rows.chart if wk.start <= t.raised_at < wk.end]
        first = [m for t in in_week if (m := _minutes_to_first(t)) is not None]
        chart_weeks.append(
            {
                "week": wk.label,
                "alerts": len(in_week),
                "median_first_response": median(first) if first else None,
            }
        )
    return DigestData(
        schema="rallybot.digest/1",
        collective=collective.name,
        timezone=collective.timezone,
        week=week.label,
        start=week.start.isoformat(),
        end=week.end.isoformat(),
        alerts=[len(this), len(this) - len(last)],
        by_kind=_change(counts(this, "kind"), counts(last, "kind")),
        by_platform=_change(counts(this, "platform"), counts(last, "platform")),
        by_severity=_change(counts(this, "severity"), counts(last, "severity")),
        first_response={
            "answered": len(waits),
            "median_minutes": median(waits) if waits else None,
            "p90_minutes": percentile(waits, 90),
        },
        unanswered=[len(unanswered_now), len(unanswered_now) - len(unanswered_before)],
        escalated=[
            {
                "alert": a.number,
                "steps": a.escalation_step,
                "answered": a.first_response_at is not None,
            }
            for a in this
            if a.escalation_step > 0
        ],
        responders_engaged=len(
            {r.member_id for r in week_responses if r.state is not ResponseState.CANT}
        ),
        actions=dict(sorted(actions.items())),
        open_alerts=[
            {
                "alert": a.number,
                "status": a.status.value,
                "age_days": round((now - a.raised_at).total_seconds() / 86400, 1),
            }
            for a in sorted(rows.open_alerts, key=lambda a: a.raised_at)
            if a.status is not AlertStatus.CLOSED and a.raised_at < week.end
        ],
        checkins={"due": len(checkins), **{b: buckets[b] for b in CHECKIN_BUCKETS}},
        follow_up=follow_up,
        load=[{"member": names.get(mid, "?"), "responses": n} for mid, n in loads[:5]],
        load_total=total,
        tiring=tiring,
        new_members=rows.new_members,
        pending_members=rows.pending_members,
        weeks=chart_weeks,
    )


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


# --- rendering ------------------------------------------------------------------------------


def _signed(n: int) -> str:
    return f"+{n}" if n > 0 else str(n)


def _pairs(copy: Copy, prefix: str, values: dict[str, list[int]]) -> str:
    """Names with this week's count and the change: "pile-on 1 (+1), threats 0 (-1)"."""
    if not values:
        return copy("word.none")
    return ", ".join(
        f"{copy(f'{prefix}.{k}')} {n} ({_signed(d)})" for k, (n, d) in values.items() if n or d
    )


def _minutes(value: float | int | None, copy: Copy) -> str:
    return copy("word.none") if value is None else f"{value:g}"


def _open_lines(copy: Copy, d: DigestData) -> list[str]:
    if not d.open_alerts:
        return [copy("digest.open_none")]
    lines = [
        copy(
            "digest.open_line",
            number=o["alert"],
            status=copy(f"status.{o['status']}"),
            days=o["age_days"],
        )
        for o in d.open_alerts[:OPEN_SHOWN]
    ]
    if len(d.open_alerts) > OPEN_SHOWN:
        lines.append(copy("digest.open_more", count=len(d.open_alerts) - OPEN_SHOWN))
    return lines


def sections(copy: Copy, d: DigestData) -> list[tuple[str, list[str]]]:
    """(heading, lines) pairs: the digest's text, shared by every renderer."""
    fr = d.first_response
    out: list[tuple[str, list[str]]] = [
        (
            copy("digest.h_alerts"),
            [
                copy("digest.alerts", count=d.alerts[0], change=_signed(d.alerts[1])),
                copy("digest.kinds", kinds=_pairs(copy, "kind_name", d.by_kind)),
                copy("digest.venues", venues=_pairs(copy, "venue", d.by_platform)),
                copy("digest.severities", severities=_pairs(copy, "severity", d.by_severity)),
            ],
        ),
        (
            copy("digest.h_response"),
            [
                copy(
                    "digest.first_response",
                    median=_minutes(fr["median_minutes"], copy),
                    p90=_minutes(fr["p90_minutes"], copy),
                    answered=fr["answered"],
                ),
                copy("digest.unanswered", count=d.unanswered[0], change=_signed(d.unanswered[1])),
                copy(
                    "digest.escalated",
                    count=len(d.escalated),
                    furthest=max((int(e["steps"]) for e in d.escalated), default=0),
                ),
                copy("digest.responders", count=d.responders_engaged),
                copy(
                    "digest.actions",
                    actions=", ".join(f"{copy(f'action.{k}')} {n}" for k, n in d.actions.items())
                    or copy("word.none"),
                ),
            ],
        ),
        (
            copy("digest.h_open"),
            _open_lines(copy, d),
        ),
        (
            copy("digest.h_care"),
            [
                copy("digest.checkins", count=d.checkins["due"], **d.checkins),
                *(
                    copy(
                        "digest.follow_up",
                        name=f["member"],
                        number=f["alert"],
                        answer=copy(f"digest.answer_{f['answer']}"),
                    )
                    for f in d.follow_up
                ),
            ],
        ),
        (
            copy("digest.h_load"),
            [
                copy(
                    "digest.load",
                    people=", ".join(f"{x['member']} {x['responses']}" for x in d.load)
                    or copy("word.none"),
                ),
                copy("digest.tiring", names=", ".join(d.tiring))
                if d.tiring
                else copy("digest.not_tiring", count=d.load_total),
            ],
        ),
        (
            copy("digest.h_library"),
            [
                *(
                    copy(
                        "digest.library_used", number=u["message"], count=u["uses"], text=u["text"]
                    )
                    for u in d.library_used
                ),
                *([] if d.library_used else [copy("digest.library_unused")]),
                copy(
                    "digest.library_gaps",
                    topics=", ".join(d.topics_without_messages) or copy("word.none"),
                ),
            ],
        ),
        (
            copy("digest.h_members"),
            [
                copy("digest.new_members", names=", ".join(d.new_members) or copy("word.none")),
                copy("digest.pending", names=", ".join(d.pending_members) or copy("word.none")),
            ],
        ),
    ]
    return out


def title(copy: Copy, d: DigestData) -> str:
    return copy("digest.title", name=d.collective, week=d.week)


def render_text(copy: Copy, d: DigestData) -> str:
    lines = [title(copy, d), ""]
    for heading, body in sections(copy, d):
        lines.append(heading)
        lines.extend(f"  {line}" for line in body)
    return "\n".join(lines) + "\n"


def render_markdown(copy: Copy, d: DigestData) -> str:
    lines = [f"# {title(copy, d)}"]
    for heading, body in sections(copy, d):
        lines += ["", f"## {heading}", ""]
        lines.extend(f"- {line}" for line in body)
    return "\n".join(lines) + "\n"


def render_message(copy: Copy, d: DigestData, chart: ChartRenderer | None = None) -> Message:
    blocks: list[Block] = [
        para("\n".join(body), heading=heading) for heading, body in sections(copy, d)
    ]
    attachments: tuple[Attachment, ...] = ()
    png = (
        chart.weekly(d.weeks, copy("digest.chart_alerts"), copy("digest.chart_median"))
        if chart
        else None
    )
    if png is not None:
        attachments = (Attachment(f"digest-{d.week}.png", "", "image/png", png),)
    return Message(title=title(copy, d), blocks=tuple(blocks), attachments=attachments)


# --- the command and the weekly send --------------------------------------------------------


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
    ctx._collective = chosen[0]
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
