"""The digest's figures: one week's rows in, every number the digest says out (no I/O)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from statistics import median

from bot.core.digest.weeks import Week, week_containing
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
from bot.core.ports import FirstResponseTimes

CHART_WEEKS = 8


LOAD_DAYS = 30


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
