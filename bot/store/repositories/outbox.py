"""The outbox: messages waiting to go, leased to dispatchers, kept until retention."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Text, delete, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.core.model import OutboxItem, OutboxStatus
from bot.core.ports import Destination, OutboxRepo
from bot.store.convert import copy_to_row, to_domain, to_values
from bot.store.repositories.base import SqlRepo, rowcount
from bot.store.tables import OutboxRow

POST = "post"
_MESSAGE = frozenset({"payload", "about"})  # what only adding, rewriting or settling writes


class SqlOutboxRepo(SqlRepo, OutboxRepo):
    """New rows wait in memory and go in one INSERT (an executemany) before any other
    statement about the outbox and at commit, so a rally of 500 DMs costs one statement."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self._new: list[dict[str, Any]] = []

    async def add(self, item: OutboxItem) -> None:
        self._new.append(to_values(item))

    def discard(self) -> None:
        """Forget the rows not yet written (the transaction is rolled back)."""
        self._new.clear()

    async def flush(self) -> None:
        """Write the rows added so far."""
        if not self._new:
            return
        rows, self._new = self._new, []
        # ON CONFLICT DO NOTHING: a failed INSERT would abort a PostgreSQL transaction.
        stmt = self._insert(OutboxRow).on_conflict_do_nothing(
            index_elements=[OutboxRow.idempotency_key]
        )
        connection = await self._session.connection()
        await connection.execute(stmt, rows)

    async def claim(
        self,
        now: datetime,
        lease_until: datetime,
        limit: int,
        platforms: Sequence[str],
        worker: str | None = None,
    ) -> Sequence[OutboxItem]:
        if not platforms:
            return []
        await self.flush()
        other = aliased(OutboxRow)
        edit_in_flight = (
            select(other.id)
            .where(
                other.key == OutboxRow.key,
                other.platform == OutboxRow.platform,
                other.workspace == OutboxRow.workspace,
                other.address == OutboxRow.address,
                other.op == "update",
                other.status == OutboxStatus.PENDING.value,
                other.lease_until > now,
                other.id != OutboxRow.id,
            )
            .exists()
        )
        wanted = (
            select(OutboxRow.id)
            .where(
                OutboxRow.status == OutboxStatus.PENDING.value,
                OutboxRow.due_at <= now,
                OutboxRow.platform.in_(platforms),
                or_(OutboxRow.lease_until.is_(None), OutboxRow.lease_until <= now),
                or_(OutboxRow.op != "update", ~edit_in_flight),
            )
            .order_by(OutboxRow.created_at, OutboxRow.id)
            .limit(limit)
        )
        if self._dialect == "postgresql":
            wanted = wanted.with_for_update(skip_locked=True)
        stmt = (
            update(OutboxRow)
            .where(OutboxRow.id.in_(wanted.scalar_subquery()))
            .values(lease_until=lease_until, attempts=OutboxRow.attempts + 1, claimed_by=worker)
            .returning(OutboxRow)
        )
        rows = await self._session.scalars(
            stmt, execution_options={"synchronize_session": False, "populate_existing": True}
        )
        claimed = [to_domain(OutboxItem, row) for row in rows]
        return sorted(claimed, key=lambda o: (o.created_at, o.id))

    async def take_back(self, worker: str, now: datetime) -> int:
        await self.flush()
        stmt = (
            update(OutboxRow)
            .where(
                OutboxRow.claimed_by == worker,
                OutboxRow.status == OutboxStatus.PENDING.value,
                OutboxRow.lease_until > now,
            )
            .values(lease_until=None, claimed_by=None)
            .execution_options(synchronize_session=False)
        )
        return rowcount(await self._session.execute(stmt))

    async def supersede_edits(self, key: str, address_kind: str | None = None) -> int:
        await self.flush()
        stmt = (
            update(OutboxRow)
            .where(
                OutboxRow.key == key,
                OutboxRow.op == "update",
                OutboxRow.status == OutboxStatus.PENDING.value,
                OutboxRow.lease_until.is_(None),
            )
            .values(status=OutboxStatus.SUPERSEDED.value, payload={}, about=[])
            .execution_options(synchronize_session=False)
        )
        if address_kind is not None:
            stmt = stmt.where(OutboxRow.address_kind == address_kind)
        return rowcount(await self._session.execute(stmt))

    async def ref_for(self, key: str, platform: str, workspace: str, address: str) -> str | None:
        """The platform's id of the message sent for this key at this address."""
        await self.flush()
        stmt = (
            select(OutboxRow.ref)
            .where(
                OutboxRow.key == key,
                OutboxRow.op == POST,
                OutboxRow.status == OutboxStatus.SENT.value,
                OutboxRow.platform == platform,
                OutboxRow.workspace == workspace,
                OutboxRow.address == address,
                OutboxRow.ref.is_not(None),
            )
            .order_by(OutboxRow.created_at, OutboxRow.id)
            .limit(1)
        )
        return (await self._session.execute(stmt)).scalar_one_or_none()

    async def posted(self, key: str) -> Sequence[OutboxItem]:
        await self.flush()
        stmt = (
            select(OutboxRow)
            .where(OutboxRow.key == key, OutboxRow.op == POST)
            .order_by(OutboxRow.created_at, OutboxRow.id)
        )
        return await self._list(OutboxItem, stmt)

    async def destinations(
        self, key: str, address_kind: str | None = None
    ) -> Sequence[Destination]:
        await self.flush()
        stmt = (
            select(
                OutboxRow.platform, OutboxRow.workspace, OutboxRow.address_kind, OutboxRow.address
            )
            .where(OutboxRow.key == key, OutboxRow.op == POST)
            .order_by(OutboxRow.created_at, OutboxRow.id)
        )
        if address_kind is not None:
            stmt = stmt.where(OutboxRow.address_kind == address_kind)
        return [Destination(*row) for row in await self._session.execute(stmt)]

    async def save(self, item: OutboxItem) -> None:
        await self.flush()
        row = await self._session.get(OutboxRow, item.id)
        if row is None:
            return  # dropped meanwhile (forget-me): never brought back
        pending = item.status is OutboxStatus.PENDING
        copy_to_row(item, row, _MESSAGE if pending else frozenset())

    async def rewrite(self, item_id: str, payload: dict[str, object], about: Sequence[str]) -> None:
        await self.flush()
        stmt = (
            update(OutboxRow)
            .where(OutboxRow.id == item_id)
            .values(payload=payload, about=list(about))
            .execution_options(synchronize_session="fetch")
        )
        await self._session.execute(stmt)

    async def delete_settled_before(self, before: datetime) -> int:
        await self.flush()
        return await self._delete(
            delete(OutboxRow).where(
                OutboxRow.created_at < before,
                OutboxRow.status.in_(
                    [
                        OutboxStatus.SENT.value,
                        OutboxStatus.SUPERSEDED.value,
                        OutboxStatus.FAILED.value,
                    ]
                ),
            )
        )

    async def withdraw(self, key_prefix: str, due_after: datetime) -> int:
        await self.flush()
        return await self._delete(
            delete(OutboxRow).where(
                OutboxRow.key.startswith(key_prefix, autoescape=True),
                OutboxRow.due_at > due_after,
                OutboxRow.op == POST,
                OutboxRow.status == OutboxStatus.PENDING.value,
                OutboxRow.lease_until.is_(None),
            )
        )

    async def delete_dms_to(self, platform: str, user: str) -> int:
        await self.flush()
        return await self._delete(
            delete(OutboxRow).where(
                OutboxRow.platform == platform,
                OutboxRow.address_kind == "dm",
                OutboxRow.address == user,
            )
        )

    async def unsent_about(self, ids: Sequence[str]) -> Sequence[OutboxItem]:
        if not ids:
            return []
        await self.flush()
        wanted = sorted(set(ids))
        about: ColumnElement[bool]
        if self._dialect == "postgresql":
            # ?| : does the JSONB array hold any of these strings
            about = OutboxRow.about.op("?|", return_type=postgresql.BOOLEAN)(
                postgresql.array(wanted, type_=Text)
            )
        else:
            element = func.json_each(OutboxRow.about).table_valued("value")
            about = exists(select(1).select_from(element).where(element.c.value.in_(wanted)))
        stmt = (
            select(OutboxRow)
            .where(
                OutboxRow.status.in_([OutboxStatus.PENDING.value, OutboxStatus.FAILED.value]),
                about,
            )
            .order_by(OutboxRow.created_at, OutboxRow.id)
        )
        return await self._list(OutboxItem, stmt)

    async def delete(self, item_ids: Sequence[str]) -> int:
        if not item_ids:
            return 0
        await self.flush()
        stmt = delete(OutboxRow).where(OutboxRow.id.in_(list(item_ids)))
        return rowcount(
            await self._session.execute(stmt, execution_options={"synchronize_session": False})
        )

    async def delete_at_workspace(
        self, collective_id: str, platform: str, workspace: str, unsent_only: bool
    ) -> int:
        await self.flush()
        stmt = delete(OutboxRow).where(
            OutboxRow.collective_id == collective_id,
            OutboxRow.platform == platform,
            OutboxRow.workspace == workspace,
        )
        if unsent_only:
            stmt = stmt.where(OutboxRow.status == OutboxStatus.PENDING.value)
        return rowcount(
            await self._session.execute(stmt, execution_options={"synchronize_session": False})
        )

    async def post_keys(self, collective_id: str, prefix: str) -> Sequence[str]:
        await self.flush()
        # LIKE, not a range: a range over keys follows the column's collation, and under many
        # locales punctuation such as ":" does not sort where its code point does.
        stmt = (
            select(OutboxRow.key)
            .where(
                OutboxRow.collective_id == collective_id,
                OutboxRow.key.startswith(prefix, autoescape=True),
                OutboxRow.op == POST,
            )
            .group_by(OutboxRow.key)
            .order_by(func.min(OutboxRow.created_at), OutboxRow.key)
        )
        return list((await self._session.scalars(stmt)).all())
