"""The Bolt AsyncApp, built from the runtime with its listeners registered explicitly."""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from typing import cast

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore

from bot.adapters.slack.auth import CachedAuthorize, Workspaces, api_url
from bot.adapters.slack.listeners import Deps, Listeners, register
from bot.adapters.slack.storage import EventLog, ExpiringStates, SealedInstallations
from bot.bootstrap import Runtime
from bot.core.wording import Copy
from bot.keys import secret_box
from bot.settings import ConfigError, Settings

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
EVENTS_PATH = "/slack/events"
# The bot scopes rallybot asks for (also in config/slack-manifest.yml); channels:read and
# groups:read: who is in the rally and leads channels (conversations.info, .members).
SCOPES = (
    "commands",
    "chat:write",
    "im:write",
    "users:read",
    "files:write",
    "channels:read",
    "groups:read",
)
# Events rallybot subscribes to: the Home tab, and being uninstalled or losing its token.
EVENTS = ("app_home_opened", "app_uninstalled", "tokens_revoked")
STATE_SECONDS = 600


BOLT_LOGGER = "bot.adapters.slack.bolt"


class NoBodies(logging.Filter):
    """Bolt logs an unhandled request with its body, and Socket Mode failures with theirs:
    message bodies never go to our logs (safety invariant 5), only what kind of request."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        for marker in ("Unhandled request", "body:", "Received message", "Sending a message"):
            if marker in text:
                record.msg, record.args = text.split("(", 1)[0].strip() + " (body not logged)", None
        return True


def bolt_logger() -> logging.Logger:
    logger = logging.getLogger(BOLT_LOGGER)
    if not any(isinstance(f, NoBodies) for f in logger.filters):
        logger.addFilter(NoBodies())
    return logger


class SlackConfigError(ConfigError):
    """The Slack settings do not name a way to run; the message says what to set."""


def is_oauth(settings: Settings) -> bool:
    return settings.slack_client_id is not None and settings.slack_client_secret is not None


def authorize_url(settings: Settings) -> str:
    """Slack's OAuth page beside the Web API (https://slack.com/api/ → …/oauth/v2/authorize),
    so GovSlack or a proxy set through SLACK_API_URL is used for installs too."""
    base = api_url(settings)
    root = base[: -len("api/")] if base.endswith("/api/") else base
    return root + "oauth/v2/authorize"


def _page(title: str, body: str, status: int) -> BoltResponse:
    text = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(body)}</p></body></html>"
    )
    return BoltResponse(status=status, body=text, headers={"Content-Type": "text/html"})


def callback_pages(copy: Copy, command: str) -> AsyncCallbackOptions:
    async def success(args: AsyncSuccessArgs) -> BoltResponse:
        return _page(
            copy("slack.install_ok_title"), copy("slack.install_ok_body", command=command), 200
        )

    async def failure(args: AsyncFailureArgs) -> BoltResponse:
        body = copy("slack.install_failed_body", reason=args.reason)
        return _page(copy("slack.install_failed_title"), body, args.suggested_status_code)

    return AsyncCallbackOptions(success=success, failure=failure)


def oauth_settings(runtime: Runtime, workspaces: Workspaces) -> AsyncOAuthSettings:
    settings = runtime.settings
    assert settings.slack_client_id is not None and settings.slack_client_secret is not None
    assert workspaces.installations is not None
    return AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=list(SCOPES),
        user_scopes=[],
        installation_store=workspaces.installations,
        state_store=ExpiringStates(expiration_seconds=STATE_SECONDS, engine=runtime.engine),
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        authorization_url=authorize_url(settings),
        # Straight to Slack's consent page: no English page of Bolt's in between.
        install_page_rendering_enabled=False,
        callback_options=callback_pages(runtime.services.copy, settings.command),
    )


def make_workspaces(runtime: Runtime, oauth: bool) -> Workspaces:
    """The token source: the OAuth installations in rallybot's database, or SLACK_BOT_TOKEN."""
    settings = runtime.settings
    if not oauth:
        return Workspaces(settings)
    client_id = settings.slack_client_id
    assert client_id is not None
    # slack_sdk's store on rallybot's database, every token encrypted (RALLYBOT_SECRET_KEY).
    store = AsyncSQLAlchemyInstallationStore(client_id, runtime.engine)
    return Workspaces(settings, SealedInstallations(store, secret_box(settings)))


def build_app(runtime: Runtime, workspaces: Workspaces, http: bool) -> tuple[AsyncApp, Listeners]:
    """One AsyncApp for Socket Mode (http=False) or HTTP mode; nothing happens at import time."""
    settings = runtime.settings
    secret = settings.slack_signing_secret
    if http and secret is None:
        raise SlackConfigError("HTTP mode needs SLACK_SIGNING_SECRET")
    app = AsyncApp(
        name="rallybot",
        logger=bolt_logger(),
        # Listeners write the request, ack and return (their work waits in the inbox), so Bolt can
        # answer as soon as they return instead of polling for the ack every 10 ms.
        process_before_response=True,
        signing_secret=secret.get_secret_value() if secret is not None else "",
        # No token on the base client: each request gets the token of its own workspace.
        client=workspaces.base,
        # An AsyncAuthorize instance is accepted next to oauth_settings (Bolt checks isinstance);
        # the annotation only names plain functions.
        authorize=cast(Callable[..., Awaitable[AuthorizeResult]], CachedAuthorize(workspaces)),
        oauth_settings=oauth_settings(runtime, workspaces) if workspaces.oauth else None,
        request_verification_enabled=http,
        user_facing_authorize_error_message=runtime.services.copy("slack.not_installed"),
    )
    listeners = register(
        app,
        Deps(
            services=runtime.services,
            workspaces=workspaces,
            events=EventLog(runtime.engine),
            command=settings.command,
            inbox=runtime.inbox,
        ),
    )
    return app, listeners
