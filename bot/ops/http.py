"""The process's HTTP servers: the public one ($PORT) with every platform's routes beside the
health and metrics routes, and the optional private metrics port."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiohttp import web

from bot.ops.observe import Observer
from bot.ops.platform import Platform
from bot.ops.startup import listen

log = logging.getLogger(__name__)


def public_app(observer: Observer, platforms: Sequence[Platform]) -> web.Application:
    """Each platform's routes and middlewares (Slack's signature gate on its events path), and
    /livez, /readyz, /healthz and /metrics (bearer RALLYBOT_METRICS_TOKEN only)."""
    mounted = [routes for p in platforms if (routes := p.http()) is not None]
    app = web.Application(middlewares=[m for r in mounted for m in r.middlewares])
    for routes in mounted:
        app.router.add_routes(routes.routes)
    observer.add_routes(app)
    return app


def private_app(observer: Observer) -> web.Application:
    """/livez, /readyz, /healthz and /metrics with no token (RALLYBOT_METRICS_PORT)."""
    app = web.Application()
    observer.add_routes(app, private=True)
    return app


class HttpServer:
    """One aiohttp server; port 0 picks a free port (see `port` once started)."""

    def __init__(self, app: web.Application, host: str, port: int, setting: str) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.setting = setting  # the setting that names the port, for a one-line error
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        await listen(web.TCPSite(runner, self.host, self.port), self.setting, runner)
        self._runner = runner
        bound = runner.addresses
        if bound:
            self.port = int(bound[0][1])

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Where it listens: (host, port) for each socket."""
        runner = self._runner
        return [(str(a[0]), int(a[1])) for a in runner.addresses] if runner is not None else []

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def start_public(
    observer: Observer, platforms: Sequence[Platform], port: int, host: str = "0.0.0.0"
) -> HttpServer:
    """The platforms' routes with health and metrics on $PORT."""
    server = HttpServer(public_app(observer, platforms), host, port, "PORT")
    await server.start()
    names = ", ".join(p.chat.platform for p in platforms if p.http() is not None)
    log.info("%s over HTTP on port %d", names or "health", server.port)
    return server


async def start_private(observer: Observer, port: int, host: str = "127.0.0.1") -> HttpServer:
    """/livez, /readyz and /metrics on a port of their own (RALLYBOT_METRICS_PORT), bound to
    localhost unless RALLYBOT_METRICS_HOST says otherwise; /metrics needs no token here."""
    server = HttpServer(private_app(observer), host, port, "RALLYBOT_METRICS_PORT")
    await server.start()
    log.info("health and metrics on http://%s:%d", host, server.port)
    return server
