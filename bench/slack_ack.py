"""How fast rallybot acknowledges `/rally alert` over HTTP (Slack's deadline is 3 s).

    python -m bench.slack_ack [--requests 300] [--postgres URL]

The real Bolt app (`rallybot web`'s SlackHttp) serves signed slash commands from the fake Slack
of the tests over loopback, with the outbox dispatcher running in the same process as in
production. Timed: from sending the POST to receiving the HTTP response (the ack), for the
modal form (`/rally alert`, answered with views.open after the ack) and the one-line form
(`/rally alert <link> <note>`, which raises and rallies after the ack). Prints a table and
writes bench/results/slack_ack.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr

from bot.adapters.slack.syntax import SLACK
from bot.adapters.slack.web import SlackHttp
from bot.bootstrap import build
from bot.core.commands import Caller
from bot.delivery.outbox import Dispatcher
from bot.ops.http import start_public
from bot.ops.observe import Observer
from bot.settings import Settings
from bot.store import schema
from tests.fakes.slack import FakeSlack, Limits, SlackSender, User

SECRET = "bench-signing-secret"
TEAM, CHANNEL = "T0BENCH01", "CBENCH"
RESULTS = Path(__file__).resolve().parent / "results"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


async def run(requests: int, database: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = database or f"sqlite:///{Path(tmp) / 'bench.db'}"
        await schema.upgrade(url)
        async with FakeSlack(
            limits=Limits(post_per_second=1000, post_burst=1000, tier_scale=100)
        ) as fake:
            people = [User(f"UB{n:04d}", f"m{n}", f"Member {n}") for n in range(12)]
            people[0].is_admin = True
            fake.add_workspace(TEAM, "bench", people, {CHANNEL})
            settings = Settings(
                database_url=SecretStr(url),
                data_dir=Path(tmp),
                slack_api_url=fake.api_url,
                slack_signing_secret=SecretStr(SECRET),
                slack_bot_token=SecretStr(fake.workspaces[TEAM].bot_token),
                slack_client_id=None,
                slack_client_secret=None,
                alerts_per_day=1000,
            )
            runtime = build(settings)
            http = SlackHttp(runtime)
            observer = Observer(runtime, platforms=[http])
            server = await start_public(observer, [http], 0, "127.0.0.1")
            await http.start()
            services = runtime.services
            admin = Caller(
                "slack", TEAM, people[0].id, "Member 0", channel=CHANNEL, can_manage=True
            )
            await services.handle_text(admin, "setup")
            for person in people[1:]:
                caller = Caller("slack", TEAM, person.id, person.display_name, channel=CHANNEL)
                await services.handle_text(caller, "join")
                await services.handle_text(admin, f"approve <@{person.id}>", SLACK)
                await services.handle_text(admin, f"role <@{person.id}> responder", SLACK)
            dispatcher = Dispatcher(services.uow, {"slack": http.chat}, runtime.clock)
            wake = asyncio.Event()
            services.on_commit = wake.set
            delivery = asyncio.create_task(dispatcher.run_forever(wake, 1.0))
            results: dict[str, Any] = {}
            try:
                async with aiohttp.ClientSession() as session:
                    sender = SlackSender(fake, f"http://127.0.0.1:{server.port}", SECRET, session)
                    for name, text in (
                        ("modal", "alert"),
                        ("one-line", "alert https://x.com/troll/status/1 pile-on after my video"),
                    ):
                        for _ in range(10):  # warm up
                            await sender.command(TEAM, people[1].id, text, CHANNEL)
                        seconds = []
                        for n in range(requests):
                            who = people[1 + n % (len(people) - 1)].id
                            sent = await sender.command(TEAM, who, text, CHANNEL)
                            assert sent.status == 200, sent.body
                            seconds.append(sent.seconds * 1000)
                        results[name] = {
                            "requests": requests,
                            "median_ms": round(statistics.median(seconds), 2),
                            "p90_ms": round(percentile(seconds, 90), 2),
                            "p99_ms": round(percentile(seconds, 99), 2),
                            "max_ms": round(max(seconds), 2),
                        }
                        await asyncio.sleep(0.5)  # let the listeners finish before the next run
            finally:
                delivery.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await delivery
                await server.stop()
                await http.stop()
                await runtime.close()
        return {
            "benchmark": "slack_ack",
            "database": "postgresql" if database else "sqlite",
            "python": platform.python_version(),
            "machine": platform.machine(),
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "results": results,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--postgres", help="a throw-away PostgreSQL database URL (migrated here)")
    args = parser.parse_args()
    report = asyncio.run(run(args.requests, args.postgres))
    print(f"/rally alert ack latency over HTTP ({report['database']}, {args.requests} requests)")
    print(f"{'form':<10} {'median ms':>10} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, row in report["results"].items():
        print(
            f"{name:<10} {row['median_ms']:>10} {row['p90_ms']:>8} {row['p99_ms']:>8} "
            f"{row['max_ms']:>8}"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "slack_ack.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
