"""Running rallybot: schema checks, the console, the dispatcher and the scheduler in one loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, TextIO

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import logging as rally_logging
from bot.adapters.console.chat import Buttons, ConsoleChat
from bot.adapters.console.shell import ConsoleClock, ConsoleShell
from bot.bootstrap import Runtime, build
from bot.core.ports import Chat, Directory
from bot.delivery.outbox import Dispatcher
from bot.delivery.scheduler import make_scheduler
from bot.inbox.worker import InboxWorker, inbox_worker
from bot.ops.observe import Observer
from bot.ops.startup import StartupError, explain, listen
from bot.settings import Settings
from bot.store import schema
from bot.store.workers import default_worker_id, hold_worker_id

log = logging.getLogger(__name__)


class SchemaOutdated(Exception):
    """PostgreSQL is behind the code's migrations; an operator runs `rallybot migrate`."""


async def prepare_schema(settings: Settings) -> None:
    """SQLite is migrated on start; PostgreSQL must be migrated by a deploy step. A database
    that can't be reached is a StartupError that says so in one line."""
    try:
        await _prepare_schema(settings)
    except SchemaOutdated:
        raise
    except Exception as error:
        found = explain(error, settings.db_url)
        if found is None:
            raise
        raise found from error


async def _prepare_schema(settings: Settings) -> None:
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


class Platform(Protocol):
    """A connected chat platform, as each adapter package's `create(runtime)` returns it."""

    chat: Chat

    async def start(self) -> None:
        """Connect (or start serving) and return once ready to receive commands."""
        ...

    async def stop(self) -> None: ...


def platforms_for(runtime: Runtime, worker: bool = False) -> list[Platform]:
    """The adapters whose credentials are set (none: the console runs instead). A worker
    sends Slack's outbox rows but receives Slack through `rallybot web`."""
    found: list[Platform] = []
    settings = runtime.settings
    if worker and (settings.slack_bot_token or settings.slack_client_id):
        from bot.adapters.slack import sender

        found.append(sender.create_sender(runtime))
    elif runtime.settings.has_slack:
        from bot.adapters.slack import socket_mode

        found.append(socket_mode.create(runtime))
    if runtime.settings.has_discord:
        from bot.adapters.discord import client

        found.append(client.create(runtime))
    return found


async def run(
    settings: Settings,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
    console: bool = False,
) -> None:
    if console or not (settings.has_slack or settings.has_discord):
        interactive = stdin.isatty()
        log_file = console_logging(settings, interactive)
        await prepare_schema(settings)
        runtime = build(settings, ConsoleClock())
        try:
            await run_console(runtime, stdin, out, interactive=interactive, log_file=log_file)
        finally:
            await runtime.close()
        return
    await prepare_schema(settings)
    runtime = build(settings)
    try:
        await serve(runtime, platforms_for(runtime))
    finally:
        await runtime.close()


async def work(settings: Settings) -> None:
    """`rallybot worker`: the Discord gateway (if configured), delivery for every platform,
    and the scheduler. Several may run against one PostgreSQL: every due row is claimed."""
    if not (settings.slack_bot_token or settings.slack_client_id or settings.has_discord):
        raise StartupError(
            "the worker has nothing to do: no platform is configured. Set DISCORD_TOKEN "
            "(Discord) or SLACK_BOT_TOKEN / SLACK_CLIENT_ID (Slack's deliveries), or use "
            "`rallybot run` for the console"
        )
    await prepare_schema(settings)
    runtime = build(settings)
    try:
        await serve(runtime, platforms_for(runtime, worker=True), command="worker")
    finally:
        await runtime.close()


def console_logging(settings: Settings, interactive: bool) -> Path | None:
    """The interactive console logs to a file in the data directory, never over its prompt;
    a piped script logs to stderr as every other command does. Returns the file."""
    if not interactive:
        rally_logging.configure(settings.log_level, settings.log_format)
        return None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = (settings.data_dir / "rallybot.log").resolve()
    try:
        rally_logging.configure(settings.log_level, settings.log_format, file=path)
    except OSError:
        rally_logging.configure("WARNING", settings.log_format)  # stderr, warnings only
        return None
    return path


async def serve(
    runtime: Runtime,
    platforms: list[Platform],
    stop: asyncio.Event | None = None,
    chats: Sequence[Chat] = (),
    command: str = "run",
) -> None:
    """Every platform, the dispatcher and the scheduler in one loop until SIGTERM/SIGINT (or
    `stop`): then no new work is taken, sends in flight get the grace period to finish, and
    rows claimed but not sent are released for another worker. Rows this worker id had
    claimed when an earlier process died are taken back first."""
    services = runtime.services
    settings = runtime.settings
    every_chat = {c.platform: c for c in chats} | {p.chat.platform: p.chat for p in platforms}
    worker = await hold_worker_id(runtime.engine, settings.worker_id or default_worker_id(command))
    dispatcher = Dispatcher(
        services.uow,
        every_chat,
        runtime.clock,
        max_attempts=settings.delivery_attempts,
        on_failed=services.report_undelivered,
        worker_id=worker.name,
    )
    # The platforms that can tell who reads a channel: their channels are checked daily.
    services.directories = {
        name: chat for name, chat in every_chat.items() if isinstance(chat, Directory)
    }
    inbox = inbox_worker(runtime, platforms, every_chat, worker.name, command)
    observer = Observer(runtime, dispatcher, platforms, inbox=inbox if inbox.lanes else None)
    for platform in platforms:
        if hasattr(platform, "observer"):
            platform.observer = observer  # an HTTP platform serves /healthz and /metrics
    wake = asyncio.Event()
    services.on_commit = wake.set
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    async def tick() -> None:
        while not stop.is_set() and await services.run_due():
            pass
        wake.set()

    scheduler = make_scheduler(tick, settings.tick_seconds)
    started: list[Platform] = []
    delivery: asyncio.Task[None] | None = None
    health_server: web.AppRunner | None = None
    try:
        if settings.metrics_port is not None:
            # First, so /livez answers and /readyz says why while the platforms connect.
            health_server = await start_http(observer, settings.metrics_port, settings.metrics_host)
        if worker.stable:
            await dispatcher.recover()
            await inbox.recover()
        if not await _start_platforms(platforms, started, stop):
            return
        log.info("rallybot is running (%s)", ", ".join(sorted(every_chat)) or "no platform")
        delivery = _start_work(scheduler, dispatcher, inbox, wake, settings.tick_seconds)
        await stop.wait()
        log.info("stopping: finishing what is in flight (up to %ss)", settings.shutdown_grace)
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        await inbox.stop(settings.shutdown_grace)  # unfinished rows go back to the inbox
        dispatcher.stopping = True
        wake.set()
        if delivery is not None:
            try:
                await asyncio.wait_for(delivery, timeout=settings.shutdown_grace)
            except TimeoutError:
                log.warning("sends still in flight after the grace period were abandoned")
        await dispatcher.release()
        # Platforms stop after delivery: their clients carry the sends still in flight.
        for platform in reversed(started):
            with contextlib.suppress(Exception):
                await platform.stop()
        if health_server is not None:
            await health_server.cleanup()
        await worker.release()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


def _start_work(
    scheduler: AsyncIOScheduler,
    dispatcher: Dispatcher,
    inbox: InboxWorker,
    wake: asyncio.Event,
    interval: float,
) -> asyncio.Task[None] | None:
    """The scheduler, delivery and the inbox worker (rows left by a crash first), except in a
    process that only acknowledges (`web` on PostgreSQL, or RALLYBOT_REQUEST_WORKERS=0): its
    loop answers the platform and nothing else; other `rallybot worker`s deliver, tick and
    work the inbox."""
    if inbox.acks_only:
        log.info("this process only writes and acknowledges requests: workers answer them")
        return None
    scheduler.start()
    inbox.start()
    return asyncio.create_task(dispatcher.run_forever(wake, interval))


async def _start_platforms(
    platforms: Sequence[Platform], started: list[Platform], stop: asyncio.Event
) -> bool:
    """Start each platform in turn (a platform that can't reach its API retries until it can);
    False when told to stop first. Each is listed in `started` before it starts, so one
    stopped halfway is stopped too."""

    async def start_all() -> None:
        for platform in platforms:
            started.append(platform)
            await platform.start()

    starting = asyncio.create_task(start_all())
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
    if starting.cancelled():
        return False
    starting.result()  # a platform's start-up error (a refused token) ends the process
    return True


async def start_http(observer: Observer, port: int, host: str = "127.0.0.1") -> web.AppRunner:
    """/livez, /readyz and /metrics on a port of their own (RALLYBOT_METRICS_PORT), bound to
    localhost unless RALLYBOT_METRICS_HOST says otherwise; /metrics needs no token here."""
    app = web.Application()
    observer.add_routes(app, private=True)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await listen(web.TCPSite(runner, host=host, port=port), "RALLYBOT_METRICS_PORT", runner)
    log.info("health and metrics on http://%s:%d", host, port)
    return runner


async def run_console(
    runtime: Runtime,
    stdin: TextIO,
    out: TextIO,
    interactive: bool,
    log_file: Path | None = None,
) -> None:
    services = runtime.services
    clock = runtime.clock
    assert isinstance(clock, ConsoleClock)
    await services.seed_demo()
    buttons = Buttons()
    chat = ConsoleChat(out, buttons, runtime.settings.data_dir / "files")
    dispatcher = Dispatcher(services.uow, {"console": chat}, clock)
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
        await shell.run(stdin, interactive, log_file)
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
