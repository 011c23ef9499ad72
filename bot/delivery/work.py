"""The work after an ack: a few workers take acknowledged requests in order from a queue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
# The queue is never refused (the person was already told it worked); past every multiple of
# this many waiting requests, a warning says the workers are behind.
WARN_EVERY = 1000


@dataclass(eq=False)
class _Job(Generic[T]):
    work: Coroutine[Any, Any, T]
    result: asyncio.Future[T] | None  # None: nobody waits for it, failures are logged


class WorkQueue:
    """A fixed number of worker tasks in the running loop, started on the first job.

    One task per request let a burst of a thousand acknowledged requests each wait for a
    pooled database connection with a timeout, and the ones that ran out failed after the
    person was told it worked. Here at most `workers` jobs hold or wait for a connection; the
    rest wait in the queue, without a timeout, in the order they were acknowledged.
    """

    def __init__(self, workers: int, name: str = "work") -> None:
        if workers < 1:
            raise ValueError("a work queue needs at least one worker")
        self.workers = workers
        self.name = name
        self.running = 0
        self.most_waiting = 0  # the high-water mark, for /metrics
        self.done = 0
        self._queue: asyncio.Queue[_Job[Any]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def waiting(self) -> int:
        """Acknowledged requests no worker has started yet."""
        return self._queue.qsize()

    def later(self, work: Coroutine[Any, Any, None]) -> None:
        """Queue work nobody waits for (its failures are logged) and return at once."""
        self._put(_Job(work, None))

    def submit(self, work: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        """Queue work; the future gives its result. Cancelling the future before a worker
        starts the work drops it; once started, the work finishes on its own."""
        result: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._put(_Job(work, result))
        return result

    def _put(self, job: _Job[Any]) -> None:
        if len(self._tasks) < self.workers:
            loop = asyncio.get_running_loop()
            self._tasks.extend(
                loop.create_task(self._worker(), name=f"{self.name}-{n}")
                for n in range(len(self._tasks), self.workers)
            )
        self._queue.put_nowait(job)
        waiting = self._queue.qsize()
        self.most_waiting = max(self.most_waiting, waiting)
        if waiting % WARN_EVERY == 0:
            log.warning("%s: %d acknowledged requests are waiting for a worker", self.name, waiting)

    async def _worker(self) -> None:
        while True:
            job = await self._queue.get()
            try:
                if job.result is not None and job.result.cancelled():
                    job.work.close()  # nobody waits for it any more, and it never started
                    continue
                self.running += 1
                try:
                    value = await job.work
                except asyncio.CancelledError:
                    if job.result is not None:
                        job.result.cancel()
                    raise
                except Exception as error:
                    if job.result is None:
                        log.exception("%s: work after an ack failed", self.name)
                    elif not job.result.done():
                        job.result.set_exception(error)
                else:
                    if job.result is not None and not job.result.done():
                        job.result.set_result(value)
                finally:
                    self.running -= 1
                    self.done += 1
            finally:
                self._queue.task_done()

    async def drain(self, seconds: float = 10.0) -> None:
        """On shutdown: let the queued and running work finish for up to `seconds`, then
        cancel what is still running and say how many acknowledged requests were dropped."""
        if not self._tasks:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), seconds)
        dropped = self.running
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        while not self._queue.empty():
            job = self._queue.get_nowait()
            job.work.close()
            if job.result is not None:
                job.result.cancel()
            self._queue.task_done()
            dropped += 1
        self.running = 0
        if dropped:
            log.warning("%s: %d acknowledged requests were cut off at shutdown", self.name, dropped)
