"""The console's words carry no markup: a Slack or Discord mention typed there is a handle
nobody has, and its usage texts are the language's own."""

from __future__ import annotations

import io

from bot.adapters.console.chat import Buttons, ConsoleChat
from bot.adapters.console.shell import ConsoleClock, ConsoleShell
from bot.core.policy import Policy
from bot.core.services import Services
from bot.delivery.outbox import Dispatcher
from tests.fakes import MemoryStore, SeqIds
from tests.unit.conftest import load_copy


async def console(command: str = "rally") -> tuple[ConsoleShell, io.StringIO]:
    store, clock = MemoryStore(), ConsoleClock()
    services = Services(store.uow, clock, SeqIds(), load_copy(), Policy(), command=command)
    await services.seed_demo()
    out, buttons = io.StringIO(), Buttons()
    dispatcher = Dispatcher(services.uow, {"console": ConsoleChat(out, buttons)}, clock)
    shell = ConsoleShell(services, dispatcher.drain, clock, buttons, out, command=command)
    await shell.handle_line("/as lee")
    return shell, out


async def said(shell: ConsoleShell, out: io.StringIO, line: str) -> str:
    start = len(out.getvalue())
    await shell.handle_line(line)
    return out.getvalue()[start:]


async def test_a_platform_mention_is_a_handle_nobody_has() -> None:
    shell, out = await console()
    for mention in ("<@UBEN>", "<@123456789>", "<@!123456789>"):
        reply = await said(shell, out, f"/rally role {mention} lead")
        assert f"There is no member called {mention}" in reply
    assert "Ben now has" in await said(shell, out, "/rally role @ben lead")
    assert "Usage: /rally setup leadrole @role | off" in await said(
        shell, out, "/rally setup leadrole <@&123>"
    )


async def test_usages_name_the_configured_command() -> None:
    shell, out = await console("shield")
    assert "Usage: /shield consent #12 yes|no" in await said(shell, out, "/shield consent #1")
