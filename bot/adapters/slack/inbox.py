"""Slack's requests worked from the inbox: the listeners' work, a client for the workspace."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.auth import NotInstalled, Workspaces
from bot.adapters.slack.listeners import Deps, Listeners
from bot.adapters.slack.storage import EventLog
from bot.bootstrap import Runtime
from bot.core.messages import Reply
from bot.store.inbox import Request


class SlackInbox:
    """The inbox worker's Slack part (an InboxHandler), in any process holding Slack's
    tokens: `rallybot web`, `rallybot worker` or `rallybot run`."""

    def __init__(self, runtime: Runtime, workspaces: Workspaces) -> None:
        self.workspaces = workspaces
        self.clock = runtime.clock
        self.listeners = Listeners(
            Deps(
                services=runtime.services,
                workspaces=workspaces,
                events=EventLog(runtime.engine),
                command=runtime.settings.command,
                inbox=runtime.inbox,
            )
        )

    async def _client(self, team: str) -> AsyncWebClient | None:
        try:
            return self.workspaces.client(await self.workspaces.token(team))
        except NotInstalled:
            return None

    async def work(self, request: Request) -> Reply | None:
        client = None if request.kind == "removed" else await self._client(request.workspace)
        return await self.listeners.work(request, client)

    async def answer(self, request: Request, reply: Reply) -> None:
        client = await self._client(request.workspace)
        await self.listeners.answer(request, reply, client, self.clock.now())

    def failed(self, request: Request) -> Reply | None:
        # Nobody waits for an answer to the Home tab or an uninstall.
        return None if request.kind in ("home", "removed") else self.listeners.failed()
