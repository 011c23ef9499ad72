"""The outbox dispatcher: sends committed messages through each platform's Chat port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping
from datetime import datetime, timedelta

from bot.core.messages import from_dict
from bot.core.model import OutboxItem, OutboxStatus
from bot.core.ports import Chat, Clock, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)


class Dispatcher:
    """Drains pending outbox rows: posts, edits in place (coalesced), retries with backoff.

    Delivery is at-least-once: a row is marked sent in the same transaction that claimed it,
    after the platform accepted it.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        chats: Mapping[str, Chat],
        clock: Clock,
        max_attempts: int = 6,
        batch: int = 50,
        base_backoff: float = 2.0,
        max_backoff: float = 600.0,
    ) -> None:
        self.uow = uow
        self.chats = dict(chats)
        self.clock = clock
        self.max_attempts = max_attempts
        self.batch = batch
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff

    async def drain(self, max_rounds: int = 100) -> int:
        """Send everything that is due; returns how many rows were settled."""
        settled = 0
        for _ in range(max_rounds):
            done = await self._round()
            settled += done
            if done == 0:
                break
        return settled

    async def run_forever(self, wake: asyncio.Event, interval: float) -> None:
        """Drain whenever something was committed (wake) and at least every interval."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=interval)
            wake.clear()
            try:
                await self.drain()
            except Exception:
                log.exception("outbox drain failed; the rows stay pending and are retried")

    async def _round(self) -> int:
        async with self.uow() as uow:
            now = self.clock.now()
            items = await uow.outbox.pending(now, self.batch, sorted(self.chats))
            if not items:
                return 0
            latest: dict[tuple[str, str, str, str], OutboxItem] = {}
            for item in items:
                if item.op == "update":
                    latest[(item.key, item.platform, item.workspace, item.address)] = item
            settled = 0
            for item in items:
                superseded = (
                    item.op == "update"
                    and latest[(item.key, item.platform, item.workspace, item.address)] is not item
                )
                if superseded:
                    # A newer edit of the same message is in this batch: the last state wins.
                    self._settle(item, now, None)
                    settled += 1
                elif await self._send(uow, self.chats[item.platform], item):
                    settled += 1
                await uow.outbox.save(item)
            await uow.commit()
            return settled

    async def _send(self, uow: UnitOfWork, chat: Chat, item: OutboxItem) -> bool:
        """True when the row is settled; False when it stays pending for a retry."""
        now = self.clock.now()
        message = from_dict(item.payload)
        try:
            if item.op == "post":
                self._settle(item, now, await chat.post(item, message))
                return True
            ref = await uow.outbox.ref_for(item.key, item.platform, item.workspace, item.address)
            if ref is None:
                # The original is not sent yet: try the edit again shortly.
                item.due_at = now + timedelta(seconds=1)
                item.attempts += 1
                if item.attempts >= self.max_attempts * 10:
                    self._settle(item, now, None)
                    return True
                return False
            await chat.update(item, ref, message)
            self._settle(item, now, ref)
            return True
        except Exception as error:  # any platform failure: retry later, never lose the row
            item.attempts += 1
            item.last_error = type(error).__name__
            if item.attempts >= self.max_attempts:
                item.status = OutboxStatus.FAILED
                log.error("outbox item %s failed %d times; parked", item.id, item.attempts)
            else:
                delay = min(self.max_backoff, self.base_backoff * 2 ** (item.attempts - 1))
                item.due_at = now + timedelta(seconds=delay * random.uniform(0.5, 1.0))
                log.warning(
                    "outbox item %s: %s; retrying in %.0fs", item.id, type(error).__name__, delay
                )
            return False

    @staticmethod
    def _settle(item: OutboxItem, now: datetime, ref: str | None) -> None:
        item.status = OutboxStatus.SENT
        item.sent_at = now
        item.ref = ref
        # Once delivered the body is the platform's copy, not ours: keep only the reference.
        item.payload = {}
