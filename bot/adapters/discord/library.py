"""/rally-library: the message library on Discord (a group of its own: /rally has 25 already)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import Choice, Range
from discord.ext import commands

from bot.adapters.discord.cog import WordedGroup, keyed, split_list, suggest
from bot.adapters.discord.interactions import run, submit
from bot.adapters.discord.syntax import DISCORD
from bot.core import commands as c
from bot.core.commands import Caller
from bot.core.errors import BadInput
from bot.core.library import MAX_FILE_CHARS, MAX_TEXT_CHARS, Draft, check_sources, check_text
from bot.core.messages import Reply
from bot.core.model import MessageKind
from bot.core.parse import (
    alert_kinds,
    library_filter,
    link_word,
    parse_entry_number,
    parse_entry_numbers,
    parse_topics,
    topics_change,
    usage,
    venues,
)
from bot.core.services import Services, before_commit

Interaction = discord.Interaction[Any]
LIBRARY_SUBCOMMANDS = (
    *("list", "show", "add", "edit", "approve", "remove", "topics", "import", "export"),
)
KINDS = keyed("message_kind.", [k.value for k in MessageKind])


def group_name(command: str) -> str:
    return f"{command}-library"


def _entry(message: str) -> int:
    """A message number option, like m3 (the first word of what was typed)."""
    return parse_entry_number(next(iter(message.split()), message))


def _sources(text: str) -> tuple[str, ...]:
    return check_sources(link_word(w, DISCORD) for w in split_list(text))


def _cleared(value: str | None) -> str | None:
    """An edit's list option: None leaves it, "-" clears it (any topic, any platform, any
    kind of attack, no sources)."""
    return None if value is None else ("" if value.strip() == "-" else value)


@app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
@app_commands.allowed_installs(guilds=True, users=False)
class LibraryCog(
    WordedGroup, commands.GroupCog, group_name="rally-library", group_description="library_group"
):
    """The /rally-library group, worded from the copy like /rally (see RallyCog)."""

    @app_commands.command(name="list", description="cmd_library_list")
    @app_commands.describe(only="opt_library_only")
    async def list_(self, interaction: Interaction, only: Range[str, 1, 40] | None = None) -> None:
        await run(interaction, lambda: library_filter((only or "").split()))

    @list_.autocomplete("only")
    async def _only(self, interaction: Interaction, current: str) -> list[Choice[str]]:
        return suggest(current, ["pending", *(k.value for k in MessageKind)])

    @app_commands.command(name="show", description="cmd_library_show")
    @app_commands.describe(message="opt_library_message")
    async def show(self, interaction: Interaction, message: Range[str, 1, 12]) -> None:
        await run(interaction, lambda: c.LibraryShow(_entry(message)))

    @app_commands.command(name="add", description="cmd_library_add")
    @app_commands.rename(for_kinds="for")
    @app_commands.describe(
        kind="opt_library_kind",
        text="opt_library_text",
        topics="opt_library_topics",
        platforms="opt_library_platforms",
        for_kinds="opt_library_for",
        sources="opt_library_sources",
    )
    @app_commands.choices(kind=KINDS)
    async def add(
        self,
        interaction: Interaction,
        kind: Choice[str],
        text: Range[str, 1, MAX_TEXT_CHARS],
        topics: Range[str, 1, 400] | None = None,
        platforms: Range[str, 1, 200] | None = None,
        for_kinds: Range[str, 1, 200] | None = None,
        sources: Range[str, 1, 700] | None = None,
    ) -> None:
        def build() -> c.Command:
            return c.LibraryAdd(
                Draft(
                    kind=MessageKind(kind.value),
                    text=check_text(text),
                    topics=parse_topics(topics or ""),
                    venues=venues(list(split_list(platforms)), "platforms"),
                    alert_kinds=alert_kinds(list(split_list(for_kinds))),
                    sources=_sources(sources or ""),
                )
            )

        await run(interaction, build)

    @app_commands.command(name="edit", description="cmd_library_edit")
    @app_commands.rename(for_kinds="for")
    @app_commands.describe(
        message="opt_library_message",
        text="opt_library_new_text",
        kind="opt_library_kind",
        topics="opt_library_topics",
        platforms="opt_library_platforms",
        for_kinds="opt_library_for",
        sources="opt_library_sources",
    )
    @app_commands.choices(kind=KINDS)
    async def edit(
        self,
        interaction: Interaction,
        message: Range[str, 1, 12],
        text: Range[str, 1, MAX_TEXT_CHARS] | None = None,
        kind: Choice[str] | None = None,
        topics: Range[str, 1, 400] | None = None,
        platforms: Range[str, 1, 200] | None = None,
        for_kinds: Range[str, 1, 200] | None = None,
        sources: Range[str, 1, 700] | None = None,
    ) -> None:
        def build() -> c.Command:
            if all(v is None for v in (text, kind, topics, platforms, for_kinds, sources)):
                raise usage("library_edit")
            t_, p_, f_, s_ = (_cleared(v) for v in (topics, platforms, for_kinds, sources))
            return c.LibraryEdit(
                _entry(message),
                kind=MessageKind(kind.value) if kind else None,
                text=check_text(text) if text is not None else None,
                topics=None if t_ is None else parse_topics(t_),
                venues=None if p_ is None else venues(list(split_list(p_)), "platforms"),
                alert_kinds=None if f_ is None else alert_kinds(list(split_list(f_))),
                sources=None if s_ is None else _sources(s_),
            )

        await run(interaction, build)

    @app_commands.command(name="approve", description="cmd_library_approve")
    @app_commands.describe(messages="opt_library_messages")
    async def approve(self, interaction: Interaction, messages: Range[str, 1, 200]) -> None:
        await run(interaction, lambda: c.LibraryApprove(parse_entry_numbers(split_list(messages))))

    @app_commands.command(name="remove", description="cmd_library_remove")
    @app_commands.describe(message="opt_library_message")
    async def remove(self, interaction: Interaction, message: Range[str, 1, 12]) -> None:
        await run(interaction, lambda: c.LibraryRemove(_entry(message)))

    @app_commands.command(name="topics", description="cmd_library_topics")
    @app_commands.describe(action="opt_library_topics_action", names="opt_library_names")
    @app_commands.choices(action=keyed("discord.choice_", ["add", "remove"]))
    async def topics(
        self,
        interaction: Interaction,
        action: Choice[str] | None = None,
        names: Range[str, 1, 400] | None = None,
    ) -> None:
        if action is None:
            await run(interaction, c.LibraryTopics())
            return
        await run(interaction, lambda: topics_change(action.value, split_list(names)))

    @app_commands.command(name="import", description="cmd_library_import")
    @app_commands.describe(file="opt_library_file")
    async def import_(self, interaction: Interaction, file: discord.Attachment) -> None:
        # Only a lead's file is read (by the inbox worker: `import_file`).
        upload = {"url": file.url, "name": file.filename, "size": file.size}
        await submit(interaction, "import", {"file": upload})

    @app_commands.command(name="export", description="cmd_library_export")
    async def export(self, interaction: Interaction) -> None:
        await run(interaction, c.LibraryExport())


Read = Callable[[str], Awaitable[bytes]]


async def import_file(
    services: Services, caller: Caller, upload: dict[str, Any], read: Read
) -> Reply:
    """A library file attached to /rally-library import: the core checks the lead first, then
    the file is read and imported."""
    name = str(upload.get("name") or "library.toml")
    token = before_commit.set(None)  # only asking: the import below is the request's work
    try:
        asked = await services.handle(caller, c.LibraryImport(None, name))
    finally:
        before_commit.reset(token)
    if not asked.ok:
        return asked
    if int(upload.get("size") or 0) > MAX_FILE_CHARS:
        raise BadInput("error.too_long", limit=MAX_FILE_CHARS)
    try:
        content = (await read(str(upload["url"]))).decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput("library.bad_file", reason="not UTF-8 text") from None
    return await services.handle(caller, c.LibraryImport(content, name))
