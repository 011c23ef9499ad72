"""Evidence items kept with an alert."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select, update

from bot.core.model import Evidence
from bot.core.ports import EvidenceRepo
from bot.store.convert import to_values
from bot.store.repositories.base import SqlRepo, rowcount
from bot.store.tables import EvidenceRow


class SqlEvidenceRepo(SqlRepo, EvidenceRepo):
    async def for_alert(self, alert_id: str) -> Sequence[Evidence]:
        stmt = (
            select(EvidenceRow)
            .where(EvidenceRow.alert_id == alert_id)
            .order_by(EvidenceRow.added_at, EvidenceRow.id)
        )
        return await self._list(Evidence, stmt)

    async def add(self, evidence: Evidence) -> None:
        await self._add(EvidenceRow(**to_values(evidence)))

    async def delete_for_alert(self, alert_id: str) -> int:
        return await self._delete(delete(EvidenceRow).where(EvidenceRow.alert_id == alert_id))

    async def anonymise_author(self, member_id: str, replacement: str) -> int:
        stmt = (
            update(EvidenceRow)
            .where(EvidenceRow.added_by_id == member_id)
            .values(added_by_id=replacement)
        )
        return rowcount(await self._session.execute(stmt))
