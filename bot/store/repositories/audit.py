"""The audit log."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from bot.core.model import AuditEvent
from bot.core.ports import AuditRepo
from bot.store.convert import to_values
from bot.store.repositories.base import SqlRepo
from bot.store.tables import AuditEventRow


class SqlAuditRepo(SqlRepo, AuditRepo):
    async def add(self, event: AuditEvent) -> None:
        await self._add(AuditEventRow(**to_values(event)))

    async def recent(self, collective_id: str, limit: int) -> Sequence[AuditEvent]:
        """The newest events first."""
        stmt = (
            select(AuditEventRow)
            .where(AuditEventRow.collective_id == collective_id)
            .order_by(AuditEventRow.at.desc(), AuditEventRow.id.desc())
            .limit(limit)
        )
        return await self._list(AuditEvent, stmt)
