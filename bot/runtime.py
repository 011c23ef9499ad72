"""Running rallybot: schema checks, the console, the dispatcher and the scheduler in one loop."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TextIO

from bot.adapters.console.chat import Buttons, ConsoleChat
from bot.adapters.console.shell import ConsoleClock, ConsoleShell
from bot.bootstrap import Runtime, build
from bot.delivery.outbox import Dispatcher
from bot.delivery.scheduler import make_scheduler
from bot.settings import Settings
from bot.store import schema

log = logging.getLogger(__name__)


class SchemaOutdated(Exception):
    """PostgreSQL is behind the code's migrations; an operator runs `rallybot migrate`."""


async def prepare_schema(settings: Settings) -> None:
    """SQLite is migrated on start; PostgreSQL must be migrated by a deploy step."""
    url = settings.db_url
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        await schema.upgrade(url)
        return
    if not await schema.is_up_to_date(url):
        current = await schema.current_revision(url)
        raise SchemaOutdated(
            f"The database schema is at {current or 'nothing'} but this rallybot needs "
            f"{schema.head_revision()}. Run `rallybot migrate` first, then start again."
        )


async def run(settings: Settings, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> None:
    await prepare_schema(settings)
    if settings.has_slack or settings.has_discord:
        log.warning(
            "Slack and Discord credentials are set, but this build has only the "
            "console adapter; starting the console"
        )
    runtime = build(settings, ConsoleClock())
    try:
        await run_console(runtime, stdin, out, interactive=stdin.isatty())
    finally:
        await runtime.close()


async def run_console(runtime: Runtime, stdin: TextIO, out: TextIO, interactive: bool) -> None:
    services = runtime.services
    clock = runtime.clock
    assert isinstance(clock, ConsoleClock)
    await services.seed_demo()
    buttons = Buttons()
    dispatcher = Dispatcher(services.uow, {"console": ConsoleChat(out, buttons)}, clock)
    lock = asyncio.Lock()  # the shell and the ticks never deliver at the same time

    async def deliver() -> int:
        async with lock:
            return await dispatcher.drain()

    async def tick() -> None:
        async with lock:
            while await services.run_due():
                await dispatcher.drain()
            await dispatcher.drain()

    shell = ConsoleShell(services, deliver, clock, buttons, out, command=runtime.settings.command)
    scheduler = make_scheduler(tick, runtime.settings.tick_seconds) if interactive else None
    if scheduler is not None:
        scheduler.start()
    try:
        await shell.run(stdin, interactive)
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
