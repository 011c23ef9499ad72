"""What an entry point does before it acknowledges: one INSERT into the inbox."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.ports import Clock
from bot.store import inbox as store

log = logging.getLogger(__name__)

# How long each platform's response handle may be used after the request.
SLACK_RESPONSE_URL = timedelta(minutes=30)
DISCORD_TOKEN = timedelta(minutes=15)
# A Discord request is held this long (longer than the 3 s deadline for the initial response)
# unless released when its deferral is taken: if the process died in between, it is worked.
DISCORD_HOLD = timedelta(seconds=5)
# Acknowledgements first: where the entry points share this process (SQLite, `rallybot run`,
# a Discord gateway), new work waits while requests are arriving, until none was acknowledged
# for ACKS_QUIET seconds, but never longer than ACKS_FIRST: the work never stops. ACKS_FIRST is
# the platforms' own acknowledgement window (Slack's and Discord's 3 s): a burst as long as
# that is acknowledged before any of its work starts; a longer one is worked one request at
# a time until it pauses (docs/decisions.md, 92). An answer has 15 to 30 minutes.
ACKS_QUIET = 0.02
ACKS_FIRST = 3.0


def _nothing() -> None:
    return None


def body_id(body: Mapping[str, Any]) -> str:
    """A request id for a body that carries none of the platform's own."""
    encoded = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(encoded.encode()).hexdigest()


def _never() -> bool:
    return False


async def quiet_after(
    last: Callable[[], float],
    gap: float,
    at_most: float,
    busy: Callable[[], bool] = _never,
) -> bool:
    """Wait until `busy()` is false and `last()` (the event loop's time of the last
    acknowledgement seen) is `gap` seconds ago, but no longer than `at_most`: True when it
    is quiet, False when the wait ran out."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + at_most
    while True:
        now = loop.time()
        calm = now - last()
        if not busy() and calm >= gap:
            return True
        if now >= give_up:
            return False
        await asyncio.sleep(min(max(gap - calm, 0.001), give_up - now))


class Inbox:
    """Where Slack's listeners and Discord's interactions write each request (verified
    already) before they acknowledge it; a request id already written is acknowledged
    again and not written twice."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        # Wakes this process's inbox worker (others find the row when they next look).
        self.on_write: Callable[[], None] = _nothing
        self.written = 0
        self.duplicates = 0
        self.writing = 0  # INSERTs in flight: acknowledgements waiting for the database
        self.idle = asyncio.Event()  # set while none is
        self.idle.set()
        # The event loop's time when the last acknowledgement began or ended, the later: a
        # write held up past ACKS_QUIET is no pause in a burst (docs/decisions.md, 93).
        self.last_write = float("-inf")
        self._released: list[tuple[str, str]] = []  # acknowledged, still held in the table
        self._releaser = store.Releaser(engine)
        self._releasing: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()  # a flush returns once what came before it is due

    async def write(
        self,
        *,
        platform: str,
        request_id: str,
        workspace: str,
        user: str,
        kind: str,
        payload: dict[str, Any],
        respond_to: str | None = None,
        valid_for: timedelta | None = None,
        hold: timedelta | None = None,
    ) -> bool:
        """True when written now; False for a duplicate delivery. A row written with `hold`
        is not worked before that long unless `release`d: until the platform took the
        acknowledgement, it may have to be withdrawn."""
        now = self.clock.now()
        self.writing += 1
        self.idle.clear()
        self.last_write = asyncio.get_running_loop().time()
        try:
            fresh = await store.write(
                self.engine,
                platform=platform,
                request_id=request_id,
                workspace=workspace,
                user=user,
                kind=kind,
                payload=payload,
                respond_to=respond_to,
                respond_until=now + valid_for if respond_to and valid_for else None,
                now=now,
                next_try=now + hold if hold else now,
            )
        finally:
            self.writing -= 1
            self.last_write = asyncio.get_running_loop().time()
            if not self.writing:
                self.idle.set()
        if fresh:
            self.written += 1
            if hold is None:
                self.on_write()
        else:
            self.duplicates += 1
        return fresh

    async def quiet(self, gap: float, at_most: float) -> bool:
        """Wait until no acknowledgement is being written and none began or ended for `gap`
        seconds, but no longer than `at_most`: True when it is quiet, False when it ran out."""
        return await quiet_after(lambda: self.last_write, gap, at_most, self.writing_now)

    def writing_now(self) -> bool:
        return not self.idle.is_set()

    async def release(self, platform: str, request_id: str) -> None:
        """The platform took the acknowledgement: the held row may be worked. Rows are
        released together, in one UPDATE (store.Releaser), once acknowledgements pause
        (ACKS_QUIET, at most ACKS_FIRST later), so a burst's acknowledgements do not wait
        behind a write each. A row never released (the process died first) is worked when its
        hold ends."""
        self.last_write = asyncio.get_running_loop().time()  # the acknowledgement just ended
        self._released.append((platform, request_id))
        if self._releasing is None or self._releasing.done():
            self._releasing = asyncio.create_task(self._release_later(), name="inbox-release")

    async def _release_later(self) -> None:
        await self.quiet(ACKS_QUIET, ACKS_FIRST)
        try:
            await self.flush()
        except Exception as error:  # the holds end by themselves: only later
            log.warning("could not release acknowledged inbox rows early: %s", error)

    async def flush(self) -> None:
        """Release every acknowledged row now (before draining, and on shutdown)."""
        async with self._flushing:
            while self._released:
                batch, self._released = self._released, []
                await self._releaser.release(batch, self.clock.now())
                self.on_write()

    async def close(self) -> None:
        """On shutdown: release what is still held, or leave it to the holds' end."""
        task, self._releasing = self._releasing, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        try:
            await self.flush()
        except Exception as error:
            log.warning("could not release acknowledged inbox rows on shutdown: %s", error)
        finally:
            await self._releaser.close()

    async def withdraw(self, platform: str, request_id: str) -> None:
        """Delete a request written but never acknowledged (the platform refused the ack)."""
        await store.withdraw(self.engine, platform, request_id)
