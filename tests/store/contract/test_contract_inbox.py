"""The repository contract: forget-me drops a person's requests waiting in the inbox, and only
those no worker holds or has worked."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.core.ports import UnitOfWork
from bot.store.tables import InboxRow
from bot.store.uow import SqlUnitOfWork
from tests.fakes import InboxRequest, MemoryUnitOfWork
from tests.support.builders import T0, Uow, at, new_id

TYPED = {"text": "alert https://x.com/troll/status/1 what she typed"}


async def a_request(
    u: UnitOfWork,
    platform: str,
    workspace: str,
    user: str,
    claimed_by: str | None = None,
    worked_at: datetime | None = None,
) -> str:
    """An inbox row as the entry points and workers leave it (they write SQL of their own:
    the port only deletes)."""
    rid = new_id()
    if isinstance(u, SqlUnitOfWork):
        row = InboxRow(
            id=rid,
            platform=platform,
            request_id=rid,
            workspace=workspace,
            user=user,
            kind="command",
            payload=TYPED,
            created_at=T0,
            next_try=T0,
            attempts=1 if claimed_by or worked_at else 0,
            claimed_by=claimed_by,
            worked_at=worked_at,
        )
        u.session.add(row)
        await u.session.flush()
    else:
        assert isinstance(u, MemoryUnitOfWork)
        u.tables.inbox[rid] = InboxRequest(
            rid, platform, workspace, user, dict(TYPED), claimed_by, worked_at
        )
    return rid


async def left(u: UnitOfWork) -> set[str]:
    if isinstance(u, SqlUnitOfWork):
        return set(await u.session.scalars(select(InboxRow.id)))
    assert isinstance(u, MemoryUnitOfWork)
    return set(u.tables.inbox)


async def test_drop_waiting_deletes_only_that_persons_requests_nobody_holds_or_worked(
    uow: Uow,
) -> None:
    async with uow() as u:
        waiting = [await a_request(u, "slack", "T1", "UANA") for _ in range(2)]
        kept = {
            # The forgetme itself, or a request another worker is working right now.
            await a_request(u, "slack", "T1", "UANA", claimed_by="worker-1"),
            # Worked, its answer not sent yet (its worker stopped and gave it back).
            await a_request(u, "slack", "T1", "UANA", worked_at=at(1)),
            await a_request(u, "slack", "T1", "UBEN"),  # someone else
            await a_request(u, "slack", "T2", "UANA"),  # the same id in another workspace
            await a_request(u, "discord", "T1", "UANA"),  # the same id on another platform
        }
        await u.commit()
    async with uow() as u:
        assert await u.inbox.drop_waiting("slack", "T1", "UANA") == 2
        assert await left(u) == kept
        await u.commit()
    async with uow() as u:
        assert await left(u) == kept and not set(waiting) & await left(u)
        assert await u.inbox.drop_waiting("slack", "T1", "UANA") == 0
        assert await u.inbox.drop_waiting("discord", "", "UANA") == 0


async def test_dropped_requests_come_back_when_the_transaction_rolls_back(uow: Uow) -> None:
    async with uow() as u:
        rid = await a_request(u, "discord", "", "4242")
        await u.commit()
    async with uow() as u:
        assert await u.inbox.drop_waiting("discord", "", "4242") == 1
        await u.rollback()
        assert await left(u) == {rid}
