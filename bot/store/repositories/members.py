"""Members, their platform identities and the codes that link them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.model import Identity, LinkCode, Member, MemberStatus
from bot.core.ports import IdentityRepo, LinkCodeRepo, MemberRepo
from bot.store.convert import to_domain, to_values
from bot.store.repositories.base import SqlRepo, rowcount
from bot.store.tables import IdentityRow, LinkCodeRow, MemberRow


class SqlMemberRepo(SqlRepo, MemberRepo):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self._seen: dict[str, str] = {}

    def _note(self, members: Iterable[Member | None]) -> None:
        for m in members:
            if m is None:
                continue
            if m.status is MemberStatus.FORGOTTEN:
                self._seen.pop(m.id, None)
            else:
                self._seen[m.id] = m.display_name

    def seen(self) -> Mapping[str, str]:
        return dict(self._seen)

    async def get(self, member_id: str) -> Member | None:
        found = await self._get(Member, MemberRow, member_id)
        self._note([found])
        return found

    async def by_handle(self, collective_id: str, handle: str) -> Member | None:
        stmt = select(MemberRow).where(
            MemberRow.collective_id == collective_id, MemberRow.handle == handle
        )
        found = await self._one(Member, stmt)
        self._note([found])
        return found

    async def for_collective(self, collective_id: str) -> Sequence[Member]:
        stmt = (
            select(MemberRow)
            .where(
                MemberRow.collective_id == collective_id,
                MemberRow.status != MemberStatus.FORGOTTEN.value,
            )
            .order_by(MemberRow.handle)
        )
        found = await self._list(Member, stmt)
        self._note(found)
        return found

    async def many(self, member_ids: Sequence[str]) -> Sequence[Member]:
        """The members with these ids, in the order asked; unknown ids are left out."""
        if not member_ids:
            return []
        found = {
            m.id: m
            for m in await self._list(Member, select(MemberRow).where(MemberRow.id.in_(member_ids)))
        }
        self._note(found.values())
        return [found[i] for i in dict.fromkeys(member_ids) if i in found]

    async def lock_many(self, member_ids: Sequence[str]) -> Sequence[Member]:
        if not member_ids:
            return []
        # FOR UPDATE in id order (no two workers wait on each other in a cycle); SQLite runs
        # one transaction at a time already. populate_existing re-reads rows held.
        stmt = (
            select(MemberRow)
            .where(MemberRow.id.in_(set(member_ids)))
            .order_by(MemberRow.id)
            .with_for_update()
        )
        rows = await self._session.scalars(stmt, execution_options={"populate_existing": True})
        locked = [to_domain(Member, row) for row in rows]
        self._note(locked)
        return locked

    async def add(self, member: Member) -> None:
        await self._add(MemberRow(**to_values(member)))
        self._note([member])

    async def save(self, member: Member) -> None:
        await self._save(MemberRow, member)
        self._note([member])

    async def delete(self, member_id: str) -> None:
        await self._delete(delete(IdentityRow).where(IdentityRow.member_id == member_id))
        await self._delete(delete(LinkCodeRow).where(LinkCodeRow.member_id == member_id))
        await self._delete(delete(MemberRow).where(MemberRow.id == member_id))
        self._seen.pop(member_id, None)

    async def expired_requests(self, joined_before: datetime, limit: int) -> Sequence[Member]:
        stmt = (
            select(MemberRow)
            .where(
                MemberRow.status == MemberStatus.PENDING.value,
                MemberRow.joined_at < joined_before,
            )
            .order_by(MemberRow.joined_at, MemberRow.id)
            .limit(limit)
        )
        return await self._claim(Member, stmt)

    async def mark_rallied(self, member_ids: Sequence[str], at: datetime) -> None:
        if member_ids:
            # One UPDATE for the whole wave; "evaluate" also updates rows this session holds.
            stmt = update(MemberRow).where(MemberRow.id.in_(member_ids)).values(last_rallied_at=at)
            await self._session.execute(stmt, execution_options={"synchronize_session": "evaluate"})

    async def display_names(self, member_ids: Sequence[str]) -> Mapping[str, str]:
        if not member_ids:
            return {}
        stmt = select(MemberRow.id, MemberRow.display_name).where(
            MemberRow.id.in_(set(member_ids)), MemberRow.status != MemberStatus.FORGOTTEN.value
        )
        names = {member_id: name for member_id, name in await self._session.execute(stmt)}
        self._seen.update(names)
        return names

    async def digest_people(
        self, collective_id: str, joined_from: datetime, joined_to: datetime
    ) -> tuple[list[str], list[str]]:
        joined = (
            select(MemberRow.id, MemberRow.display_name)
            .where(
                MemberRow.collective_id == collective_id,
                MemberRow.status == MemberStatus.ACTIVE.value,
                MemberRow.joined_at >= joined_from,
                MemberRow.joined_at < joined_to,
            )
            .order_by(MemberRow.display_name)
        )
        pending = (
            select(MemberRow.id, MemberRow.display_name)
            .where(
                MemberRow.collective_id == collective_id,
                MemberRow.status == MemberStatus.PENDING.value,
            )
            .order_by(MemberRow.display_name)
        )
        new: dict[str, str] = {i: n for i, n in await self._session.execute(joined)}
        waiting: dict[str, str] = {i: n for i, n in await self._session.execute(pending)}
        self._seen.update(new)
        self._seen.update(waiting)
        # Sorted again in Python: the database's collation may order names differently.
        return sorted(new.values()), sorted(waiting.values())


class SqlIdentityRepo(SqlRepo, IdentityRepo):
    async def find(self, platform: str, workspace: str, user: str) -> Identity | None:
        stmt = select(IdentityRow).where(
            IdentityRow.platform == platform,
            IdentityRow.workspace == workspace,
            IdentityRow.user == user,
        )
        return await self._one(Identity, stmt)

    async def for_members(self, member_ids: Sequence[str]) -> Sequence[Identity]:
        if not member_ids:
            return []
        stmt = (
            select(IdentityRow)
            .where(IdentityRow.member_id.in_(member_ids))
            .order_by(
                IdentityRow.member_id, IdentityRow.platform, IdentityRow.workspace, IdentityRow.id
            )
        )
        return await self._list(Identity, stmt)

    async def add(self, identity: Identity) -> None:
        await self._add(IdentityRow(**to_values(identity)))

    async def delete_for_member(self, member_id: str) -> int:
        return await self._delete(delete(IdentityRow).where(IdentityRow.member_id == member_id))

    async def in_workspace(
        self, collective_id: str, platform: str, workspace: str
    ) -> Sequence[Identity]:
        stmt = (
            select(IdentityRow)
            .join(MemberRow, MemberRow.id == IdentityRow.member_id)
            .where(
                MemberRow.collective_id == collective_id,
                IdentityRow.platform == platform,
                IdentityRow.workspace == workspace,
            )
            .order_by(IdentityRow.member_id, IdentityRow.id)
        )
        return await self._list(Identity, stmt)

    async def delete(self, identity_ids: Sequence[str]) -> int:
        if not identity_ids:
            return 0
        stmt = delete(IdentityRow).where(IdentityRow.id.in_(list(identity_ids)))
        return rowcount(
            await self._session.execute(stmt, execution_options={"synchronize_session": False})
        )


class SqlLinkCodeRepo(SqlRepo, LinkCodeRepo):
    async def get(self, code: str) -> LinkCode | None:
        return await self._get(LinkCode, LinkCodeRow, code)

    async def add(self, link_code: LinkCode) -> None:
        await self._add(LinkCodeRow(**to_values(link_code)))

    async def delete(self, code: str) -> None:
        await self._delete(delete(LinkCodeRow).where(LinkCodeRow.code == code))

    async def delete_for_member(self, member_id: str) -> int:
        return await self._delete(delete(LinkCodeRow).where(LinkCodeRow.member_id == member_id))

    async def delete_expired(self, now: datetime) -> int:
        return await self._delete(delete(LinkCodeRow).where(LinkCodeRow.expires_at <= now))
