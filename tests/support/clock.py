"""The adapter tests' clock: real time moved to the same hour of every day, plus whatever the
test moves it forward by."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

# 18:00 UTC is noon in America/Chicago, the collectives' zone in the tests: check-ins (09:00
# local), quiet hours and "today" fall the same way whatever hour of the day the tests run.
START_HOUR_UTC = 18


def to_the_start_hour(now: datetime | None = None) -> timedelta:
    """From now to the next START_HOUR_UTC (never backwards: the platforms' fakes keep real
    time for signatures and tokens, and the bot's clock never runs behind them)."""
    now = now or datetime.now(UTC)
    start = now.replace(hour=START_HOUR_UTC, minute=0, second=0, microsecond=0)
    if start < now:
        start += timedelta(days=1)
    return start - now


@dataclass
class MovableClock:
    """Real time plus an offset: the start hour at first, moved forward by the test
    (check-ins, escalations)."""

    offset: timedelta = field(default_factory=to_the_start_hour)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset
