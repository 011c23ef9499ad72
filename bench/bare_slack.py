"""B1's baseline: a bare Bolt AsyncApp whose /rally handler only acks, served exactly as
`rallybot web` serves Slack (aiohttp AppRunner + TCPSite, Bolt's aiohttp request adapters,
process_before_response=True, signature verification on).

    SLACK_SIGNING_SECRET=… SLACK_BOT_TOKEN=… SLACK_API_URL=… python -m bench.bare_slack PORT

Prints "ready" once it listens; stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient


def make_app() -> AsyncApp:
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

    async def only_ack(ack: AsyncAck) -> None:
        await ack()

    app.command("/rally")(only_ack)
    return app


async def serve(port: int) -> None:
    app = make_app()

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


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
