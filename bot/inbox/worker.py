"""Inbox workers: claim stored requests, work them through the core, answer, never lose one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.core.messages import Reply
from bot.core.model import OutboxItem
from bot.core.ports import Chat, Clock
from bot.core.services import before_commit
from bot.delivery.outbox import backoff
from bot.inbox.codec import dump_reply, load_reply
from bot.inbox.entry import ACKS_FIRST, ACKS_QUIET, Inbox, quiet_after
from bot.store import inbox as store
from bot.store.inbox import Request

if TYPE_CHECKING:
    from bot.bootstrap import Runtime

log = logging.getLogger(__name__)

PURGE_EVERY = 60.0  # seconds between two deletions of old answered rows
LISTEN_AGAIN = 30.0  # seconds between two tries to listen for new rows (PostgreSQL)


class HandleGone(Exception):
    """The response_url or interaction token was refused (expired, used up): DM instead."""


class Taken(Exception):
    """Another worker holds the row now (this one's lease ran out): its work is rolled back."""


class InboxHandler(Protocol):
    """A platform's part: work a stored request through the core and answer it."""

    async def work(self, request: Request) -> Reply | None:
        """Run the request as the listener would; None when there is nothing to answer."""
        ...

    async def answer(self, request: Request, reply: Reply) -> None:
        """Answer through the request's handle (raise HandleGone when it is refused)."""
        ...

    def failed(self, request: Request) -> Reply | None:
        """What the person is told when their request could not be worked (None: nothing,
        for a request nobody waits for an answer to)."""
        ...


class InboxWorker:
    """Claims inbox rows with a lease (SKIP LOCKED on PostgreSQL), at most one unworked row
    per person at a time so each person's requests run in the order they were acknowledged,
    and up to `lanes` people side by side. A row is marked worked in the same transaction as
    the work (`before_commit`), with the answer it must get; the answer is sent after the
    commit and the row then emptied. A crash before the commit: the row is worked again; after
    it: only the stored answer is sent. Failures back off, then the person is told."""

    def __init__(
        self,
        engine: AsyncEngine,
        handlers: Mapping[str, InboxHandler],
        chats: Mapping[str, Chat],
        clock: Clock,
        worker_id: str,
        lanes: int = 8,
        max_attempts: int = 5,
        base_backoff: float = 1.0,
        max_backoff: float = 60.0,
        lease_seconds: float = 120.0,
        poll: float = 0.25,
    ) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.handlers = dict(handlers)
        self.chats = dict(chats)
        self.clock = clock
        self.worker_id = worker_id
        self.lanes = lanes
        self.max_attempts = max_attempts
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.lease = timedelta(seconds=lease_seconds)
        self.poll = poll
        self.kick = asyncio.Event()  # set when this process wrote a row, or a lane freed up
        self.stopping = False
        self.acks_only = False  # leaves delivery, ticks and the inbox to other processes
        self.worked = 0
        self.answered = 0
        self.failed = 0
        self._running: set[asyncio.Task[None]] = set()
        self._next_purge = 0.0
        self._loop: asyncio.Task[None] | None = None
        self.listening: store.Listening | None = None  # PostgreSQL's NOTIFY, when held
        self._listen_at = 0.0  # the event loop's time of the next try to listen
        # This process's entry points: acknowledgements go first (see `fill`).
        self.acks: Inbox | None = None

    # --- the loop -------------------------------------------------------------------------

    async def recover(self) -> int:
        """Free the rows an earlier process with this worker id claimed and never settled
        (only safe while no live process shares the id: bot.store.workers)."""
        async with self.sessions() as session, session.begin():
            taken = await store.take_back(session, self.worker_id)
        if taken:
            log.info("took back %d inbox rows this worker had claimed before it stopped", taken)
        return taken

    def start(self) -> None:
        """Run `run_forever` in the background until `stop`."""
        self._loop = asyncio.create_task(self.run_forever(), name="inbox")

    async def run_forever(self) -> None:
        """Work what is waiting now (rows left by a crash too), then whenever a row is written
        (here, or by any process on PostgreSQL) or a lane frees up, and at least every `poll`
        seconds."""
        if not self.lanes or not self.handlers:
            return  # this process only writes and acknowledges
        loop = asyncio.get_running_loop()
        try:
            while not self.stopping:
                self.kick.clear()
                await self._listen(loop.time())
                await self._round(loop)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.kick.wait(), timeout=self.poll)
        finally:
            if self.listening is not None:
                await self.listening.close()
                self.listening = None

    async def _listen(self, now: float) -> None:
        """On PostgreSQL, hear every process's new rows at once (NOTIFY), not at the next
        poll; a lost connection is replaced, at most every LISTEN_AGAIN seconds."""
        if self.listening is not None and self.listening.lost:
            await self.listening.close()
            self.listening = None
            log.warning("lost the inbox's notifications; polling until they are back")
        if self.listening is not None or now < self._listen_at:
            return
        self._listen_at = now + LISTEN_AGAIN
        try:
            self.listening = await store.listen(self.engine, self.kick.set)
        except Exception as error:
            log.warning("could not listen for new inbox rows (%s): polling", type(error).__name__)
            return
        if self.listening is None:
            self._listen_at = float("inf")  # SQLite, or a driver without LISTEN: polls only

    async def _round(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            await self.fill()
            if loop.time() >= self._next_purge:
                self._next_purge = loop.time() + PURGE_EVERY
                await self.purge()
        except Exception:
            log.exception("the inbox could not be read; its rows wait and are retried")

    async def fill(self) -> int:
        """Claim as many rows as there are free lanes and start them (one at a time while a
        burst of acknowledgements lasts); returns how many."""
        if len(self._running) >= self.lanes or not self.handlers:
            return 0
        # A burst of requests is acknowledged before its work starts (the same CPU, the same
        # database connection on SQLite, the same cores on one machine): the work waits, the
        # platform's 3 s do not. Acknowledgements are seen where they are written (this
        # process's entry points) and, on PostgreSQL, in the notifications of every process.
        calm = await self.quiet()
        # When the burst outlasted the bound the work goes on one request at a time, so a
        # single piece of work, not one per lane, holds the acknowledgements back (on SQLite
        # each holds the one connection); every lane again once the burst pauses.
        free = (self.lanes if calm else 1) - len(self._running)
        if free <= 0:
            return 0
        async with self.sessions() as session, session.begin():
            now = self.clock.now()
            claimed = await store.claim(
                session, now, self.lease, free, sorted(self.handlers), self.worker_id
            )
        for request in claimed:
            task = asyncio.create_task(self.one(request), name=f"inbox-{request.id[:8]}")
            self._running.add(task)
            task.add_done_callback(self._finished)
        return len(claimed)

    async def quiet(self) -> bool:
        """Wait until no acknowledgement was seen for ACKS_QUIET (this process's own entry
        points, and every process's on PostgreSQL), at most ACKS_FIRST: True when it is quiet.
        New inbox work waits for it, and so does each batch of the outbox's sends."""
        return await quiet_after(self._last_ack, ACKS_QUIET, ACKS_FIRST, self._acknowledging)

    def _last_ack(self) -> float:
        """The event loop's time of the last acknowledgement this worker knows of."""
        written = self.acks.last_write if self.acks is not None else float("-inf")
        heard = self.listening.heard_at if self.listening is not None else float("-inf")
        return max(written, heard)

    def _acknowledging(self) -> bool:
        return self.acks is not None and self.acks.writing_now()

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self.kick.set()  # the person's next request may go now

    async def drain(self) -> int:
        """Work everything that can be worked now, then return (tests, the console)."""
        if self.acks is not None:
            await self.acks.flush()  # what was acknowledged here is due now
        total = 0
        while True:
            started = await self.fill()
            total += started
            if self._running:
                await asyncio.wait(set(self._running))
            elif not started:
                return total

    async def stop(self, grace: float) -> None:
        """Take no more rows; let those in hand finish for `grace` seconds, then cancel them
        (their work rolls back) and give their rows back for another worker."""
        self.stopping = True
        self.kick.set()
        if self._loop is not None:
            await asyncio.gather(self._loop, return_exceptions=True)
            self._loop = None
        if not self.lanes or not self.handlers:
            return
        if self._running:
            await asyncio.wait(set(self._running), timeout=grace)
        left = list(self._running)
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        try:
            async with self.sessions() as session, session.begin():
                freed = await store.take_back(session, self.worker_id)
        except Exception:
            log.exception("could not give the inbox rows back; their lease ends in time")
            return
        if freed:
            log.info("gave back %d inbox rows on shutdown", freed)

    async def purge(self) -> int:
        async with self.sessions() as session, session.begin():
            return await store.purge(session, self.clock.now())

    # --- one request ----------------------------------------------------------------------

    async def one(self, request: Request) -> None:
        handler = self.handlers[request.platform]
        try:
            if request.worked_at is None:
                reply = await self._work(handler, request)
            else:
                reply = load_reply(request.reply) if request.reply else None
            if reply is not None:
                await self._answer(handler, request, reply)
            await self._done(request)
        except Taken:
            log.warning(
                "inbox row %s was taken by another worker; its work rolled back", request.id
            )
        except Exception as error:
            await self._failed(handler, request, error)

    async def _work(self, handler: InboxHandler, request: Request) -> Reply | None:
        async def settle(uow: Any, reply: Reply) -> None:
            if request.worked_at is not None:
                return  # once: a second command in the same work is not this request's
            session = uow.session
            assert isinstance(session, AsyncSession)
            await self._mark_worked(session, request, reply)

        token = before_commit.set(settle)
        try:
            reply = await handler.work(request)
        finally:
            before_commit.reset(token)
        if request.worked_at is None:
            # Nothing was committed (a refusal, a reply without a change): settle it alone.
            async with self.sessions() as session, session.begin():
                await self._mark_worked(session, request, reply)
        return reply

    async def _mark_worked(
        self, session: AsyncSession, request: Request, reply: Reply | None
    ) -> None:
        now = self.clock.now()
        stored = dump_reply(reply) if reply is not None else {}
        if not await store.worked(session, request, self.worker_id, stored, now):
            raise Taken(request.id)
        request.worked_at, request.reply = now, stored
        self.worked += 1

    async def _answer(self, handler: InboxHandler, request: Request, reply: Reply) -> None:
        if request.respond_to is not None and request.handle_expired(self.clock.now()):
            await self._dm(request, reply)
            return
        try:
            await handler.answer(request, reply)
        except HandleGone:
            await self._dm(request, reply)

    async def _dm(self, request: Request, reply: Reply) -> None:
        """The handle expired: the answer goes to the person by DM, through their Chat."""
        chat = self.chats.get(request.platform)
        if chat is None:
            raise RuntimeError(f"no {request.platform} chat here to send a DM with")
        now = self.clock.now()
        for n, message in enumerate((reply.message, *reply.extras)):
            key = f"inbox:{request.id}:{n}"
            item = OutboxItem(
                id=request.id,
                collective_id="",
                key=key,
                idempotency_key=key,
                platform=request.platform,
                workspace=request.workspace,
                address_kind="dm",
                address=request.user,
                op="post",
                payload={},
                created_at=now,
                due_at=now,
            )
            await chat.post(item, message)

    async def _done(self, request: Request) -> None:
        async with self.sessions() as session, session.begin():
            await store.answered(session, request, self.clock.now())
        self.answered += 1

    async def _failed(self, handler: InboxHandler, request: Request, error: Exception) -> None:
        name = type(error).__name__
        if request.attempts < self.max_attempts:
            delay = backoff(request.attempts, self.base_backoff, self.max_backoff)
            log.warning(
                "inbox row %s: %s; retry %d in %.1fs", request.id, name, request.attempts, delay
            )
            at = self.clock.now() + timedelta(seconds=delay)
            async with self.sessions() as session, session.begin():
                await store.retry(session, request, at, name)
            return
        self.failed += 1
        log.error(
            "inbox row %s failed %d times (%s): telling the person",
            request.id,
            request.attempts,
            name,
        )
        reply = handler.failed(request) if request.worked_at is None else None
        if reply is None and request.reply:
            reply = load_reply(request.reply)
        try:
            if reply is not None:
                try:
                    await self._answer(handler, request, reply)
                except Exception:
                    await self._dm(request, reply)
        except Exception:
            log.exception("could not tell the person that their request failed")
        await self._done(request)

    @property
    def busy(self) -> int:
        return len(self._running)


def inbox_worker(
    runtime: Runtime,
    handlers: Mapping[str, InboxHandler],
    chats: Mapping[str, Chat],
    worker_id: str,
    command: str,
) -> InboxWorker:
    """The inbox worker of a process running `platforms`: each platform that receives
    requests works them here (its `inbox_handler`), as many side by side as the pool holds
    (RALLYBOT_REQUEST_WORKERS), except in a web process on PostgreSQL, which only writes and
    acknowledges: `rallybot worker`s work the inbox there."""
    from bot.bootstrap import pool_size

    settings = runtime.settings
    lanes = settings.request_workers
    if lanes is None:
        web_only = command == "web" and not settings.is_sqlite
        lanes = 0 if web_only else max(2, pool_size(runtime.engine))
    inbox = InboxWorker(
        runtime.engine, handlers, chats, runtime.clock, worker_id, lanes, settings.inbox_attempts
    )
    # Told to work no request (a web process on PostgreSQL by default, or a Discord gateway
    # process given RALLYBOT_REQUEST_WORKERS=0): it only writes and acknowledges.
    inbox.acks_only = lanes == 0
    inbox.acks = runtime.inbox
    runtime.inbox.on_write = inbox.kick.set
    return inbox
