"""The digest's weeks: Monday to Monday in a collective's time zone, as UTC instants."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core.errors import BadInput
from bot.core.model import Collective

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
