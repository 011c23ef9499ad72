"""Check-ins with the people an alert was about."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import delete, func, select

from bot.core.model import CheckIn, CheckInStatus
from bot.core.ports import CheckInRepo
from bot.store.convert import to_values
from bot.store.repositories.base import SqlRepo, utc
from bot.store.tables import AlertRow, CheckInRow


class SqlCheckInRepo(SqlRepo, CheckInRepo):
    async def get(self, checkin_id: str) -> CheckIn | None:
        return await self._get(CheckIn, CheckInRow, checkin_id)

    async def for_alert(self, alert_id: str) -> Sequence[CheckIn]:
        stmt = (
            select(CheckInRow)
            .where(CheckInRow.alert_id == alert_id)
            .order_by(CheckInRow.due_at, CheckInRow.id)
        )
        return await self._list(CheckIn, stmt)

    async def due(self, now: datetime, limit: int) -> Sequence[CheckIn]:
        stmt = (
            select(CheckInRow)
            .where(
                CheckInRow.status == CheckInStatus.SCHEDULED.value,
                CheckInRow.due_at <= now,
            )
            .order_by(CheckInRow.due_at, CheckInRow.id)
            .limit(limit)
        )
        return await self._claim(CheckIn, stmt)

    async def due_between(
        self, collective_id: str, start: datetime, end: datetime
    ) -> Sequence[CheckIn]:
        stmt = (
            select(CheckInRow)
            .join(AlertRow, AlertRow.id == CheckInRow.alert_id)
            .where(
                AlertRow.collective_id == collective_id,
                CheckInRow.due_at >= start,
                CheckInRow.due_at < end,
            )
            .order_by(CheckInRow.due_at, CheckInRow.id)
        )
        return await self._list(CheckIn, stmt)

    async def scheduled_for(self, member_ids: Sequence[str], until: datetime) -> Sequence[CheckIn]:
        if not member_ids:
            return []
        stmt = (
            select(CheckInRow)
            .where(
                CheckInRow.member_id.in_(set(member_ids)),
                CheckInRow.status == CheckInStatus.SCHEDULED.value,
                CheckInRow.due_at <= until,
            )
            .order_by(CheckInRow.due_at, CheckInRow.id)
        )
        return await self._claim(CheckIn, stmt)

    async def in_group(self, group_id: str) -> Sequence[CheckIn]:
        stmt = (
            select(CheckInRow)
            .where(CheckInRow.group_id == group_id)
            .order_by(CheckInRow.due_at, CheckInRow.id)
        )
        return await self._list(CheckIn, stmt)

    async def last_sent(self, member_ids: Sequence[str]) -> Mapping[str, datetime]:
        if not member_ids:
            return {}
        stmt = (
            select(CheckInRow.member_id, func.max(CheckInRow.sent_at))
            .where(CheckInRow.member_id.in_(set(member_ids)), CheckInRow.sent_at.is_not(None))
            .group_by(CheckInRow.member_id)
        )
        return {
            member_id: utc(at)
            for member_id, at in await self._session.execute(stmt)
            if at is not None
        }

    async def add(self, checkin: CheckIn) -> None:
        await self._add(CheckInRow(**to_values(checkin)))

    async def save(self, checkin: CheckIn) -> None:
        await self._save(CheckInRow, checkin)

    async def delete_for_member(self, member_id: str) -> int:
        return await self._delete(delete(CheckInRow).where(CheckInRow.member_id == member_id))
