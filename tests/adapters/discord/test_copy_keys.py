"""Every word the Discord adapter shows comes from [copy.discord], and fits Discord's limits."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from bot.adapters.discord.cog import RallyCog
from bot.adapters.discord.interactions import guarded
from bot.adapters.discord.library import LibraryCog
from bot.adapters.discord.views import AlertModal, AlertOptions
from bot.bootstrap import build
from bot.core.copy import Copy
from bot.core.errors import FieldError
from bot.core.messages import Reply
from bot.settings import Settings

CONFIG = Path(__file__).resolve().parents[3] / "config" / "rallybot.toml"
FORM_FIELDS = ("links", "post", "where", "kinds", "note", "severity", "help", "visibility")


@dataclass(frozen=True)
class Recording(Copy):
    asked: set[str] = field(default_factory=set)

    def __call__(self, key: str, **params: object) -> str:
        self.asked.add(key)
        return super().__call__(key, **params)


async def test_every_discord_word_is_in_the_copy_and_every_copy_word_is_used(db_url: str) -> None:
    runtime = build(Settings(database_url=db_url))
    copy = Recording(runtime.services.copy.texts)
    runtime.services.copy = copy
    try:
        cog = RallyCog(runtime.services, "rally")
        library = LibraryCog(runtime.services, "rally-library")
        AlertModal(copy, 1, AlertOptions()).stop()
        for name in FORM_FIELDS:

            async def failing(name: str = name) -> Reply:
                raise FieldError(name, "error.bad_link", link="x")

            reply = await guarded(runtime.services, failing)
            assert (
                reply.message.blocks[0]
                .spans[0]
                .text.startswith(copy(f"discord.field_{name}") + ": ")
            )

        async def broken() -> Reply:
            raise RuntimeError("boom")

        assert not (await guarded(runtime.services, broken)).ok
        copy("discord.out_of_date")  # interactions.fail
    finally:
        await runtime.close()
    table = tomllib.loads(CONFIG.read_text())["copy"]["discord"]
    used = {k.removeprefix("discord.") for k in copy.asked if k.startswith("discord.")}
    assert used == set(table), f"unused: {set(table) - used}; missing: {used - set(table)}"
    for each in (cog, library):
        group = each.__cog_app_commands_group__
        assert group is not None
        for command in group.walk_commands():
            assert 1 <= len(command.description) <= 100, command.name
            for parameter in command.parameters:
                assert 1 <= len(parameter.description) <= 100, (command.name, parameter.name)
                assert all(1 <= len(c.name) <= 100 for c in parameter.choices)
