"""The outbox dispatcher: leases committed messages, paces them, sends, never loses one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta

from bot.core.messages import from_dict
from bot.core.model import OutboxItem, OutboxStatus
from bot.core.ports import (
    Chat,
    Clock,
    Limit,
    PacedChat,
    RateLimited,
    Undeliverable,
    UnitOfWorkFactory,
)
from bot.delivery.pacing import Pacer

log = logging.getLogger(__name__)

FailureHook = Callable[[OutboxItem], Awaitable[None]]


def backoff(attempts: int, base: float, most: float) -> float:
    """Seconds before the next try after `attempts` failed ones: doubling from `base` up to
    `most`, with jitter so retries after one outage don't all come back together."""
    return min(most, base * 2.0 ** (attempts - 1)) * random.uniform(0.5, 1.0)


class Dispatcher:
    """Drains the outbox: claims rows with a lease (one statement; SKIP LOCKED on
    PostgreSQL), sends each through its platform's Chat outside any transaction, and settles
    it in a short one. A crash mid-send leaves the row leased: the next process with the same
    worker id takes it back when it starts (`recover`), and otherwise another dispatcher
    sends it when the lease ends (at least once; Chats suppress duplicates where the platform
    allows). Sends are paced by each Chat's published limits, 429s are honoured without
    counting as failures, other errors back off exponentially with jitter, and after
    `max_attempts` a row is parked as failed and the leads are told.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        chats: Mapping[str, Chat],
        clock: Clock,
        max_attempts: int = 6,
        batch: int = 100,
        base_backoff: float = 2.0,
        max_backoff: float = 600.0,
        lease_seconds: float = 120.0,
        concurrency: int = 16,
        on_failed: FailureHook | None = None,
        pacer: Pacer | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.uow = uow
        self.chats = dict(chats)
        # Awaited before each batch: a burst of acknowledgements, this process's or those its
        # inbox worker hears, goes first (bot.inbox.worker.InboxWorker.quiet).
        self.yield_to: Callable[[], Awaitable[object]] | None = None
        # The Chats that state their platform's limits (PacedChat): sends to them are paced.
        self.paced = {name: chat for name, chat in chats.items() if isinstance(chat, PacedChat)}
        self.clock = clock
        self.max_attempts = max_attempts
        self.batch = batch
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.lease = timedelta(seconds=lease_seconds)
        self.concurrency = concurrency
        self.on_failed = on_failed
        self.pacer = pacer or Pacer()
        self.worker_id = worker_id  # recorded on each claim (RALLYBOT_WORKER_ID)
        self.sent = 0
        self.rate_limited = 0
        self.failed = 0
        self.stopping = False
        self._claimed: dict[str, OutboxItem] = {}  # leased by us, not yet settled

    async def drain(self, max_rounds: int = 1000) -> int:
        """Send everything due now; returns how many rows were settled."""
        settled = 0
        for _ in range(max_rounds):
            if self.stopping:
                break
            if self.yield_to is not None:
                await self.yield_to()
            items = await self.claim()
            if not items:
                break
            settled += await self.deliver(items)
        return settled

    async def run_forever(self, wake: asyncio.Event, interval: float) -> None:
        """Drain at once (what fell due while no process ran, and rows taken back after a
        crash, go out now), then whenever something was committed (wake) and at least every
        interval."""
        while not self.stopping:
            try:
                await self.drain()
            except Exception:
                log.exception("outbox drain failed; the rows stay pending and are retried")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=interval)
            wake.clear()

    async def recover(self) -> int:
        """Take back the rows an earlier process with this worker id had claimed and not
        settled when it died, so they go out now rather than when their lease ends. Only
        safe while no live process shares the id (bot.store.workers makes sure of it)."""
        if self.worker_id is None:
            return 0
        async with self.uow() as uow:
            taken = await uow.outbox.take_back(self.worker_id, self.clock.now())
            await uow.commit()
        if taken:
            log.info("took back %d outbox rows this worker had claimed before it stopped", taken)
        return taken

    async def claim(self) -> list[OutboxItem]:
        async with self.uow() as uow:
            now = self.clock.now()
            items = await uow.outbox.claim(
                now, now + self.lease, self.batch, sorted(self.chats), self.worker_id
            )
            await uow.commit()
        self._claimed.update((i.id, i) for i in items)
        return list(items)

    async def release(self) -> int:
        """Give back rows claimed but not sent (shutting down): others take them at once."""
        left = list(self._claimed.values())
        self._claimed.clear()
        if left:
            async with self.uow() as uow:
                for item in left:
                    item.lease_until, item.claimed_by = None, None
                    item.attempts -= 1  # never tried
                    await uow.outbox.save(item)
                await uow.commit()
            log.info("released %d claimed outbox rows on shutdown", len(left))
        return len(left)

    async def deliver(self, items: Sequence[OutboxItem]) -> int:
        """Send claimed items: one destination in order, destinations side by side."""
        lanes: dict[tuple[str, str, str], list[OutboxItem]] = defaultdict(list)
        for item in items:
            lanes[(item.platform, item.workspace, item.address)].append(item)
        gate = asyncio.Semaphore(self.concurrency)
        settled = 0

        async def lane(queue: list[OutboxItem]) -> None:
            nonlocal settled
            async with gate:
                for item in queue:
                    if self.stopping:
                        return  # left claimed; release() gives them back
                    if await self._send(item):
                        settled += 1

        await asyncio.gather(*(lane(q) for q in lanes.values()))
        return settled

    def _limits(self, item: OutboxItem) -> Sequence[Limit]:
        paced = self.paced.get(item.platform)
        return list(paced.limits(item)) if paced is not None else []

    async def _send(self, item: OutboxItem) -> bool:
        """One attempt; True when the row is settled (sent, superseded or parked)."""
        chat = self.chats[item.platform]
        message = from_dict(item.payload)
        limits = self._limits(item)
        try:
            if item.op == "post":
                await self.pacer.acquire(limits)
                ref = await chat.post(item, message)
            else:
                async with self.uow() as uow:
                    original = await uow.outbox.ref_for(
                        item.key, item.platform, item.workspace, item.address
                    )
                if original is None:
                    return await self._await_original(item)
                await self.pacer.acquire(limits)
                await chat.update(item, original, message)
                ref = original
        except RateLimited as error:
            self.rate_limited += 1
            self.pacer.hold(limits, error.retry_after)
            await self._settle(item, retry_in=error.retry_after, counts=False, error="rate_limited")
            return False
        except Undeliverable as error:
            await self._park(item, f"undeliverable: {error}"[:200])
            return True
        except Exception as error:  # network, 5xx, anything: retry later, never lose the row
            if item.attempts >= self.max_attempts:
                await self._park(item, type(error).__name__)
                return True
            delay = backoff(item.attempts, self.base_backoff, self.max_backoff)
            log.warning(
                "outbox item %s: %s; retry %d in %.1fs",
                item.id,
                type(error).__name__,
                item.attempts,
                delay,
            )
            await self._settle(item, retry_in=delay, error=type(error).__name__)
            return False
        self.sent += 1
        await self._settle(item, ref=ref, status=OutboxStatus.SENT)
        log.debug(
            "sent outbox item %s (%s %s, attempt %d)",
            item.id,
            item.platform,
            item.op,
            item.attempts,
        )
        return True

    async def _await_original(self, item: OutboxItem) -> bool:
        """An edit whose message is not sent yet waits for it, or is dropped if it never
        will be (the post was parked)."""
        if item.attempts >= self.max_attempts * 5:
            await self._settle(item, status=OutboxStatus.SUPERSEDED)
            return True
        await self._settle(item, retry_in=1.0, error="waiting_for_original")
        return False

    async def _park(self, item: OutboxItem, error: str) -> None:
        """Parked after the attempt limit (or at once when undeliverable): the row keeps its
        address and error, not its text, and the leads are told."""
        self.failed += 1
        log.error("outbox item %s parked after %d attempts: %s", item.id, item.attempts, error)
        await self._settle(item, status=OutboxStatus.FAILED, error=error)
        if self.on_failed is not None and not item.key.startswith("undelivered:"):
            try:
                await self.on_failed(item)
            except Exception:
                log.exception("could not tell the leads about parked item %s", item.id)

    async def _settle(
        self,
        item: OutboxItem,
        *,
        status: OutboxStatus | None = None,
        ref: str | None = None,
        retry_in: float | None = None,
        counts: bool = True,
        error: str | None = None,
    ) -> None:
        now: datetime = self.clock.now()
        item.lease_until, item.claimed_by = None, None
        item.last_error = error
        if not counts:
            item.attempts -= 1
        if status is not None:
            item.status = status
            # Once delivered the body is the platform's copy: keep only the reference. A
            # parked row loses its text too: the leads are told where it was going, never
            # what it said, and it may name people who later ask to be forgotten.
            item.payload, item.about = {}, ()
            if status is OutboxStatus.SENT:
                item.sent_at = now
                item.ref = ref
        if retry_in is not None:
            item.due_at = now + timedelta(seconds=retry_in)
        async with self.uow() as uow:
            await uow.outbox.save(item)
            await uow.commit()
        self._claimed.pop(item.id, None)
