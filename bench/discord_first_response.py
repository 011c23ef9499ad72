"""How fast the Discord bot gives an interaction its initial response (Discord's deadline: 3 s).

    python -m bench.discord_first_response [--interactions 300] [--postgres URL]

The real discord.py bot (`rallybot run`'s Discord platform) connects to the fake Discord of
the tests over loopback; the outbox dispatcher runs in the same process and loop, as in
production. Timed by the fake: from writing INTERACTION_CREATE to the gateway socket to
receiving the initial response (the interaction callback), for `/rally status` (a read),
`/rally alert` without a link (the form opens), `/rally alert <link>` (raise and rally) and the
"I'm on it" button (a response and a tally edit); each alert is then stood down (untimed),
so the collective has a realistic handful of open alerts. Prints a table and writes
bench/results/discord_first_response.json.
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
import warnings
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.bootstrap import build
from bot.delivery.outbox import Dispatcher
from bot.settings import Settings
from bot.store import schema
from tests.fakes.discord import Channel, FakeDiscord, Interaction, Limits

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    from bot.adapters.discord.client import create

RESULTS = Path(__file__).resolve().parent / "results"
KINDS = ("status", "alert form", "alert", "button")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


async def answered(interaction: Interaction) -> float:
    await interaction.wait(10)
    if interaction.failed or interaction.latency is None:
        raise RuntimeError(f"interaction failed: {interaction.failed}")
    return interaction.latency * 1000


async def posted(fake: FakeDiscord, channel: Channel, title: str) -> dict[str, Any]:
    """The rally message, once the dispatcher (running alongside) has posted it."""
    for _ in range(500):
        for message in fake.channel_messages(channel):
            if message["content"].startswith(title):
                return message
        await asyncio.sleep(0.005)
    raise RuntimeError(f"{title} was never posted")


async def run(interactions: int, database: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = database or f"sqlite:///{Path(tmp) / 'bench.db'}"
        await schema.upgrade(url)
        limits = Limits(messages=1000, edits=1000, dms=1000, other=1000, global_per_second=10_000)
        async with FakeDiscord(limits=limits) as fake:
            lead = fake.add_user("lead", "Lead")
            guild = fake.add_guild("bench", lead)
            channel = fake.add_channel(guild, "rally")
            people = [fake.add_user(f"m{n}", f"Member {n}") for n in range(12)]
            for person in people:
                guild.add_member(person)
            settings = Settings(
                database_url=SecretStr(url),
                data_dir=Path(tmp),
                discord_token=SecretStr(fake.token),
                discord_api_url=fake.api_url,
                discord_gateway_url=fake.gateway_url,
                alerts_per_day=1000,
                review_first_alerts=False,  # timed here: the rally, not a lead's review
            )
            runtime = build(settings)
            discord = create(runtime, guild_ready_timeout=0.05)
            await discord.start()
            dispatcher = Dispatcher(runtime.services.uow, {"discord": discord.chat}, runtime.clock)
            wake = asyncio.Event()
            runtime.services.on_commit = wake.set
            delivery = asyncio.create_task(dispatcher.run_forever(wake, 1.0))
            try:

                async def command(user: Any, sub: str, **options: Any) -> Interaction:
                    return await fake.command(user, sub, options, channel=channel)

                await (await command(lead, "setup")).reply()
                for person in people:
                    await (await command(person, "join")).reply()
                    await (await command(lead, "approve", member=person)).reply()
                    await (await command(lead, "role", member=person, role="responder")).reply()
                timings: dict[str, list[float]] = {k: [] for k in KINDS}
                started = time.perf_counter()
                for n in range(interactions):
                    who = people[n % len(people)]
                    timings["status"].append(await answered(await command(who, "status")))
                    timings["alert form"].append(await answered(await command(who, "alert")))
                    link = f"https://x.com/troll/status/{n}"
                    timings["alert"].append(await answered(await command(who, "alert", link=link)))
                    rally = await posted(fake, channel, f"**Rally #{n + 1}:")
                    custom_id = rally["components"][0]["components"][0]["custom_id"]
                    helper = people[(n + 1) % len(people)]
                    click = await fake.click(helper, rally, custom_id)
                    timings["button"].append(await answered(click))
                    # Collectives have a few open alerts, not hundreds: close this one.
                    await (await command(who, "standdown", alert=n + 1)).reply()
                elapsed = time.perf_counter() - started
            finally:
                delivery.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await delivery
                await discord.stop()
                await runtime.close()
            failed = len(fake.failed_interactions())
    results = {
        kind: {
            "interactions": len(values),
            "median_ms": round(statistics.median(values), 2),
            "p90_ms": round(percentile(values, 90), 2),
            "p99_ms": round(percentile(values, 99), 2),
            "max_ms": round(max(values), 2),
        }
        for kind, values in timings.items()
        if values
    }
    every = [v for values in timings.values() for v in values]
    results["all"] = {
        "interactions": len(every),
        "median_ms": round(statistics.median(every), 2),
        "p90_ms": round(percentile(every, 90), 2),
        "p99_ms": round(percentile(every, 99), 2),
        "max_ms": round(max(every), 2),
    }
    return {
        "benchmark": "discord_first_response",
        "database": "postgresql" if database else "sqlite",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(elapsed, 1),
        "failed_interactions": failed,
        "results": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--interactions", type=int, default=300, help="rounds of the four kinds")
    parser.add_argument("--postgres", help="a PostgreSQL URL (a database you can write to)")
    args = parser.parse_args()
    report = asyncio.run(run(args.interactions, args.postgres))
    print(f"Discord interaction → initial response ({report['database']}, loopback fake Discord)")
    print(f"{'kind':<12} {'n':>5} {'median ms':>10} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for kind, row in report["results"].items():
        print(
            f"{kind:<12} {row['interactions']:>5} {row['median_ms']:>10} {row['p90_ms']:>8} "
            f"{row['p99_ms']:>8} {row['max_ms']:>8}"
        )
    print(f"failed interactions: {report['failed_interactions']}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "discord_first_response.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
