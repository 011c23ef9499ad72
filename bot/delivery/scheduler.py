"""APScheduler only ticks: due work lives in our tables and each tick claims what is due."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

TICK_JOB = "rallybot-tick"


def make_scheduler(tick: Callable[[], Awaitable[None]], seconds: float) -> AsyncIOScheduler:
    """One interval job with a stable id; a late or missed tick just runs once, late."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        _guarded(tick),
        "interval",
        seconds=seconds,
        id=TICK_JOB,
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,
    )
    return scheduler


def _guarded(tick: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        try:
            await tick()
        except Exception:
            log.exception("scheduler tick failed; the next tick retries what is still due")

    return run
