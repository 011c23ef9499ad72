"""`rallybot web`: Slack over HTTP (events, OAuth install, health) plus delivery, on $PORT."""

from __future__ import annotations

import asyncio
import logging
import sys

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot.adapters.slack.app import (
    EVENTS_PATH,
    INSTALL_PATH,
    REDIRECT_PATH,
    SlackConfigError,
    build_app,
    is_oauth,
    make_workspaces,
)
from bot.adapters.slack.auth import Workspaces
from bot.adapters.slack.chat import SlackChat
from bot.adapters.slack.gate import SlackGate
from bot.adapters.slack.inbox import SlackInbox
from bot.adapters.slack.listeners import Listeners
from bot.adapters.slack.sender import RETRY_FIRST, reach_slack
from bot.adapters.slack.storage import SealedInstallations, reseal
from bot.bootstrap import Runtime, build
from bot.core.ports import Chat
from bot.ops.observe import Observer
from bot.ops.startup import listen
from bot.settings import Settings

log = logging.getLogger(__name__)


def check_settings(settings: Settings) -> None:
    """HTTP mode needs the signing secret, and either OAuth credentials or one bot token."""
    if settings.slack_signing_secret is None:
        raise SlackConfigError("set SLACK_SIGNING_SECRET (Basic Information → Signing Secret)")
    if settings.metrics_port is not None and settings.metrics_port == settings.port:
        raise SlackConfigError("RALLYBOT_METRICS_PORT must differ from PORT (Slack's port)")
    if not is_oauth(settings) and settings.slack_bot_token is None:
        raise SlackConfigError(
            "set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (OAuth: any number of workspaces) "
            "or SLACK_BOT_TOKEN (one workspace)"
        )


class SlackHttp:
    """Slack's requests over HTTP on one aiohttp server; a Platform for `bot.runtime.serve`.

    The server listens first (so /livez and /readyz answer), then Slack's API is asked who
    the token is, again and again while the network fails, and /readyz says why."""

    retry_first = RETRY_FIRST

    def __init__(self, runtime: Runtime, host: str = "0.0.0.0", port: int | None = None) -> None:
        check_settings(runtime.settings)
        self.runtime = runtime
        self.host = host
        self.port = runtime.settings.port if port is None else port
        self.workspaces: Workspaces = make_workspaces(runtime, oauth=is_oauth(runtime.settings))
        self.chat: Chat = SlackChat(self.workspaces)
        self.app: AsyncApp | None = None
        self.listeners: Listeners | None = None
        self.inbox_handler = SlackInbox(runtime, self.workspaces)  # works Slack's requests
        secret = runtime.settings.slack_signing_secret
        assert secret is not None
        # Signatures are checked on the raw bytes before Bolt (or anything) parses a body.
        self.gate = SlackGate(secret.get_secret_value())
        self._runner: web.AppRunner | None = None
        # Set by bot.runtime.serve before start(): health and metrics with delivery figures.
        self.observer: Observer | None = None
        self.connected = False  # until Slack's API answered once
        self.problem: str | None = None  # why not, for /readyz

    def _report(self, problem: str | None) -> None:
        self.problem = problem

    def web_app(self, app: AsyncApp) -> web.Application:
        async def events(request: web.Request) -> web.Response:
            return await to_aiohttp_response(
                await app.async_dispatch(await to_bolt_request(request))
            )

        async def install(request: web.Request) -> web.Response:
            flow = app.oauth_flow
            if flow is None:
                raise web.HTTPNotFound()
            return await to_aiohttp_response(
                await flow.handle_installation(await to_bolt_request(request))
            )

        async def redirect(request: web.Request) -> web.Response:
            flow = app.oauth_flow
            if flow is None:
                raise web.HTTPNotFound()
            return await to_aiohttp_response(
                await flow.handle_callback(await to_bolt_request(request))
            )

        site = web.Application(middlewares=[self.gate.middleware(frozenset({EVENTS_PATH}))])
        site.router.add_post(EVENTS_PATH, events)
        site.router.add_get(INSTALL_PATH, install)
        site.router.add_get(REDIRECT_PATH, redirect)
        observer = self.observer or Observer(self.runtime, platforms=[self])
        observer.add_routes(site)  # public: /metrics needs RALLYBOT_METRICS_TOKEN
        return site

    async def start(self) -> None:
        """Serve on host:port, then return once Slack's API answered; port 0 picks a free
        port (see .port afterwards)."""
        self.app, self.listeners = build_app(self.runtime, self.workspaces, http=True)
        runner = web.AppRunner(self.web_app(self.app), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await listen(site, "PORT", runner)
        self._runner = runner
        sockets = getattr(site._server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        mode = "OAuth (any number of workspaces)" if self.workspaces.oauth else "one workspace"
        log.info("Slack over HTTP on port %d, %s", self.port, mode)
        store = self.workspaces.installations
        if isinstance(store, SealedInstallations):
            sealed = await reseal(self.runtime.engine, store.box, plain_only=True)
            if sealed:
                log.info("encrypted %d Slack tokens stored before encryption at rest", sealed)
        await reach_slack(self.workspaces.warm, "SLACK_BOT_TOKEN", self._report, self.retry_first)
        self.connected = True

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()  # no new requests
            self._runner = None
        self.gate.refusals.flush(EVENTS_PATH)  # the last refused requests are counted too
        self.gate.refusals.close()
        await self.workspaces.close()


async def serve_web(settings: Settings) -> int:
    """Serve Slack over HTTP and deliver the outbox in the same process, until stopped.

    The dispatcher and the scheduler run here too (the same loop as `rallybot run`), so a
    web process alone is a complete Slack deployment; several may run on one PostgreSQL.
    """
    from bot.runtime import SchemaOutdated, prepare_schema, serve

    try:
        check_settings(settings)
        await prepare_schema(settings)
    except (SlackConfigError, SchemaOutdated) as error:
        print(f"rallybot web: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    runtime = build(settings)
    try:
        # Stops gracefully on SIGTERM/SIGINT.
        await serve(runtime, [SlackHttp(runtime)], command="web")
    except asyncio.CancelledError:
        log.info("rallybot web was cancelled")
    finally:
        await runtime.close()
    return 0
