"""Bolt listeners: ack first, then Slack payload → Caller + text/action → Services → Block Kit."""

from __future__ import annotations

import logging
import re
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.listener.async_builtins import AsyncTokenRevocationListeners
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.auth import Workspaces
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
from bot.delivery.work import WorkQueue

log = logging.getLogger(__name__)

PLATFORM = "slack"
ACTIONS = re.compile(r"^rally:")
# Only these need the person's Slack profile: a new member's name, and who may set up.
NEEDS_PROFILE = frozenset({"setup", "join"})


@dataclass
class Deps:
    services: Services
    workspaces: Workspaces
    events: EventLog
    command: str  # without the slash
    work: WorkQueue  # where the work after each ack waits for a worker

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


def is_dm(channel: str | None) -> bool:
    return channel is not None and channel.startswith("D")


class Listeners:
    """One place where Slack requests become core calls and core replies become Slack output."""

    def __init__(
        self, deps: Deps, revocations: AsyncTokenRevocationListeners | None = None
    ) -> None:
        self.deps = deps
        self.services = deps.services
        self.copy = deps.services.copy
        self.work = deps.work
        # OAuth mode: Bolt's own listeners, which delete installations from the store.
        self.revocations = revocations

    def later(self, work: Coroutine[Any, Any, None]) -> None:
        """Queue the work after the ack and return, so Bolt answers Slack at once; a few
        workers take it in order, and none waits for a database connection with a timeout."""
        self.work.later(work)

    async def drain(self, seconds: float = 10.0) -> None:
        """Let the acknowledged work finish (on shutdown), then cancel what is still running."""
        await self.work.drain(seconds)

    # --- /rally ----------------------------------------------------------------------

    async def command(
        self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()  # before any database or Web API call: Slack's deadline is 3 seconds
        self.later(self._command(body, respond, client))

    async def _command(
        self, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        try:
            # As Slack sent it: SLACK reads its mentions, links and entities word by word.
            text = str(body.get("text") or "")
            words = text.split()
            verb = words[0].lower() if words else ""
            channel = _get(body, "channel_id")
            team, user = str(body["team_id"]), str(body["user_id"])
            if verb == "setup" and is_dm(channel):
                line = self.copy("slack.setup_in_channel", command=self.deps.command)
                await self._respond(respond, Reply(notice(line), ok=False))
                return
            name = _get(body, "user_name") or ""
            admin = False
            if verb in NEEDS_PROFILE:
                name, admin = await self._profile(client, team, user, name)
            caller = Caller(PLATFORM, team, user, name, channel=channel, can_manage=admin)
            reply = await self.services.handle_text(caller, text, SLACK)
            await self._show(reply, caller, client, respond, _get(body, "trigger_id"))
        except Exception:
            log.exception("a /%s command could not be finished", self.deps.command)
            await self._failed(respond)

    # --- buttons and Home controls ------------------------------------------------------

    async def action(
        self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        self.later(self._action(body, respond, client))

    async def _action(
        self, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        try:
            action = body["actions"][0]
            action_id = str(action.get("action_id") or "")
            channel = _get(body, "channel", "id") or _get(body, "container", "channel_id")
            user = _get(body, "user", "id") or ""
            caller = Caller(
                PLATFORM,
                _team(body),
                user,
                _get(body, "user", "username") or _get(body, "user", "name") or "",
                channel=channel,
            )
            if action_id == RAISE:
                reply = await self.services.handle_text(caller, "alert")
            elif action_id.startswith(HOME):
                text = home_text(action_id, _get(action, "selected_option", "value"))
                reply = (
                    await self.services.handle_text(caller, text)
                    if text is not None
                    else self.services.error_reply(BadInput("error.bad_button"), PLATFORM)
                )
            else:
                reply = await self.services.handle_action(caller, action_id)
            if reply.form is None and _get(body, "view", "type") == "home":
                await client.views_publish(
                    user_id=user, view=await self.deps.home.view(caller, notice=reply)
                )
                return
            await self._show(reply, caller, client, respond, _get(body, "trigger_id"))
        except Exception:
            log.exception("a button press could not be finished")
            await self._failed(respond)

    # --- the alert modal ----------------------------------------------------------------

    async def alert_form(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body.get("view") or {}
        values = _get_mapping(_get_mapping(view, "state"), "values")
        try:
            command = form_alert(values)  # pure parsing: errors go back in the ack itself
        except RallyError as error:
            field = error.field if isinstance(error, FieldError) else LINKS
            text = escape(self.copy(error.key, **error.params))
            await ack(response_action="errors", errors={field: text})
            return
        await ack()
        self.later(self._form(body, view, command, client))

    async def library_form(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """A pasted library file: the core checks the lead and the file, and answers."""
        view = body.get("view") or {}
        content = form_library(_get_mapping(_get_mapping(view, "state"), "values"))
        await ack()
        self.later(self._form(body, view, LibraryImport(content, "pasted"), client))

    async def _form(
        self,
        body: dict[str, Any],
        view: Mapping[str, Any],
        command: Command,
        client: AsyncWebClient,
    ) -> None:
        try:
            caller = Caller(
                PLATFORM,
                _team(body),
                _get(body, "user", "id") or "",
                _get(body, "user", "username") or "",
                channel=opened_from(view),
            )
            reply = await self.services.handle(caller, command)
            await self._tell(client, caller, reply)
        except Exception:
            log.exception("a form could not be finished")

    # --- App Home -----------------------------------------------------------------------

    async def home_opened(
        self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        # Events are acknowledged by Bolt when this returns: the work happens afterwards.
        self.later(self._home_opened(event, body, client))

    async def _home_opened(
        self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        if event.get("tab") != "home":
            return
        team, user, event_id = _get(body, "team_id"), _get(event, "user"), _get(body, "event_id")
        if team is None or user is None or event_id is None:
            return
        # Slack retries an event it thinks was not received: the event id decides, once.
        if not await self.deps.events.first_time(event_id, team):
            return
        try:
            caller = Caller(PLATFORM, team, user)
            await client.views_publish(user_id=user, view=await self.deps.home.view(caller))
        except Exception:
            log.exception("the Home tab could not be published")

    # --- uninstalled, or the bot's token revoked ------------------------------------------

    async def uninstalled(self, body: dict[str, Any], context: AsyncBoltContext) -> None:
        """Slack's app_uninstalled: the workspace's tokens go now (before the ack), its data
        after the grace period."""
        team = _get(body, "team_id")
        if team is None:
            return
        if self.revocations is not None:
            await self.revocations.handle_app_uninstalled_events(context)
        self._removed(team)

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
            self._removed(team)

    def _removed(self, team: str) -> None:
        self.deps.workspaces.forget(team)
        self.later(self._tell_core(team))

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

    async def _show(
        self,
        reply: Reply,
        caller: Caller,
        client: AsyncWebClient,
        respond: AsyncRespond,
        trigger_id: str | None,
    ) -> None:
        if reply.form == "alert" and trigger_id:
            await client.views_open(
                trigger_id=trigger_id, view=alert_modal(self.copy, caller.channel)
            )
            return
        if reply.form == "library_import" and trigger_id:
            await client.views_open(
                trigger_id=trigger_id, view=library_modal(self.copy, caller.channel)
            )
            return
        await self._respond(respond, reply)

    async def _respond(self, respond: AsyncRespond, reply: Reply) -> None:
        """Replies are private (ephemeral) and never unfurl."""
        for message in (reply.message, *reply.extras):
            rendered = render(message)
            await respond(
                text=rendered.text,
                blocks=rendered.block_dicts(),
                response_type="ephemeral",
                replace_original=False,
                unfurl_links=False,
                unfurl_media=False,
            )

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

    async def _failed(self, respond: AsyncRespond) -> None:
        try:
            await self._respond(respond, Reply(notice(self.copy("slack.failed")), ok=False))
        except Exception:
            log.exception("could not tell the person that their request failed")

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
    process_before_response=True: each listener acks, queues its work with `later`, returns)."""
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
