"""What every SQL repository shares: the session, reads, claims, upserts and writes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import CursorResult, Delete, Result, Select, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.convert import copy_to_row, to_domain, to_values
from bot.store.tables import Base

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

D = TypeVar("D", bound="DataclassInstance")
R = TypeVar("R", bound=Base)


class SqlRepo:
    """A repository over one AsyncSession; the helpers below are its statements' shapes."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @property
    def _dialect(self) -> str:
        return self._session.get_bind().dialect.name

    async def _get(self, cls: type[D], row_cls: type[Base], *pk: str) -> D | None:
        row = await self._session.get(row_cls, pk if len(pk) > 1 else pk[0])
        return None if row is None else to_domain(cls, row)

    async def _one(self, cls: type[D], stmt: Select[R]) -> D | None:
        row = (await self._session.scalars(stmt.limit(1))).first()
        return None if row is None else to_domain(cls, row)

    async def _list(self, cls: type[D], stmt: Select[R]) -> list[D]:
        return [to_domain(cls, row) for row in await self._session.scalars(stmt)]

    async def _claim(self, cls: type[D], stmt: Select[R]) -> list[D]:
        """Rows for one worker to process; other PostgreSQL workers skip them until commit."""
        if self._dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        rows = await self._session.scalars(stmt, execution_options={"populate_existing": True})
        return [to_domain(cls, row) for row in rows]

    async def _add(self, *rows: Base) -> None:
        self._session.add_all(rows)
        # Flushed at once: without relationship()s the ORM does not know that a member must
        # be inserted before its alert, so a later batched flush could send them reversed.
        await self._session.flush()

    async def _save(
        self, row_cls: type[Base], obj: DataclassInstance, exclude: frozenset[str] = frozenset()
    ) -> None:
        pk = tuple(getattr(obj, column.name) for column in inspect(row_cls).primary_key)
        row = await self._session.get(row_cls, pk if len(pk) > 1 else pk[0])
        if row is None:
            await self._add(row_cls(**to_values(obj)))
        else:
            copy_to_row(obj, row, exclude)

    async def _delete(self, stmt: Delete) -> int:
        return rowcount(await self._session.execute(stmt))

    def _insert(self, row_cls: type[Base]) -> sqlite.Insert | postgresql.Insert:
        """An INSERT that knows ON CONFLICT, in the session's dialect."""
        match self._dialect:
            case "sqlite":
                return sqlite.insert(row_cls)
            case "postgresql":
                return postgresql.insert(row_cls)
            case other:
                raise NotImplementedError(f"no upsert for the {other} dialect")


def utc(at: datetime) -> datetime:
    """An aggregate's datetime (SQLite hands it back naive, and as text): aware UTC."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def rowcount(result: Result[Any]) -> int:
    assert isinstance(result, CursorResult)
    return result.rowcount
