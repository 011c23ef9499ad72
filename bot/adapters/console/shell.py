"""The console: type /rally commands as any demo member, press buttons, move the clock."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import io
import logging
import os
import re
import signal
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from bot.adapters.console.chat import Buttons
from bot.adapters.console.render import escape, render
from bot.adapters.files import FileProblem, read_text_file
from bot.core.commands import Caller, LibraryImport
from bot.core.errors import RallyError
from bot.core.messages import Reply
from bot.core.parse import PLAIN, parse_text
from bot.core.services import Services
from bot.core.services.membership import CONSOLE, CONSOLE_WORKSPACE
from bot.core.views import notice

log = logging.getLogger(__name__)

_CLOCK = re.compile(r"^\+(\d{1,4})\s*(m|h|d|w)$")
_HANDLE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


@dataclass
class ConsoleClock:
    """Real time plus an offset that /clock moves forward."""

    offset: timedelta = field(default_factory=timedelta)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


class Lines:
    """stdin's lines, read by a daemon thread: a blocked read never holds up leaving (Ctrl-C
    needs no Enter, and the process does not wait for the thread at exit). The file
    descriptor is read directly, so no buffered reader's lock is held at interpreter exit."""

    def __init__(self, stdin: TextIO) -> None:
        self.stdin = stdin
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.loop = asyncio.get_running_loop()

    def start(self) -> None:
        threading.Thread(target=self._read, name="console-stdin", daemon=True).start()

    def stop(self) -> None:
        """Leave now (Ctrl-C): the next line asked for is the end of input."""
        self.queue.put_nowait(None)

    async def next(self) -> str | None:
        return await self.queue.get()

    def _put(self, line: str | None) -> bool:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, line)
        except RuntimeError:  # the loop is closed: rallybot is leaving
            return False
        return True

    def _read(self) -> None:
        try:
            fd = self.stdin.fileno()
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            fd = None
        try:
            if fd is None:
                for line in iter(self.stdin.readline, ""):
                    if not self._put(line):
                        return
                return
            decoder = codecs.getincrementaldecoder("utf-8")("replace")
            pending = ""
            while chunk := os.read(fd, 65536):
                pending += decoder.decode(chunk)
                *lines, pending = pending.split("\n")
                for line in lines:
                    if not self._put(line + "\n"):
                        return
            pending += decoder.decode(b"", final=True)
            if pending:
                self._put(pending)
        except OSError:
            pass
        finally:
            self._put(None)


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
        self.lines_run = 0
        self.delivered = 0

    def t(self, key: str, **params: object) -> str:
        return self.services.copy(f"console.{key}", **params)

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
        for message in (reply.message, *reply.extras):
            self.say(render(message, self.buttons.number, self.t("only_you", user=self.user)))

    async def rally(self, text: str) -> Reply:
        """A /rally line; `library import FILE` reads the file here (the core reads none)."""
        try:
            command = parse_text(text, PLAIN)  # the console's words carry no markup
        except RallyError as error:
            return self.services.error_reply(error, CONSOLE)
        if isinstance(command, LibraryImport) and command.content is None:
            name = command.name.strip()
            if name and name.lower() != "starter":
                try:
                    content = await asyncio.to_thread(read_text_file, Path(name))
                except FileProblem as problem:
                    return Reply(notice(self.t("cannot_read"), str(problem)), ok=False)
                command = LibraryImport(content, name)
        return await self.services.handle(self.caller(), command)

    async def handle_line(self, line: str) -> bool:
        """Run one line; False means the person asked to leave."""
        text = line.strip()
        if not text or text.startswith("#"):
            return True
        word, _, rest = text.partition(" ")
        word = word.lower()
        if word in (f"/{self.command}", self.command):
            self.show(await self.rally(rest))
        elif word == "/as":
            name = rest.strip().lower().lstrip("@")
            if not _HANDLE.match(name):
                self.say(self.t("usage_as"))
            else:
                self.user = name
                self.say(self.t("now_as", user=name))
        elif word == "/press":
            label = rest.strip()
            action = (
                self.buttons.action(int(label)) if label.isdigit() else self.buttons.latest(label)
            )
            if action is None:
                self.say(self.t("usage_press"))
            else:
                self.show(await self.services.handle_action(self.caller(), action))
        elif word == "/clock":
            await self.advance(rest.strip())
        elif word == "/whoami":
            self.say(self.t("whoami", user=self.user))
        elif word in ("/help", "/?"):
            self.say(self.t("help", command=self.command))
        elif word in ("/quit", "/exit"):
            return False
        else:
            self.say(self.t("unknown", word=escape(word[:40]), command=self.command))
        await self._deliver()
        return True

    async def _deliver(self) -> None:
        self.delivered += await self.deliver()

    async def advance(self, spec: str) -> None:
        m = _CLOCK.match(spec.lower())
        if not m:
            self.say(self.t("usage_clock"))
            return
        n, unit = int(m.group(1)), m.group(2)
        delta = {
            "m": timedelta(minutes=n),
            "h": timedelta(hours=n),
            "d": timedelta(days=n),
            "w": timedelta(weeks=n),
        }[unit]
        self.clock.offset += delta
        now = self.clock.now().strftime("%a %d %b %H:%M UTC")
        self.say(self.t("clock_moved", spec=spec, now=now))
        while await self.services.run_due():
            await self._deliver()

    async def run(self, stdin: TextIO, interactive: bool, log_file: Path | None = None) -> None:
        """Read lines until the end of input, /quit, or Ctrl-C (SIGINT), which leaves at once.
        Interactive, it greets and names the log file; a script ends with a summary."""
        if interactive:
            self.say(self.t("welcome", command=self.command, user=self.user))
            if log_file is not None:
                self.say(self.t("logs", path=escape(str(log_file))))
        await self._deliver()
        lines = Lines(stdin)
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, lines.stop)
        lines.start()
        try:
            await self._loop(lines, interactive)
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)
        if interactive:
            self.say("\n" + self.t("bye"))
        else:
            self.say(self.t("summary", lines=self.lines_run, messages=self.delivered))

    async def _loop(self, lines: Lines, interactive: bool) -> None:
        while True:
            if interactive:
                print(f"{self.user}> ", end="", file=self.out, flush=True)
            line = await lines.next()
            if line is None:
                return
            if not interactive:
                self.say(f"{self.user}> {escape(line.rstrip())}")
            if line.strip() and not line.strip().startswith("#"):
                self.lines_run += 1
            try:
                if not await self.handle_line(line):
                    return
            except Exception:  # the console must survive any one bad line
                log.exception("the console could not finish that line; nothing was changed")
                self.say(self.t("failed"))
