"""Usage texts come from [copy.usage], worded per platform where its people write a command
another way ([copy.usage.discord]: options, not words), with the configured command name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot.core.commands import Caller
from bot.core.parse import usage
from bot.core.policy import Policy
from bot.core.services import Services
from bot.core.wording import Copy
from tests.fakes import FakeClock, MemoryStore, SeqIds
from tests.unit.conftest import NOW, Rally, load_copy

BOT = Path(__file__).resolve().parents[2] / "bot"
# Calls that name a [copy.usage] key, and which of their arguments does.
NAMERS = {"usage": 0, "expect": 1, "_one_alert": 1, "member_of": 2}


def usage_names() -> set[str]:
    """Every usage name the code gives (a constant; `suspend` names itself by its verb)."""
    names: set[str] = {"suspend", "unsuspend"}  # line.expect(1, line.verb)
    for path in BOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            index = NAMERS.get(name)
            if index is not None and len(node.args) > index:
                arg = node.args[index]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    names.add(arg.value)
    return names


def services(copy: Copy, command: str = "rally") -> Services:
    return Services(MemoryStore().uow, FakeClock(NOW), SeqIds(), copy, Policy(), command=command)


def shown(services: Services, name: str, platform: str | None) -> str:
    return services.error_reply(usage(name), platform).message.plain_text()


def test_every_usage_the_code_names_is_in_the_copy_and_every_one_there_is_named() -> None:
    copy = load_copy()
    names = usage_names()
    assert {"consent", "approve", "library_edit", "setup_leadrole", "evidence"} <= names
    base = {k.split(".", 1)[1] for k in copy.texts if k.startswith("usage.") and k.count(".") == 1}
    assert names == base, (names - base, base - names)


def test_a_platforms_usage_words_a_usage_that_exists_with_the_same_blanks() -> None:
    copy = load_copy()
    own = [k for k in copy.texts if k.startswith("usage.") and k.count(".") == 2]
    assert "usage.discord.approve" in own
    for key in own:
        _, _, name = key.split(".")
        assert copy.has(f"usage.{name}"), key
        assert copy.keys_used_in(key) == copy.keys_used_in(f"usage.{name}") == {"command"}


@pytest.mark.parametrize("platform", ["slack", "console", None])
def test_words_where_people_type_words(platform: str | None) -> None:
    said = shown(services(load_copy()), "approve", platform)
    assert "Usage: /rally approve <member>" in said


def test_options_where_people_fill_in_options() -> None:
    said = shown(services(load_copy()), "approve", "discord")
    assert "Usage: /rally approve member:@someone (or handle:ben)" in said
    # A usage Discord words no other way (its options make it unreachable there) falls back.
    assert "Usage: /rally consent #12 yes|no" in shown(services(load_copy()), "consent", "discord")


def test_the_command_name_is_the_configured_one() -> None:
    core = services(load_copy(), command="shield")
    assert "Usage: /shield consent #12 yes|no" in shown(core, "consent", "slack")
    assert "Usage: /shield-library edit message:m3" in shown(core, "library_edit", "discord")


async def test_the_core_answers_each_caller_in_their_platforms_words(rally: Rally) -> None:
    said = (await rally.say("lee", "approve")).message.plain_text()
    assert "Usage: /rally approve <member>" in said  # the console
    on_discord = (
        await rally.say(Caller("discord", "", "L1", space="G1"), "approve")
    ).message.plain_text()
    assert "Usage: /rally approve member:@someone" in on_discord
