"""The inbox table's SQL: one INSERT per acknowledged request, claims in each person's order."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    String,
    and_,
    any_,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import aliased

from bot.store.tables import InboxRow

# Answered rows keep the platform's request id this long, so a late retry is still known.
KEEP_ANSWERED = timedelta(hours=1)
RELEASE_CHUNK = 500  # request ids in one UPDATE (well under SQLite's and asyncpg's bind limits)


@dataclass
class Request:
    """One inbox row, as a worker sees it."""

    id: str
    platform: str
    request_id: str
    workspace: str
    user: str
    kind: str
    payload: dict[str, Any]
    respond_to: str | None
    respond_until: datetime | None
    created_at: datetime
    attempts: int = 0
    worked_at: datetime | None = None
    reply: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # not stored: what a worker noted

    def handle_expired(self, now: datetime) -> bool:
        """The response_url or interaction token can no longer be used: answer by DM."""
        return self.respond_to is None or (
            self.respond_until is not None and now >= self.respond_until
        )


def _request(row: InboxRow) -> Request:
    return Request(
        id=row.id,
        platform=row.platform,
        request_id=row.request_id,
        workspace=row.workspace,
        user=row.user,
        kind=row.kind,
        payload=dict(row.payload),
        respond_to=row.respond_to,
        respond_until=row.respond_until,
        created_at=row.created_at,
        attempts=row.attempts,
        worked_at=row.worked_at,
        reply=dict(row.reply) if row.reply is not None else None,
    )


def _count(result: Any) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


async def write(
    engine: AsyncEngine,
    *,
    platform: str,
    request_id: str,
    workspace: str,
    user: str,
    kind: str,
    payload: dict[str, Any],
    respond_to: str | None,
    respond_until: datetime | None,
    now: datetime,
    next_try: datetime | None = None,
) -> bool:
    """One INSERT in its own transaction; False when the platform's request id is already
    there (a retry or a redelivery: acknowledged again, never written or worked twice)."""
    values = {
        "id": uuid.uuid4().hex,
        "platform": platform,
        "request_id": request_id[:255],
        "workspace": workspace,
        "user": user,
        "kind": kind,
        "payload": payload,
        "respond_to": respond_to,
        "respond_until": respond_until,
        "created_at": now,
        "next_try": next_try or now,
        "attempts": 0,
    }
    async with engine.begin() as connection:
        return await _insert(connection, values)


async def _insert(connection: AsyncConnection, values: dict[str, Any]) -> bool:
    stmt: sqlite.Insert | postgresql.Insert
    if connection.dialect.name == "postgresql":
        stmt = postgresql.insert(InboxRow)
    else:
        stmt = sqlite.insert(InboxRow)
    stmt = stmt.values(**values).on_conflict_do_nothing(
        index_elements=[InboxRow.platform, InboxRow.request_id]
    )
    return _count(await connection.execute(stmt)) == 1


async def release(engine: AsyncEngine, requests: list[tuple[str, str]], now: datetime) -> None:
    """Held rows (written before an acknowledgement that could still fail, each named by
    platform and request id) are due now."""
    async with engine.begin() as connection:
        for platform in sorted({p for p, _ in requests}):
            ids = [r for p, r in requests if p == platform]
            for at in range(0, len(ids), RELEASE_CHUNK):
                await _release(connection, platform, ids[at : at + RELEASE_CHUNK], now)


async def _release(
    connection: AsyncConnection, platform: str, ids: list[str], now: datetime
) -> None:
    await connection.execute(
        update(InboxRow)
        .where(InboxRow.platform == platform, InboxRow.request_id.in_(ids))
        .where(InboxRow.next_try > now, InboxRow.attempts == 0)
        .values(next_try=now)
    )


# PostgreSQL: every id of a batch in one array parameter, so the statement is the same for any
# batch (compiled and prepared once); platform and now as parameters for the same reason.
_RELEASE_ALL = (
    update(InboxRow)
    .where(
        InboxRow.platform == bindparam("of_platform"),
        InboxRow.request_id == any_(bindparam("ids", type_=postgresql.ARRAY(String))),
        InboxRow.next_try > bindparam("at"),
        InboxRow.attempts == 0,
    )
    .values(next_try=bindparam("at"))
)


class Releaser:
    """Releases held rows for an entry point, on the loop that acknowledges: what it costs
    there is what the next acknowledgement waits for. On PostgreSQL it keeps one connection
    out of the pool, in autocommit and with `synchronous_commit` off, and releases a batch
    with one prepared UPDATE (no pool checkout, BEGIN or COMMIT of its own; a release lost
    in a server crash only means the rows wait out their hold). Elsewhere: `release`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._held = engine.dialect.name == "postgresql"
        self._connection: AsyncConnection | None = None

    async def release(self, requests: list[tuple[str, str]], now: datetime) -> None:
        if not self._held:
            await release(self.engine, requests, now)
            return
        # Twice at most: the kept connection may have died since the last batch (a server
        # restart, idle reaping); the second try is on a new one.
        for last in (False, True):
            connection = self._connection or await self._connect()
            try:
                for platform in sorted({p for p, _ in requests}):
                    ids = [r for p, r in requests if p == platform]
                    await connection.execute(
                        _RELEASE_ALL, {"of_platform": platform, "ids": ids, "at": now}
                    )
                return
            except BaseException as error:
                await self.close()
                if last or not isinstance(error, Exception):
                    raise

    async def _connect(self) -> AsyncConnection:
        connection = await self.engine.connect()
        try:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.exec_driver_sql("SET synchronous_commit TO off")
        except BaseException:
            await connection.close()
            raise
        self._connection = connection
        return connection

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            # Never back to the pool: the next transaction on it would not wait for the WAL.
            with contextlib.suppress(Exception):
                await connection.invalidate()
            with contextlib.suppress(Exception):
                await connection.close()


async def withdraw(engine: AsyncEngine, platform: str, request_id: str) -> None:
    """Delete a request that was written but never acknowledged, unless already worked."""
    async with engine.begin() as connection:
        await connection.execute(
            delete(InboxRow).where(
                InboxRow.platform == platform,
                InboxRow.request_id == request_id,
                InboxRow.worked_at.is_(None),
                InboxRow.claimed_by.is_(None),
            )
        )


def _lane_head() -> Any:
    """A row no earlier unworked request of the same person is waiting before."""
    earlier = aliased(InboxRow)
    return or_(
        InboxRow.worked_at.is_not(None),
        ~exists().where(
            earlier.platform == InboxRow.platform,
            earlier.workspace == InboxRow.workspace,
            earlier.user == InboxRow.user,
            earlier.worked_at.is_(None),
            or_(
                earlier.created_at < InboxRow.created_at,
                and_(earlier.created_at == InboxRow.created_at, earlier.id < InboxRow.id),
            ),
        ),
    )


async def claim(
    session: AsyncSession,
    now: datetime,
    lease: timedelta,
    limit: int,
    platforms: Sequence[str],
    worker: str,
) -> list[Request]:
    """Lease up to `limit` rows due now, at most one per person (the first they sent that is
    not worked yet), oldest first; SKIP LOCKED on PostgreSQL. The caller commits."""
    stmt = (
        select(InboxRow)
        .where(
            InboxRow.done_at.is_(None),
            InboxRow.platform.in_(platforms),
            InboxRow.next_try <= now,
            or_(InboxRow.lease_until.is_(None), InboxRow.lease_until < now),
            _lane_head(),
        )
        .order_by(InboxRow.created_at, InboxRow.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=InboxRow, skip_locked=True)
    rows = list(await session.scalars(stmt, execution_options={"populate_existing": True}))
    for row in rows:
        row.claimed_at, row.claimed_by = now, worker
        row.lease_until = now + lease
        row.attempts += 1
    await session.flush()
    return [_request(row) for row in rows]


async def worked(
    session: AsyncSession, request: Request, worker: str, reply: dict[str, Any], now: datetime
) -> bool:
    """Mark a claimed row worked, with the answer to send, in the caller's transaction (the
    work's own). False when this worker no longer holds it: the caller must roll back."""
    result = await session.execute(
        update(InboxRow)
        .where(
            InboxRow.id == request.id,
            InboxRow.worked_at.is_(None),
            InboxRow.claimed_by == worker,
        )
        .values(worked_at=now, reply=reply, last_error=None)
    )
    return _count(result) == 1


async def answered(session: AsyncSession, request: Request, now: datetime) -> None:
    """Answered (or reported): what the person sent and what they were told goes now."""
    await session.execute(
        update(InboxRow)
        .where(InboxRow.id == request.id)
        .values(
            done_at=now,
            worked_at=func.coalesce(InboxRow.worked_at, now),
            payload={},
            reply=None,
            respond_to=None,
            user="",
            lease_until=None,
            claimed_by=None,
        )
    )


async def retry(
    session: AsyncSession, request: Request, at: datetime, error: str, counts: bool = True
) -> None:
    """Give the row back, to be tried again at `at` (its lane waits for it)."""
    values: dict[str, Any] = {
        "next_try": at,
        "lease_until": None,
        "claimed_by": None,
        "last_error": error[:200],
    }
    if not counts:
        values["attempts"] = InboxRow.attempts - 1
    await session.execute(update(InboxRow).where(InboxRow.id == request.id).values(**values))


async def take_back(session: AsyncSession, worker: str) -> int:
    """Rows an earlier process with this worker id claimed and never settled: free now."""
    result = await session.execute(
        update(InboxRow)
        .where(InboxRow.claimed_by == worker, InboxRow.done_at.is_(None))
        .values(lease_until=None, claimed_by=None)
    )
    return _count(result)


async def purge(session: AsyncSession, now: datetime) -> int:
    """Delete answered rows older than KEEP_ANSWERED."""
    result = await session.execute(
        delete(InboxRow).where(
            InboxRow.done_at.is_not(None), InboxRow.done_at < now - KEEP_ANSWERED
        )
    )
    return _count(result)


async def waiting(session: AsyncSession) -> int:
    """Requests not answered yet (for /metrics and tests)."""
    found = await session.scalar(
        select(func.count()).select_from(InboxRow).where(InboxRow.done_at.is_(None))
    )
    return int(found or 0)


async def count_waiting(engine: AsyncEngine) -> int:
    """Requests not answered yet, in every process (for /metrics)."""
    async with engine.connect() as connection:
        found = await connection.scalar(
            select(func.count()).select_from(InboxRow).where(InboxRow.done_at.is_(None))
        )
    return int(found or 0)


# PostgreSQL: migration 0011's trigger sends this at the commit of every new or released row.
CHANNEL = "rallybot_inbox"


class Listening:
    """A connection held out of the pool that LISTENs on CHANNEL and calls `wake` on every
    notification; `lost` is set when the connection dies (the caller listens again)."""

    def __init__(self, connection: AsyncConnection, driver: Any, wake: Callable[[], None]):
        self.connection = connection
        self.driver = driver
        self.wake = wake
        self.lost = False
        # The event loop's time of the last notification: another process (or this one)
        # has just acknowledged a request.
        self.heard_at = float("-inf")

    def _notified(self, *_: Any) -> None:
        with contextlib.suppress(RuntimeError):  # called outside the loop: no time to note
            self.heard_at = asyncio.get_running_loop().time()
        self.wake()

    def _terminated(self, *_: Any) -> None:
        self.lost = True
        self.wake()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.driver.remove_listener(CHANNEL, self._notified)
        with contextlib.suppress(Exception):
            await self.connection.close()


async def listen(engine: AsyncEngine, wake: Callable[[], None]) -> Listening | None:
    """Wake on every new inbox row written by any process (PostgreSQL with asyncpg); None
    where that is not available (SQLite, another driver): the caller polls."""
    if engine.dialect.name != "postgresql" or engine.dialect.driver != "asyncpg":
        return None
    connection = await engine.connect()
    try:
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection  # an asyncpg.Connection
        listening = Listening(connection, driver, wake)
        await driver.add_listener(CHANNEL, listening._notified)
        driver.add_termination_listener(listening._terminated)
    except BaseException:
        await connection.close()
        raise
    return listening
