"""The composition root: everything is built here from Settings, nothing at import time."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.ports import Clock
from bot.core.services import Services
from bot.documents.chart import MatplotlibCharts
from bot.documents.pdf import FpdfPackets
from bot.inbox.entry import Inbox
from bot.settings import Settings
from bot.store.uow import make_engine, uow_factory


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class RandomIds:
    def new(self) -> str:
        return uuid.uuid4().hex


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    services: Services
    clock: Clock
    inbox: Inbox  # where entry points write each request before acknowledging it

    async def close(self) -> None:
        await self.inbox.close()  # its release connection is kept out of the pool
        await self.engine.dispose()


def pool_size(engine: AsyncEngine) -> int:
    """The pool's steady connections (its overflow is left to the dispatcher and scheduler)."""
    size = getattr(engine.pool, "size", None)
    return int(size()) if callable(size) else 1


def build(settings: Settings, clock: Clock | None = None) -> Runtime:
    engine = make_engine(settings.db_url)
    clock = clock or SystemClock()
    services = Services(
        uow=uow_factory(engine),
        clock=clock,
        ids=RandomIds(),
        copy=settings.make_copy(),
        policy=settings.policy(),
        chart=MatplotlibCharts(),
        pdf=FpdfPackets(),
        command=settings.command,
    )
    inbox = Inbox(engine, clock)
    return Runtime(settings=settings, engine=engine, services=services, clock=clock, inbox=inbox)
