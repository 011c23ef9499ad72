"""The inbox's SQL on SQLite and PostgreSQL: one row per platform request id, one unworked
row per person at a time, SKIP LOCKED between workers, take-back and purge."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.core.messages import Reply
from bot.core.views import notice
from bot.inbox import worker as worker_module
from bot.inbox.entry import ACKS_FIRST, ACKS_QUIET, DISCORD_HOLD, Inbox
from bot.inbox.worker import InboxWorker
from bot.store import inbox as store
from bot.store.tables import InboxRow
from bot.store.uow import make_engine

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=120)


async def write(engine: AsyncEngine, rid: str, user: str, at: datetime = NOW) -> bool:
    return await store.write(
        engine,
        platform="slack",
        request_id=rid,
        workspace="T1",
        user=user,
        kind="command",
        payload={"text": f"what {user} typed"},
        respond_to="https://hooks.example/r",
        respond_until=at + timedelta(minutes=30),
        now=at,
    )


async def claim(engine: AsyncEngine, worker: str, limit: int = 10) -> list[store.Request]:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session, session.begin():
        return await store.claim(session, NOW, LEASE, limit, ["slack"], worker)


@pytest.fixture
async def inbox(engine: AsyncEngine) -> AsyncIterator[Inbox]:
    """An entry point's inbox, closed after the test (its release connection with it)."""
    opened = Inbox(engine, RealClock())
    try:
        yield opened
    finally:
        await opened.close()


async def test_a_request_id_is_written_once(engine: AsyncEngine) -> None:
    assert await write(engine, "trigger-1", "UBEN")
    assert not await write(engine, "trigger-1", "UBEN")  # a retry: acknowledged, not written
    assert await store.count_waiting(engine) == 1


async def test_one_unworked_row_per_person_and_people_side_by_side(engine: AsyncEngine) -> None:
    for n in range(3):
        await write(engine, f"ben-{n}", "UBEN", NOW - timedelta(seconds=10 - n))
        await write(engine, f"cam-{n}", "UCAM", NOW - timedelta(seconds=10 - n))
    first = await claim(engine, "w1")
    assert sorted(r.request_id for r in first) == ["ben-0", "cam-0"]
    # Another worker finds nothing: each person's next request waits for the first.
    assert await claim(engine, "w2") == []
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session, session.begin():
        ben = next(r for r in first if r.user == "UBEN")
        assert await store.worked(session, ben, "w1", {}, NOW)
        assert not await store.worked(session, ben, "w2", {}, NOW)  # never twice
    second = await claim(engine, "w2")
    assert [r.request_id for r in second] == ["ben-1"]


async def test_a_dead_workers_rows_are_taken_back_and_answered_rows_emptied_then_purged(
    engine: AsyncEngine,
) -> None:
    await write(engine, "t-1", "UBEN")
    (row,) = await claim(engine, "web.1")
    assert await claim(engine, "web.2") == []  # leased
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session, session.begin():
        assert await store.take_back(session, "web.1") == 1
    (again,) = await claim(engine, "web.1")
    assert again.id == row.id and again.attempts == 2
    async with sessions() as session, session.begin():
        await store.answered(session, again, NOW)
    assert await store.count_waiting(engine) == 0
    assert not await write(engine, "t-1", "UBEN")  # still known for an hour
    async with sessions() as session, session.begin():
        assert await store.purge(session, NOW + timedelta(minutes=30)) == 0
        assert await store.purge(session, NOW + timedelta(hours=2)) == 1


@pytest.mark.backends("postgres")
async def test_two_workers_claiming_at_once_never_share_a_row(engine: AsyncEngine) -> None:
    for n in range(20):
        await write(engine, f"r-{n}", f"U{n}")
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as one, one.begin():
        mine = await store.claim(one, NOW, LEASE, 10, ["slack"], "w1")
        # While the first claim's transaction is open, its rows are locked: skipped.
        theirs = await claim(engine, "w2", 20)
    assert len(mine) == 10 and len(theirs) == 10
    assert not {r.id for r in mine} & {r.id for r in theirs}


class RealClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class Flaky:
    """A platform part whose work fails `fails` times, then replies."""

    def __init__(self, fails: int) -> None:
        self.fails = fails
        self.tries = 0
        self.answers: list[str] = []

    async def work(self, request: store.Request) -> Reply | None:
        self.tries += 1
        if self.tries <= self.fails:
            raise ConnectionError("the database went away")
        return Reply(notice("done"))

    async def answer(self, request: store.Request, reply: Reply) -> None:
        self.answers.append(reply.message.plain_text())

    def failed(self, request: store.Request) -> Reply | None:
        return Reply(notice("something went wrong"), ok=False)


async def run_worker(engine: AsyncEngine, handler: Flaky, attempts: int) -> InboxWorker:
    worker = InboxWorker(
        engine, {"slack": handler}, {}, RealClock(), "w1", 2, attempts, base_backoff=0.01
    )
    await write(engine, "t-1", "UBEN", datetime.now(UTC))
    for _ in range(200):
        await worker.drain()
        if await store.count_waiting(engine) == 0:
            return worker
        await asyncio.sleep(0.01)
    raise AssertionError("the row was never settled")


async def test_a_failing_request_is_retried_with_backoff_then_worked(engine: AsyncEngine) -> None:
    handler = Flaky(fails=2)
    await run_worker(engine, handler, attempts=5)
    assert handler.tries == 3 and handler.answers == ["done"]


async def test_a_request_failing_every_try_is_reported_to_the_person(engine: AsyncEngine) -> None:
    handler = Flaky(fails=99)
    worker = await run_worker(engine, handler, attempts=3)
    assert handler.tries == 3 and handler.answers == ["something went wrong"]
    assert worker.failed == 1


class Recording(Flaky):
    """Replies at once, and notes when each request's work began (the loop's time)."""

    def __init__(self) -> None:
        super().__init__(fails=0)
        self.began: list[float] = []

    async def work(self, request: store.Request) -> Reply | None:
        self.began.append(asyncio.get_running_loop().time())
        return await super().work(request)


async def acknowledge(inbox: Inbox, prefix: str, n: int, started: list[float]) -> None:
    """A stream of acknowledgements, back to back: one is always being written."""
    for i in range(n):
        started.append(asyncio.get_running_loop().time())
        await inbox.write(
            platform="slack",
            request_id=f"{prefix}-{i}",
            workspace="T1",
            user=f"U{prefix}{i}",
            kind="command",
            payload={},
        )


async def test_new_work_waits_while_acknowledgements_are_arriving(
    engine: AsyncEngine, inbox: Inbox
) -> None:
    handler = Recording()
    worker = InboxWorker(engine, {"slack": handler}, {}, RealClock(), "w1", 2)
    worker.acks = inbox
    await write(engine, "before", "UBEN", datetime.now(UTC))
    started: list[float] = []
    stream = [asyncio.create_task(acknowledge(inbox, p, 20, started)) for p in "abc"]
    await asyncio.sleep(0)  # the stream is under way
    loop = asyncio.get_running_loop()
    asked = loop.time()
    await worker.fill()
    await asyncio.gather(*stream)
    await worker.drain()
    first = min(handler.began)
    # The work began once the stream was over, unless it waited its whole bound for it.
    assert first >= max(started) or first - asked >= ACKS_FIRST
    assert len(handler.answers) == 61  # and every request was worked in the end


async def test_the_work_waits_for_acknowledgements_no_longer_than_its_bound(
    inbox: Inbox,
) -> None:
    started: list[float] = []
    stream = asyncio.create_task(acknowledge(inbox, "x", 10_000, started))
    await asyncio.sleep(0)
    assert not await inbox.quiet(ACKS_QUIET, 0.2)  # requests kept coming: gave up waiting
    assert not stream.done()
    stream.cancel()
    await asyncio.gather(stream, return_exceptions=True)
    assert await inbox.quiet(ACKS_QUIET, 5.0)  # quiet now


async def test_an_acknowledgement_slower_than_the_gap_is_no_pause_when_it_ends(
    inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The quiet is counted from the end of the last acknowledgement, not its start: one INSERT
    held up past the gap (a stall of the machine) does not let the work in between two
    requests of a burst."""
    gap, slow = 0.5, 0.6
    real = store.write

    async def held_up(*args: Any, **kwargs: Any) -> bool:
        await asyncio.sleep(slow)
        return await real(*args, **kwargs)

    monkeypatch.setattr("bot.inbox.entry.store.write", held_up)
    await held(inbox, "slow")
    assert not await inbox.quiet(gap, 0.1)  # it just ended: the next request may be on its way
    assert await inbox.quiet(gap, 5.0)  # and once nothing came for the gap, it is quiet


async def test_a_deferral_taken_late_is_no_pause_when_it_is_released(inbox: Inbox) -> None:
    """A Discord acknowledgement ends when its deferral is taken (the release), after the
    INSERT: the quiet is counted from then."""
    gap = 0.5
    await held(inbox, "late")
    await asyncio.sleep(0.6)  # the deferral's round trip, held up
    await inbox.release("discord", "late")
    assert not await inbox.quiet(gap, 0.1)
    assert await inbox.quiet(gap, 5.0)


async def test_a_worker_is_quiet_only_once_the_acknowledgements_it_hears_pause(
    engine: AsyncEngine,
) -> None:
    """A worker process acknowledges nothing itself; it hears other processes' requests
    (PostgreSQL's NOTIFY, `Listening.heard_at`). Its new work and its outbox's batches
    (runtime.serve) wait until those pause."""
    worker = InboxWorker(engine, {"slack": Recording()}, {}, RealClock(), "w1", 2)
    heard = SimpleNamespace(heard_at=float("-inf"), lost=False)
    worker.listening = heard  # type: ignore[assignment]
    loop = asyncio.get_running_loop()
    assert await worker.quiet()  # nothing heard: no wait

    async def others_acknowledge() -> None:
        for _ in range(40):
            heard.heard_at = loop.time()
            await asyncio.sleep(ACKS_QUIET / 4)

    stream = asyncio.create_task(others_acknowledge())
    await asyncio.sleep(0)
    assert await worker.quiet()
    assert stream.done() and loop.time() - heard.heard_at >= ACKS_QUIET


class Gated(Recording):
    """Work that goes on until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.worked: list[store.Request] = []

    async def work(self, request: store.Request) -> Reply | None:
        self.worked.append(request)
        reply = await super().work(request)
        await self.gate.wait()
        return reply


async def test_while_a_burst_outlasts_the_bound_one_request_is_worked_at_a_time(
    engine: AsyncEngine, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_module, "ACKS_FIRST", 0.2)
    handler = Gated()
    worker = InboxWorker(engine, {"slack": handler}, {}, RealClock(), "w1", 4)
    worker.acks = inbox
    for person in ("UANA", "UBEN", "UCAM"):
        await write(engine, f"due-{person}", person, datetime.now(UTC))
    stream = asyncio.create_task(acknowledge(inbox, "x", 100_000, []))
    try:
        await asyncio.sleep(0)
        assert await worker.fill() == 1  # four lanes free, the bound ran out: one request
        assert await worker.fill() == 0  # the burst goes on and that one is in hand: no more
        assert not stream.done()
    finally:
        stream.cancel()
        await asyncio.gather(stream, return_exceptions=True)
    assert await worker.fill() == 3  # the burst paused: every free lane
    handler.gate.set()
    await worker.drain()
    assert {"due-UANA", "due-UBEN", "due-UCAM"} <= {r.request_id for r in handler.worked}


async def held(inbox: Inbox, rid: str) -> None:
    """A Discord interaction written before its deferral: held until released."""
    assert await inbox.write(
        platform="discord",
        request_id=rid,
        workspace="",
        user=f"U{rid}",
        kind="command",
        payload={},
        respond_to=f"token-{rid}",
        valid_for=timedelta(minutes=15),
        hold=DISCORD_HOLD,
    )


async def released(inbox: Inbox, rid: str) -> None:
    """A held interaction whose deferral Discord took: released, and the release written."""
    await held(inbox, rid)
    await inbox.release("discord", rid)
    await inbox.flush()


async def due(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(InboxRow.request_id).where(InboxRow.next_try <= datetime.now(UTC))
        )
        return set(rows.scalars())


async def eventually_due(engine: AsyncEngine, wanted: set[str], within: float) -> None:
    """Return once every one of `wanted` is due; fail after `within` seconds."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + within
    while not wanted <= await due(engine):
        assert loop.time() < give_up, f"still held after {within}s"
        await asyncio.sleep(0.01)


async def test_acknowledged_rows_are_released_together_in_one_update(
    engine: AsyncEngine,
    inbox: Inbox,
) -> None:
    for rid in ("a", "b", "c"):
        await held(inbox, rid)
    updates: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE INBOX"):
            updates.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        for rid in ("a", "b", "c"):
            await inbox.release("discord", rid)
        assert await due(engine) == set()  # the acknowledgements' moment: nothing written yet
        await eventually_due(engine, {"a", "b", "c"}, within=5.0)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert len(updates) == 1


async def test_a_release_waits_while_acknowledgements_arrive_but_no_longer_than_its_bound(
    engine: AsyncEngine,
    inbox: Inbox,
) -> None:
    await held(inbox, "first")
    started: list[float] = []
    stream = asyncio.create_task(acknowledge(inbox, "s", 100_000, started))
    try:
        await asyncio.sleep(0)  # the stream is under way
        loop = asyncio.get_running_loop()
        asked = loop.time()
        await inbox.release("discord", "first")
        await asyncio.sleep(ACKS_QUIET * 5)
        assert "first" not in await due(engine)  # requests keep coming: still held
        await eventually_due(engine, {"first"}, within=ACKS_FIRST + 5.0)
        assert not stream.done()  # released while they still came: the bound, not a pause
    finally:
        stream.cancel()
        await asyncio.gather(stream, return_exceptions=True)
    assert loop.time() - asked >= ACKS_FIRST


async def test_a_long_release_goes_in_chunks_and_misses_none(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "RELEASE_CHUNK", 2)
    inbox = Inbox(engine, RealClock())
    names = {f"r{n}" for n in range(5)}
    for rid in sorted(names):
        await held(inbox, rid)
    await store.release(engine, [("discord", rid) for rid in sorted(names)], datetime.now(UTC))
    assert await due(engine) == names


async def test_closing_releases_what_is_still_held(engine: AsyncEngine, inbox: Inbox) -> None:
    await held(inbox, "last")
    await inbox.release("discord", "last")
    await inbox.close()
    assert await due(engine) == {"last"}


@pytest.mark.backends("postgres")
async def test_a_release_outlives_the_death_of_its_connection(
    engine: AsyncEngine, inbox: Inbox
) -> None:
    await released(inbox, "before")
    releasing = inbox._releaser._connection
    assert releasing is not None  # kept for the next batch
    pid = (await releasing.get_raw_connection()).driver_connection.get_server_pid()
    async with engine.connect() as other:
        await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    await released(inbox, "after")  # the dead connection fails, a new one releases
    assert await due(engine) == {"before", "after"}


@pytest.mark.backends("postgres")
async def test_the_release_connection_never_goes_back_to_the_pool(
    engine: AsyncEngine, inbox: Inbox
) -> None:
    await released(inbox, "one")
    await inbox.close()
    # Every connection the pool can hand out waits for the WAL at commit, as the work must.
    idle = engine.pool.checkedin()  # type: ignore[attr-defined]
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(idle + 1):
            connection = await stack.enter_async_context(engine.connect())
            shown = await connection.exec_driver_sql("SHOW synchronous_commit")
            assert shown.scalar() == "on"


async def heard(count: list[int], before: int, within: float = 0.5) -> bool:
    """Whether a notification arrives after `before` were counted, waiting up to `within` s."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + within
    while loop.time() < give_up:
        if count[0] > before:
            return True
        await asyncio.sleep(0.01)
    return False


@pytest.mark.backends("postgres")
async def test_workers_are_woken_only_for_rows_they_can_claim_now(
    engine: AsyncEngine, inbox: Inbox
) -> None:
    count = [0]

    def wake() -> None:
        count[0] += 1

    listening = await store.listen(engine, wake)
    assert listening is not None
    try:
        await held(inbox, "held")  # before its deferral: nothing to claim yet
        assert not await heard(count, 0)
        await inbox.release("discord", "held")
        await inbox.flush()
        assert await heard(count, 0)  # released: due now
        woken = count[0]
        await write(engine, "due", "UBEN", datetime.now(UTC))
        assert await heard(count, woken)  # a Slack request, due when written
        woken = count[0]
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with sessions() as session, session.begin():
            [request] = await store.claim(session, datetime.now(UTC), LEASE, 10, ["slack"], "w1")
            later = datetime.now(UTC) + timedelta(minutes=1)
            await store.retry(session, request, later, "timeout")
        assert not await heard(count, woken)  # put off to later: the poll finds it then
    finally:
        await listening.close()


@pytest.mark.backends("postgres")
async def test_a_worker_waits_while_another_process_acknowledges_but_no_longer_than_its_bound(
    engine: AsyncEngine, migrated: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    quiet = 0.2  # ACKS_QUIET made long enough that a busy test machine does not break a burst
    monkeypatch.setattr(worker_module, "ACKS_QUIET", quiet)
    handler = Recording()
    worker = InboxWorker(engine, {"slack": handler}, {}, RealClock(), "w1", 2, poll=3600)
    web = make_engine(migrated.url)  # another process's entry point, on its own engine
    loop = asyncio.get_running_loop()
    written: list[float] = []

    async def stream(prefix: str, n: int, every: float = 0.0) -> None:
        for i in range(n):
            await write(web, f"{prefix}-{i}", f"U{prefix}{i}", datetime.now(UTC))
            written.append(loop.time())
            await asyncio.sleep(every)

    worker.start()
    try:
        await listening_and_idle(worker)
        # A short burst: nothing is worked before it is over.
        await stream("a", 30)
        await answered_within(handler, 30)
        assert min(handler.began) >= max(written)
        # A stream that never pauses that long: the work still starts within its bound.
        handler.began.clear()
        written.clear()
        endless = asyncio.create_task(stream("b", 100_000, quiet / 4))
        try:
            began = loop.time()
            while not handler.began:
                assert loop.time() - began < ACKS_FIRST + 5.0, "the work waited past its bound"
                await asyncio.sleep(0.01)
            assert not endless.done()
        finally:
            endless.cancel()
            await asyncio.gather(endless, return_exceptions=True)
    finally:
        await worker.stop(1)
        await web.dispose()


async def listening_and_idle(worker: InboxWorker) -> None:
    """Until the worker listens and has done its first round (claimed what was there)."""
    for _ in range(3000):
        if worker.listening is not None and not worker.listening.lost and worker._next_purge:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the worker never listened")


async def answered_within(handler: Recording, count: int, seconds: float = 30) -> None:
    for _ in range(int(seconds * 100)):
        if len(handler.answers) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(handler.answers)} of {count} answered")


@pytest.mark.backends("postgres")
async def test_a_worker_hears_rows_other_processes_write_without_waiting_for_its_poll(
    engine: AsyncEngine, migrated: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_module, "LISTEN_AGAIN", 0.0)
    handler = Recording()
    # It polls once an hour: only PostgreSQL's notification can bring it the row in time.
    worker = InboxWorker(engine, {"slack": handler}, {}, RealClock(), "w1", 2, poll=3600)
    web = make_engine(migrated.url)  # the acknowledging process's own engine
    worker.start()
    try:
        await listening_and_idle(worker)
        await write(web, "t-1", "UBEN", datetime.now(UTC))
        await answered_within(handler, 1)
        # Its listening connection is cut (a server restart, an idle reaper): it listens again.
        assert worker.listening is not None
        pid = worker.listening.driver.get_server_pid()
        async with web.connect() as connection:
            await connection.execute(text(f"SELECT pg_terminate_backend({int(pid)})"))
        for _ in range(3000):
            if worker.listening is not None and worker.listening.driver.get_server_pid() != pid:
                break
            await asyncio.sleep(0.01)
        await listening_and_idle(worker)
        await write(web, "t-2", "UCAM", datetime.now(UTC))
        await answered_within(handler, 2)
    finally:
        await worker.stop(1)
        await web.dispose()
