"""Slack over HTTP for `rallybot web`: events and OAuth install, mounted on the public server."""

from __future__ import annotations

import logging

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

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
from bot.adapters.slack.sender import RETRY_FIRST, reach_slack
from bot.adapters.slack.storage import SealedInstallations, reseal
from bot.bootstrap import Runtime
from bot.ops.platform import Health, Routes
from bot.settings import Settings

log = logging.getLogger(__name__)


def check_settings(settings: Settings) -> None:
    """HTTP mode needs the signing secret, and either OAuth credentials or one bot token."""
    if settings.slack_signing_secret is None:
        raise SlackConfigError("set SLACK_SIGNING_SECRET (Basic Information → Signing Secret)")
    if not is_oauth(settings) and settings.slack_bot_token is None:
        raise SlackConfigError(
            "set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (OAuth: any number of workspaces) "
            "or SLACK_BOT_TOKEN (one workspace)"
        )


class SlackHttp:
    """Slack's requests over HTTP: a Platform whose routes (events behind the signature gate,
    OAuth install and redirect) the process's one public server mounts (`bot.ops.http`).

    The server listens first (so /livez and /readyz answer), then start() asks Slack's API
    who the token is, again and again while the network fails, and /readyz says why."""

    retry_first = RETRY_FIRST

    def __init__(self, runtime: Runtime) -> None:
        check_settings(runtime.settings)
        self.runtime = runtime
        self.workspaces: Workspaces = make_workspaces(runtime, oauth=is_oauth(runtime.settings))
        self.chat = SlackChat(self.workspaces)
        self.app, self.listeners = build_app(runtime, self.workspaces, http=True)
        self.inbox_handler = SlackInbox(runtime, self.workspaces)  # works Slack's requests
        secret = runtime.settings.slack_signing_secret
        assert secret is not None
        # Signatures are checked on the raw bytes before Bolt (or anything) parses a body.
        self.gate = SlackGate(secret.get_secret_value())
        self.connected = False  # until Slack's API answered once
        self.problem: str | None = None  # why not, for /readyz

    def _report(self, problem: str | None) -> None:
        self.problem = problem

    def health(self) -> Health:
        return Health(self.connected, self.problem)

    def http(self) -> Routes:
        app = self.app

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

        return Routes(
            [
                web.post(EVENTS_PATH, events),
                web.get(INSTALL_PATH, install),
                web.get(REDIRECT_PATH, redirect),
            ],
            [self.gate.middleware(frozenset({EVENTS_PATH}))],
        )

    async def start(self) -> None:
        """Return once Slack's API answered (the routes are served from before)."""
        mode = "OAuth (any number of workspaces)" if self.workspaces.oauth else "one workspace"
        log.info("Slack over HTTP, %s", mode)
        store = self.workspaces.installations
        if isinstance(store, SealedInstallations):
            sealed = await reseal(self.runtime.engine, store.box, plain_only=True)
            if sealed:
                log.info("encrypted %d Slack tokens stored before encryption at rest", sealed)
        await reach_slack(self.workspaces.warm, "SLACK_BOT_TOKEN", self._report, self.retry_first)
        self.connected = True

    async def stop(self) -> None:
        """Called once the server takes no new requests: finish what was acknowledged."""
        self.gate.refusals.flush(EVENTS_PATH)  # the last refused requests are counted too
        self.gate.refusals.close()
        await self.workspaces.close()


def create(runtime: Runtime) -> SlackHttp:
    """Slack for `rallybot web` (the settings are checked: a SlackConfigError if wrong)."""
    return SlackHttp(runtime)
