"""The console: type /rally commands as any demo member, press buttons, move the clock."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TextIO

from bot.adapters.console.chat import Buttons
from bot.adapters.console.render import escape, render
from bot.core.commands import Caller
from bot.core.messages import Reply
from bot.core.services import Services
from bot.core.services.membership import CONSOLE, CONSOLE_WORKSPACE

log = logging.getLogger(__name__)

_CLOCK = re.compile(r"^\+(\d{1,4})\s*(m|h|d|w)$")
_HANDLE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")

CONSOLE_HELP = """Console commands:
  /rally …        the rallybot command language (try /rally help)
  /as NAME        type as someone else: ana, ben, cam, dee, lee, sam (a new name is a stranger)
  /press N        press the button numbered [N] (or /press LABEL: the latest such button)
  /clock +2h      move the clock forward (m, h, d, w) and deliver what falls due
  /whoami         who is typing
  /quit           leave (end of input does the same)"""


@dataclass
class ConsoleClock:
    """Real time plus an offset that /clock moves forward."""

    offset: timedelta = field(default_factory=timedelta)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


class ConsoleShell:
    def __init__(
        self,
        services: Services,
        deliver: Callable[[], Awaitable[int]],
        clock: ConsoleClock,
        buttons: Buttons,
        out: TextIO,
        command: str = "rally",
        user: str = "ana",
    ) -> None:
        self.services = services
        self.deliver = deliver
        self.clock = clock
        self.buttons = buttons
        self.out = out
        self.command = command
        self.user = user

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def caller(self) -> Caller:
        return Caller(
            CONSOLE,
            CONSOLE_WORKSPACE,
            self.user,
            display_name=self.user.title(),
            channel="#rally",
            can_manage=True,
        )

    def show(self, reply: Reply) -> None:
        self.say(render(reply.message, self.buttons.number, f"only {self.user} sees this"))

    async def handle_line(self, line: str) -> bool:
        """Run one line; False means the person asked to leave."""
        text = line.strip()
        if not text or text.startswith("#"):
            return True
        word, _, rest = text.partition(" ")
        word = word.lower()
        if word in (f"/{self.command}", self.command):
            self.show(await self.services.handle_text(self.caller(), rest))
        elif word == "/as":
            name = rest.strip().lower().lstrip("@")
            if not _HANDLE.match(name):
                self.say("Usage: /as NAME (letters, digits, - and _), e.g. /as lee")
            else:
                self.user = name
                self.say(f"(now typing as {name})")
        elif word == "/press":
            label = rest.strip()
            action = (
                self.buttons.action(int(label)) if label.isdigit() else self.buttons.latest(label)
            )
            if action is None:
                self.say("Usage: /press N (or /press LABEL), for a button [N] shown above.")
            else:
                self.show(await self.services.handle_action(self.caller(), action))
        elif word == "/clock":
            await self.advance(rest.strip())
        elif word == "/whoami":
            self.say(f"(typing as {self.user})")
        elif word in ("/help", "/?"):
            self.say(CONSOLE_HELP)
        elif word in ("/quit", "/exit"):
            return False
        else:
            self.say(
                f"I don't know {escape(word[:40])!r}. Type /help for console commands, "
                f"or /{self.command} help."
            )
        await self.deliver()
        return True

    async def advance(self, spec: str) -> None:
        m = _CLOCK.match(spec.lower())
        if not m:
            self.say("Usage: /clock +30m | +2h | +1d | +1w")
            return
        n, unit = int(m.group(1)), m.group(2)
        delta = {
            "m": timedelta(minutes=n),
            "h": timedelta(hours=n),
            "d": timedelta(days=n),
            "w": timedelta(weeks=n),
        }[unit]
        self.clock.offset += delta
        self.say(
            f"(clock moved forward {spec}; it is now "
            f"{self.clock.now().strftime('%a %d %b %H:%M UTC')})"
        )
        while await self.services.run_due():
            await self.deliver()

    async def run(self, stdin: TextIO, interactive: bool) -> None:
        if interactive:
            self.say(
                "rallybot console. Type /help for console commands, "
                f"/{self.command} help for rallybot. You are {self.user}."
            )
        await self.deliver()
        while True:
            if interactive:
                print(f"{self.user}> ", end="", file=self.out, flush=True)
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                break
            if not interactive:
                self.say(f"{self.user}> {escape(line.rstrip())}")
            try:
                if not await self.handle_line(line):
                    break
            except Exception:  # the console must survive any one bad line
                log.exception("the console could not finish that line; nothing was changed")
                self.say("(Sorry, something went wrong; nothing was changed.)")
