"""A worker id no two live processes share, so a restarted process may take back its rows."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

MAX_LENGTH = 64  # outbox.claimed_by


def default_worker_id(command: str) -> str:
    """The same on every restart of one deployment slot: Heroku's dyno name (web.1), else the
    host's name (a container's, a pod's) and the command."""
    dyno = os.environ.get("DYNO")
    found = dyno if dyno else f"{socket.gethostname()}:{command}"
    return found[:MAX_LENGTH]


def _key(worker: str) -> int:
    digest = hashlib.sha256(b"rallybot-worker:" + worker.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@dataclass
class WorkerId:
    """This process's worker id; `stable` when a restart with the same id may take back the
    rows it claimed (on PostgreSQL, while the advisory lock is held)."""

    name: str
    stable: bool
    _lock: AsyncConnection | None = None

    async def release(self) -> None:
        """Give the id back (the connection returns to the pool, so unlock it first)."""
        lock, self._lock = self._lock, None
        if lock is None:
            return
        try:
            await lock.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": _key(self.name)})
            await lock.commit()
        except Exception:
            await lock.invalidate()  # a broken session: closing it for good frees the lock
        finally:
            await lock.close()


async def hold_worker_id(engine: AsyncEngine, wanted: str) -> WorkerId:
    """Take this worker id for the life of the process. On PostgreSQL an advisory lock, held
    by one connection until release() or the process's death, says nobody else uses it; when
    a live process already does, this one gets a unique id instead (its rows then wait for
    their lease after a crash, as before). SQLite serves one process: the id is its own."""
    if engine.dialect.name != "postgresql":
        return WorkerId(wanted, stable=True)
    connection = await engine.connect()
    try:
        got = await connection.scalar(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": _key(wanted)}
        )
        await connection.commit()  # the lock belongs to the session, not the transaction
    except BaseException:
        await connection.close()
        raise
    if got:
        return WorkerId(wanted, stable=True, _lock=connection)
    await connection.close()
    unique = f"{wanted[: MAX_LENGTH - 9]}:{uuid.uuid4().hex[:8]}"
    log.warning(
        "another running process uses the worker id %s; this one is %s, so after a crash its "
        "messages wait for their lease: give each process its own RALLYBOT_WORKER_ID",
        wanted,
        unique,
    )
    return WorkerId(unique, stable=False)
