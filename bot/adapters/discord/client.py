"""The Discord bot: a commands.Bot built from the runtime, run in rallybot's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.adapters.discord import cog
from bot.adapters.discord.chat import DiscordChat
from bot.adapters.discord.inbox import DiscordInbox
from bot.adapters.discord.interactions import DEFER_AFTER, fail
from bot.adapters.discord.views import ActionButton
from bot.core.services import Services
from bot.inbox.entry import Inbox
from bot.ops.platform import Health
from bot.ops.startup import StartupError, until_up
from bot.settings import ConfigError, Settings
from bot.store.lease import TTL_SECONDS, Lease

if TYPE_CHECKING:
    from bot.bootstrap import Runtime

log = logging.getLogger(__name__)

API_VERSION = 10


def intents() -> discord.Intents:
    """Only guild structure (channels, roles): commands and buttons need no privileged intent,
    and rallybot never reads messages or member lists."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    return wanted


class RallyTree(app_commands.CommandTree["RallyBot"]):
    async def on_error(
        self, interaction: discord.Interaction[RallyBot], error: app_commands.AppCommandError, /
    ) -> None:
        # An out-of-date command (sync pending) or an option Discord let through: reply kindly.
        await fail(interaction, error)


class RallyBot(commands.Bot):
    """rallybot on Discord; everything it needs arrives through the constructor."""

    def __init__(
        self,
        services: Services,
        settings: Settings,
        *,
        defer_after: float = DEFER_AFTER,
        inbox: Inbox | None = None,
        guild_ready_timeout: float = 2.0,
        heartbeat_timeout: float = 60.0,
        identify_delay: float = 5.0,
    ) -> None:
        options: dict[str, Any] = {}
        if settings.discord_application_id:
            options["application_id"] = int(settings.discord_application_id)
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents(),
            # Nobody is pinged unless a message names them (render.Rendered.allowed_mentions).
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=RallyTree,
            max_messages=None,
            member_cache_flags=discord.MemberCacheFlags.none(),
            chunk_guilds_at_startup=False,
            guild_ready_timeout=guild_ready_timeout,
            heartbeat_timeout=heartbeat_timeout,
            # A rate-limit wait longer than this is handed back to the outbox dispatcher
            # (which reschedules the row) instead of holding its lane; 30 s is the minimum.
            max_ratelimit_timeout=30.0,
            **options,
        )
        self.services = services
        self.settings = settings
        self.defer_after = defer_after
        # Each interaction is written here before its initial response, and worked from it.
        if inbox is None:
            raise ValueError("the Discord bot needs the runtime's inbox")
        self.inbox = inbox
        self.identify_delay = identify_delay
        self.ready_event = asyncio.Event()

    async def setup_hook(self) -> None:
        # Buttons are matched by their id's shape, so they keep working after a restart.
        self.add_dynamic_items(ActionButton)
        await cog.setup(self)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        # Discord allows one IDENTIFY per 5 s per bot: wait before identifying again after an
        # invalid session (discord.py's default, made tunable for tests and benches).
        if not initial:
            await asyncio.sleep(self.identify_delay)

    async def on_ready(self) -> None:
        self.ready_event.set()
        log.info("connected to Discord in %d guild(s)", len(self.guilds))

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """The bot was kicked or banned, or the server deleted: the server's data goes after
        the grace period unless a lead adds the bot back and sets it up there again."""
        try:
            known = await self.services.space_removed("discord", str(guild.id))
        except Exception:
            log.exception("could not schedule the deletion of a removed server's data")
            return
        if known:
            log.info(
                "rallybot was removed from a Discord server; its data goes after the grace period"
            )


@dataclass(frozen=True)
class Endpoints:
    """Where discord.py sends REST calls and opens its gateway connection."""

    api: str
    gateway: yarl.URL

    @classmethod
    def current(cls) -> Endpoints:
        return cls(discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)

    def apply(self) -> None:
        discord.http.Route.BASE = self.api
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self.gateway


_pointed: list[Endpoints] = []  # what to restore, while any bot in this process runs


def point_at(settings: Settings) -> Endpoints:
    """Point discord.py at DISCORD_API_URL / DISCORD_GATEWAY_URL; returns what to restore.

    These are class attributes of the library (a REST proxy in production, a fake in tests),
    so they are set just before connecting and put back when the last bot in the process
    stops: a bot still running (a second one in tests) must never fall back to discord.com.
    """
    saved = _pointed[0] if _pointed else Endpoints.current()
    _pointed.append(saved)
    api, gateway = saved.api, saved.gateway
    if settings.discord_api_url:
        api = api_base(settings.discord_api_url)
    if settings.discord_gateway_url:
        gateway = yarl.URL(settings.discord_gateway_url)
    Endpoints(api, gateway).apply()
    return saved


def release(saved: Endpoints) -> None:
    """Undo one point_at(): the library's endpoints are restored when no bot is left."""
    if _pointed:
        _pointed.pop()
    if not _pointed:
        saved.apply()


def api_base(url: str) -> str:
    """A REST base with its version: https://proxy.example → https://proxy.example/api/v10."""
    url = url.rstrip("/")
    path = yarl.URL(url).path.rstrip("/")
    if path.split("/")[-1].startswith("v") and "/api" in path:
        return url
    return f"{url}/api/v{API_VERSION}"


def quiet_library_logs() -> None:
    """discord.py logs payloads (message text, interaction tokens) at DEBUG: never log them.

    The level is set on discord.py's own logger (INFO, or the root's level if higher), so a
    later change of the root level cannot turn the payload logging back on."""
    library = logging.getLogger("discord")
    floor = max(logging.INFO, logging.getLogger().getEffectiveLevel())
    if library.level == logging.NOTSET or library.level < floor:
        library.setLevel(floor)


GATEWAY_RETRY_SECONDS = 5.0
LOGIN_RETRY_FIRST = 1.0  # seconds before the first login retry (doubling, up to a minute)


def transient(error: BaseException) -> bool:
    """The network or Discord's servers, not the token: worth trying again."""
    if isinstance(error, discord.HTTPException):
        return error.status >= 500 or error.status == 429
    return isinstance(error, aiohttp.ClientError | OSError | asyncio.TimeoutError)


async def log_in(
    bot: commands.Bot,
    token: str,
    report: Callable[[str | None], None] = lambda _: None,
    first: float = LOGIN_RETRY_FIRST,
) -> None:
    """Log in over REST, again and again while the network fails; a refused token is a
    StartupError (a configuration problem: exit 2)."""

    async def attempt() -> None:
        try:
            await bot.login(token)
        except Exception as error:
            if transient(error):
                # A fresh HTTP session next time: discord.py opens one per login.
                await bot.http.close()
                bot.http.connector = discord.utils.MISSING
            raise

    try:
        await until_up("Discord's API", attempt, transient, report, first)
    except discord.LoginFailure:
        raise StartupError(
            "Discord refused DISCORD_TOKEN: copy the bot token again from the Developer "
            "Portal (Bot → Reset Token)"
        ) from None


def gateway_lease_name(token: str) -> str:
    """One gateway per bot: the lease is named after the token (never the token itself)."""
    return "discord-gateway:" + hashlib.sha256(token.encode()).hexdigest()[:32]


class DiscordPlatform:
    """The bot as a rallybot Platform: start() returns once Discord says it is ready.

    Only one process may hold the gateway, or every command would run once per process: the
    holder takes the gateway lease (bot.store.lease) and renews it; other processes log in
    over REST only (they still deliver the outbox) and take the gateway over when the holder
    lets go or stops renewing.
    """

    def __init__(
        self,
        runtime: Runtime,
        gateway_retry: float = GATEWAY_RETRY_SECONDS,
        lease_seconds: float = TTL_SECONDS,
        **options: Any,
    ) -> None:
        self.settings = runtime.settings
        token = runtime.settings.discord_token
        if token is None:
            raise ConfigError("set DISCORD_TOKEN to run Discord")
        options.setdefault("inbox", runtime.inbox)
        self.bot = RallyBot(runtime.services, runtime.settings, **options)
        self.inbox_handler = DiscordInbox(self.bot, runtime.clock)  # works Discord's requests
        self.chat = DiscordChat(self.bot)
        self.gateway_retry = gateway_retry
        self.lease = Lease(
            runtime.engine,
            gateway_lease_name(token.get_secret_value()),
            uuid.uuid4().hex,
            runtime.clock,
            lease_seconds,
        )
        self.login_retry = LOGIN_RETRY_FIRST
        self.problem: str | None = None  # why not connected, for /readyz
        self.standby = False
        self.lost = False  # the lease went to another process while this one held it
        self._task: asyncio.Task[None] | None = None
        self._saved: Endpoints | None = None
        self._waiting: asyncio.Task[None] | None = None
        self._renewing: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        """For /readyz: a standby worker is healthy while it can send; one that lost the
        gateway lease is not (it closed its client)."""
        return not self.lost and (self.standby or self.bot.ready_event.is_set())

    def health(self) -> Health:
        return Health(self.connected, self.problem)

    def http(self) -> None:
        return None  # Discord comes over the gateway

    async def _wait_for_gateway(self) -> None:
        # Polling: the lease is another process's, so nothing in this one can signal it.
        while not await self.lease.acquire():  # noqa: ASYNC110
            await asyncio.sleep(self.gateway_retry)
        log.info("this process now holds the Discord gateway")
        self.standby = False
        self._connect()

    def _connect(self) -> None:
        # Logged in: connect() reconnects by itself (with backoff) when the gateway drops.
        self._task = asyncio.create_task(self.bot.connect(), name="discord")
        self._renewing = asyncio.create_task(self._renew(), name="discord-lease")

    async def _renew(self) -> None:
        """Keep the lease while connected; lost (this process stalled past it and another
        took over): the gateway closes here, and /readyz says so."""
        while True:
            await asyncio.sleep(self.lease.renew_every)
            try:
                held = await self.lease.acquire()
            except Exception as error:  # the database hiccuped: try again before it lapses
                log.warning("could not renew the Discord gateway lease (%s)", type(error).__name__)
                continue
            if not held:
                log.error("another process took over the Discord gateway; this one lets go")
                self.lost = True
                self.problem = "another process took over the Discord gateway"
                await self.bot.close()
                return

    def _report(self, problem: str | None) -> None:
        self.problem = problem

    async def start(self) -> None:
        token = self.settings.discord_token
        if token is None:
            raise RuntimeError("DISCORD_TOKEN is not set")
        quiet_library_logs()
        self._saved = point_at(self.settings)
        try:
            await log_in(self.bot, token.get_secret_value(), self._report, self.login_retry)
        except BaseException:
            await self.stop()  # the endpoints go back, the HTTP session closes
            raise
        if not await self.lease.acquire():
            # Another process holds the gateway: deliver over REST, and wait for our turn.
            self.standby = True
            self._waiting = asyncio.create_task(self._wait_for_gateway())
            log.info("another process holds the Discord gateway; this one sends and waits")
            return
        self._connect()
        assert self._task is not None
        ready = asyncio.create_task(self.bot.ready_event.wait())
        try:
            await asyncio.wait({self._task, ready}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if not self.bot.ready_event.is_set():
            error = self._task.exception() if self._task.done() else None
            await self.stop()
            raise RuntimeError(f"Discord did not connect: {error!r}") from error

    async def stop(self) -> None:
        try:
            for task in (self._waiting, self._renewing):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(Exception, asyncio.CancelledError):
                        await task
            await self.bot.close()
            if self._task is not None:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await self._task
        finally:
            self._task = self._waiting = self._renewing = None
            with contextlib.suppress(Exception):
                await self.lease.release()  # the next process takes the gateway at once
            if self._saved is not None:
                release(self._saved)
                self._saved = None


def create(runtime: Runtime, **options: Any) -> DiscordPlatform:
    """The Discord platform for `rallybot run` (options tune timeouts, for tests and benches)."""
    return DiscordPlatform(runtime, **options)
