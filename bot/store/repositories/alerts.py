"""Alerts: lookups, the digest's figures, and the due work claimed from them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, text

from bot.core.model import Alert, AlertStatus, CloseReason
from bot.core.ports import AlertRepo, FirstResponseTimes
from bot.store.convert import to_domain, to_values
from bot.store.repositories.base import SqlRepo
from bot.store.tables import OPEN, AlertRow, CheckInRow, EvidenceRow, ResponseRow
from bot.store.types import UTCDateTime


class SqlAlertRepo(SqlRepo, AlertRepo):
    async def get(self, alert_id: str) -> Alert | None:
        return await self._get(Alert, AlertRow, alert_id)

    async def lock(self, alert_id: str) -> Alert | None:
        # FOR UPDATE on PostgreSQL (SQLite renders none: its one connection already runs one
        # transaction at a time); populate_existing re-reads a row this session holds.
        stmt = select(AlertRow).where(AlertRow.id == alert_id).with_for_update()
        row = (
            await self._session.scalars(stmt, execution_options={"populate_existing": True})
        ).one_or_none()
        return None if row is None else to_domain(Alert, row)

    async def many(self, alert_ids: Sequence[str]) -> Sequence[Alert]:
        if not alert_ids:
            return []
        return await self._list(Alert, select(AlertRow).where(AlertRow.id.in_(set(alert_ids))))

    async def raisers_of_links(
        self, collective_id: str, links: frozenset[str], start: datetime, end: datetime
    ) -> set[str]:
        # Two columns, not whole alerts: every raise asks, and a busy window holds many.
        stmt = select(AlertRow.raised_by_id, AlertRow.links).where(
            AlertRow.collective_id == collective_id,
            AlertRow.raised_at >= start,
            AlertRow.raised_at < end,
        )
        return {raiser for raiser, named in await self._session.execute(stmt) if links & set(named)}

    async def first_response_times(
        self, collective_id: str, start: datetime, end: datetime
    ) -> Sequence[FirstResponseTimes]:
        stmt = (
            select(AlertRow.raised_at, AlertRow.activated_at, AlertRow.first_response_at)
            .where(
                AlertRow.collective_id == collective_id,
                AlertRow.raised_at >= start,
                AlertRow.raised_at < end,
            )
            .order_by(AlertRow.raised_at, AlertRow.id)
        )
        return [FirstResponseTimes(*row) for row in await self._session.execute(stmt)]

    async def by_number(self, collective_id: str, number: int) -> Alert | None:
        stmt = select(AlertRow).where(
            AlertRow.collective_id == collective_id, AlertRow.number == number
        )
        return await self._one(Alert, stmt)

    async def open_for_collective(self, collective_id: str) -> Sequence[Alert]:
        stmt = (
            select(AlertRow)
            # The predicate as a literal, exactly the partial index's: SQLite then reads the
            # few open alerts from ix_alerts_open, not the collective's whole history.
            .where(AlertRow.collective_id == collective_id, text(f"alerts.{OPEN}"))
            .order_by(AlertRow.number)
        )
        return await self._list(Alert, stmt)

    async def for_target(self, member_id: str) -> Sequence[Alert]:
        stmt = (
            select(AlertRow)
            .where(AlertRow.target_id == member_id)
            .order_by(AlertRow.raised_at, AlertRow.id)
        )
        return await self._list(Alert, stmt)

    async def raised_by_since(self, member_id: str, since: datetime) -> int:
        stmt = select(func.count()).where(
            AlertRow.raised_by_id == member_id, AlertRow.raised_at >= since
        )
        return (await self._session.execute(stmt)).scalar_one()

    async def raised_between(
        self, collective_id: str, start: datetime, end: datetime
    ) -> Sequence[Alert]:
        """Alerts raised in [start, end)."""
        stmt = (
            select(AlertRow)
            .where(
                AlertRow.collective_id == collective_id,
                AlertRow.raised_at >= start,
                AlertRow.raised_at < end,
            )
            .order_by(AlertRow.raised_at, AlertRow.id)
        )
        return await self._list(Alert, stmt)

    async def due_escalations(self, now: datetime, limit: int) -> Sequence[Alert]:
        stmt = (
            select(AlertRow)
            .where(
                AlertRow.status.in_(
                    [
                        AlertStatus.ACTIVE.value,
                        AlertStatus.SAFETY_REVIEW.value,
                        AlertStatus.PENDING_CONSENT.value,
                        AlertStatus.HELD.value,
                    ]
                ),
                AlertRow.escalate_at <= now,
            )
            .order_by(AlertRow.escalate_at, AlertRow.id)
            .limit(limit)
        )
        return await self._claim(Alert, stmt)

    async def due_purge(self, closed_before: datetime, limit: int) -> Sequence[Alert]:
        stmt = (
            select(AlertRow)
            .where(
                AlertRow.status == AlertStatus.CLOSED.value,
                AlertRow.closed_at < closed_before,
                AlertRow.purged_at.is_(None),
            )
            .order_by(AlertRow.closed_at, AlertRow.id)
            .limit(limit)
        )
        return await self._claim(Alert, stmt)

    async def forgotten_cases(self, closed_before: datetime, limit: int) -> Sequence[Alert]:
        stmt = (
            select(AlertRow)
            .where(
                AlertRow.status == AlertStatus.CLOSED.value,
                AlertRow.close_reason == CloseReason.FORGOTTEN.value,
                AlertRow.closed_at < closed_before,
                AlertRow.purged_at.is_(None),
            )
            .order_by(AlertRow.closed_at, AlertRow.id)
            .limit(limit)
        )
        return await self._claim(Alert, stmt)

    def _activity(self) -> ColumnElement[datetime]:
        """An alert's last activity, computed in the database from what is recorded anyway."""

        def latest(column: Any, alert_id: Any) -> Any:
            return select(func.max(column)).where(alert_id == AlertRow.id).scalar_subquery()

        parts = [
            func.coalesce(part, AlertRow.raised_at)
            for part in (
                AlertRow.consented_at,
                AlertRow.activated_at,
                AlertRow.first_response_at,
                AlertRow.last_escalated_at,
                AlertRow.kept_open_at,
                latest(ResponseRow.updated_at, ResponseRow.alert_id),
                latest(EvidenceRow.added_at, EvidenceRow.alert_id),
                latest(CheckInRow.answered_at, CheckInRow.alert_id),
            )
        ]
        # GREATEST on PostgreSQL; SQLite's max() with several arguments is the same.
        name = func.greatest if self._dialect == "postgresql" else func.max
        return name(AlertRow.raised_at, *parts, type_=UTCDateTime())

    async def last_activity(self, alert_id: str) -> datetime | None:
        stmt = select(self._activity()).where(AlertRow.id == alert_id)
        return (await self._session.execute(stmt)).scalar_one_or_none()

    async def idle(self, active_before: datetime, limit: int) -> Sequence[Alert]:
        stmt = (
            select(AlertRow)
            .where(
                text(f"alerts.{OPEN}"),
                AlertRow.idle_notice_at.is_(None),
                self._activity() < active_before,
            )
            .order_by(AlertRow.raised_at, AlertRow.id)
            .limit(limit)
        )
        return await self._claim_alerts(stmt)

    async def noticed_before(self, before: datetime, limit: int) -> Sequence[Alert]:
        stmt = (
            select(AlertRow)
            .where(text(f"alerts.{OPEN}"), AlertRow.idle_notice_at < before)
            .order_by(AlertRow.idle_notice_at, AlertRow.id)
            .limit(limit)
        )
        return await self._claim_alerts(stmt)

    async def _claim_alerts(self, stmt: Select[AlertRow]) -> list[Alert]:
        if self._dialect == "postgresql":
            stmt = stmt.with_for_update(of=AlertRow, skip_locked=True)
        rows = await self._session.scalars(stmt, execution_options={"populate_existing": True})
        return [to_domain(Alert, row) for row in rows]

    async def add(self, alert: Alert) -> None:
        await self._add(AlertRow(**to_values(alert)))

    async def save(self, alert: Alert) -> None:
        await self._save(AlertRow, alert)
