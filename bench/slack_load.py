"""B1's clients, in a process of their own: closed-loop signed slash commands to one server,
timed here. The fake Slack stays in the benchmark's process, where rallybot's replies and
rally posts land; were the clients in that process too, each of those requests would hold
up the clients' event loop and be counted against rallybot's acks, while the bare app's
block has no such traffic (real Slack's clients are not slowed by an app's API calls).

    python -m bench.slack_load <server url> <fake Slack url> <team> <channel> <user,...>

Reads one block per line on stdin, `<requests> <first number>`, and answers each with one
JSON line: the acks' latencies (ms), the errors, the block's seconds, and for every response
id (`L<number>`) the `time.perf_counter()` of its ack, which on Linux is the machine's
monotonic clock, comparable with the benchmark's. The benchmark registers those response
ids with the fake Slack before it asks for the block.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from typing import Any, cast

import aiohttp

from bench.common import Stopwatch
from bench.slack_ack import SECRET
from tests.fakes.slack import FakeSlack, Sent, SlackSender

CLIENTS = 50


class Numbered:
    """What SlackSender asks of a fake Slack, from the numbers of one block."""

    def __init__(self, fake_url: str, first: int) -> None:
        self.fake_url = fake_url.rstrip("/")
        self.numbers = itertools.count(first)

    def new_response_url(self) -> tuple[str, str]:
        rid = response_id(next(self.numbers))
        return rid, f"{self.fake_url}/response/{rid}"

    def new_trigger_id(self) -> str:
        return f"{time.monotonic_ns()}.trigger"


def response_id(number: int) -> str:
    return f"L{number}"


def alert_text(number: int) -> str:
    return f"alert https://x.com/troll/status/{number} pile-on after my video #{number}"


async def block(
    session: aiohttp.ClientSession,
    server: str,
    fake_url: str,
    team: str,
    channel: str,
    users: list[str],
    requests: int,
    first: int,
) -> dict[str, Any]:
    sender = SlackSender(cast(FakeSlack, Numbered(fake_url, first)), server, SECRET, session)
    numbers = iter(range(first, first + requests))
    latencies: list[float] = []
    acked: dict[str, float] = {}
    errors = 0

    async def client() -> None:
        nonlocal errors
        for n in numbers:
            try:
                user = users[n % len(users)]
                sent: Sent = await sender.command(team, user, alert_text(n), channel)
            except (aiohttp.ClientError, OSError):
                errors += 1
                continue
            if sent.status != 200:
                errors += 1
                continue
            latencies.append(sent.seconds * 1000)
            if sent.response_id is not None:
                acked[sent.response_id] = time.perf_counter()

    watch = Stopwatch()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return {"latencies": latencies, "errors": errors, "seconds": watch.seconds, "acked": acked}


async def main(server: str, fake_url: str, team: str, channel: str, users: list[str]) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    connector = aiohttp.TCPConnector(limit=CLIENTS * 2)
    async with aiohttp.ClientSession(connector=connector) as session:
        print("ready", flush=True)
        while line := await reader.readline():
            requests, first = (int(word) for word in line.split())
            done = await block(session, server, fake_url, team, channel, users, requests, first)
            print(json.dumps(done), flush=True)


if __name__ == "__main__":
    server_url, fake, team_id, channel_id, people = sys.argv[1:6]
    asyncio.run(main(server_url, fake, team_id, channel_id, people.split(",")))
