"""What a chat platform is to the process: started and stopped, asked how it is, paced by its
Chat's limits, and (when it receives over HTTP) the routes it mounts on the one server."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.core.ports import PacedChat
from bot.inbox.worker import InboxHandler


@dataclass(frozen=True)
class Health:
    """Connected (or healthy while it can send), else why not: /readyz shows the problem."""

    connected: bool
    problem: str | None = None


@dataclass(frozen=True)
class Routes:
    """A platform's HTTP endpoints, served on the public port ($PORT) beside /livez, /readyz
    and /metrics; its middlewares (a signature gate) see every request and pick their paths."""

    routes: Sequence[web.RouteDef]
    middlewares: Sequence[Middleware] = field(default_factory=tuple)


class Platform(Protocol):
    """A chat platform in a rallybot process, as the registry (`bot.platforms`) makes it."""

    @property
    def chat(self) -> PacedChat:
        """How the outbox reaches this platform, and the published limits each send counts
        against (the dispatcher paces itself by them)."""
        ...

    @property
    def inbox_handler(self) -> InboxHandler | None:
        """How this platform works the requests its entry points wrote to the inbox, and
        answers them; None: it receives nothing."""
        ...

    def health(self) -> Health: ...

    def http(self) -> Routes | None:
        """The routes to serve on the public port; None for a platform that receives over a
        connection of its own (a gateway, a socket) or not at all."""
        ...

    async def start(self) -> None:
        """Connect (or get ready to serve) and return once ready to receive commands; a
        platform that can't reach its API retries (reporting why in `health`) until it can."""
        ...

    async def stop(self) -> None:
        """Stop receiving, finish what was acknowledged, close the connections."""
        ...
