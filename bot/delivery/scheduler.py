"""APScheduler only ticks: due work lives in our tables and each tick claims what is due."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

TICK_JOB = "rallybot-tick"


def make_scheduler(tick: Callable[[], Awaitable[None]], seconds: float) -> AsyncIOScheduler:
    """One interval job with a stable id; a late or missed tick just runs once, late."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        _Guarded(tick).run,  # a coroutine function, so APScheduler awaits it on the loop
        "interval",
        seconds=seconds,
        id=TICK_JOB,
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,
    )
    return scheduler


async def stop_scheduler(scheduler: AsyncIOScheduler, grace: float) -> None:
    """No more ticks; one under way finishes (for up to `grace` seconds) before the process
    closes what it uses, the database and the platforms' clients."""
    if not scheduler.running:
        return
    job = scheduler.get_job(TICK_JOB)
    scheduler.pause()  # no new tick; shutting down now would cancel the one under way
    guarded = getattr(job.func, "__self__", None) if job is not None else None
    if isinstance(guarded, _Guarded):
        await guarded.finish(grace)
    scheduler.shutdown(wait=False)  # cancels a tick still running after the grace


class _Guarded:
    """The tick, its failures logged (the next tick retries), and the tick under way known."""

    def __init__(self, tick: Callable[[], Awaitable[None]]) -> None:
        self.tick = tick
        self.running: set[asyncio.Task[object]] = set()

    async def run(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.running.add(task)
        try:
            await self.tick()
        except Exception:
            log.exception("scheduler tick failed; the next tick retries what is still due")
        except asyncio.CancelledError:
            # Cut short by a shutdown past its grace: its transaction rolled back, and what
            # it was doing is still due for the next process.
            log.warning("a scheduler tick was cut short by the shutdown")
        finally:
            if task is not None:
                self.running.discard(task)

    async def finish(self, grace: float) -> None:
        if self.running:
            await asyncio.wait(set(self.running), timeout=grace)
