"""Run rallybot's benchmarks: `python -m bench` (all), `--quick`, `--only B3,B5`.

Each benchmark prints a table, writes bench/results/<id>-<timestamp>.json and states the
machine; the run ends with a summary of every goal. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
import time
import traceback
from collections.abc import Callable, Coroutine
from typing import Any

from bench.common import (
    DEFAULT_POSTGRES,
    LOGGED,
    Config,
    Result,
    machine,
    quiet_logs,
    show,
    table,
    verdict,
    write_json,
)

# id -> (module, what it measures)
BENCHMARKS: dict[str, tuple[str, str]] = {
    "B1": ("bench.b1_slack_ack", "Slack ack latency vs a bare Bolt app"),
    "B2": ("bench.b2_discord", "Discord first response vs a bare discord.py handler"),
    "B3": ("bench.b3_fanout", "rally fan-out to 500 responders by DM under Slack's limits"),
    "B4": ("bench.b4_click_storm", "1,000 clicks on one rally in 10 s"),
    "B5": ("bench.b5_digest", "digest cost: 1 week vs 5 years of history"),
    "B6": ("bench.b6_due_work", "100,000 due check-ins: 1 vs 4 worker processes, and a restart"),
    "B7": ("bench.b7_footprint", "rallybot run's memory and cold start, Slack and Discord"),
    "B8": ("bench.b8_queries", "SQL statements to raise and rally, by collective size"),
    "B9": ("bench.b9_kill", "kill -9 mid-way through 1,000 signed commands: answered once"),
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes, for a quick look")
    p.add_argument("--only", help="comma-separated ids, e.g. B1,B5")
    p.add_argument(
        "--postgres",
        default=os.environ.get("RALLYBOT_BENCH_POSTGRES_URL")
        or os.environ.get("RALLYBOT_TEST_POSTGRES_URL")
        or DEFAULT_POSTGRES,
        help="a PostgreSQL server URL; each benchmark creates and drops its own databases "
        "(default: $RALLYBOT_BENCH_POSTGRES_URL, $RALLYBOT_TEST_POSTGRES_URL or "
        f"{DEFAULT_POSTGRES})",
    )
    p.add_argument("--no-postgres", action="store_true", help="SQLite only")
    p.add_argument(
        "--b3-speed",
        type=float,
        default=10.0,
        help="B3's time compression: Slack's rate limits and rallybot's pacing both run this "
        "many times faster (1 = Slack's real limits; B3 then takes about 10 minutes)",
    )
    return p.parse_args(argv)


def run_one(bench_id: str, cfg: Config) -> Result:
    module_name, what = BENCHMARKS[bench_id]
    started = time.perf_counter()
    LOGGED.seen.clear()
    try:
        module = importlib.import_module(module_name)
        entry: Callable[[Config], Coroutine[Any, Any, Result]] = module.main
        result = asyncio.run(entry(cfg))
    except Exception as error:
        traceback.print_exc()
        result = Result(
            bench_id, what, [], status="failed", notes=[f"{type(error).__name__}: {error}"]
        )
    if LOGGED.seen:
        result.notes.append(f"logged by this process: {LOGGED.summary()}")
    result.seconds = round(time.perf_counter() - started, 1)
    result.machine = machine()
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    quiet_logs()
    wanted = [w.strip().upper() for w in args.only.split(",")] if args.only else list(BENCHMARKS)
    unknown = [w for w in wanted if w not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    cfg = Config(
        quick=args.quick,
        postgres=None if args.no_postgres else args.postgres,
        b3_speed=args.b3_speed,
    )
    facts = machine(cfg.postgres)
    if cfg.postgres and facts["postgresql"] is None:
        print(f"PostgreSQL at {cfg.postgres} does not answer: use --no-postgres", file=sys.stderr)
        return 2
    print(
        f"machine: {facts['cpu']}, {facts['cores']} cores, {facts['ram_gib']} GiB, "
        f"Python {facts['python']}, SQLite {facts['sqlite']}, "
        f"PostgreSQL {facts['postgresql'] or '(not used)'}; "
        f"{'quick' if cfg.quick else 'full'} sizes"
    )
    started = time.perf_counter()
    summary: list[dict[str, Any]] = []
    for bench_id in wanted:
        result = run_one(bench_id, cfg)
        show(result)
        path = write_json(result)
        print(f"  wrote {path.relative_to(path.parents[2])}")
        if not result.goals:
            summary.append(
                {"id": bench_id, "goal": "-", "measured": None, "verdict": result.status}
            )
        for g in result.goals:
            summary.append(
                {
                    "id": bench_id,
                    "goal": f"{g.name} {g.target}",
                    "measured": g.measured,
                    "verdict": verdict(g.met) if result.status == "ok" else result.status,
                }
            )
    print(f"\n== summary ({time.perf_counter() - started:.0f} s) ==")
    print(table(["id", "goal", "measured", "verdict"], summary))
    failed = any(row["verdict"] == "failed" for row in summary)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
