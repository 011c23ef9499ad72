"""B5: does a week's digest cost more when the database holds five years of history?

One generator describes five years of a collective of 1,000 members: 50,000 alerts (about
190 a week), 20 responses to each (1,000,000) and 3 check-ins after each (150,000). Three
databases per backend get the rows that fall in a span ending with the digest's week
(2026-W48):

- 1 week: only that week's alerts (and their responses and check-ins);
- 9 weeks: everything the digest reads (its 8-week chart, the 30-day load window, the week's
  check-ins, the open alerts), so its digest must equal the five-year one exactly;
- 5 years: everything.

Rows go in as bulk batches (sqlite3 executemany in one transaction; asyncpg COPY on
PostgreSQL), then ANALYZE (VACUUM ANALYZE on PostgreSQL). Timed:
`Services.digest_report(None, "2026-W48", send=False)`, the `rallybot digest` path, several
times per database with the databases taken in turn; the median is reported.
"""

from __future__ import annotations

import gc
import json
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from pydantic import SecretStr
from sqlalchemy import make_url

from bench.common import TEAM, Config, Result, Stopwatch, collective_row, database, median, r
from bot.bootstrap import Runtime, build
from bot.core.digest.weeks import parse_week
from bot.settings import Settings

TZ = "America/Chicago"
WEEK = "2026-W48"
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
SPAN = timedelta(weeks=260)  # five years
GOAL_RATIO = 1.5
KINDS = (["pile_on"], ["trolling"], ["misinformation"], ["review_bombing"], ["pile_on", "trolling"])
VENUES = ("x", "instagram", "tiktok", "facebook", "youtube", "reddit")
STATES = ("on_it",) * 6 + ("done",) * 3 + ("cant",)
ANSWERS = ("ok", "struggling", "need_help")


@dataclass(frozen=True)
class Size:
    members: int
    alerts: int
    responses_per_alert: int
    checkins_per_alert: int = 3


class FixedClock:
    def now(self) -> datetime:
        return NOW


def _sqlite_time(value: datetime | None) -> str | None:
    """How SQLAlchemy stores a UTCDateTime in SQLite."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass
class Table:
    name: str
    columns: Sequence[str]
    json_columns: frozenset[str]
    rows: list[tuple[Any, ...]]


class History:
    """Five years of one collective, generated deterministically, cut to a span."""

    def __init__(self, size: Size, end: datetime) -> None:
        self.size = size
        self.end = end
        self.cid = "c" * 32
        self.members = [f"m{n:031d}" for n in range(size.members)]

    def alerts(self, since: datetime) -> Iterator[tuple[int, datetime]]:
        step = SPAN / self.size.alerts
        for k in range(self.size.alerts):  # k = 0 is the newest
            raised = self.end - step * (k + 0.5)
            if raised < since:
                return
            yield k, raised

    def tables(self, since: datetime) -> list[Table]:
        size, cid, members = self.size, self.cid, self.members
        collective = collective_row(cid, name="Bench collective", timezone=TZ)
        space = (f"s{'0' * 31}", cid, "slack", TEAM, "CRALLY", "CLEADS", None)
        member_rows: list[tuple[Any, ...]] = []
        for n, mid in enumerate(members):
            roles = ["lead"] if n < 10 else ["responder"] if n < 900 else []
            member_rows.append(
                (mid, cid, f"m{n:05d}", f"Member {n}", NOW - timedelta(days=2200), "active",
                 roles, True, None, None, None, None, [], False, None, None, False, True)
            )  # fmt: skip
        alerts: list[tuple[Any, ...]] = []
        responses: list[tuple[Any, ...]] = []
        checkins: list[tuple[Any, ...]] = []
        for k, raised in self.alerts(since):
            aid = f"a{k:031d}"
            target = members[(k * 7) % size.members]
            is_open = raised >= self.end - timedelta(days=14)
            answered = k % 10 != 0
            leads_only = k % 20 == 19
            alerts.append(
                (aid, cid, size.alerts - k, target, target, raised, [f"https://x.com/t/{k}"],
                 KINDS[k % len(KINDS)], "high" if k % 10 == 3 else "medium",
                 ["amplify", "counter", "report"], "leads" if leads_only else "all",
                 VENUES[k % len(VENUES)], None, "", False,
                 "active" if is_open else "closed", None, raised,
                 raised + timedelta(minutes=5 + k % 55) if answered else None,
                 1 if k % 13 == 0 else 0, None, None, None, False, False, [], False,
                 None if is_open else raised + timedelta(days=2),
                 None if is_open else "stood_down", None, None, None)
            )  # fmt: skip
            for j in range(size.responses_per_alert):
                state = STATES[j % len(STATES)]
                first = raised + timedelta(minutes=3 * (j + 1))
                responses.append(
                    (aid, members[(k * 37 + j * 50) % size.members], state,
                     ["amplified", "reported"] if state == "done" else [], first, first, None)
                )  # fmt: skip
            for j, hours in enumerate((24, 72, 168)[: size.checkins_per_alert]):
                due = raised + timedelta(hours=hours)
                if due > NOW:
                    status, sent, answer, answered_at = "scheduled", None, None, None
                elif j == 0:
                    status, sent = "answered", due
                    answer, answered_at = ANSWERS[k % 3], due + timedelta(hours=1)
                else:
                    status, sent, answer, answered_at = "sent", due, None, None
                checkins.append(
                    (f"k{k:026d}{j:05d}", aid, target, due, status, sent, answer, answered_at)
                )
        return [
            Table("collectives", list(collective), frozenset({"checkin_offsets_hours"}),
                  [tuple(collective.values())]),
            Table("spaces", ["id", "collective_id", "platform", "external_id", "rally_channel",
                             "leads_channel", "lead_role"], frozenset(), [space]),
            Table("members", ["id", "collective_id", "handle", "display_name", "joined_at",
                              "status", "roles", "available", "paused_until", "quiet_start",
                              "quiet_end", "timezone", "skills", "prefers_dm",
                              "preferred_platform", "last_rallied_at", "lead_via_role",
                              "trusted"], frozenset({"roles", "skills"}), member_rows),
            Table("alerts", ["id", "collective_id", "number", "target_id", "raised_by_id",
                             "raised_at", "links", "kinds", "severity", "help_wanted",
                             "visibility", "venue", "target_post", "note", "anonymous",
                             "status", "consented_at", "activated_at", "first_response_at",
                             "escalation_step", "escalate_at", "last_escalated_at",
                             "safety_lead_id", "safety_lead_ok", "target_ok", "delegates",
                             "checkins_paused", "closed_at", "close_reason", "closed_by_id",
                             "purged_at", "held_reason"],
                  frozenset({"links", "kinds", "help_wanted", "delegates"}), alerts),
            Table("responses", ["alert_id", "member_id", "state", "actions", "first_at",
                                "updated_at", "reminded_at"], frozenset({"actions"}), responses),
            Table("checkins", ["id", "alert_id", "member_id", "due_at", "status", "sent_at",
                               "answer", "answered_at"], frozenset(), checkins),
        ]  # fmt: skip


def load_sqlite(url: str, tables: list[Table]) -> None:
    path = url.removeprefix("sqlite:///")
    con = sqlite3.connect(path)
    try:
        with con:
            for t in tables:
                jsons = [i for i, c in enumerate(t.columns) if c in t.json_columns]

                def convert(row: tuple[Any, ...], jsons: list[int] = jsons) -> tuple[Any, ...]:
                    out = list(row)
                    for i, v in enumerate(out):
                        if isinstance(v, datetime):
                            out[i] = _sqlite_time(v)
                    for i in jsons:
                        out[i] = json.dumps(out[i])
                    return tuple(out)

                marks = ", ".join("?" * len(t.columns))
                con.executemany(
                    f"INSERT INTO {t.name} ({', '.join(t.columns)}) VALUES ({marks})",
                    (convert(row) for row in t.rows),
                )
        con.execute("ANALYZE")
    finally:
        con.close()


async def load_postgres(url: str, tables: list[Table]) -> None:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    con = await asyncpg.connect(dsn)
    try:
        async with con.transaction():
            for t in tables:
                jsons = [i for i, c in enumerate(t.columns) if c in t.json_columns]
                records = t.rows
                if jsons:
                    records = [
                        tuple(json.dumps(v) if i in jsons else v for i, v in enumerate(row))
                        for row in t.rows
                    ]
                await con.copy_records_to_table(t.name, records=records, columns=list(t.columns))
        # VACUUM too, so that autovacuum does not start on the new rows while we time.
        await con.execute("VACUUM (ANALYZE)")
    finally:
        await con.close()


async def timed_digest(runtime: Runtime) -> tuple[float, str]:
    started = time.perf_counter()
    data = await runtime.services.digest_report(None, WEEK, send=False)
    return time.perf_counter() - started, data.to_json()


async def one_backend(backend: str, cfg: Config, size: Size, result: Result) -> None:
    week = parse_week(WEEK, TZ)
    history = History(size, week.end)
    spans = {
        "1 week": week.start,
        "9 weeks": week.end - timedelta(weeks=9),
        "5 years": week.end - SPAN,
    }
    runs = 3 if cfg.quick else 5
    urls: dict[str, str] = {}
    counts: dict[str, dict[str, int]] = {}
    seeding: dict[str, float] = {}
    async with AsyncExitStack() as stack:
        for label, since in spans.items():
            url = await stack.enter_async_context(database(backend, cfg.postgres))
            tables = history.tables(since)
            watch = Stopwatch()
            if backend == "sqlite":
                load_sqlite(url, tables)
            else:
                await load_postgres(url, tables)
            seeding[label] = watch.seconds
            counts[label] = {t.name: len(t.rows) for t in tables}
            urls[label] = url
            del tables
        # The generated rows are millions of objects: gone before timing, or every garbage
        # collection during a digest would walk them too.
        gc.collect()
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="rallybot-b5-"))
        runtimes: dict[str, Runtime] = {}
        for label, url in urls.items():
            runtime = build(
                Settings(database_url=SecretStr(url), data_dir=Path(tmp), slack_bot_token=None),
                FixedClock(),
            )
            stack.push_async_callback(runtime.close)
            runtimes[label] = runtime
        times: dict[str, list[float]] = {label: [] for label in urls}
        outputs: dict[str, str] = {}
        for label, runtime in runtimes.items():  # warm up: the pool, the statement caches
            _, outputs[label] = await timed_digest(runtime)
        labels = list(urls)
        for n in range(runs):
            for label in labels[n % len(labels) :] + labels[: n % len(labels)]:
                seconds, _ = await timed_digest(runtimes[label])
                times[label].append(seconds)
    for label in urls:
        c = counts[label]
        result.rows.append(
            {
                "database": backend,
                "history": label,
                "alerts": c["alerts"],
                "responses": c["responses"],
                "check-ins": c["checkins"],
                "seeded in (s)": r(seeding[label], 1),
                "digest median ms": r(median(times[label]) * 1000, 1),
                "min ms": r(min(times[label]) * 1000, 1),
                "max ms": r(max(times[label]) * 1000, 1),
            }
        )
    same = json.loads(outputs["9 weeks"]) == json.loads(outputs["5 years"])
    year_ratio = median(times["5 years"]) / median(times["1 week"])
    window_ratio = median(times["5 years"]) / median(times["9 weeks"])
    result.rows.append(
        {"database": backend, "history": "5 years ÷ 1 week", "digest median ms": r(year_ratio)}
    )
    result.rows.append(
        {"database": backend, "history": "5 years ÷ 9 weeks", "digest median ms": r(window_ratio)}
    )
    result.goal(f"5 years ÷ 1 week, {backend}", r(year_ratio), f"≤ {GOAL_RATIO}", year_ratio <= 1.5)
    result.goal(
        f"5 years ÷ 9 weeks (the digest's own window), {backend}", r(window_ratio), "report", None
    )
    result.goal(f"same digest from 9 weeks and 5 years, {backend}", same, "yes", same)


async def main(cfg: Config) -> Result:
    size = Size(1000, 5000, 20) if cfg.quick else Size(1000, 50_000, 20)
    result = Result(
        "B5",
        "Digest growth: one week's digest inside 1 week vs 5 years of history",
        [
            "database",
            "history",
            "alerts",
            "responses",
            "check-ins",
            "seeded in (s)",
            "digest median ms",
            "min ms",
            "max ms",
        ],
        params={
            "members": size.members,
            "alerts": size.alerts,
            "responses": size.alerts * size.responses_per_alert,
            "checkins": size.alerts * size.checkins_per_alert,
            "week": WEEK,
            "runs": 3 if cfg.quick else 5,
        },
    )
    for backend in cfg.backends():
        await one_backend(backend, cfg, size, result)
    return result
