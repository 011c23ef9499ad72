"""Collectives and the platform spaces they are installed in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update

from bot.core.model import Collective, Space
from bot.core.ports import CollectiveRepo, SpaceRepo
from bot.store.convert import to_values
from bot.store.repositories.base import SqlRepo
from bot.store.tables import AlertRow, CollectiveRow, SpaceRow


class SqlCollectiveRepo(SqlRepo, CollectiveRepo):
    async def get(self, collective_id: str) -> Collective | None:
        return await self._get(Collective, CollectiveRow, collective_id)

    async def by_name(self, name: str) -> Collective | None:
        stmt = select(CollectiveRow).where(CollectiveRow.name == name)
        return await self._one(
            Collective, stmt.order_by(CollectiveRow.created_at, CollectiveRow.id)
        )

    async def due_digests(self, now: datetime, limit: int) -> Sequence[Collective]:
        stmt = (
            select(CollectiveRow)
            .where(CollectiveRow.next_digest_at <= now)
            .order_by(CollectiveRow.next_digest_at, CollectiveRow.id)
            .limit(limit)
        )
        return await self._claim(Collective, stmt)

    async def all(self) -> Sequence[Collective]:
        # By name, then id: two collectives may share a name, and SQL leaves ties unordered.
        stmt = select(CollectiveRow).order_by(CollectiveRow.name, CollectiveRow.id)
        return await self._list(Collective, stmt)

    async def add(self, collective: Collective) -> None:
        await self._add(CollectiveRow(**to_values(collective)))

    async def save(self, collective: Collective) -> None:
        # alert_seq moves only through next_alert_number: a copy read earlier must not undo it.
        await self._save(CollectiveRow, collective, exclude=frozenset({"alert_seq"}))

    async def next_alert_number(self, collective_id: str) -> int:
        stmt = (
            update(CollectiveRow)
            .where(CollectiveRow.id == collective_id)
            .values(alert_seq=CollectiveRow.alert_seq + 1)
            .returning(CollectiveRow)
        )
        # populate_existing refreshes a row already in the session with the value the
        # database computed; the ORM's own sync would add 1 to a possibly stale copy.
        row = (
            await self._session.scalars(
                stmt, execution_options={"synchronize_session": False, "populate_existing": True}
            )
        ).one_or_none()
        if row is None:
            raise LookupError(f"no collective {collective_id}")
        return row.alert_seq

    async def delete(self, collective_id: str) -> None:
        # Alerts first: their rows (responses, check-ins, evidence, uses) go with them, and
        # nothing points at a member any more when the collective's delete cascades to them.
        await self._delete(delete(AlertRow).where(AlertRow.collective_id == collective_id))
        await self._delete(delete(CollectiveRow).where(CollectiveRow.id == collective_id))
        self._session.expunge_all()


class SqlSpaceRepo(SqlRepo, SpaceRepo):
    async def get(self, space_id: str) -> Space | None:
        return await self._get(Space, SpaceRow, space_id)

    async def find(self, platform: str, external_id: str) -> Space | None:
        stmt = select(SpaceRow).where(
            SpaceRow.platform == platform, SpaceRow.external_id == external_id
        )
        return await self._one(Space, stmt)

    async def for_collective(self, collective_id: str) -> Sequence[Space]:
        stmt = (
            select(SpaceRow)
            .where(SpaceRow.collective_id == collective_id)
            .order_by(SpaceRow.platform, SpaceRow.external_id)
        )
        return await self._list(Space, stmt)

    async def add(self, space: Space) -> None:
        await self._add(SpaceRow(**to_values(space)))

    async def save(self, space: Space) -> None:
        await self._save(SpaceRow, space)

    async def delete(self, space_id: str) -> None:
        row = await self._session.get(SpaceRow, space_id)
        if row is not None:
            await self._session.delete(row)
            await self._session.flush()

    async def removed(self) -> Sequence[Space]:
        # delete_at is set exactly while removed_at is: its index finds the few.
        stmt = select(SpaceRow).where(SpaceRow.delete_at.is_not(None)).order_by(SpaceRow.id)
        return await self._list(Space, stmt)

    async def due_deletions(self, now: datetime, limit: int) -> Sequence[Space]:
        stmt = (
            select(SpaceRow)
            .where(SpaceRow.delete_at <= now)
            .order_by(SpaceRow.delete_at, SpaceRow.id)
            .limit(limit)
        )
        return await self._claim(Space, stmt)

    async def due_checks(
        self, now: datetime, limit: int, platforms: Sequence[str]
    ) -> Sequence[Space]:
        if not platforms:
            return []
        stmt = (
            select(SpaceRow)
            .where(
                SpaceRow.check_at <= now,
                SpaceRow.removed_at.is_(None),
                SpaceRow.platform.in_(list(platforms)),
            )
            .order_by(SpaceRow.check_at, SpaceRow.id)
            .limit(limit)
        )
        return await self._claim(Space, stmt)
