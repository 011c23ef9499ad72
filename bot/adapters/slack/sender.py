"""Slack for a worker process: sends the outbox's Slack rows, receives nothing. Also how every
Slack platform reaches Slack's API at start: retried while the network fails, a refused
token ends the process with one line."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.adapters.slack.app import is_oauth, make_workspaces
from bot.adapters.slack.auth import Workspaces
from bot.adapters.slack.chat import SlackChat
from bot.adapters.slack.inbox import SlackInbox
from bot.bootstrap import Runtime
from bot.ops.platform import Health
from bot.ops.startup import FAILURE, StartupError, until_up

# Slack's answers that mean the token itself is wrong: a configuration problem, not a retry.
REFUSED = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
    }
)
RETRY_FIRST = 1.0  # seconds before the first retry (doubling, up to a minute)


def transient(error: BaseException) -> bool:
    """The network or Slack's servers, not the settings: worth trying again."""
    if isinstance(error, SlackApiError):
        status = int(getattr(error.response, "status_code", 200))
        return status >= 500 or status == 429
    return isinstance(error, aiohttp.ClientError | OSError | asyncio.TimeoutError)


async def reach_slack(
    attempt: Callable[[], Awaitable[object]],
    token_name: str,
    report: Callable[[str | None], None],
    first: float = RETRY_FIRST,
) -> None:
    """Run attempt (a call to Slack's API) until Slack answers; a refused token is a
    StartupError (exit 2), another refusal a failure (exit 1)."""
    try:
        await until_up("Slack's API", attempt, transient, report, first)
    except SlackApiError as error:
        code = str(error.response.get("error", "error"))
        if code in REFUSED:
            raise StartupError(
                f"Slack refused {token_name} ({code}): copy the token again from your Slack "
                "app's settings (api.slack.com/apps)"
            ) from None
        raise StartupError(
            f"Slack answered {code} at start: check the app's settings", FAILURE
        ) from None


class SlackSender:
    """`rallybot worker`: inbound Slack is `rallybot web`'s job; this only delivers."""

    retry_first = RETRY_FIRST

    def __init__(self, workspaces: Workspaces, runtime: Runtime | None = None) -> None:
        self.workspaces = workspaces
        self.chat = SlackChat(workspaces)
        # Works the Slack requests `rallybot web` wrote into the inbox.
        self.inbox_handler = SlackInbox(runtime, workspaces) if runtime is not None else None
        self.connected = False  # until Slack answered once
        self.problem: str | None = None  # why not, for /readyz

    def _report(self, problem: str | None) -> None:
        self.problem = problem

    def health(self) -> Health:
        return Health(self.connected, self.problem)

    def http(self) -> None:
        return None

    async def start(self) -> None:
        await reach_slack(self.workspaces.warm, "SLACK_BOT_TOKEN", self._report, self.retry_first)
        self.connected = True

    async def stop(self) -> None:
        await self.workspaces.close()


def create_sender(runtime: Runtime) -> SlackSender:
    return SlackSender(make_workspaces(runtime, oauth=is_oauth(runtime.settings)), runtime)
