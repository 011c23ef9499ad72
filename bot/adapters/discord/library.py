"""/rally-library: the message library on Discord (a group of its own: /rally has 25 already)."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.app_commands import Choice, Range
from discord.ext import commands

from bot.adapters.discord.cog import described, split_list, suggest
from bot.adapters.discord.interactions import answer, caller_of, fail, run_text
from bot.core import commands as c
from bot.core.errors import BadInput
from bot.core.library import (
    MAX_FILE_CHARS,
    MAX_TEXT_CHARS,
    Draft,
    check_sources,
    check_text,
)
from bot.core.messages import Reply
from bot.core.model import Kind, MessageKind, Venue
from bot.core.parse import parse_entry_number, parse_enum, parse_topics
from bot.core.services import Services

Interaction = discord.Interaction[Any]
LIBRARY_SUBCOMMANDS = (
    *("list", "show", "add", "edit", "approve", "remove", "topics", "import", "export"),
)


def group_name(command: str) -> str:
    return f"{command}-library"


def _venues(text: str | None) -> frozenset[Venue]:
    return frozenset(parse_enum(Venue, v, "platforms") for v in split_list(text))


def _kinds(text: str | None) -> frozenset[Kind]:
    return frozenset(parse_enum(Kind, k, "for") for k in split_list(text))


def make_library_cog(services: Services, command: str) -> commands.GroupCog:
    """Typed options in; the add and edit commands are built here, the rest is the language."""
    t, choices = described(services.copy)

    kinds = choices("message_kind.", [k.value for k in MessageKind])

    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
    @app_commands.allowed_installs(guilds=True, users=False)
    class LibraryCog(
        commands.GroupCog, group_name=group_name(command), group_description=t("library_group")
    ):
        def __init__(self) -> None:
            self.services = services

        async def run(self, interaction: Interaction, text: str) -> None:
            await run_text(interaction, text)

        async def run_command(self, interaction: Interaction, build: Any) -> None:
            """Options parsed inside the work, so bad input becomes a kind reply."""
            caller = caller_of(interaction)

            async def work() -> Reply:
                return await self.services.handle(caller, build())

            await answer(interaction, work)

        async def cog_app_command_error(
            self, interaction: Interaction, error: app_commands.AppCommandError
        ) -> None:
            await fail(interaction, error)

        @app_commands.command(name="list", description=t("cmd_library_list"))
        @app_commands.describe(only=t("opt_library_only"))
        async def list_(
            self, interaction: Interaction, only: Range[str, 1, 40] | None = None
        ) -> None:
            await self.run(interaction, f"library list {only or ''}".strip())

        @list_.autocomplete("only")
        async def _only(self, interaction: Interaction, current: str) -> list[Choice[str]]:
            return suggest(current, ["pending", *(k.value for k in MessageKind)])

        @app_commands.command(name="show", description=t("cmd_library_show"))
        @app_commands.describe(message=t("opt_library_message"))
        async def show(self, interaction: Interaction, message: Range[str, 1, 12]) -> None:
            await self.run(interaction, f"library show {message.split()[0]}")

        @app_commands.command(name="add", description=t("cmd_library_add"))
        @app_commands.rename(for_kinds="for")
        @app_commands.describe(
            kind=t("opt_library_kind"),
            text=t("opt_library_text"),
            topics=t("opt_library_topics"),
            platforms=t("opt_library_platforms"),
            for_kinds=t("opt_library_for"),
            sources=t("opt_library_sources"),
        )
        @app_commands.choices(kind=kinds)
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
                        venues=_venues(platforms),
                        alert_kinds=_kinds(for_kinds),
                        sources=check_sources(split_list(sources)),
                    )
                )

            await self.run_command(interaction, build)

        @app_commands.command(name="edit", description=t("cmd_library_edit"))
        @app_commands.rename(for_kinds="for")
        @app_commands.describe(
            message=t("opt_library_message"),
            text=t("opt_library_new_text"),
            kind=t("opt_library_kind"),
            topics=t("opt_library_topics"),
            platforms=t("opt_library_platforms"),
            for_kinds=t("opt_library_for"),
            sources=t("opt_library_sources"),
        )
        @app_commands.choices(kind=kinds)
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
            # "-" clears a list (any topic, any platform, any kind of attack, no sources).
            def listed(value: str | None) -> str | None:
                return None if value is None else ("" if value.strip() == "-" else value)

            def build() -> c.Command:
                given = (text, kind, topics, platforms, for_kinds, sources)
                if all(v is None for v in given):
                    raise BadInput("error.usage", usage="library edit m3 [options] [new text]")
                t_, p_, f_, s_ = (listed(v) for v in (topics, platforms, for_kinds, sources))
                return c.LibraryEdit(
                    parse_entry_number(message.split()[0]),
                    kind=MessageKind(kind.value) if kind else None,
                    text=check_text(text) if text is not None else None,
                    topics=None if t_ is None else parse_topics(t_),
                    venues=None if p_ is None else _venues(p_),
                    alert_kinds=None if f_ is None else _kinds(f_),
                    sources=None if s_ is None else check_sources(split_list(s_)),
                )

            await self.run_command(interaction, build)

        @app_commands.command(name="approve", description=t("cmd_library_approve"))
        @app_commands.describe(messages=t("opt_library_messages"))
        async def approve(self, interaction: Interaction, messages: Range[str, 1, 200]) -> None:
            await self.run(interaction, "library approve " + " ".join(split_list(messages)))

        @app_commands.command(name="remove", description=t("cmd_library_remove"))
        @app_commands.describe(message=t("opt_library_message"))
        async def remove(self, interaction: Interaction, message: Range[str, 1, 12]) -> None:
            await self.run(interaction, f"library remove {message.split()[0]}")

        @app_commands.command(name="topics", description=t("cmd_library_topics"))
        @app_commands.describe(action=t("opt_library_topics_action"), names=t("opt_library_names"))
        @app_commands.choices(action=choices("discord.choice_", ["add", "remove"]))
        async def topics(
            self,
            interaction: Interaction,
            action: Choice[str] | None = None,
            names: Range[str, 1, 400] | None = None,
        ) -> None:
            words = ["library", "topics"]
            if action is not None:
                words += [action.value, *split_list(names)]
            await self.run(interaction, " ".join(words))

        @app_commands.command(name="import", description=t("cmd_library_import"))
        @app_commands.describe(file=t("opt_library_file"))
        async def import_(self, interaction: Interaction, file: discord.Attachment) -> None:
            caller = caller_of(interaction)
            name = file.filename

            async def work() -> Reply:
                # Only a lead's file is read: the core answers a non-lead with an error.
                asked = await self.services.handle(caller, c.LibraryImport(None, name))
                if not asked.ok:
                    return asked
                if file.size > MAX_FILE_CHARS:
                    raise BadInput("error.too_long", limit=MAX_FILE_CHARS)
                try:
                    content = (await file.read()).decode("utf-8")
                except UnicodeDecodeError:
                    raise BadInput("library.bad_file", reason="not UTF-8 text") from None
                return await self.services.handle(caller, c.LibraryImport(content, name))

            await answer(interaction, work)

        @app_commands.command(name="export", description=t("cmd_library_export"))
        async def export(self, interaction: Interaction) -> None:
            await self.run(interaction, "library export")

    return LibraryCog()
