"""The core's repository ports over an AsyncSession; each method is one SQL statement."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Delete,
    Result,
    Select,
    Text,
    delete,
    exists,
    func,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.core.model import (
    Alert,
    AlertStatus,
    AuditEvent,
    CheckIn,
    CheckInStatus,
    CloseReason,
    Collective,
    Evidence,
    Identity,
    LibraryEntry,
    LibraryUse,
    LinkCode,
    Member,
    MemberStatus,
    OutboxItem,
    OutboxStatus,
    Rallied,
    Response,
    ResponseState,
    Space,
)
from bot.core.ports import (
    AlertRepo,
    AuditRepo,
    CheckInRepo,
    CollectiveRepo,
    Destination,
    EvidenceRepo,
    FirstResponseTimes,
    IdentityRepo,
    LibraryRepo,
    LinkCodeRepo,
    MemberRepo,
    OutboxRepo,
    RalliedRepo,
    ResponseRepo,
    SpaceRepo,
)
from bot.store.convert import copy_to_row, to_domain, to_values
from bot.store.tables import (
    OPEN,
    AlertRow,
    AuditEventRow,
    Base,
    CheckInRow,
    CollectiveRow,
    EvidenceRow,
    IdentityRow,
    LibraryEntryRow,
    LibraryUseRow,
    LinkCodeRow,
    MemberRow,
    OutboxRow,
    RalliedRow,
    ResponseRow,
    SpaceRow,
)
from bot.store.types import UTCDateTime

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

D = TypeVar("D", bound="DataclassInstance")
R = TypeVar("R", bound=Base)

POST = "post"
_MESSAGE = frozenset({"payload", "about"})  # what only adding, rewriting or settling writes


class _Repo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @property
    def _dialect(self) -> str:
        return self._session.get_bind().dialect.name

    async def _get(self, cls: type[D], row_cls: type[Base], *pk: str) -> D | None:
        row = await self._session.get(row_cls, pk if len(pk) > 1 else pk[0])
        return None if row is None else to_domain(cls, row)

    async def _one(self, cls: type[D], stmt: Select[R]) -> D | None:
        row = (await self._session.scalars(stmt.limit(1))).first()
        return None if row is None else to_domain(cls, row)

    async def _list(self, cls: type[D], stmt: Select[R]) -> list[D]:
        return [to_domain(cls, row) for row in await self._session.scalars(stmt)]

    async def _claim(self, cls: type[D], stmt: Select[R]) -> list[D]:
        """Rows for one worker to process; other PostgreSQL workers skip them until commit."""
        if self._dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        rows = await self._session.scalars(stmt, execution_options={"populate_existing": True})
        return [to_domain(cls, row) for row in rows]

    async def _add(self, *rows: Base) -> None:
        self._session.add_all(rows)
        # Flushed at once: without relationship()s the ORM does not know that a member must
        # be inserted before its alert, so a later batched flush could send them reversed.
        await self._session.flush()

    async def _save(
        self, row_cls: type[Base], obj: DataclassInstance, exclude: frozenset[str] = frozenset()
    ) -> None:
        pk = tuple(getattr(obj, column.name) for column in inspect(row_cls).primary_key)
        row = await self._session.get(row_cls, pk if len(pk) > 1 else pk[0])
        if row is None:
            await self._add(row_cls(**to_values(obj)))
        else:
            copy_to_row(obj, row, exclude)

    async def _delete(self, stmt: Delete) -> int:
        return _rowcount(await self._session.execute(stmt))

    def _insert(self, row_cls: type[Base]) -> sqlite.Insert | postgresql.Insert:
        """An INSERT that knows ON CONFLICT, in the session's dialect."""
        match self._dialect:
            case "sqlite":
                return sqlite.insert(row_cls)
            case "postgresql":
                return postgresql.insert(row_cls)
            case other:
                raise NotImplementedError(f"no upsert for the {other} dialect")


def _utc(at: datetime) -> datetime:
    """An aggregate's datetime (SQLite hands it back naive, and as text): aware UTC."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _rowcount(result: Result[Any]) -> int:
    assert isinstance(result, CursorResult)
    return result.rowcount


class SqlCollectiveRepo(_Repo, CollectiveRepo):
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
        return await self._list(Collective, select(CollectiveRow).order_by(CollectiveRow.name))

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


class SqlSpaceRepo(_Repo, SpaceRepo):
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


class SqlMemberRepo(_Repo, MemberRepo):
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


class SqlIdentityRepo(_Repo, IdentityRepo):
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
            .order_by(IdentityRow.member_id, IdentityRow.platform, IdentityRow.workspace)
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
        return _rowcount(
            await self._session.execute(stmt, execution_options={"synchronize_session": False})
        )


class SqlLinkCodeRepo(_Repo, LinkCodeRepo):
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


class SqlAlertRepo(_Repo, AlertRepo):
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


class SqlResponseRepo(_Repo, ResponseRepo):
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


class SqlRalliedRepo(_Repo, RalliedRepo):
    async def for_alert(self, alert_id: str) -> Sequence[Rallied]:
        stmt = (
            select(RalliedRow)
            .where(RalliedRow.alert_id == alert_id)
            .order_by(RalliedRow.wave, RalliedRow.at, RalliedRow.member_id)
        )
        return await self._list(Rallied, stmt)

    async def add_many(self, rows: Sequence[Rallied]) -> None:
        await self._add(*(RalliedRow(**to_values(r)) for r in rows))


class SqlCheckInRepo(_Repo, CheckInRepo):
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
            member_id: _utc(at)
            for member_id, at in await self._session.execute(stmt)
            if at is not None
        }

    async def add(self, checkin: CheckIn) -> None:
        await self._add(CheckInRow(**to_values(checkin)))

    async def save(self, checkin: CheckIn) -> None:
        await self._save(CheckInRow, checkin)

    async def delete_for_member(self, member_id: str) -> int:
        return await self._delete(delete(CheckInRow).where(CheckInRow.member_id == member_id))


class SqlEvidenceRepo(_Repo, EvidenceRepo):
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
        return _rowcount(await self._session.execute(stmt))


class SqlLibraryRepo(_Repo, LibraryRepo):
    async def get(self, entry_id: str) -> LibraryEntry | None:
        return await self._get(LibraryEntry, LibraryEntryRow, entry_id)

    async def by_number(self, collective_id: str, number: int) -> LibraryEntry | None:
        stmt = select(LibraryEntryRow).where(
            LibraryEntryRow.collective_id == collective_id, LibraryEntryRow.number == number
        )
        return await self._one(LibraryEntry, stmt)

    async def for_collective(self, collective_id: str) -> Sequence[LibraryEntry]:
        stmt = (
            select(LibraryEntryRow)
            .where(LibraryEntryRow.collective_id == collective_id)
            .order_by(LibraryEntryRow.number)
        )
        return await self._list(LibraryEntry, stmt)

    async def next_number(self, collective_id: str) -> int:
        stmt = select(func.coalesce(func.max(LibraryEntryRow.number), 0)).where(
            LibraryEntryRow.collective_id == collective_id
        )
        return int((await self._session.execute(stmt)).scalar_one()) + 1

    async def add(self, entry: LibraryEntry) -> None:
        await self._add(LibraryEntryRow(**to_values(entry)))

    async def save(self, entry: LibraryEntry) -> None:
        # uses moves only through add_use: a copy read earlier must not undo a count.
        await self._save(LibraryEntryRow, entry, exclude=frozenset({"uses"}))

    async def delete(self, entry_id: str) -> None:
        await self._delete(delete(LibraryUseRow).where(LibraryUseRow.entry_id == entry_id))
        await self._delete(delete(LibraryEntryRow).where(LibraryEntryRow.id == entry_id))

    async def add_use(self, use: LibraryUse) -> bool:
        stmt = (
            self._insert(LibraryUseRow)
            .values(**to_values(use))
            .on_conflict_do_nothing(index_elements=["entry_id", "alert_id", "member_id"])
        )
        if not _rowcount(await self._session.execute(stmt)):
            return False
        await self._session.execute(
            update(LibraryEntryRow)
            .where(LibraryEntryRow.id == use.entry_id)
            .values(uses=LibraryEntryRow.uses + 1),
            execution_options={"synchronize_session": False},
        )
        return True

    async def most_used(
        self, collective_id: str, start: datetime, end: datetime, limit: int
    ) -> Sequence[tuple[LibraryEntry, int]]:
        count = func.count(LibraryUseRow.id).label("n")
        stmt = (
            select(LibraryEntryRow, count)
            .join(LibraryUseRow, LibraryUseRow.entry_id == LibraryEntryRow.id)
            .where(
                LibraryUseRow.collective_id == collective_id,
                LibraryUseRow.at >= start,
                LibraryUseRow.at < end,
            )
            .group_by(LibraryEntryRow.id)
            .order_by(count.desc(), LibraryEntryRow.number)
            .limit(limit)
        )
        rows = (await self._session.execute(stmt)).all()
        return [(to_domain(LibraryEntry, row), int(n)) for row, n in rows]

    async def forget_member(self, member_id: str) -> int:
        changed = 0
        for column in (LibraryEntryRow.added_by_id, LibraryEntryRow.approved_by_id):
            stmt = update(LibraryEntryRow).where(column == member_id).values({column.key: None})
            changed += _rowcount(
                await self._session.execute(stmt, execution_options={"synchronize_session": False})
            )
        stmt2 = (
            update(LibraryUseRow).where(LibraryUseRow.member_id == member_id).values(member_id=None)
        )
        changed += _rowcount(
            await self._session.execute(stmt2, execution_options={"synchronize_session": False})
        )
        return changed


class SqlAuditRepo(_Repo, AuditRepo):
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


class SqlOutboxRepo(_Repo, OutboxRepo):
    """New rows wait in memory and go in one INSERT (an executemany) before any other
    statement about the outbox and at commit, so a rally of 500 DMs costs one statement."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self._new: list[dict[str, Any]] = []

    async def add(self, item: OutboxItem) -> None:
        self._new.append(to_values(item))

    def discard(self) -> None:
        """Forget the rows not yet written (the transaction is rolled back)."""
        self._new.clear()

    async def flush(self) -> None:
        """Write the rows added so far."""
        if not self._new:
            return
        rows, self._new = self._new, []
        # ON CONFLICT DO NOTHING: a failed INSERT would abort a PostgreSQL transaction.
        stmt = self._insert(OutboxRow).on_conflict_do_nothing(
            index_elements=[OutboxRow.idempotency_key]
        )
        connection = await self._session.connection()
        await connection.execute(stmt, rows)

    async def claim(
        self,
        now: datetime,
        lease_until: datetime,
        limit: int,
        platforms: Sequence[str],
        worker: str | None = None,
    ) -> Sequence[OutboxItem]:
        if not platforms:
            return []
        await self.flush()
        other = aliased(OutboxRow)
        edit_in_flight = (
            select(other.id)
            .where(
                other.key == OutboxRow.key,
                other.platform == OutboxRow.platform,
                other.workspace == OutboxRow.workspace,
                other.address == OutboxRow.address,
                other.op == "update",
                other.status == OutboxStatus.PENDING.value,
                other.lease_until > now,
                other.id != OutboxRow.id,
            )
            .exists()
        )
        wanted = (
            select(OutboxRow.id)
            .where(
                OutboxRow.status == OutboxStatus.PENDING.value,
                OutboxRow.due_at <= now,
                OutboxRow.platform.in_(platforms),
                or_(OutboxRow.lease_until.is_(None), OutboxRow.lease_until <= now),
                or_(OutboxRow.op != "update", ~edit_in_flight),
            )
            .order_by(OutboxRow.created_at, OutboxRow.id)
            .limit(limit)
        )
        if self._dialect == "postgresql":
            wanted = wanted.with_for_update(skip_locked=True)
        stmt = (
            update(OutboxRow)
            .where(OutboxRow.id.in_(wanted.scalar_subquery()))
            .values(lease_until=lease_until, attempts=OutboxRow.attempts + 1, claimed_by=worker)
            .returning(OutboxRow)
        )
        rows = await self._session.scalars(
            stmt, execution_options={"synchronize_session": False, "populate_existing": True}
        )
        claimed = [to_domain(OutboxItem, row) for row in rows]
        return sorted(claimed, key=lambda o: (o.created_at, o.id))

    async def take_back(self, worker: str, now: datetime) -> int:
        await self.flush()
        stmt = (
            update(OutboxRow)
            .where(
                OutboxRow.claimed_by == worker,
                OutboxRow.status == OutboxStatus.PENDING.value,
                OutboxRow.lease_until > now,
            )
            .values(lease_until=None, claimed_by=None)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(await self._session.execute(stmt))

    async def supersede_edits(self, key: str, address_kind: str | None = None) -> int:
        await self.flush()
        stmt = (
            update(OutboxRow)
            .where(
                OutboxRow.key == key,
                OutboxRow.op == "update",
                OutboxRow.status == OutboxStatus.PENDING.value,
                OutboxRow.lease_until.is_(None),
            )
            .values(status=OutboxStatus.SUPERSEDED.value, payload={}, about=[])
            .execution_options(synchronize_session=False)
        )
        if address_kind is not None:
            stmt = stmt.where(OutboxRow.address_kind == address_kind)
        return _rowcount(await self._session.execute(stmt))

    async def ref_for(self, key: str, platform: str, workspace: str, address: str) -> str | None:
        """The platform's id of the message sent for this key at this address."""
        await self.flush()
        stmt = (
            select(OutboxRow.ref)
            .where(
                OutboxRow.key == key,
                OutboxRow.op == POST,
                OutboxRow.status == OutboxStatus.SENT.value,
                OutboxRow.platform == platform,
                OutboxRow.workspace == workspace,
                OutboxRow.address == address,
                OutboxRow.ref.is_not(None),
            )
            .order_by(OutboxRow.created_at, OutboxRow.id)
            .limit(1)
        )
        return (await self._session.execute(stmt)).scalar_one_or_none()

    async def posted(self, key: str) -> Sequence[OutboxItem]:
        await self.flush()
        stmt = (
            select(OutboxRow)
            .where(OutboxRow.key == key, OutboxRow.op == POST)
            .order_by(OutboxRow.created_at, OutboxRow.id)
        )
        return await self._list(OutboxItem, stmt)

    async def destinations(
        self, key: str, address_kind: str | None = None
    ) -> Sequence[Destination]:
        await self.flush()
        stmt = (
            select(
                OutboxRow.platform, OutboxRow.workspace, OutboxRow.address_kind, OutboxRow.address
            )
            .where(OutboxRow.key == key, OutboxRow.op == POST)
            .order_by(OutboxRow.created_at, OutboxRow.id)
        )
        if address_kind is not None:
            stmt = stmt.where(OutboxRow.address_kind == address_kind)
        return [Destination(*row) for row in await self._session.execute(stmt)]

    async def save(self, item: OutboxItem) -> None:
        await self.flush()
        row = await self._session.get(OutboxRow, item.id)
        if row is None:
            return  # dropped meanwhile (forget-me): never brought back
        pending = item.status is OutboxStatus.PENDING
        copy_to_row(item, row, _MESSAGE if pending else frozenset())

    async def rewrite(self, item_id: str, payload: dict[str, object], about: Sequence[str]) -> None:
        await self.flush()
        stmt = (
            update(OutboxRow)
            .where(OutboxRow.id == item_id)
            .values(payload=payload, about=list(about))
            .execution_options(synchronize_session="fetch")
        )
        await self._session.execute(stmt)

    async def delete_settled_before(self, before: datetime) -> int:
        await self.flush()
        return await self._delete(
            delete(OutboxRow).where(
                OutboxRow.created_at < before,
                OutboxRow.status.in_(
                    [
                        OutboxStatus.SENT.value,
                        OutboxStatus.SUPERSEDED.value,
                        OutboxStatus.FAILED.value,
                    ]
                ),
            )
        )

    async def withdraw(self, key_prefix: str, due_after: datetime) -> int:
        await self.flush()
        return await self._delete(
            delete(OutboxRow).where(
                OutboxRow.key.startswith(key_prefix, autoescape=True),
                OutboxRow.due_at > due_after,
                OutboxRow.op == POST,
                OutboxRow.status == OutboxStatus.PENDING.value,
                OutboxRow.lease_until.is_(None),
            )
        )

    async def delete_dms_to(self, platform: str, user: str) -> int:
        await self.flush()
        return await self._delete(
            delete(OutboxRow).where(
                OutboxRow.platform == platform,
                OutboxRow.address_kind == "dm",
                OutboxRow.address == user,
            )
        )

    async def unsent_about(self, ids: Sequence[str]) -> Sequence[OutboxItem]:
        if not ids:
            return []
        await self.flush()
        wanted = sorted(set(ids))
        about: ColumnElement[bool]
        if self._dialect == "postgresql":
            # ?| : does the JSONB array hold any of these strings
            about = OutboxRow.about.op("?|", return_type=postgresql.BOOLEAN)(
                postgresql.array(wanted, type_=Text)
            )
        else:
            element = func.json_each(OutboxRow.about).table_valued("value")
            about = exists(select(1).select_from(element).where(element.c.value.in_(wanted)))
        stmt = (
            select(OutboxRow)
            .where(
                OutboxRow.status.in_([OutboxStatus.PENDING.value, OutboxStatus.FAILED.value]),
                about,
            )
            .order_by(OutboxRow.created_at, OutboxRow.id)
        )
        return await self._list(OutboxItem, stmt)

    async def delete(self, item_ids: Sequence[str]) -> int:
        if not item_ids:
            return 0
        await self.flush()
        stmt = delete(OutboxRow).where(OutboxRow.id.in_(list(item_ids)))
        return _rowcount(
            await self._session.execute(stmt, execution_options={"synchronize_session": False})
        )

    async def delete_at_workspace(
        self, collective_id: str, platform: str, workspace: str, unsent_only: bool
    ) -> int:
        await self.flush()
        stmt = delete(OutboxRow).where(
            OutboxRow.collective_id == collective_id,
            OutboxRow.platform == platform,
            OutboxRow.workspace == workspace,
        )
        if unsent_only:
            stmt = stmt.where(OutboxRow.status == OutboxStatus.PENDING.value)
        return _rowcount(
            await self._session.execute(stmt, execution_options={"synchronize_session": False})
        )

    async def post_keys(self, collective_id: str, prefix: str) -> Sequence[str]:
        await self.flush()
        # LIKE, not a range: a range over keys follows the column's collation, and under many
        # locales punctuation such as ":" does not sort where its code point does.
        stmt = (
            select(OutboxRow.key)
            .where(
                OutboxRow.collective_id == collective_id,
                OutboxRow.key.startswith(prefix, autoescape=True),
                OutboxRow.op == POST,
            )
            .group_by(OutboxRow.key)
            .order_by(func.min(OutboxRow.created_at), OutboxRow.key)
        )
        return list((await self._session.scalars(stmt)).all())
