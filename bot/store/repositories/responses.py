"""Responses to alerts and who was rallied to each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import delete, func, select

from bot.core.model import AlertStatus, Rallied, Response, ResponseState
from bot.core.ports import RalliedRepo, ResponseRepo
from bot.store.convert import to_domain, to_values
from bot.store.repositories.base import SqlRepo
from bot.store.tables import AlertRow, RalliedRow, ResponseRow


class SqlResponseRepo(SqlRepo, ResponseRepo):
    async def get(self, alert_id: str, member_id: str) -> Response | None:
        return await self._get(Response, ResponseRow, alert_id, member_id)

    async def for_alert(self, alert_id: str) -> Sequence[Response]:
        return await self.for_alerts([alert_id])

    async def for_alerts(self, alert_ids: Sequence[str]) -> Sequence[Response]:
        if not alert_ids:
            return []
        stmt = (
            select(ResponseRow)
            .where(ResponseRow.alert_id.in_(alert_ids))
            .order_by(ResponseRow.alert_id, ResponseRow.first_at, ResponseRow.member_id)
        )
        return await self._list(Response, stmt)

    async def due_reminders(self, updated_before: datetime, limit: int) -> Sequence[Response]:
        stmt = (
            select(ResponseRow)
            .join(AlertRow, AlertRow.id == ResponseRow.alert_id)
            .where(
                AlertRow.status == AlertStatus.ACTIVE.value,
                ResponseRow.state == ResponseState.ON_IT.value,
                ResponseRow.updated_at < updated_before,
                ResponseRow.reminded_at.is_(None),
            )
            .order_by(ResponseRow.updated_at, ResponseRow.alert_id, ResponseRow.member_id)
            .limit(limit)
        )
        if self._dialect == "postgresql":
            stmt = stmt.with_for_update(of=ResponseRow, skip_locked=True)
        rows = await self._session.scalars(stmt, execution_options={"populate_existing": True})
        return [to_domain(Response, row) for row in rows]

    async def first_between(
        self, collective_id: str, start: datetime, end: datetime
    ) -> Sequence[Response]:
        stmt = (
            select(ResponseRow)
            .join(AlertRow, AlertRow.id == ResponseRow.alert_id)
            .where(
                AlertRow.collective_id == collective_id,
                ResponseRow.first_at >= start,
                ResponseRow.first_at < end,
            )
            .order_by(ResponseRow.first_at, ResponseRow.alert_id, ResponseRow.member_id)
        )
        return await self._list(Response, stmt)

    async def tally(
        self, alert_id: str, named: int
    ) -> tuple[Mapping[ResponseState, int], Sequence[Response]]:
        counted = select(ResponseRow.state, func.count()).where(ResponseRow.alert_id == alert_id)
        counts = dict.fromkeys(ResponseState, 0)
        for state, n in await self._session.execute(counted.group_by(ResponseRow.state)):
            counts[ResponseState(state)] = int(n)
        first = (
            select(ResponseRow)
            .where(ResponseRow.alert_id == alert_id, ResponseRow.state != ResponseState.CANT.value)
            .order_by(ResponseRow.first_at, ResponseRow.member_id)
            .limit(named)
        )
        return counts, await self._list(Response, first)

    async def helping_per_member(
        self, collective_id: str, start: datetime, end: datetime
    ) -> Mapping[str, int]:
        stmt = (
            select(ResponseRow.member_id, func.count())
            .join(AlertRow, AlertRow.id == ResponseRow.alert_id)
            .where(
                AlertRow.collective_id == collective_id,
                ResponseRow.first_at >= start,
                ResponseRow.first_at < end,
                ResponseRow.state != ResponseState.CANT.value,
            )
            .group_by(ResponseRow.member_id)
        )
        return {member_id: int(n) for member_id, n in await self._session.execute(stmt)}

    async def save(self, response: Response) -> None:
        values = to_values(response)
        insert = self._insert(ResponseRow).values(values)
        stmt = insert.on_conflict_do_update(
            index_elements=[ResponseRow.alert_id, ResponseRow.member_id],
            set_={
                name: insert.excluded[name]
                for name in values
                if name not in ("alert_id", "member_id")
            },
        ).returning(ResponseRow)
        # An upsert, not read-then-write, so two clicks racing in two transactions cannot
        # both insert; RETURNING + populate_existing keeps a row already loaded up to date.
        await self._session.execute(
            stmt, execution_options={"synchronize_session": False, "populate_existing": True}
        )

    async def delete_for_member(self, member_id: str) -> int:
        return await self._delete(delete(ResponseRow).where(ResponseRow.member_id == member_id))


class SqlRalliedRepo(SqlRepo, RalliedRepo):
    async def for_alert(self, alert_id: str) -> Sequence[Rallied]:
        stmt = (
            select(RalliedRow)
            .where(RalliedRow.alert_id == alert_id)
            .order_by(RalliedRow.wave, RalliedRow.at, RalliedRow.member_id)
        )
        return await self._list(Rallied, stmt)

    async def add_many(self, rows: Sequence[Rallied]) -> None:
        await self._add(*(RalliedRow(**to_values(r)) for r in rows))
