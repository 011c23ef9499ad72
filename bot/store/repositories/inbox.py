"""The inbox as the core sees it: requests waiting to be worked (the workers' SQL is
bot/store/inbox.py)."""

from __future__ import annotations

from sqlalchemy import delete

from bot.core.ports import InboxRepo
from bot.store.repositories.base import SqlRepo
from bot.store.tables import InboxRow


class SqlInboxRepo(SqlRepo, InboxRepo):
    async def drop_waiting(self, platform: str, workspace: str, user: str) -> int:
        # A row a worker holds is left to it; on PostgreSQL a claim that locked the row first
        # makes this DELETE wait, then skip the row, now claimed.
        return await self._delete(
            delete(InboxRow).where(
                InboxRow.platform == platform,
                InboxRow.workspace == workspace,
                InboxRow.user == user,
                InboxRow.worked_at.is_(None),
                InboxRow.claimed_by.is_(None),
            )
        )
