"""Slack for a worker process: sends the outbox's Slack rows, receives nothing."""

from __future__ import annotations

from bot.adapters.slack.app import is_oauth, make_workspaces
from bot.adapters.slack.auth import Workspaces
from bot.adapters.slack.chat import SlackChat
from bot.bootstrap import Runtime
from bot.core.ports import Chat


class SlackSender:
    """`rallybot worker`: inbound Slack is `rallybot web`'s job; this only delivers."""

    def __init__(self, workspaces: Workspaces) -> None:
        self.workspaces = workspaces
        self.chat: Chat = SlackChat(workspaces)
        self.connected = True  # nothing to stay connected to

    async def start(self) -> None:
        await self.workspaces.warm()

    async def stop(self) -> None:
        await self.workspaces.close()


def create_sender(runtime: Runtime) -> SlackSender:
    return SlackSender(make_workspaces(runtime, oauth=is_oauth(runtime.settings)))
