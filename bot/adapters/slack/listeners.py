"""Bolt listeners: write to the inbox, then ack; worked later: payload → Caller → core → Blocks."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.listener.async_builtins import AsyncTokenRevocationListeners
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.auth import NotInstalled, Workspaces
from bot.adapters.slack.home import HOME, RAISE, Home, home_text
from bot.adapters.slack.modal import (
    ALERT_FORM,
    LIBRARY_FORM,
    LINKS,
    alert_modal,
    form_alert,
    form_library,
    library_modal,
    opened_from,
)
from bot.adapters.slack.render import escape, render
from bot.adapters.slack.storage import EventLog
from bot.adapters.slack.syntax import SLACK
from bot.core.commands import Caller, Command, LibraryImport
from bot.core.errors import BadInput, FieldError, RallyError
from bot.core.messages import Reply
from bot.core.services import Services
from bot.core.views import notice
from bot.inbox.entry import SLACK_RESPONSE_URL, Inbox, body_id
from bot.inbox.worker import HandleGone
from bot.store.inbox import Request

log = logging.getLogger(__name__)

PLATFORM = "slack"
ACTIONS = re.compile(r"^rally:")
# Only these need the person's Slack profile: a new member's name, and who may set up.
NEEDS_PROFILE = frozenset({"setup", "join"})
FORMS = frozenset({"alert_form", "library_form"})
TRIGGER_LIFE = timedelta(seconds=3)
# What a response_url answers once it can no longer be used.
GONE = frozenset({"expired_url", "used_url", "invalid_url"})


class SlackResponseFailed(Exception):
    """Slack refused or failed a response_url post: retried by the inbox worker."""


@dataclass
class Deps:
    services: Services
    workspaces: Workspaces
    events: EventLog
    command: str  # without the slash
    inbox: Inbox  # where each request is written before it is acknowledged

    @property
    def home(self) -> Home:
        return Home(self.services, self.command)


def _get(data: Mapping[str, Any], *path: str) -> str | None:
    value: Any = data
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value if isinstance(value, str) and value else None


def _team(body: Mapping[str, Any]) -> str:
    team = _get(body, "team", "id") or _get(body, "user", "team_id") or _get(body, "team_id")
    if team is None:
        raise BadInput("error.bad_button")
    return team


def _user(body: Mapping[str, Any]) -> str:
    return _get(body, "user", "id") or _get(body, "user_id") or ""


def is_dm(channel: str | None) -> bool:
    return channel is not None and channel.startswith("D")


def request_id(body: Mapping[str, Any]) -> str:
    """Slack's own id of the request: a trigger id (commands, clicks, forms) or an event id;
    a retry carries the same one."""
    return _get(body, "trigger_id") or _get(body, "event_id") or body_id(body)


def trigger_alive(request: Request, now: datetime) -> bool:
    """A trigger id opens a modal for 3 seconds after the request, never later."""
    return now - request.created_at < TRIGGER_LIFE


class Listeners:
    """One place where Slack requests become core calls and core replies become Slack output.

    Each listener verifies nothing itself (the gate checked the signature), writes the request
    into the inbox with one INSERT and acknowledges; an inbox worker runs `work` and `answer`.
    """

    def __init__(
        self, deps: Deps, revocations: AsyncTokenRevocationListeners | None = None
    ) -> None:
        self.deps = deps
        self.services = deps.services
        self.copy = deps.services.copy
        self.inbox = deps.inbox
        # OAuth mode: Bolt's own listeners, which delete installations from the store.
        self.revocations = revocations

    async def _write(
        self, kind: str, body: Mapping[str, Any], user: str, team: str | None = None
    ) -> None:
        """One INSERT before the ack; a retry of a request already written is not written."""
        url = _get(body, "response_url")
        await self.inbox.write(
            platform=PLATFORM,
            request_id=request_id(body),
            workspace=team or _team(body),
            user=user,
            kind=kind,
            payload=dict(body),
            respond_to=url,
            valid_for=SLACK_RESPONSE_URL,
        )

    # --- /rally ----------------------------------------------------------------------

    async def command(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        # Written, then acknowledged: Slack's deadline is 3 seconds, the INSERT takes ms.
        await self._write("command", body, _user(body))
        await ack()

    async def _command(self, body: dict[str, Any], client: AsyncWebClient) -> Reply:
        # As Slack sent it: SLACK reads its mentions, links and entities word by word.
        text = str(body.get("text") or "")
        words = text.split()
        verb = words[0].lower() if words else ""
        channel = _get(body, "channel_id")
        team, user = str(body["team_id"]), str(body["user_id"])
        if verb == "setup" and is_dm(channel):
            line = self.copy("slack.setup_in_channel", command=self.deps.command)
            return Reply(notice(line), ok=False)
        name = _get(body, "user_name") or ""
        admin = False
        if verb in NEEDS_PROFILE:
            name, admin = await self._profile(client, team, user, name)
        caller = Caller(PLATFORM, team, user, name, channel=channel, can_manage=admin)
        return await self.services.handle_text(caller, text, SLACK)

    # --- buttons and Home controls ------------------------------------------------------

    async def action(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await self._write("action", body, _user(body))
        await ack()

    def _action_caller(self, body: Mapping[str, Any]) -> Caller:
        return Caller(
            PLATFORM,
            _team(body),
            _user(body),
            _get(body, "user", "username") or _get(body, "user", "name") or "",
            channel=_get(body, "channel", "id") or _get(body, "container", "channel_id"),
        )

    async def _action(self, body: dict[str, Any]) -> Reply:
        action = body["actions"][0]
        action_id = str(action.get("action_id") or "")
        caller = self._action_caller(body)
        if action_id == RAISE:
            return await self.services.handle_text(caller, "alert")
        if action_id.startswith(HOME):
            text = home_text(action_id, _get(action, "selected_option", "value"))
            if text is None:
                return self.services.error_reply(BadInput("error.bad_button"), PLATFORM)
            return await self.services.handle_text(caller, text)
        return await self.services.handle_action(caller, action_id)

    # --- the alert modal ----------------------------------------------------------------

    async def alert_form(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        view = body.get("view") or {}
        values = _get_mapping(_get_mapping(view, "state"), "values")
        try:
            form_alert(values)  # pure parsing: errors go back in the ack itself
        except RallyError as error:
            field = error.field if isinstance(error, FieldError) else LINKS
            text = escape(self.copy(error.key, **error.params))
            await ack(response_action="errors", errors={field: text})
            return
        await self._write("alert_form", body, _user(body))
        await ack()

    async def library_form(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """A pasted library file: the core checks the lead and the file, and answers."""
        await self._write("library_form", body, _user(body))
        await ack()

    def _form_caller(self, body: Mapping[str, Any]) -> Caller:
        return Caller(
            PLATFORM,
            _team(body),
            _user(body),
            _get(body, "user", "username") or "",
            channel=opened_from(body.get("view") or {}),
        )

    async def _form(self, kind: str, body: dict[str, Any]) -> Reply:
        values = _get_mapping(_get_mapping(body.get("view") or {}, "state"), "values")
        command: Command = (
            form_alert(values)
            if kind == "alert_form"
            else LibraryImport(form_library(values), "pasted")
        )
        return await self.services.handle(self._form_caller(body), command)

    # --- App Home -----------------------------------------------------------------------

    async def home_opened(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        # Events are acknowledged by Bolt when this returns: written first, worked later.
        if event.get("tab") != "home" or _get(event, "user") is None:
            return
        await self._write("home", body, str(event["user"]), _get(body, "team_id") or "")

    async def _home_opened(self, body: dict[str, Any], client: AsyncWebClient) -> None:
        event = _get_mapping(body, "event")
        team, user, event_id = _get(body, "team_id"), _get(event, "user"), _get(body, "event_id")
        if team is None or user is None or event_id is None:
            return
        # Slack retries an event it thinks was not received: the event id decides, once.
        if not await self.deps.events.first_time(event_id, team):
            return
        caller = Caller(PLATFORM, team, user)
        await client.views_publish(user_id=user, view=await self.deps.home.view(caller))

    # --- worked from the inbox ------------------------------------------------------------

    async def work(self, request: Request, client: AsyncWebClient | None) -> Reply | None:
        """What the listener acknowledged, run through the core; None: nothing to answer."""
        body = request.payload
        if request.kind == "removed":
            await self._tell_core(request.workspace)
            return None
        if client is None:
            raise NotInstalled(f"rallybot has no bot token for team {request.workspace}")
        if request.kind == "command":
            return await self._command(body, client)
        if request.kind == "action":
            reply = await self._action(body)
            if reply.form is None and _get(body, "view", "type") == "home":
                caller = self._action_caller(body)
                view = await self.deps.home.view(caller, notice=reply)
                await client.views_publish(user_id=caller.user, view=view)
                return None
            return reply
        if request.kind in FORMS:
            return await self._form(request.kind, body)
        if request.kind == "home":
            await self._home_opened(body, client)
        return None

    async def answer(
        self, request: Request, reply: Reply, client: AsyncWebClient | None, now: datetime
    ) -> None:
        """The form it asks for (while the trigger id lives), else a private reply through
        the response_url; a form's answer (no response_url) is ephemeral in the channel."""
        body = request.payload
        trigger = _get(body, "trigger_id")
        if request.kind in FORMS:
            if client is None:
                raise NotInstalled(f"rallybot has no bot token for team {request.workspace}")
            await self._tell(client, self._form_caller(body), reply)
            return
        if reply.form is not None and trigger and client and trigger_alive(request, now):
            channel = _get(body, "channel_id") or self._action_caller(body).channel
            if reply.form == "alert":
                await client.views_open(trigger_id=trigger, view=alert_modal(self.copy, channel))
                return
            if reply.form == "library_import":
                await client.views_open(trigger_id=trigger, view=library_modal(self.copy, channel))
                return
        if request.respond_to is None:
            raise HandleGone("no response_url")
        await self._respond(AsyncRespond(response_url=request.respond_to), reply)

    def failed(self) -> Reply:
        return Reply(notice(self.copy("slack.failed")), ok=False)

    # --- uninstalled, or the bot's token revoked ------------------------------------------

    async def uninstalled(self, body: dict[str, Any], context: AsyncBoltContext) -> None:
        """Slack's app_uninstalled: the workspace's tokens go now (before the ack), its data
        after the grace period."""
        team = _get(body, "team_id")
        if team is None:
            return
        if self.revocations is not None:
            await self.revocations.handle_app_uninstalled_events(context)
        await self._removed(team, body)

    async def tokens_revoked(
        self, event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        """Slack's tokens_revoked: Bolt deletes what was revoked; without its bot token
        rallybot can do nothing there, which is the same as being uninstalled."""
        team = _get(body, "team_id")
        if team is None:
            return
        if self.revocations is not None:
            await self.revocations.handle_tokens_revoked_events(event, context)
        tokens = event.get("tokens")
        if isinstance(tokens, Mapping) and tokens.get("bot"):
            if self.revocations is not None:
                # Bolt deletes the bot row only; the installation row holds the bot token too.
                await self.revocations.handle_app_uninstalled_events(context)
            await self._removed(team, body)

    async def _removed(self, team: str, body: Mapping[str, Any]) -> None:
        self.deps.workspaces.forget(team)
        await self._write("removed", body, "", team)

    async def _tell_core(self, team: str) -> None:
        try:
            known = await self.services.space_removed(PLATFORM, team)
        except Exception:
            log.exception("could not schedule the deletion of an uninstalled workspace's data")
            return
        log.info(
            "rallybot was removed from a Slack workspace%s",
            "; its data goes after the grace period" if known else " it was never set up in",
        )

    # --- output -------------------------------------------------------------------------

    async def _respond(self, respond: AsyncRespond, reply: Reply) -> None:
        """Replies are private (ephemeral) and never unfurl."""
        for message in (reply.message, *reply.extras):
            rendered = render(message)
            sent = await respond(
                text=rendered.text,
                blocks=rendered.block_dicts(),
                response_type="ephemeral",
                replace_original=False,
                unfurl_links=False,
                unfurl_media=False,
            )
            if sent.status_code == 404 or sent.body in GONE:
                raise HandleGone(sent.body)  # expired or used up: the worker DMs instead
            if sent.status_code >= 300:
                raise SlackResponseFailed(f"response_url answered {sent.status_code}")

    async def _tell(self, client: AsyncWebClient, caller: Caller, reply: Reply) -> None:
        """A private reply without a response_url: ephemeral in the channel, else a DM."""
        for message in (reply.message, *reply.extras):
            rendered = render(message)
            if caller.channel:
                try:
                    await client.chat_postEphemeral(
                        channel=caller.channel,
                        user=caller.user,
                        text=rendered.text,
                        blocks=rendered.block_dicts(),
                    )
                    continue
                except SlackApiError:
                    pass  # not in that channel any more: a DM reaches them
            # A user id as the channel posts in the app's DM with them (no conversations.open).
            await client.chat_postMessage(
                channel=caller.user,
                text=rendered.text,
                blocks=rendered.block_dicts(),
                unfurl_links=False,
                unfurl_media=False,
            )

    async def _profile(
        self, client: AsyncWebClient, team: str, user: str, fallback: str
    ) -> tuple[str, bool]:
        """Display name, and whether they may set rallybot up: a workspace admin or owner,
        or (OAuth) the person who installed it."""
        name, admin = fallback, False
        try:
            found = (await client.users_info(user=user)).get("user") or {}
            profile = found.get("profile") or {}
            name = (
                profile.get("display_name")
                or profile.get("real_name")
                or found.get("real_name")
                or fallback
            )
            admin = not found.get("is_bot") and any(
                found.get(flag) for flag in ("is_admin", "is_owner", "is_primary_owner")
            )
        except SlackApiError:
            log.warning("users.info failed; treating the user as a non-admin")
        installer = await self.deps.workspaces.installer(team)
        return str(name), bool(admin) or installer == user


def _get_mapping(data: Any, key: str) -> Mapping[str, Any]:
    value = data.get(key) if isinstance(data, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def register(app: AsyncApp, deps: Deps) -> Listeners:
    """Every listener of the Slack adapter, registered explicitly on one AsyncApp (built with
    process_before_response=True: each listener writes the request, acks and returns)."""
    store = deps.workspaces.installations
    # OAuth: the listeners enable_token_revocation_listeners() would register, called by ours.
    revocations = AsyncTokenRevocationListeners(store) if store is not None else None
    listeners = Listeners(deps, revocations)
    app.command(f"/{deps.command}")(listeners.command)
    app.action(ACTIONS)(listeners.action)
    app.view(ALERT_FORM)(listeners.alert_form)
    app.view(LIBRARY_FORM)(listeners.library_form)
    app.event("app_home_opened")(listeners.home_opened)
    app.event("app_uninstalled")(listeners.uninstalled)
    app.event("tokens_revoked")(listeners.tokens_revoked)
    return listeners
