"""Which bot token speaks for which workspace: SLACK_BOT_TOKEN, or the OAuth installations."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings

log = logging.getLogger(__name__)

REFRESH_SECONDS = 60.0  # a re-installed workspace's new token is picked up within a minute


class NotInstalled(Exception):
    """No bot token for this workspace (not installed, uninstalled, or not ours)."""


def api_url(settings: Settings) -> str:
    url = settings.slack_api_url
    return url if url.endswith("/") else url + "/"


def retry_handlers(rate_limits: bool) -> list[AsyncRetryHandler]:
    """Who retries what, never both: the SDK retries a dropped connection once and 500/503
    twice with backoff. A 429 is retried by the SDK (sleeping exactly Retry-After) only for
    calls made while answering a person (views.open, views.publish, replies); the outbox's
    client lets a 429 through, and the dispatcher honours Retry-After while it paces sends."""
    handlers: list[AsyncRetryHandler] = [
        AsyncConnectionErrorRetryHandler(max_retry_count=1),
        AsyncServerErrorRetryHandler(max_retry_count=2),
    ]
    if rate_limits:
        handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    return handlers


def make_client(
    settings: Settings, token: str | None = None, rate_limits: bool = True
) -> AsyncWebClient:
    return AsyncWebClient(
        token=token,
        base_url=api_url(settings),
        timeout=15,
        retry_handlers=retry_handlers(rate_limits),
    )


@dataclass
class _Known:
    result: AuthorizeResult
    installer: str | None
    checked: float


class Workspaces:
    """Bot tokens per Slack team, cached so that no request waits on the database or the Web API
    before it is acknowledged (except the first one from a team after a start)."""

    def __init__(
        self,
        settings: Settings,
        installations: AsyncInstallationStore | None = None,
        refresh_seconds: float = REFRESH_SECONDS,
    ) -> None:
        self.settings = settings
        self.installations = installations
        self.refresh_seconds = refresh_seconds
        self.base = make_client(settings)
        self._clients: dict[tuple[str, bool], AsyncWebClient] = {}
        self._known: dict[str, _Known] = {}
        self._single: AuthorizeResult | None = None
        self._refreshing: dict[str, asyncio.Task[None]] = {}

    @property
    def oauth(self) -> bool:
        return self.installations is not None

    def client(self, token: str, rate_limits: bool = True) -> AsyncWebClient:
        """A client for this token; rate_limits=False lets 429s through (the outbox's)."""
        found = self._clients.get((token, rate_limits))
        if found is None:
            found = self._clients[(token, rate_limits)] = make_client(
                self.settings, token, rate_limits
            )
        return found

    async def warm(self) -> None:
        """Single-workspace mode: learn the token's team and bot ids once, before serving."""
        if self.oauth or self._single is not None:
            return
        token = self.settings.slack_bot_token
        if token is None:
            raise NotInstalled("SLACK_BOT_TOKEN is not set")
        secret = token.get_secret_value()
        answer = await self.client(secret).auth_test()
        self._single = AuthorizeResult.from_auth_test_response(
            auth_test_response=answer, bot_token=secret, user_token=None
        )

    async def authorization(self, team_id: str | None) -> AuthorizeResult | None:
        """The bot's authorization in this team, or None when rallybot is not installed there."""
        if team_id is None:
            return None  # org-wide (Enterprise Grid) installs are not supported
        if not self.oauth:
            await self.warm()
            single = self._single
            return single if single is not None and single.team_id == team_id else None
        known = self._known.get(team_id)
        if known is None:
            known = await self._lookup(team_id)
        elif time.monotonic() - known.checked > self.refresh_seconds:
            self._refresh_later(team_id)
        return known.result if known is not None else None

    async def token(self, team_id: str) -> str:
        found = await self.authorization(team_id)
        if found is None or not found.bot_token:
            raise NotInstalled(f"rallybot has no bot token for team {team_id}")
        return str(found.bot_token)

    async def installer(self, team_id: str) -> str | None:
        """The user who installed rallybot into this team (OAuth mode), who may set it up."""
        if not self.oauth:
            return None
        known = self._known.get(team_id) or await self._lookup(team_id)
        return known.installer if known is not None else None

    async def _lookup(self, team_id: str) -> _Known | None:
        store = self.installations
        assert store is not None
        installation = await store.async_find_installation(enterprise_id=None, team_id=team_id)
        if installation is None or not installation.bot_token:
            self._known.pop(team_id, None)
            return None
        # The installation row has the bot ids: no auth.test before the request is acknowledged.
        result = AuthorizeResult(
            enterprise_id=installation.enterprise_id,
            team_id=installation.team_id,
            bot_token=installation.bot_token,
            bot_id=installation.bot_id,
            bot_user_id=installation.bot_user_id,
            bot_scopes=installation.bot_scopes,
        )
        known = self._known[team_id] = _Known(result, installation.user_id, time.monotonic())
        return known

    def forget(self, team_id: str) -> None:
        """rallybot was uninstalled from this team (or its token revoked): no cached token of
        it is used again. SLACK_BOT_TOKEN itself can only be removed by the operator."""
        self._known.pop(team_id, None)
        task = self._refreshing.pop(team_id, None)
        if task is not None:
            task.cancel()
        single = self._single
        if single is not None and single.team_id == team_id:
            self._single = None
            log.warning(
                "Slack revoked SLACK_BOT_TOKEN's access (the app was uninstalled): remove the "
                "token from the environment"
            )

    def _refresh_later(self, team_id: str) -> None:
        if team_id in self._refreshing:
            return

        async def refresh() -> None:
            try:
                await self._lookup(team_id)
            except Exception:
                log.exception("could not refresh the installation of a Slack team; kept the last")
            finally:
                self._refreshing.pop(team_id, None)

        self._refreshing[team_id] = asyncio.get_running_loop().create_task(refresh())

    async def close(self) -> None:
        tasks = list(self._refreshing.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class CachedAuthorize(AsyncAuthorize):
    """Bolt's authorize step backed by Workspaces (one cache for inbound and outbound calls)."""

    def __init__(self, workspaces: Workspaces) -> None:
        self.workspaces = workspaces

    async def __call__(
        self,
        *,
        context: AsyncBoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult | None:
        return await self.workspaces.authorization(team_id)
