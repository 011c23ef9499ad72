"""The composition root: `run`, `web` and `worker` built from Settings and the platform
registry, and the one loop that serves them (platforms, HTTP, the dispatcher, the scheduler)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TextIO

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import logs as rally_logging
from bot.adapters.console.chat import Buttons, ConsoleChat
from bot.adapters.console.shell import ConsoleClock, ConsoleShell
from bot.bootstrap import Runtime, build
from bot.core.ports import Chat, Clock, Directory
from bot.delivery.outbox import Dispatcher
from bot.delivery.scheduler import make_scheduler, stop_scheduler
from bot.inbox.worker import InboxWorker, inbox_worker
from bot.ops.http import HttpServer, start_private, start_public
from bot.ops.observe import Observer
from bot.ops.platform import Platform
from bot.ops.startup import explain
from bot.platforms import PLATFORMS, Registered, Role, check, configured, needs, platforms_for
from bot.settings import ConfigError, Settings
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


@contextlib.asynccontextmanager
async def assembled(settings: Settings, clock: Clock | None = None) -> AsyncIterator[Runtime]:
    """The runtime (settings, engine, services, clock), built here and nowhere else; the
    engine is closed after."""
    runtime = build(settings, clock)
    try:
        yield runtime
    finally:
        await runtime.close()


@contextlib.asynccontextmanager
async def opened(settings: Settings, clock: Clock | None = None) -> AsyncIterator[Runtime]:
    """The runtime every command that reads or writes runs on: the schema checked first
    (SQLite migrated)."""
    await prepare_schema(settings)
    async with assembled(settings, clock) as runtime:
        yield runtime


async def run(
    settings: Settings,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
    console: bool = False,
    registry: Sequence[Registered] = PLATFORMS,
    stop: asyncio.Event | None = None,
) -> None:
    """`rallybot run`: every configured platform in one process, or the console on a demo
    collective when none is (or when asked)."""
    if console or not configured(settings, "run", registry):
        interactive = stdin.isatty()
        log_file = console_logging(settings, interactive)
        async with opened(settings, ConsoleClock()) as runtime:
            await run_console(runtime, stdin, out, interactive=interactive, log_file=log_file)
        return
    await serve_role(settings, "run", registry, stop)


async def web(
    settings: Settings,
    registry: Sequence[Registered] = PLATFORMS,
    stop: asyncio.Event | None = None,
) -> int:
    """`rallybot web`: the platforms that receive over HTTP (Slack's events and OAuth) on $PORT,
    with delivery and the scheduler, until stopped; several may run on one PostgreSQL. A
    setting that is wrong or a schema that is behind: one line and exit code 2."""
    try:
        await serve_role(settings, "web", registry, stop)
    except (ConfigError, SchemaOutdated) as error:
        print(f"rallybot web: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    except asyncio.CancelledError:
        log.info("rallybot web was cancelled")
    return 0


async def work(
    settings: Settings,
    registry: Sequence[Registered] = PLATFORMS,
    stop: asyncio.Event | None = None,
) -> None:
    """`rallybot worker`: the Discord gateway (if configured), delivery for every platform,
    and the scheduler. Several may run against one PostgreSQL: every due row is claimed."""
    await serve_role(settings, "worker", registry, stop)


NOTHING_TO_DO = {
    "run": "nothing to run",
    "web": "nothing to serve over HTTP",
    "worker": "the worker has nothing to do",
}


async def serve_role(
    settings: Settings,
    role: Role,
    registry: Sequence[Registered] = PLATFORMS,
    stop: asyncio.Event | None = None,
) -> None:
    """The one start-up sequence of `run`, `web` and `worker`: the role's platforms from the
    registry, their settings checked, the schema checked, then everything served."""
    if not configured(settings, role, registry):
        raise ConfigError(
            f"{NOTHING_TO_DO[role]}: no platform is configured. Set {needs(role, registry)}, "
            "or use `rallybot run` for the console"
        )
    check(settings, role, registry)
    if (
        role == "web"
        and settings.metrics_port is not None
        and settings.metrics_port == settings.port
    ):
        raise ConfigError("RALLYBOT_METRICS_PORT must differ from PORT (the public port)")
    async with opened(settings) as runtime:
        await serve(runtime, platforms_for(runtime, role, registry), stop, command=role)


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
    claimed when an earlier process died are taken back first. The HTTP servers listen before
    the platforms connect: $PORT when a platform has routes (its routes beside /livez,
    /readyz and /metrics), and RALLYBOT_METRICS_PORT when set."""
    services = runtime.services
    settings = runtime.settings
    every_chat = {c.platform: c for c in chats} | {p.chat.platform: p.chat for p in platforms}
    worker = await hold_worker_id(runtime.engine, settings.worker_id or default_worker_id(command))
    dispatcher = _dispatcher(runtime, every_chat, worker.name)
    # The platforms that can tell who reads a channel: their channels are checked daily.
    services.directories = {
        name: chat for name, chat in every_chat.items() if isinstance(chat, Directory)
    }
    handlers = {p.chat.platform: p.inbox_handler for p in platforms if p.inbox_handler}
    inbox = inbox_worker(runtime, handlers, every_chat, worker.name, command)
    # Each batch of sends waits for a burst of acknowledgements, as new inbox work does: this
    # process's own and, on PostgreSQL, those it hears from every other process (decision 94).
    dispatcher.yield_to = inbox.quiet
    observer = Observer(runtime, dispatcher, platforms, inbox=inbox if inbox.lanes else None)
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
    public: HttpServer | None = None
    private: HttpServer | None = None
    try:
        # First, so /livez answers and /readyz says why while the platforms connect.
        if any(p.http() is not None for p in platforms):
            public = await start_public(observer, platforms, settings.port)
        if settings.metrics_port is not None:
            private = await start_private(observer, settings.metrics_port, settings.metrics_host)
        if worker.stable:
            await dispatcher.recover()
            await inbox.recover()
        if not await _start_platforms(platforms, started, stop):
            return
        settled_heap()
        log.info("rallybot is running (%s)", ", ".join(sorted(every_chat)) or "no platform")
        delivery = _start_work(scheduler, dispatcher, inbox, wake, settings.tick_seconds)
        await stop.wait()
        log.info("stopping: finishing what is in flight (up to %ss)", settings.shutdown_grace)
    finally:
        await stop_scheduler(scheduler, settings.shutdown_grace)  # a tick under way ends
        await inbox.stop(settings.shutdown_grace)  # unfinished rows go back to the inbox
        dispatcher.stopping = True
        wake.set()
        if delivery is not None:
            try:
                await asyncio.wait_for(delivery, timeout=settings.shutdown_grace)
            except TimeoutError:
                log.warning("sends still in flight after the grace period were abandoned")
        await dispatcher.release()
        if public is not None:
            await public.stop()  # no new requests: what was acknowledged is finished below
        # Platforms stop after delivery: their clients carry the sends still in flight.
        for platform in reversed(started):
            with contextlib.suppress(Exception):
                await platform.stop()
        await runtime.inbox.close()  # acknowledged rows still held: due now, for any worker
        if private is not None:
            await private.stop()
        await worker.release()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


def settled_heap() -> None:
    """Once started: what start-up made (modules, the SDKs, the copy, caches) is moved out of
    the garbage collector's reach, so a full collection walks only what serving makes. Before,
    `rallybot web` under load paused for a full collection of ~75 ms about every second
    (B1, on SQLite), and each pause held up every acknowledgement in flight."""
    if gc.get_freeze_count():
        return  # once a process: a second serve (tests) would freeze its caller's objects
    gc.collect()
    gc.freeze()


def _dispatcher(runtime: Runtime, chats: dict[str, Chat], worker: str) -> Dispatcher:
    """The outbox's sender (its batches yield to the inbox worker's quiet, set in `serve`)."""
    services = runtime.services
    dispatcher = Dispatcher(
        services.uow,
        chats,
        runtime.clock,
        max_attempts=runtime.settings.delivery_attempts,
        on_failed=services.report_undelivered,
        worker_id=worker,
    )
    return dispatcher


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
