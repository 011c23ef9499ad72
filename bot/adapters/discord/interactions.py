"""Answering interactions: who is asking, the 3-second deadline, and the one place where
errors become kind replies."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

import discord

from bot.adapters.discord.render import Rendered, render_pages
from bot.core.commands import Caller, Command
from bot.core.errors import FieldError, RallyError
from bot.core.messages import Reply
from bot.core.services import Services
from bot.core.views import notice
from bot.inbox.codec import dump_caller, dump_command
from bot.inbox.entry import DISCORD_HOLD, DISCORD_TOKEN, Inbox

log = logging.getLogger(__name__)

PLATFORM = "discord"
# Discord fails an interaction without an initial response after 3 s. A command that may open
# the form (a modal must be the initial response) runs first; if it is not done after this
# long, it is deferred (the person sees "thinking…") and answered as a follow-up.
DEFER_AFTER = 1.0
UNKNOWN_INTERACTION = 10062  # the initial response came too late: nothing was acknowledged

Work = Callable[[], Awaitable[Reply]]
Build = Callable[[], Command]
FormFactory = Callable[[], discord.ui.Modal]


@runtime_checkable
class RallyClient(Protocol):
    """What handlers need from the bot: the core's services, the inbox each request is
    written to before it is acknowledged, and the deferral threshold of commands that may
    open a form."""

    services: Services
    inbox: Inbox
    defer_after: float


def client_of(interaction: discord.Interaction[Any]) -> RallyClient:
    client = interaction.client
    if not isinstance(client, RallyClient):
        raise TypeError("this interaction did not reach a rallybot client")
    return client


def caller_of(interaction: discord.Interaction[Any]) -> Caller:
    """Discord user ids are global: the identity scope is "", the guild is the space."""
    user = interaction.user
    in_guild = interaction.guild_id is not None
    roles: frozenset[str] = frozenset()
    if in_guild and isinstance(user, discord.Member):
        # The ids exactly as the interaction carried them. Member.roles drops ids that are
        # not in the cache, which would silently revoke a lead who holds the lead role.
        roles = frozenset(str(role_id) for role_id in user._roles)
    perms = interaction.permissions
    return Caller(
        platform=PLATFORM,
        workspace="",
        user=str(user.id),
        display_name=user.display_name,
        channel=str(interaction.channel_id) if interaction.channel_id else None,
        can_manage=in_guild and (perms.manage_guild or perms.administrator),
        space=str(interaction.guild_id) if in_guild else None,
        roles=roles,
    )


def refusal(services: Services, error: RallyError) -> Reply:
    """A refusal (a bad option, not allowed, …) as a kind, private reply."""
    copy = services.copy
    if isinstance(error, FieldError):
        label = (
            copy(f"discord.field_{error.field}")
            if copy.has(f"discord.field_{error.field}")
            else error.field
        )
        reason = copy(error.key, **error.params)
        return Reply(
            notice(copy("error.title"), copy("discord.field_error", field=label, error=reason)),
            ok=False,
        )
    return services.error_reply(error, PLATFORM)


async def kindly(services: Services, work: Work) -> Reply:
    """The work, its refusals as kind replies; any other failure is raised (and retried)."""
    try:
        return await work()
    except RallyError as error:
        return refusal(services, error)


async def guarded(services: Services, work: Work) -> Reply:
    """The adapter's one place where a failure becomes a kind, private reply."""
    copy = services.copy
    try:
        return await kindly(services, work)
    except Exception as error:
        # The frames, not the message: a database error's message can quote what was typed.
        log.error(
            "a Discord interaction failed (%s); nothing was changed\n%s",
            type(error).__name__,
            "".join(traceback.format_tb(error.__traceback__)),
        )
        return Reply(notice(copy("error.title"), copy("discord.failed")), ok=False)


async def submit(interaction: discord.Interaction[Any], kind: str, payload: dict[str, Any]) -> None:
    """Write the request into the inbox (one INSERT), then defer: the person sees "thinking…"
    and an inbox worker answers through the interaction's webhook. A redelivered interaction
    (a gateway replay after RESUME) is already there: not written or worked again."""
    client = client_of(interaction)
    fresh = await client.inbox.write(
        platform=PLATFORM,
        request_id=str(interaction.id),
        workspace="",  # Discord user ids are global: one lane per person
        user=str(interaction.user.id),
        kind=kind,
        payload={
            "application_id": str(interaction.application_id),
            "caller": dump_caller(caller_of(interaction)),
            **payload,
        },
        respond_to=interaction.token,
        valid_for=DISCORD_TOKEN,
        hold=DISCORD_HOLD,
    )
    try:
        await interaction.response.defer(ephemeral=True, thinking=True)
    except discord.HTTPException as error:
        if not fresh:
            return  # the first delivery acknowledged it
        log.warning("could not answer a Discord interaction: %s %s", error.status, error.code)
        if error.code == UNKNOWN_INTERACTION:
            # Too late: the person was told the application did not respond, so nothing is
            # done on their behalf.
            await client.inbox.withdraw(PLATFORM, str(interaction.id))
            return
    if fresh:
        await client.inbox.release(PLATFORM, str(interaction.id))


async def run(interaction: discord.Interaction[Any], command: Command | Build) -> None:
    """A subcommand's command, handled by the core. Built from typed options here (pure: no
    I/O), so a bad value is refused at once as the initial response; a good one is written
    to the inbox and worked there."""
    services = client_of(interaction).services
    try:
        built = command() if callable(command) else command
    except RallyError as error:
        await _refuse(interaction, refusal(services, error))
        return
    await submit(interaction, "command", {"command": dump_command(built)})


async def _refuse(interaction: discord.Interaction[Any], reply: Reply) -> None:
    try:
        await send_reply(interaction, reply)
    except discord.HTTPException as error:
        log.warning("could not answer a Discord interaction: %s %s", error.status, error.code)


async def answer_with_form(
    interaction: discord.Interaction[Any], work: Work, form: FormFactory
) -> None:
    """A command that may open the form: a modal must be the initial response, so the core is
    asked here (it only reads), deferred if slow; a crash loses nothing stored."""
    client = client_of(interaction)
    job = asyncio.ensure_future(guarded(client.services, work))
    try:
        done, _ = await asyncio.wait({job}, timeout=client.defer_after)
        if not done:
            await interaction.response.defer(ephemeral=True, thinking=True)
        reply = await job
        if reply.form == "alert" and not interaction.response.is_done():
            await interaction.response.send_modal(form())
            return
        await send_reply(interaction, reply)
    except discord.HTTPException as error:
        # Too late or refused: the work is not cut off mid-transaction, it finishes on its own.
        log.warning("could not answer a Discord interaction: %s %s", error.status, error.code)


async def send_reply(interaction: discord.Interaction[Any], reply: Reply) -> None:
    """Every reply is private (ephemeral): it only concerns the person who asked."""
    pages: list[Rendered] = []
    for message in (reply.message, *reply.extras):
        pages.extend(render_pages(message))
    for page in pages:
        await _send_page(interaction, page)


def page_options(page: Rendered) -> dict[str, Any]:
    """How a page of a private reply is sent (a response, a follow-up, the inbox's webhook)."""
    kwargs: dict[str, Any] = {
        "ephemeral": True,
        "allowed_mentions": page.allowed_mentions(),
        "suppress_embeds": page.suppress_embeds,
    }
    view = page.view()
    if view is not None:
        kwargs["view"] = view
    files = page.files()
    if files:
        kwargs["files"] = files
    return kwargs


async def _send_page(interaction: discord.Interaction[Any], page: Rendered) -> None:
    kwargs = page_options(page)
    if not interaction.response.is_done():
        await interaction.response.send_message(page.content, **kwargs)
    else:
        await interaction.followup.send(page.content, **kwargs)


async def fail(interaction: discord.Interaction[Any], error: Exception) -> None:
    """Errors discord.py raises before our handler runs (an out-of-date command, a bad option)."""
    services = client_of(interaction).services
    log.warning("a Discord command could not run: %s", type(error).__name__)

    async def work() -> Reply:
        return Reply(
            notice(services.copy("error.title"), services.copy("discord.out_of_date")), ok=False
        )

    try:
        await send_reply(interaction, await guarded(services, work))
    except discord.HTTPException as http_error:
        log.warning("could not answer a Discord interaction: %s", http_error.status)
