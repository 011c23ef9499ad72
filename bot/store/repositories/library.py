"""A collective's message library and its use records."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update

from bot.core.model import LibraryEntry, LibraryUse
from bot.core.ports import LibraryRepo
from bot.store.convert import to_domain, to_values
from bot.store.repositories.base import SqlRepo, rowcount
from bot.store.tables import LibraryEntryRow, LibraryUseRow


class SqlLibraryRepo(SqlRepo, LibraryRepo):
    async def get(self, entry_id: str) -> LibraryEntry | None:
        return await self._get(LibraryEntry, LibraryEntryRow, entry_id)

    async def by_number(self, collective_id: str, number: int) -> LibraryEntry | None:
        stmt = select(LibraryEntryRow).where(
            LibraryEntryRow.collective_id == collective_id, LibraryEntryRow.number == number
        )
        return await self._one(LibraryEntry, stmt)

    async def for_collective(self, collective_id: str) -> Sequence[LibraryEntry]:
        stmt = (
            select(LibraryEntryRow)
            .where(LibraryEntryRow.collective_id == collective_id)
            .order_by(LibraryEntryRow.number)
        )
        return await self._list(LibraryEntry, stmt)

    async def next_number(self, collective_id: str) -> int:
        stmt = select(func.coalesce(func.max(LibraryEntryRow.number), 0)).where(
            LibraryEntryRow.collective_id == collective_id
        )
        return int((await self._session.execute(stmt)).scalar_one()) + 1

    async def add(self, entry: LibraryEntry) -> None:
        await self._add(LibraryEntryRow(**to_values(entry)))

    async def save(self, entry: LibraryEntry) -> None:
        # uses moves only through add_use: a copy read earlier must not undo a count.
        await self._save(LibraryEntryRow, entry, exclude=frozenset({"uses"}))

    async def delete(self, entry_id: str) -> None:
        await self._delete(delete(LibraryUseRow).where(LibraryUseRow.entry_id == entry_id))
        await self._delete(delete(LibraryEntryRow).where(LibraryEntryRow.id == entry_id))

    async def add_use(self, use: LibraryUse) -> bool:
        stmt = (
            self._insert(LibraryUseRow)
            .values(**to_values(use))
            .on_conflict_do_nothing(index_elements=["entry_id", "alert_id", "member_id"])
        )
        if not rowcount(await self._session.execute(stmt)):
            return False
        await self._session.execute(
            update(LibraryEntryRow)
            .where(LibraryEntryRow.id == use.entry_id)
            .values(uses=LibraryEntryRow.uses + 1),
            execution_options={"synchronize_session": False},
        )
        return True

    async def most_used(
        self, collective_id: str, start: datetime, end: datetime, limit: int
    ) -> Sequence[tuple[LibraryEntry, int]]:
        count = func.count(LibraryUseRow.id).label("n")
        stmt = (
            select(LibraryEntryRow, count)
            .join(LibraryUseRow, LibraryUseRow.entry_id == LibraryEntryRow.id)
            .where(
                LibraryUseRow.collective_id == collective_id,
                LibraryUseRow.at >= start,
                LibraryUseRow.at < end,
            )
            .group_by(LibraryEntryRow.id)
            .order_by(count.desc(), LibraryEntryRow.number)
            .limit(limit)
        )
        rows = (await self._session.execute(stmt)).all()
        return [(to_domain(LibraryEntry, row), int(n)) for row, n in rows]

    async def forget_member(self, member_id: str) -> int:
        changed = 0
        for column in (LibraryEntryRow.added_by_id, LibraryEntryRow.approved_by_id):
            stmt = update(LibraryEntryRow).where(column == member_id).values({column.key: None})
            changed += rowcount(
                await self._session.execute(stmt, execution_options={"synchronize_session": False})
            )
        stmt2 = (
            update(LibraryUseRow).where(LibraryUseRow.member_id == member_id).values(member_id=None)
        )
        changed += rowcount(
            await self._session.execute(stmt2, execution_options={"synchronize_session": False})
        )
        return changed
