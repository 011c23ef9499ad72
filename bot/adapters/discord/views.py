"""Persistent buttons (DynamicItem: they work after a restart) and the alert modal."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import discord

from bot.adapters.discord.interactions import fail, run, submit
from bot.adapters.discord.render import ACTION_TEMPLATE
from bot.adapters.discord.syntax import DISCORD
from bot.core.commands import Command, MemberRef
from bot.core.model import Kind, Venue
from bot.core.parse import MAX_NOTE_CHARS, alert_from_form
from bot.core.wording import Copy

MODAL_TIMEOUT = 15 * 60.0  # an interaction token lives 15 minutes; so does an open form


class ActionButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=ACTION_TEMPLATE
):
    """Any rallybot button: its custom id is the core's stable action id, nothing else."""

    def __init__(
        self,
        action_id: str,
        label: str = "",
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
    ) -> None:
        super().__init__(
            discord.ui.Button(custom_id=action_id, label=label[:80] or None, style=style)
        )
        self.action_id = action_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ActionButton:
        return cls(match.group(0))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        # The id is untrusted input: the core parses and authorises it like typed text.
        await submit(interaction, "action", {"action": self.action_id})


@dataclass(frozen=True)
class AlertOptions:
    """What the slash command already said, carried into the form."""

    note: str = ""
    post: str = ""
    where: str = ""
    kinds: tuple[str, ...] = ()
    severity: str = ""
    help_wanted: tuple[str, ...] = ()
    visibility: str = ""
    anonymous: bool = False
    target: MemberRef | None = None
    topics: str = ""

    def command(self, links: str, **typed: Any) -> Command:
        """The alert command from these options, with `links` and what the form typed
        (note, post, where, kinds) over them; a FieldError names a bad field."""
        return alert_from_form(
            links=links,
            note=typed.get("note", self.note),
            post=typed.get("post", self.post),
            where=typed.get("where", self.where),
            kinds=typed.get("kinds", self.kinds),
            severity=self.severity,
            help_wanted=self.help_wanted,
            visibility=self.visibility,
            anonymous=self.anonymous,
            target=self.target,
            topics=self.topics,
            syntax=DISCORD,
        )


class AlertModal(discord.ui.Modal):
    """The alert form: attack links, the target's own post, where, what kind, what happened."""

    def __init__(self, copy: Copy, opener: int, options: AlertOptions) -> None:
        super().__init__(title=copy("discord.modal_title")[:45], timeout=MODAL_TIMEOUT)
        self.opener = opener
        self.options = options
        self.links: discord.ui.TextInput[AlertModal] = discord.ui.TextInput(
            custom_id="links",
            style=discord.TextStyle.paragraph,
            placeholder=copy("discord.modal_links_placeholder")[:100],
            max_length=4000,
            required=True,
        )
        self.post: discord.ui.TextInput[AlertModal] = discord.ui.TextInput(
            custom_id="post",
            placeholder=copy("discord.modal_post_placeholder")[:100],
            default=options.post[:2000] or None,
            max_length=2000,
            required=False,
        )
        self.where: discord.ui.Select[AlertModal] = discord.ui.Select(
            custom_id="where",
            placeholder=copy("discord.modal_where_placeholder")[:150],
            options=[
                discord.SelectOption(
                    label=copy(f"venue.{v}")[:100], value=v.value, default=v.value == options.where
                )
                for v in Venue
            ],
            min_values=0,
            max_values=1,
            required=False,
        )
        self.kinds: discord.ui.Select[AlertModal] = discord.ui.Select(
            custom_id="kinds",
            placeholder=copy("discord.modal_kinds_placeholder")[:150],
            options=[
                discord.SelectOption(
                    label=copy(f"kind.{k}")[:100], value=k.value, default=k.value in options.kinds
                )
                for k in Kind
            ],
            min_values=0,
            max_values=len(Kind),
            required=False,
        )
        self.note: discord.ui.TextInput[AlertModal] = discord.ui.TextInput(
            custom_id="note",
            style=discord.TextStyle.paragraph,
            placeholder=copy("discord.modal_note_placeholder")[:100],
            default=options.note[:MAX_NOTE_CHARS] or None,
            max_length=MAX_NOTE_CHARS,
            required=False,
        )
        for name, component in (
            ("links", self.links),
            ("post", self.post),
            ("where", self.where),
            ("kinds", self.kinds),
            ("note", self.note),
        ):
            self.add_item(
                discord.ui.Label(
                    text=copy(f"discord.field_{name}")[:45],
                    description=copy(f"discord.modal_{name}_hint")[:100],
                    component=component,
                )
            )

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        return interaction.user.id == self.opener

    async def on_submit(self, interaction: discord.Interaction[Any], /) -> None:
        o = self.options
        links, note, post = self.links.value, self.note.value, self.post.value
        where = self.where.values[0] if self.where.values else ""
        kinds = tuple(self.kinds.values)

        def build() -> Command:
            # A FieldError names the field; refusal() turns it into a private reply.
            return o.command(links, note=note, post=post, where=where, kinds=kinds)

        await run(interaction, build)

    # discord.py's Modal narrows BaseView.on_error (no item argument); mypy sees BaseView's.
    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction[Any], error: Exception, /
    ) -> None:
        await fail(interaction, error)
