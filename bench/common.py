"""What every benchmark shares: the run's options, timing, percentiles, the machine, the
databases (SQLite files and throw-away PostgreSQL databases), seeding a collective in bulk,
and the results: a printed table and bench/results/<id>-<timestamp>.json."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import platform
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from bot.store import schema
from bot.store.tables import CollectiveRow, IdentityRow, MemberRow, SpaceRow
from bot.store.uow import make_engine
from tests.support.postgres import throwaway_postgres

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"

# The Slack workspace every benchmark's collective lives in.
TEAM, CHANNEL, LEADS = "T0BENCH01", "CRALLY", "CLEADS"


# --- the run ------------------------------------------------------------------------------


@dataclass
class Config:
    """The options of one `python -m bench` run."""

    quick: bool = False
    postgres: str | None = DEFAULT_POSTGRES  # a server URL for throw-away databases; None: skip
    b3_speed: float = 10.0  # B3's time compression (1: Slack's real limits, about 10 minutes)

    def backends(self) -> list[str]:
        return ["sqlite", "postgresql"] if self.postgres else ["sqlite"]


# --- timing and statistics ----------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) a process has used so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q% of the values at or below it."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Stopwatch:
    started: float = field(default_factory=time.perf_counter)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started


async def poll(check: Callable[[], Awaitable[bool]], seconds: float, every: float) -> bool:
    """Ask `check` every `every` seconds until it says yes (True) or time runs out (False)."""
    deadline = time.monotonic() + seconds
    for _ in itertools.count():
        if await check():
            return True
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(every)
    return False


def r(value: float, digits: int = 2) -> float:
    return round(value, digits)


# --- the machine --------------------------------------------------------------------------


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return None


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


async def postgres_version(server_url: str | None) -> str | None:
    if not server_url:
        return None
    engine = make_engine(server_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return str(await connection.scalar(text("SHOW server_version")))
    except Exception:
        return None
    finally:
        await engine.dispose()


_MACHINE: dict[str, Any] = {}


def machine(server_url: str | None = None) -> dict[str, Any]:
    """The machine the figures come from (computed once per run)."""
    if not _MACHINE:
        load = os.getloadavg() if hasattr(os, "getloadavg") else None
        _MACHINE.update(
            {
                "cpu": _cpu_model(),
                "cores": _cores(),
                "ram_gib": _ram_gib(),
                "os": f"{platform.system()} {platform.release()}",
                "python": platform.python_version(),
                "sqlite": sqlite3.sqlite_version,
                "postgresql": asyncio.run(postgres_version(server_url)) if server_url else None,
                "load_average_at_start": [round(x, 2) for x in load] if load else None,
                "git_commit": _git_commit(),
            }
        )
    return dict(_MACHINE)


def _git_commit() -> str | None:
    """The commit measured (+dirty with uncommitted changes); RALLYBOT_BENCH_SOURCE names it
    when the benchmarks run from an exported tree."""
    if os.environ.get("RALLYBOT_BENCH_SOURCE"):
        return os.environ["RALLYBOT_BENCH_SOURCE"]
    try:
        found = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    )
    commit = found.stdout.strip() or None
    return f"{commit}+dirty" if commit and dirty.stdout.strip() else commit


# --- results ------------------------------------------------------------------------------


@dataclass
class Goal:
    """One figure next to the issue's goal; met is None for a figure that is only reported."""

    name: str
    measured: Any
    target: str
    met: bool | None


@dataclass
class Result:
    id: str
    title: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    # Timed samples in the order they were taken (ms), where a benchmark keeps them: a tail
    # can be traced to the block it came from.
    samples: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    status: str = "ok"  # ok, skipped, failed
    machine: dict[str, Any] = field(default_factory=dict)
    at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))

    def goal(self, name: str, measured: Any, target: str, met: bool | None) -> None:
        self.goals.append(Goal(name, measured, target, met))

    @property
    def met(self) -> bool | None:
        known = [g.met for g in self.goals if g.met is not None]
        return all(known) if known else None


def write_json(result: Result) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = RESULTS / f"{result.id}-{stamp}.json"
    path.write_text(json.dumps(asdict(result), indent=2, default=str) + "\n")
    return path


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else str(value)


def table(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> str:
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c), *(len(line[i]) for line in cells)]) for i, c in enumerate(columns)]
    out = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(columns, widths, strict=True))
        )
    ]
    out.append("  ".join("-" * w for w in widths))
    for line in cells:
        out.append(
            "  ".join(
                v.ljust(w) if i == 0 else v.rjust(w)
                for i, (v, w) in enumerate(zip(line, widths, strict=True))
            )
        )
    return "\n".join(out)


def verdict(met: bool | None) -> str:
    return "report only" if met is None else "met" if met else "NOT MET"


def show(result: Result) -> None:
    print(f"\n== {result.id}: {result.title} ({result.seconds:.0f} s) ==")
    if result.rows:
        print(table(result.columns, result.rows))
    for g in result.goals:
        print(f"  goal  {g.name}: {_cell(g.measured)} (goal {g.target}): {verdict(g.met)}")
    for note in result.notes:
        print(f"  note  {note}")
    sys.stdout.flush()


# --- databases ----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def database(backend: str, server_url: str | None) -> AsyncIterator[str]:
    """A new, migrated database: a SQLite file in a temporary directory, or a throw-away
    PostgreSQL database on the server of server_url (dropped on exit)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="rallybot-bench-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            await schema.upgrade(url)
            yield url
        return
    assert server_url is not None, "no PostgreSQL server configured"
    # The tests' helper, with names that say the databases belong to a benchmark.
    async with throwaway_postgres(server_url, prefix="rallybot_bench") as url:
        await schema.upgrade(url)
        yield url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- processes ----------------------------------------------------------------------------


BENCH_SECRET_KEY = "6rCdq2Fy3fC2nNhrx7VbNtU4mTnI6wEZDn8YjU3NJRw="  # a throw-away Fernet key


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without any rallybot, Slack, Discord or database setting,
    plus `values`: a child configured by exactly what the benchmark says."""
    prefixes = ("RALLYBOT_", "SLACK_", "DISCORD_", "DATABASE_URL", "PORT")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["PYTHONPATH"] = str(ROOT)
    # rallybot does not start on PostgreSQL without a key for the tokens it stores.
    env["RALLYBOT_SECRET_KEY"] = BENCH_SECRET_KEY
    env.update(values)
    return env


# On one machine a `rallybot worker` runs below the acknowledging process's CPU priority, as
# docs/operations.md advises (nice, or compose's cpu_shares): acks first, the work after.
WORKER_NICE = 10


async def spawn(
    args: Sequence[str],
    env: dict[str, str],
    cwd: Path,
    log: Path,
    pipe_stdout: bool = False,
    nice: int = 0,
) -> asyncio.subprocess.Process:
    """A child process; its stderr (and stdout unless piped) goes to `log`; `nice` lowers
    its CPU priority."""
    with log.open("ab") as sink:
        return await asyncio.create_subprocess_exec(
            *args,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if pipe_stdout else sink,
            stderr=sink,
            preexec_fn=(lambda: os.nice(nice)) if nice else None,
        )


async def wait_line(process: asyncio.subprocess.Process, word: str, seconds: float = 60) -> None:
    assert process.stdout is not None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = await asyncio.wait_for(process.stdout.readline(), deadline - time.monotonic())
        if not line:
            raise RuntimeError(f"the child exited before saying {word!r}")
        if line.decode().strip() == word:
            return
    raise TimeoutError(f"the child never said {word!r}")


async def wait_http(url: str, process: asyncio.subprocess.Process, seconds: float = 60) -> float:
    """Poll url until it answers 200; returns the seconds it took."""
    import aiohttp

    watch = Stopwatch()
    async with aiohttp.ClientSession() as session:
        while watch.seconds < seconds:
            if process.returncode is not None:
                raise RuntimeError(f"the child exited with {process.returncode}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(url) as answer:
                    if answer.status == 200:
                        return watch.seconds
            await asyncio.sleep(0.05)
    raise TimeoutError(f"{url} did not answer 200 in {seconds} s")


async def stop(process: asyncio.subprocess.Process, seconds: float = 20) -> int:
    """SIGTERM, then SIGKILL if it does not stop in time; returns the exit code."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), seconds)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    return process.returncode if process.returncode is not None else -1


def tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


# --- seeding ------------------------------------------------------------------------------

EPOCH = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def new_id() -> str:
    return uuid.uuid4().hex


def collective_row(cid: str, **more: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": cid,
        "name": "Bench collective",
        "timezone": "America/Chicago",
        "created_at": EPOCH,
        "rally_cap": 8,
        "escalation_wait_minutes": 30,
        "escalation_min_responders": 2,
        "escalation_max_steps": 3,
        "checkin_offsets_hours": [24, 72, 168],
        "alerts_per_day": 1_000_000,
        "alert_seq": 0,
        "digest_weekday": 0,
        "digest_hour": 9,
        "digest_to_channel": False,
        "next_digest_at": None,
        "review_first_alerts": False,
        "brigade_threshold": 3,
    }
    row.update(more)
    return row


def member_row(mid: str, cid: str, n: int, roles: list[str], **more: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": mid,
        "collective_id": cid,
        "handle": f"m{n:05d}",
        "display_name": f"Member {n}",
        "joined_at": EPOCH,
        "status": "active",
        "roles": roles,
        "available": True,
        "paused_until": None,
        "quiet_start": None,
        "quiet_end": None,
        "timezone": None,
        "skills": [],
        "prefers_dm": False,
        "preferred_platform": None,
        "last_rallied_at": None,
        "lead_via_role": False,
        "trusted": True,
    }
    row.update(more)
    return row


def slack_user(n: int) -> str:
    return f"UB{n:06d}"


@dataclass
class Seeded:
    collective_id: str
    member_ids: list[str]  # index n is member n (member 0 is the lead)
    users: list[str]  # their Slack user ids, same order
    responders: range  # the member numbers with the responder role


async def seed_collective(
    engine: AsyncEngine,
    members: int,
    responders: int,
    *,
    prefers_dm: bool = False,
    rally_cap: int = 8,
    platform_name: str = "slack",
    workspace: str = TEAM,
    rally_channel: str = CHANNEL,
    leads_channel: str | None = LEADS,
    name: str = "Bench collective",
) -> Seeded:
    """A collective in one Slack workspace, in bulk: member 0 is a lead, members 1 to
    `responders` respond, the rest are members; all vetted, trusted and reachable on Slack."""
    cid = new_id()
    ids = [new_id() for _ in range(members)]
    users = [slack_user(n) for n in range(members)]
    rows = []
    for n, mid in enumerate(ids):
        roles = ["lead"] if n == 0 else ["responder"] if n <= responders else []
        rows.append(member_row(mid, cid, n, roles, prefers_dm=prefers_dm and n > 0))
    idents = [
        {
            "id": new_id(),
            "member_id": mid,
            "platform": platform_name,
            "workspace": workspace,
            "user": users[n],
        }
        for n, mid in enumerate(ids)
    ]
    async with engine.begin() as conn:
        await conn.execute(
            insert(CollectiveRow), [collective_row(cid, rally_cap=rally_cap, name=name)]
        )
        await conn.execute(
            insert(SpaceRow),
            [
                {
                    "id": new_id(),
                    "collective_id": cid,
                    "platform": platform_name,
                    "external_id": workspace,
                    "rally_channel": rally_channel,
                    "leads_channel": leads_channel,
                    "lead_role": None,
                }
            ],
        )
        for start in range(0, members, 1000):
            await conn.execute(insert(MemberRow), rows[start : start + 1000])
            await conn.execute(insert(IdentityRow), idents[start : start + 1000])
    return Seeded(cid, ids, users, range(1, responders + 1))


class LogCount(logging.Handler):
    """Counts what rallybot logs at WARNING and above in this process, by logger and
    exception, instead of printing hundreds of tracebacks into the benchmark's table."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        what = record.getMessage()[:60]
        if record.exc_info and record.exc_info[1] is not None:
            what = _error_text(type(record.exc_info[1]).__name__, str(record.exc_info[1]))
        self.seen[f"{record.levelname} {record.name}: {what}"] += 1

    def summary(self) -> str:
        return "; ".join(f"{n}x {what}" for what, n in self.seen.most_common(6))


LOGGED = LogCount()


def _error_text(kind: str, message: str) -> str:
    first = message.splitlines()[0] if message else ""
    first = first.split(" (Background on this error")[0]
    return f"{kind}: {first[:90]}"


def quiet_logs() -> None:
    """Nothing is printed from the libraries or rallybot; warnings and errors are counted."""
    root = logging.getLogger()
    root.setLevel(logging.WARNING)
    root.handlers[:] = [LOGGED]


_TRACEBACK_END = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Timeout)\w*): (.*)$")


def logged_errors(path: Path) -> str:
    """The exceptions at the end of the tracebacks in a child's log, counted by kind."""
    seen: Counter[str] = Counter()
    with contextlib.suppress(OSError):
        for line in path.read_text(errors="replace").splitlines():
            found = _TRACEBACK_END.match(line)
            if found:
                seen[_error_text(found.group(1).rsplit(".", 1)[-1], found.group(2))] += 1
    return "; ".join(f"{n}x {what}" for what, n in seen.most_common(6))
