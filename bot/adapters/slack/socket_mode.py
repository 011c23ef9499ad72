"""Slack over Socket Mode inside `rallybot run`: no public URL, one workspace's bot token."""

from __future__ import annotations

import logging

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bot.adapters.slack.app import build_app, make_workspaces
from bot.adapters.slack.auth import Workspaces
from bot.adapters.slack.chat import SlackChat
from bot.adapters.slack.inbox import SlackInbox
from bot.adapters.slack.listeners import Listeners
from bot.adapters.slack.sender import RETRY_FIRST, reach_slack
from bot.bootstrap import Runtime
from bot.ops.platform import Health

log = logging.getLogger(__name__)


class SlackSocketMode:
    """The Platform `bot.runtime.serve` runs: connects in start() (again and again while the
    network fails, /readyz saying why), sends through `chat`."""

    retry_first = RETRY_FIRST

    def __init__(self, runtime: Runtime, workspaces: Workspaces) -> None:
        self.runtime = runtime
        self.workspaces = workspaces
        self.chat = SlackChat(workspaces)
        self.handler: AsyncSocketModeHandler | None = None
        self.listeners: Listeners | None = None
        self.inbox_handler = SlackInbox(runtime, self.workspaces)  # works Slack's requests
        self.problem: str | None = None  # why not connected, for /readyz
        self._connected = False

    @property
    def connected(self) -> bool:
        return self._connected and self.handler is not None

    def _report(self, problem: str | None) -> None:
        self.problem = problem

    def health(self) -> Health:
        return Health(self.connected, self.problem)

    def http(self) -> None:
        return None  # Slack comes over the socket

    async def start(self) -> None:
        """Learn the bot's identity, open the WebSocket (apps.connections.open) and return."""
        app_token = self.runtime.settings.slack_app_token
        if app_token is None:
            raise RuntimeError("Socket Mode needs SLACK_APP_TOKEN")
        await reach_slack(self.workspaces.warm, "SLACK_BOT_TOKEN", self._report, self.retry_first)
        app, self.listeners = build_app(self.runtime, self.workspaces, http=False)
        # Built here, not in create(): the socket client needs the running event loop.
        handler = self.handler = AsyncSocketModeHandler(
            app, app_token.get_secret_value(), web_client=self.workspaces.base
        )

        async def open_url() -> None:
            # The socket client retries a refused app token forever, logging each try: ask for
            # the socket's URL here (apps.connections.open, Tier 1: once), so a wrong token
            # ends the start with one line; connect_async() then uses that URL.
            handler.client.wss_uri = await handler.client.issue_new_wss_url()

        await reach_slack(open_url, "SLACK_APP_TOKEN", self._report, self.retry_first)
        await handler.connect_async()  # type: ignore[no-untyped-call]  # untyped in Bolt
        self._connected = True
        log.info("Slack Socket Mode is connected")

    async def stop(self) -> None:
        if self.handler is not None:
            await self.handler.close_async()  # type: ignore[no-untyped-call]  # untyped in Bolt
            self.handler = None
        await self.workspaces.close()


def create(runtime: Runtime) -> SlackSocketMode:
    """Socket Mode uses SLACK_BOT_TOKEN (OAuth installs are served by `rallybot web`)."""
    if runtime.settings.slack_client_id and runtime.settings.slack_client_secret:
        log.warning(
            "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are for `rallybot web` (OAuth); "
            "Socket Mode uses SLACK_BOT_TOKEN"
        )
    return SlackSocketMode(runtime, make_workspaces(runtime, oauth=False))
