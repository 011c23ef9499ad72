"""B1's baseline (the fair floor): a bare Bolt AsyncApp whose /rally handler writes the
request with one INSERT into the same database (the inbox table, as platform "bare", which no
rallybot worker claims) and acks, served exactly as `rallybot web` serves Slack (aiohttp
AppRunner + TCPSite, Bolt's aiohttp request adapters, process_before_response=True, signature
verification on).

    DATABASE_URL=… SLACK_SIGNING_SECRET=… SLACK_BOT_TOKEN=… SLACK_API_URL=… \
        python -m bench.bare_slack PORT

Prints "ready" once it listens; stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store import inbox
from bot.store.uow import make_engine


def make_app(engine: AsyncEngine) -> AsyncApp:
    token = os.environ["SLACK_BOT_TOKEN"]
    logger = logging.getLogger("bench.bare_slack")
    logger.setLevel(logging.ERROR)
    app = AsyncApp(
        name="bare",
        logger=logger,
        process_before_response=True,
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        token=token,
        client=AsyncWebClient(token=token, base_url=os.environ["SLACK_API_URL"]),
    )

    async def insert_then_ack(ack: AsyncAck, body: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        await inbox.write(
            engine,
            platform="bare",
            request_id=str(body.get("trigger_id") or uuid.uuid4().hex),
            workspace=str(body.get("team_id") or ""),
            user=str(body.get("user_id") or ""),
            kind="command",
            payload=body,
            respond_to=body.get("response_url"),
            respond_until=now + timedelta(minutes=30),
            now=now,
            # A row nobody works: it wakes no rallybot worker (migration 0012), so the floor
            # pays for the INSERT and nothing else.
            next_try=now + timedelta(days=365),
        )
        await ack()

    app.command("/rally")(insert_then_ack)
    return app


async def serve(port: int) -> None:
    engine = make_engine(os.environ["DATABASE_URL"])
    app = make_app(engine)

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    site_app = web.Application()
    site_app.router.add_post("/slack/events", events)
    runner = web.AppRunner(site_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await runner.cleanup()
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
