"""Aggregate figures for health checks and metrics: counts only, never personal data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.model import OutboxStatus
from bot.store.tables import AlertRow, OutboxRow


@dataclass(frozen=True)
class Figures:
    outbox_pending: int
    outbox_oldest_due: datetime | None
    outbox_failed: int
    outbox_by_platform: dict[tuple[str, str], int]  # (platform, status) -> rows
    alerts_by_status: dict[str, int]
    alerts_by_severity: dict[str, int]
    alerts_by_kind: dict[str, int]  # raised in the last 30 days
    escalations: int
    first_response_seconds: list[float]  # alerts answered in the last 7 days


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def figures(engine: AsyncEngine, now: datetime) -> Figures:
    async with engine.connect() as conn:
        pending = (
            await conn.execute(
                select(func.count(), func.min(OutboxRow.due_at)).where(
                    OutboxRow.status == OutboxStatus.PENDING.value
                )
            )
        ).one()
        by_platform = (
            await conn.execute(
                select(OutboxRow.platform, OutboxRow.status, func.count()).group_by(
                    OutboxRow.platform, OutboxRow.status
                )
            )
        ).all()
        statuses = (
            await conn.execute(select(AlertRow.status, func.count()).group_by(AlertRow.status))
        ).all()
        severities = (
            await conn.execute(select(AlertRow.severity, func.count()).group_by(AlertRow.severity))
        ).all()
        # Kinds live in a JSON list: counted in Python, over the last 30 days only.
        kinds_rows = (
            (
                await conn.execute(
                    select(AlertRow.kinds).where(AlertRow.raised_at >= now - timedelta(days=30))
                )
            )
            .scalars()
            .all()
        )
        escalations = await conn.scalar(
            select(func.coalesce(func.sum(AlertRow.escalation_step), 0))
        )
        recent = (
            await conn.execute(
                select(AlertRow.activated_at, AlertRow.first_response_at).where(
                    AlertRow.first_response_at >= now - timedelta(days=7),
                    AlertRow.activated_at.is_not(None),
                )
            )
        ).all()
    kinds: dict[str, int] = {}
    for row_kinds in kinds_rows:
        for kind in row_kinds or []:
            kinds[kind] = kinds.get(kind, 0) + 1
    oldest = pending[1]
    return Figures(
        outbox_pending=int(pending[0]),
        outbox_oldest_due=oldest,
        outbox_failed=sum(n for _, s, n in by_platform if s == OutboxStatus.FAILED.value),
        outbox_by_platform={(p, s): int(n) for p, s, n in by_platform},
        alerts_by_status={s: int(n) for s, n in statuses},
        alerts_by_severity={s: int(n) for s, n in severities},
        alerts_by_kind=kinds,
        escalations=int(escalations or 0),
        first_response_seconds=[
            (answered - activated).total_seconds()
            for activated, answered in recent
            if activated is not None and answered is not None
        ],
    )
