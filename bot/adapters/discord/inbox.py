"""Discord's requests worked from the inbox: the core, then the interaction's webhook."""

from __future__ import annotations

from typing import Any

import discord

from bot.adapters.discord.interactions import kindly, page_options
from bot.adapters.discord.library import import_file
from bot.adapters.discord.render import Rendered, render_pages
from bot.core.messages import Reply
from bot.core.ports import Clock
from bot.core.views import notice
from bot.inbox.codec import load_caller, load_command
from bot.inbox.worker import HandleGone
from bot.store.inbox import Request

# Discord's answers when an interaction token can no longer be used.
GONE_CODES = frozenset({10015, 50027})  # Unknown Webhook, Invalid Webhook Token


class DiscordInbox:
    """The inbox worker's Discord part (an InboxHandler): in the process logged in to
    Discord (`rallybot worker` or `rallybot run`), holding the gateway or standing by."""

    def __init__(self, bot: Any, clock: Clock) -> None:
        self.bot = bot  # a RallyBot (typed loosely: client.py imports this module)
        self.clock = clock

    async def work(self, request: Request) -> Reply:
        services = self.bot.services
        payload = request.payload
        caller = load_caller(dict(payload["caller"]))
        if "command" in payload:
            command = load_command(dict(payload["command"]))
            return await kindly(services, lambda: services.handle(caller, command))
        if "action" in payload:
            action = str(payload["action"])
            return await kindly(services, lambda: services.handle_action(caller, action))
        if "file" in payload:
            upload = dict(payload["file"])
            read = self.bot.http.get_from_cdn
            return await kindly(services, lambda: import_file(services, caller, upload, read))
        raise ValueError(f"a Discord inbox row of an unknown kind: {request.kind}")

    async def answer(self, request: Request, reply: Reply) -> None:
        """Through the interaction's webhook: the first page replaces "thinking…"."""
        if request.respond_to is None:
            raise HandleGone("no interaction token")
        webhook = discord.Webhook.from_state(
            data={
                "id": int(request.payload["application_id"]),
                "type": 3,
                "token": request.respond_to,
            },
            state=self.bot._connection,
        )
        pages: list[Rendered] = []
        for message in (reply.message, *reply.extras):
            pages.extend(render_pages(message))
        for page in pages:
            try:
                await webhook.send(page.content, **page_options(page))
            except discord.NotFound as error:
                raise HandleGone(str(error.code)) from None
            except discord.HTTPException as error:
                if error.code in GONE_CODES:
                    raise HandleGone(str(error.code)) from None
                raise

    def failed(self, request: Request) -> Reply:
        copy = self.bot.services.copy
        return Reply(notice(copy("error.title"), copy("discord.failed")), ok=False)
