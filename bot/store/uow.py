"""The async unit of work (one session, one transaction) and the engine it runs on."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from sqlalchemy import URL, event, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry

from bot.core.ports import UnitOfWork
from bot.store.repositories import (
    SqlAlertRepo,
    SqlAuditRepo,
    SqlCheckInRepo,
    SqlCollectiveRepo,
    SqlEvidenceRepo,
    SqlIdentityRepo,
    SqlInboxRepo,
    SqlLibraryRepo,
    SqlLinkCodeRepo,
    SqlMemberRepo,
    SqlOutboxRepo,
    SqlRalliedRepo,
    SqlResponseRepo,
    SqlSpaceRepo,
)

SQLITE_BUSY_TIMEOUT_MS = 5000
_ASYNC_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}


def database_url(url: str) -> URL:
    """The URL with an async driver: postgres:// and postgresql:// use asyncpg, sqlite aiosqlite."""
    parsed = make_url(url)
    parsed = parsed.set(drivername=_ASYNC_DRIVERS.get(parsed.drivername, parsed.drivername))
    if parsed.drivername == "postgresql+asyncpg" and "sslmode" in parsed.query:
        # Hosting platforms add libpq's sslmode; asyncpg takes the same modes as ssl.
        query = dict(parsed.query)
        query["ssl"] = query.pop("sslmode")
        parsed = parsed.set(query=query)
    return parsed


def _sqlite_pragmas(dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def make_engine(url: str, **options: Any) -> AsyncEngine:
    """An async engine for a postgres://, postgresql:// or sqlite:/// URL."""
    parsed = database_url(url)
    options.setdefault("hide_parameters", True)  # error messages must not quote user text
    if parsed.get_backend_name() == "postgresql":
        # A long-running bot outlives server restarts and idle-connection reaping.
        options.setdefault("pool_pre_ping", True)
    elif parsed.get_backend_name() == "sqlite" and "poolclass" not in options:
        # SQLite has one writer: with several connections, a burst of clicks ends in
        # "database is locked" after the platform was already answered. One connection makes
        # transactions queue in the event loop instead, and none is lost.
        options.setdefault("pool_size", 1)
        options.setdefault("max_overflow", 0)
        options.setdefault("pool_timeout", 60)
    engine = create_async_engine(parsed, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _keep_alive(session: Session, row: object) -> None:
    # The identity map holds rows weakly, and repositories drop them once converted: keep
    # them for the session's life, so a get or save of a row already read costs no SELECT.
    session.info.setdefault("rows", []).append(row)


class SqlUnitOfWork(UnitOfWork):
    """One AsyncSession and its transaction; whatever is not committed is rolled back."""

    collectives: SqlCollectiveRepo
    spaces: SqlSpaceRepo
    members: SqlMemberRepo
    identities: SqlIdentityRepo
    link_codes: SqlLinkCodeRepo
    alerts: SqlAlertRepo
    responses: SqlResponseRepo
    rallied: SqlRalliedRepo
    checkins: SqlCheckInRepo
    evidence: SqlEvidenceRepo
    audit: SqlAuditRepo
    outbox: SqlOutboxRepo
    library: SqlLibraryRepo
    inbox: SqlInboxRepo

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        """The open session, for SQL that no repository offers (tools, tests)."""
        if self._session is None:
            raise RuntimeError("the unit of work is not open: use it in 'async with'")
        return self._session

    async def __aenter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("the unit of work is already open")
        session = self._session = self._sessions()
        for name in ("loaded_as_persistent", "pending_to_persistent"):
            event.listen(session.sync_session, name, _keep_alive)
        await session.begin()
        self.collectives = SqlCollectiveRepo(session)
        self.spaces = SqlSpaceRepo(session)
        self.members = SqlMemberRepo(session)
        self.identities = SqlIdentityRepo(session)
        self.link_codes = SqlLinkCodeRepo(session)
        self.alerts = SqlAlertRepo(session)
        self.responses = SqlResponseRepo(session)
        self.rallied = SqlRalliedRepo(session)
        self.checkins = SqlCheckInRepo(session)
        self.evidence = SqlEvidenceRepo(session)
        self.audit = SqlAuditRepo(session)
        self.outbox = SqlOutboxRepo(session)
        self.library = SqlLibraryRepo(session)
        self.inbox = SqlInboxRepo(session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self.session, None
        try:
            await session.rollback()
        finally:
            await session.close()

    async def commit(self) -> None:
        await self.outbox.flush()
        await self.session.commit()

    async def rollback(self) -> None:
        self.outbox.discard()
        await self.session.rollback()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def uow_factory(engine: AsyncEngine) -> Callable[[], SqlUnitOfWork]:
    """A fresh unit of work per call, all sharing the engine's pool."""
    sessions = session_factory(engine)
    return lambda: SqlUnitOfWork(sessions)
