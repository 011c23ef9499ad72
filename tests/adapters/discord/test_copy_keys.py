"""Every word the Discord adapter shows comes from [copy.discord], and fits Discord's limits."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from discord import app_commands

from bot.adapters.discord.cog import RallyCog
from bot.adapters.discord.interactions import guarded
from bot.adapters.discord.library import LibraryCog
from bot.adapters.discord.views import AlertModal, AlertOptions
from bot.bootstrap import build
from bot.core.errors import FieldError
from bot.core.messages import Reply
from bot.core.policy import Policy
from bot.core.services import Services
from bot.core.wording import Copy
from bot.settings import Settings
from tests.fakes import FakeClock, MemoryStore, SeqIds
from tests.unit.conftest import NOW, load_copy

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


def test_each_cog_is_worded_by_its_own_copy_and_the_class_keeps_its_keys() -> None:
    """Descriptions are applied per instance: two bots with different copy (a test's, a
    collective's own) do not share their words, and the class still holds copy keys."""
    shipped = load_copy()
    ours = Copy({**shipped.texts, "discord.cmd_status": "What is open", "word.yes": "Yes!"})

    def services(copy: Copy) -> Services:
        return Services(MemoryStore().uow, FakeClock(NOW), SeqIds(), copy, Policy())

    first, second = RallyCog(services(shipped), "rally"), RallyCog(services(ours), "shield")
    for cog, copy, name in ((first, shipped, "rally"), (second, ours, "shield")):
        group = cog.app_command
        assert group is not None and group.name == name
        status, consent = group.get_command("status"), group.get_command("consent")
        assert isinstance(status, app_commands.Command)
        assert isinstance(consent, app_commands.Command)
        assert status.description == copy("discord.cmd_status")
        answer = consent.get_parameter("answer")
        assert answer is not None
        assert [ch.name for ch in answer.choices] == [copy("word.yes"), copy("word.no")]
    assert RallyCog.status.description == "cmd_status"  # the class: keys, never words
    library = LibraryCog(services(ours), "shield-library").app_command
    assert library is not None and library.name == "shield-library"
