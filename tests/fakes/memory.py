"""In-memory fakes of every port in bot/core/ports.py that behave like a small database.

Repositories hand out and keep deep copies, so a service that forgets to `save` loses its
change, as it would with a real database. A unit of work works on a copy of the committed
state taken when it opens; `commit` makes that copy the committed state, and leaving the
block without committing (or `rollback`) discards it. Transactions are serialised: the
core opens one at a time, and a commit replaces the whole committed state.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self, TypeVar

from bot.core.messages import Message
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
    Chat,
    CheckInRepo,
    Clock,
    CollectiveRepo,
    Destination,
    EvidenceRepo,
    FirstResponseTimes,
    IdentityRepo,
    Ids,
    InboxRepo,
    LibraryRepo,
    LinkCodeRepo,
    MemberRepo,
    OutboxRepo,
    RalliedRepo,
    ResponseRepo,
    SpaceRepo,
    UnitOfWork,
)

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


class IntegrityError(Exception):
    """A write broke a primary key or unique constraint, as the real schema would refuse."""


@dataclass
class InboxRequest:
    """An inbox row, as much of it as the core can touch: whose it is, what they sent, and
    whether a worker holds it or has worked it (the workers themselves run on SQL only)."""

    id: str
    platform: str
    workspace: str
    user: str
    payload: dict[str, object] = field(default_factory=dict)
    claimed_by: str | None = None
    worked_at: datetime | None = None


@dataclass
class Tables:
    """Every table of the store; rows are the core's own dataclasses (the inbox's are
    `InboxRequest`s: the core has no entity for a request)."""

    collectives: dict[str, Collective] = field(default_factory=dict)
    spaces: dict[str, Space] = field(default_factory=dict)
    members: dict[str, Member] = field(default_factory=dict)
    identities: dict[str, Identity] = field(default_factory=dict)
    link_codes: dict[str, LinkCode] = field(default_factory=dict)
    alerts: dict[str, Alert] = field(default_factory=dict)
    responses: dict[tuple[str, str], Response] = field(default_factory=dict)
    rallied: dict[tuple[str, str], Rallied] = field(default_factory=dict)
    checkins: dict[str, CheckIn] = field(default_factory=dict)
    evidence: dict[str, Evidence] = field(default_factory=dict)
    audit: dict[str, AuditEvent] = field(default_factory=dict)
    outbox: dict[str, OutboxItem] = field(default_factory=dict)
    library: dict[str, LibraryEntry] = field(default_factory=dict)
    library_uses: dict[str, LibraryUse] = field(default_factory=dict)
    inbox: dict[str, InboxRequest] = field(default_factory=dict)


def _insert(
    table: dict[K, T],
    key: K,
    row: T,
    unique: Sequence[Callable[[T], Hashable]] = (),
    replace: bool = False,
) -> None:
    """Store a copy of row under key, refusing a duplicate key or unique value."""
    if key in table and not replace:
        raise IntegrityError(f"duplicate primary key {key!r}")
    for part in unique:
        value = part(row)
        for other_key, other in table.items():
            if other_key != key and part(other) == value:
                raise IntegrityError(f"duplicate unique value {value!r}")
    table[key] = _in_utc(copy.deepcopy(row))


def _in_utc(row: T) -> T:
    """The row with its times in UTC, as the SQL store hands them back (it stores UTC)."""
    for f in fields(row):  # type: ignore[arg-type]
        value = getattr(row, f.name)
        if isinstance(value, datetime):
            setattr(row, f.name, value.astimezone(UTC))
    return row


def _copies(rows: Sequence[T]) -> list[T]:
    return [copy.deepcopy(r) for r in rows]


class _Repo:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    @property
    def _t(self) -> Tables:
        return self._uow.tables


class MemoryCollectiveRepo(_Repo, CollectiveRepo):
    _UNIQUE: tuple[Callable[[Collective], Hashable], ...] = ()

    async def get(self, collective_id: str) -> Collective | None:
        return copy.deepcopy(self._t.collectives.get(collective_id))

    async def by_name(self, name: str) -> Collective | None:
        found = [c for c in self._t.collectives.values() if c.name == name]
        found.sort(key=lambda c: (c.created_at, c.id))
        return copy.deepcopy(found[0]) if found else None

    async def due_digests(self, now: datetime, limit: int) -> Sequence[Collective]:
        rows = [
            c
            for c in self._t.collectives.values()
            if c.next_digest_at is not None and c.next_digest_at <= now
        ]
        rows.sort(key=lambda c: (c.next_digest_at or now, c.id))
        return _copies(rows[: max(limit, 0)])

    async def all(self) -> Sequence[Collective]:
        return _copies(sorted(self._t.collectives.values(), key=lambda c: (c.name, c.id)))

    async def add(self, collective: Collective) -> None:
        _insert(self._t.collectives, collective.id, collective, self._UNIQUE)

    async def save(self, collective: Collective) -> None:
        # Like the SQL store: alert_seq moves only through next_alert_number, so a copy
        # read before a number was taken cannot hand that number out again.
        row = copy.deepcopy(collective)
        stored = self._t.collectives.get(collective.id)
        if stored is not None:
            row.alert_seq = stored.alert_seq
        _insert(self._t.collectives, row.id, row, self._UNIQUE, replace=True)

    async def next_alert_number(self, collective_id: str) -> int:
        """Atomically take the next per-collective alert number."""
        stored = self._t.collectives.get(collective_id)
        if stored is None:
            raise LookupError(f"no collective {collective_id}")
        stored.alert_seq += 1
        return stored.alert_seq

    async def delete(self, collective_id: str) -> None:
        """Every row of the collective, as the schema's cascades delete them."""
        t = self._t
        alerts = {k for k, a in t.alerts.items() if a.collective_id == collective_id}
        members = {k for k, m in t.members.items() if m.collective_id == collective_id}
        entries = {k for k, e in t.library.items() if e.collective_id == collective_id}

        def drop(table: dict[K, T], doomed: Callable[[T], bool]) -> None:
            for key in [k for k, row in table.items() if doomed(row)]:
                del table[key]

        drop(t.responses, lambda r: r.alert_id in alerts or r.member_id in members)
        drop(t.rallied, lambda r: r.alert_id in alerts or r.member_id in members)
        drop(t.checkins, lambda r: r.alert_id in alerts or r.member_id in members)
        drop(t.evidence, lambda e: e.alert_id in alerts)
        drop(t.library_uses, lambda u: u.collective_id == collective_id or u.alert_id in alerts)
        drop(t.library, lambda e: e.id in entries)
        drop(t.identities, lambda i: i.member_id in members)
        drop(t.link_codes, lambda c: c.member_id in members)
        drop(t.alerts, lambda a: a.id in alerts)
        drop(t.members, lambda m: m.id in members)
        drop(t.spaces, lambda s: s.collective_id == collective_id)
        drop(t.audit, lambda e: e.collective_id == collective_id)
        drop(t.outbox, lambda o: o.collective_id == collective_id)
        t.collectives.pop(collective_id, None)


class MemorySpaceRepo(_Repo, SpaceRepo):
    _UNIQUE: tuple[Callable[[Space], Hashable], ...] = (lambda s: (s.platform, s.external_id),)

    async def get(self, space_id: str) -> Space | None:
        return copy.deepcopy(self._t.spaces.get(space_id))

    async def find(self, platform: str, external_id: str) -> Space | None:
        for s in self._t.spaces.values():
            if s.platform == platform and s.external_id == external_id:
                return copy.deepcopy(s)
        return None

    async def for_collective(self, collective_id: str) -> Sequence[Space]:
        rows = [s for s in self._t.spaces.values() if s.collective_id == collective_id]
        return _copies(sorted(rows, key=lambda s: (s.platform, s.external_id)))

    async def add(self, space: Space) -> None:
        _insert(self._t.spaces, space.id, space, self._UNIQUE)

    async def save(self, space: Space) -> None:
        _insert(self._t.spaces, space.id, space, self._UNIQUE, replace=True)

    async def delete(self, space_id: str) -> None:
        self._t.spaces.pop(space_id, None)

    async def removed(self) -> Sequence[Space]:
        rows = [s for s in self._t.spaces.values() if s.delete_at is not None]
        return _copies(sorted(rows, key=lambda s: s.id))

    async def due_deletions(self, now: datetime, limit: int) -> Sequence[Space]:
        rows = [
            s for s in self._t.spaces.values() if s.delete_at is not None and s.delete_at <= now
        ]
        rows.sort(key=lambda s: (s.delete_at or now, s.id))
        return _copies(rows[: max(limit, 0)])

    async def due_checks(
        self, now: datetime, limit: int, platforms: Sequence[str]
    ) -> Sequence[Space]:
        rows = [
            s
            for s in self._t.spaces.values()
            if s.check_at is not None
            and s.check_at <= now
            and s.removed_at is None
            and s.platform in platforms
        ]
        rows.sort(key=lambda s: (s.check_at or now, s.id))
        return _copies(rows[: max(limit, 0)])


class MemoryMemberRepo(_Repo, MemberRepo):
    _UNIQUE: tuple[Callable[[Member], Hashable], ...] = (lambda m: (m.collective_id, m.handle),)

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        super().__init__(uow)
        self._seen: dict[str, str] = {}

    def _note(self, *members: Member | None) -> None:
        for m in members:
            if m is None:
                continue
            if m.status is MemberStatus.FORGOTTEN:
                self._seen.pop(m.id, None)
            else:
                self._seen[m.id] = m.display_name

    def seen(self) -> Mapping[str, str]:
        """The display names, by id, of the members this unit of work has read or written
        (forgotten ones left out): the names a message built in it can hold."""
        return dict(self._seen)

    async def get(self, member_id: str) -> Member | None:
        found = copy.deepcopy(self._t.members.get(member_id))
        self._note(found)
        return found

    async def by_handle(self, collective_id: str, handle: str) -> Member | None:
        for m in self._t.members.values():
            if m.collective_id == collective_id and m.handle == handle:
                self._note(m)
                return copy.deepcopy(m)
        return None

    async def for_collective(self, collective_id: str) -> Sequence[Member]:
        """Every member that is not forgotten, in one query."""
        rows = [
            m
            for m in self._t.members.values()
            if m.collective_id == collective_id and m.status is not MemberStatus.FORGOTTEN
        ]
        self._note(*rows)
        return _copies(sorted(rows, key=lambda m: m.handle))

    async def many(self, member_ids: Sequence[str]) -> Sequence[Member]:
        """The members with these ids, in the order asked; unknown ids are left out."""
        found = [
            copy.deepcopy(self._t.members[i])
            for i in dict.fromkeys(member_ids)
            if i in self._t.members
        ]
        self._note(*found)
        return found

    async def lock_many(self, member_ids: Sequence[str]) -> Sequence[Member]:
        """Transactions are serialised here already: the members, in id order."""
        locked = [
            copy.deepcopy(self._t.members[i])
            for i in sorted(set(member_ids))
            if i in self._t.members
        ]
        self._note(*locked)
        return locked

    async def add(self, member: Member) -> None:
        _insert(self._t.members, member.id, member, self._UNIQUE)
        self._note(member)

    async def save(self, member: Member) -> None:
        _insert(self._t.members, member.id, member, self._UNIQUE, replace=True)
        self._note(member)

    async def delete(self, member_id: str) -> None:
        """A member row that nothing points at (a join request), with its identities and
        link codes; like the schema, an alert pointing at it refuses, other children go."""
        if any(member_id in (a.target_id, a.raised_by_id) for a in self._t.alerts.values()):
            raise IntegrityError(f"an alert points at member {member_id}")
        self._t.members.pop(member_id, None)
        self._seen.pop(member_id, None)
        t = self._t
        t.identities = {k: i for k, i in t.identities.items() if i.member_id != member_id}
        t.link_codes = {k: c for k, c in t.link_codes.items() if c.member_id != member_id}
        t.checkins = {k: c for k, c in t.checkins.items() if c.member_id != member_id}
        t.responses = {k: r for k, r in t.responses.items() if r.member_id != member_id}
        t.rallied = {k: r for k, r in t.rallied.items() if r.member_id != member_id}

    async def expired_requests(self, joined_before: datetime, limit: int) -> Sequence[Member]:
        rows = [
            m
            for m in self._t.members.values()
            if m.status is MemberStatus.PENDING and m.joined_at < joined_before
        ]
        rows.sort(key=lambda m: (m.joined_at, m.id))
        return _copies(rows[: max(limit, 0)])

    async def mark_rallied(self, member_ids: Sequence[str], at: datetime) -> None:
        for i in member_ids:
            if i in self._t.members:
                self._t.members[i].last_rallied_at = at.astimezone(UTC)

    async def display_names(self, member_ids: Sequence[str]) -> Mapping[str, str]:
        names = {
            m.id: m.display_name
            for i in set(member_ids)
            if (m := self._t.members.get(i)) is not None and m.status is not MemberStatus.FORGOTTEN
        }
        self._seen.update(names)
        return names

    async def digest_people(
        self, collective_id: str, joined_from: datetime, joined_to: datetime
    ) -> tuple[list[str], list[str]]:
        ours = [m for m in self._t.members.values() if m.collective_id == collective_id]
        joined = [
            m
            for m in ours
            if m.status is MemberStatus.ACTIVE and joined_from <= m.joined_at < joined_to
        ]
        waiting = [m for m in ours if m.status is MemberStatus.PENDING]
        self._note(*joined, *waiting)  # like SQL: the names it hands out, no others
        return sorted(m.display_name for m in joined), sorted(m.display_name for m in waiting)


class MemoryIdentityRepo(_Repo, IdentityRepo):
    _UNIQUE: tuple[Callable[[Identity], Hashable], ...] = (
        lambda i: (i.platform, i.workspace, i.user),
    )

    async def find(self, platform: str, workspace: str, user: str) -> Identity | None:
        for i in self._t.identities.values():
            if (i.platform, i.workspace, i.user) == (platform, workspace, user):
                return copy.deepcopy(i)
        return None

    async def for_members(self, member_ids: Sequence[str]) -> Sequence[Identity]:
        wanted = set(member_ids)
        rows = [i for i in self._t.identities.values() if i.member_id in wanted]
        return _copies(sorted(rows, key=lambda i: (i.member_id, i.platform, i.workspace, i.id)))

    async def add(self, identity: Identity) -> None:
        _insert(self._t.identities, identity.id, identity, self._UNIQUE)

    async def delete_for_member(self, member_id: str) -> int:
        doomed = [k for k, i in self._t.identities.items() if i.member_id == member_id]
        for k in doomed:
            del self._t.identities[k]
        return len(doomed)

    async def in_workspace(
        self, collective_id: str, platform: str, workspace: str
    ) -> Sequence[Identity]:
        members = {k for k, m in self._t.members.items() if m.collective_id == collective_id}
        rows = [
            i
            for i in self._t.identities.values()
            if i.member_id in members and (i.platform, i.workspace) == (platform, workspace)
        ]
        return _copies(sorted(rows, key=lambda i: (i.member_id, i.id)))

    async def delete(self, identity_ids: Sequence[str]) -> int:
        doomed = [i for i in dict.fromkeys(identity_ids) if i in self._t.identities]
        for k in doomed:
            del self._t.identities[k]
        return len(doomed)


class MemoryLinkCodeRepo(_Repo, LinkCodeRepo):
    async def get(self, code: str) -> LinkCode | None:
        return copy.deepcopy(self._t.link_codes.get(code))

    async def add(self, link_code: LinkCode) -> None:
        _insert(self._t.link_codes, link_code.code, link_code)

    async def delete(self, code: str) -> None:
        self._t.link_codes.pop(code, None)

    async def delete_for_member(self, member_id: str) -> int:
        doomed = [k for k, c in self._t.link_codes.items() if c.member_id == member_id]
        for k in doomed:
            del self._t.link_codes[k]
        return len(doomed)

    async def delete_expired(self, now: datetime) -> int:
        doomed = [k for k, c in self._t.link_codes.items() if c.expires_at <= now]
        for k in doomed:
            del self._t.link_codes[k]
        return len(doomed)


class MemoryAlertRepo(_Repo, AlertRepo):
    _UNIQUE: tuple[Callable[[Alert], Hashable], ...] = (lambda a: (a.collective_id, a.number),)

    async def get(self, alert_id: str) -> Alert | None:
        return copy.deepcopy(self._t.alerts.get(alert_id))

    async def lock(self, alert_id: str) -> Alert | None:
        """Transactions are serialised here already: the alert as this one sees it."""
        return await self.get(alert_id)

    async def many(self, alert_ids: Sequence[str]) -> Sequence[Alert]:
        return [copy.deepcopy(self._t.alerts[i]) for i in set(alert_ids) if i in self._t.alerts]

    async def first_response_times(
        self, collective_id: str, start: datetime, end: datetime
    ) -> Sequence[FirstResponseTimes]:
        rows = sorted(
            (
                a
                for a in self._t.alerts.values()
                if a.collective_id == collective_id and start <= a.raised_at < end
            ),
            key=lambda a: (a.raised_at, a.id),
        )
        return [FirstResponseTimes(a.raised_at, a.activated_at, a.first_response_at) for a in rows]

    async def by_number(self, collective_id: str, number: int) -> Alert | None:
        for a in self._t.alerts.values():
            if a.collective_id == collective_id and a.number == number:
                return copy.deepcopy(a)
        return None

    async def open_for_collective(self, collective_id: str) -> Sequence[Alert]:
        rows = [
            a
            for a in self._t.alerts.values()
            if a.collective_id == collective_id and a.status is not AlertStatus.CLOSED
        ]
        return _copies(sorted(rows, key=lambda a: a.number))

    async def for_target(self, member_id: str) -> Sequence[Alert]:
        rows = [a for a in self._t.alerts.values() if a.target_id == member_id]
        return _copies(sorted(rows, key=lambda a: (a.raised_at, a.id)))

    async def raised_by_since(self, member_id: str, since: datetime) -> int:
        return sum(
            1
            for a in self._t.alerts.values()
            if a.raised_by_id == member_id and a.raised_at >= since
        )

    async def raised_between(
        self, collective_id: str, start: datetime, end: datetime
    ) -> Sequence[Alert]:
        """Alerts raised in [start, end)."""
        rows = [
            a
            for a in self._t.alerts.values()
            if a.collective_id == collective_id and start <= a.raised_at < end
        ]
        return _copies(sorted(rows, key=lambda a: (a.raised_at, a.id)))

    async def raisers_of_links(
        self, collective_id: str, links: frozenset[str], start: datetime, end: datetime
    ) -> set[str]:
        return {
            a.raised_by_id
            for a in self._t.alerts.values()
            if a.collective_id == collective_id
            and start <= a.raised_at < end
            and links & set(a.links)
        }

    async def due_purge(self, closed_before: datetime, limit: int) -> Sequence[Alert]:
        rows = [
            a
            for a in self._t.alerts.values()
            if a.status is AlertStatus.CLOSED
            and a.closed_at is not None
            and a.closed_at < closed_before
            and a.purged_at is None
        ]
        rows.sort(key=lambda a: (a.closed_at or closed_before, a.id))
        return _copies(rows[: max(limit, 0)])

    async def due_escalations(self, now: datetime, limit: int) -> Sequence[Alert]:
        """Active or in-review alerts whose escalation time has come, oldest first."""
        rows = [
            a
            for a in self._t.alerts.values()
            if a.status
            in (
                AlertStatus.ACTIVE,
                AlertStatus.SAFETY_REVIEW,
                AlertStatus.PENDING_CONSENT,
                AlertStatus.HELD,
            )
            and a.escalate_at is not None
            and a.escalate_at <= now
        ]
        rows.sort(key=lambda a: (a.escalate_at or now, a.id))
        return _copies(rows[: max(limit, 0)])

    async def forgotten_cases(self, closed_before: datetime, limit: int) -> Sequence[Alert]:
        rows = [
            a
            for a in self._t.alerts.values()
            if a.status is AlertStatus.CLOSED
            and a.close_reason is CloseReason.FORGOTTEN
            and a.closed_at is not None
            and a.closed_at < closed_before
            and a.purged_at is None
        ]
        rows.sort(key=lambda a: (a.closed_at or closed_before, a.id))
        return _copies(rows[: max(limit, 0)])

    def _activity(self, alert: Alert) -> datetime:
        t = self._t
        times = [
            alert.raised_at,
            alert.consented_at,
            alert.activated_at,
            alert.first_response_at,
            alert.last_escalated_at,
            alert.kept_open_at,
            *(r.updated_at for r in t.responses.values() if r.alert_id == alert.id),
            *(e.added_at for e in t.evidence.values() if e.alert_id == alert.id),
            *(c.answered_at for c in t.checkins.values() if c.alert_id == alert.id),
        ]
        return max(x for x in times if x is not None)

    async def last_activity(self, alert_id: str) -> datetime | None:
        alert = self._t.alerts.get(alert_id)
        return None if alert is None else self._activity(alert)

    async def idle(self, active_before: datetime, limit: int) -> Sequence[Alert]:
        rows = [
            a
            for a in self._t.alerts.values()
            if a.is_open and a.idle_notice_at is None and self._activity(a) < active_before
        ]
        rows.sort(key=lambda a: (a.raised_at, a.id))
        return _copies(rows[: max(limit, 0)])

    async def noticed_before(self, before: datetime, limit: int) -> Sequence[Alert]:
        rows = [
            a
            for a in self._t.alerts.values()
            if a.is_open and a.idle_notice_at is not None and a.idle_notice_at < before
        ]
        rows.sort(key=lambda a: (a.idle_notice_at or before, a.id))
        return _copies(rows[: max(limit, 0)])

    async def add(self, alert: Alert) -> None:
        _insert(self._t.alerts, alert.id, alert, self._UNIQUE)

    async def save(self, alert: Alert) -> None:
        _insert(self._t.alerts, alert.id, alert, self._UNIQUE, replace=True)


class MemoryResponseRepo(_Repo, ResponseRepo):
    async def get(self, alert_id: str, member_id: str) -> Response | None:
        return copy.deepcopy(self._t.responses.get((alert_id, member_id)))

    async def for_alert(self, alert_id: str) -> Sequence[Response]:
        return await self.for_alerts([alert_id])

    async def for_alerts(self, alert_ids: Sequence[str]) -> Sequence[Response]:
        wanted = set(alert_ids)
        rows = [r for r in self._t.responses.values() if r.alert_id in wanted]
        return _copies(sorted(rows, key=lambda r: (r.alert_id, r.first_at, r.member_id)))

    async def due_reminders(self, updated_before: datetime, limit: int) -> Sequence[Response]:
        active = {a.id for a in self._t.alerts.values() if a.status is AlertStatus.ACTIVE}
        rows = [
            r
            for r in self._t.responses.values()
            if r.alert_id in active
            and r.state is ResponseState.ON_IT
            and r.updated_at < updated_before
            and r.reminded_at is None
        ]
        rows.sort(key=lambda r: (r.updated_at, r.alert_id, r.member_id))
        return _copies(rows[: max(limit, 0)])

    async def first_between(
        self, collective_id: str, start: datetime, end: datetime
    ) -> Sequence[Response]:
        ours = {a.id for a in self._t.alerts.values() if a.collective_id == collective_id}
        rows = [
            r
            for r in self._t.responses.values()
            if r.alert_id in ours and start <= r.first_at < end
        ]
        return _copies(sorted(rows, key=lambda r: (r.first_at, r.alert_id, r.member_id)))

    async def tally(
        self, alert_id: str, named: int
    ) -> tuple[Mapping[ResponseState, int], Sequence[Response]]:
        rows = await self.for_alert(alert_id)
        counts = {s: sum(1 for r in rows if r.state is s) for s in ResponseState}
        helping = sorted(
            (r for r in rows if r.state is not ResponseState.CANT),
            key=lambda r: (r.first_at, r.member_id),
        )
        return counts, helping[: max(named, 0)]

    async def helping_per_member(
        self, collective_id: str, start: datetime, end: datetime
    ) -> Mapping[str, int]:
        rows = await self.first_between(collective_id, start, end)
        return dict(Counter(r.member_id for r in rows if r.state is not ResponseState.CANT))

    async def save(self, response: Response) -> None:
        """Insert or replace the one row of this responder for this alert."""
        key = (response.alert_id, response.member_id)
        _insert(self._t.responses, key, response, replace=True)

    async def delete_for_member(self, member_id: str) -> int:
        doomed = [k for k in self._t.responses if k[1] == member_id]
        for k in doomed:
            del self._t.responses[k]
        return len(doomed)


class MemoryRalliedRepo(_Repo, RalliedRepo):
    async def for_alert(self, alert_id: str) -> Sequence[Rallied]:
        rows = [r for r in self._t.rallied.values() if r.alert_id == alert_id]
        return _copies(sorted(rows, key=lambda r: (r.wave, r.at, r.member_id)))

    async def add_many(self, rows: Sequence[Rallied]) -> None:
        for r in rows:
            _insert(self._t.rallied, (r.alert_id, r.member_id), r)


class MemoryCheckInRepo(_Repo, CheckInRepo):
    async def get(self, checkin_id: str) -> CheckIn | None:
        return copy.deepcopy(self._t.checkins.get(checkin_id))

    async def for_alert(self, alert_id: str) -> Sequence[CheckIn]:
        rows = [c for c in self._t.checkins.values() if c.alert_id == alert_id]
        return _copies(sorted(rows, key=lambda c: (c.due_at, c.id)))

    async def due(self, now: datetime, limit: int) -> Sequence[CheckIn]:
        """Scheduled check-ins whose time has come, oldest first."""
        rows = [
            c
            for c in self._t.checkins.values()
            if c.status is CheckInStatus.SCHEDULED and c.due_at <= now
        ]
        rows.sort(key=lambda c: (c.due_at, c.id))
        return _copies(rows[: max(limit, 0)])

    async def due_between(
        self, collective_id: str, start: datetime, end: datetime
    ) -> Sequence[CheckIn]:
        ours = {a.id for a in self._t.alerts.values() if a.collective_id == collective_id}
        rows = [
            c for c in self._t.checkins.values() if c.alert_id in ours and start <= c.due_at < end
        ]
        return _copies(sorted(rows, key=lambda c: (c.due_at, c.id)))

    async def scheduled_for(self, member_ids: Sequence[str], until: datetime) -> Sequence[CheckIn]:
        """Scheduled check-ins of these members due by `until`, oldest first."""
        wanted = set(member_ids)
        rows = [
            c
            for c in self._t.checkins.values()
            if c.member_id in wanted and c.status is CheckInStatus.SCHEDULED and c.due_at <= until
        ]
        return _copies(sorted(rows, key=lambda c: (c.due_at, c.id)))

    async def in_group(self, group_id: str) -> Sequence[CheckIn]:
        """The check-ins asked in one message."""
        rows = [c for c in self._t.checkins.values() if c.group_id == group_id]
        return _copies(sorted(rows, key=lambda c: (c.due_at, c.id)))

    async def last_sent(self, member_ids: Sequence[str]) -> Mapping[str, datetime]:
        """When each of these members was last asked a check-in."""
        out: dict[str, datetime] = {}
        for c in self._t.checkins.values():
            if c.member_id in member_ids and c.sent_at is not None:
                out[c.member_id] = max(out.get(c.member_id, c.sent_at), c.sent_at)
        return out

    async def add(self, checkin: CheckIn) -> None:
        _insert(self._t.checkins, checkin.id, checkin)

    async def save(self, checkin: CheckIn) -> None:
        _insert(self._t.checkins, checkin.id, checkin, replace=True)

    async def delete_for_member(self, member_id: str) -> int:
        doomed = [k for k, c in self._t.checkins.items() if c.member_id == member_id]
        for k in doomed:
            del self._t.checkins[k]
        return len(doomed)


class MemoryEvidenceRepo(_Repo, EvidenceRepo):
    async def for_alert(self, alert_id: str) -> Sequence[Evidence]:
        rows = [e for e in self._t.evidence.values() if e.alert_id == alert_id]
        return _copies(sorted(rows, key=lambda e: (e.added_at, e.id)))

    async def add(self, evidence: Evidence) -> None:
        _insert(self._t.evidence, evidence.id, evidence)

    async def delete_for_alert(self, alert_id: str) -> int:
        doomed = [k for k, e in self._t.evidence.items() if e.alert_id == alert_id]
        for k in doomed:
            del self._t.evidence[k]
        return len(doomed)

    async def anonymise_author(self, member_id: str, replacement: str) -> int:
        changed = 0
        for e in self._t.evidence.values():
            if e.added_by_id == member_id:
                e.added_by_id = replacement
                changed += 1
        return changed


class MemoryLibraryRepo(_Repo, LibraryRepo):
    _UNIQUE: tuple[Callable[[LibraryEntry], Hashable], ...] = (
        lambda e: (e.collective_id, e.number),
    )

    async def get(self, entry_id: str) -> LibraryEntry | None:
        return copy.deepcopy(self._t.library.get(entry_id))

    async def by_number(self, collective_id: str, number: int) -> LibraryEntry | None:
        for e in self._t.library.values():
            if e.collective_id == collective_id and e.number == number:
                return copy.deepcopy(e)
        return None

    async def for_collective(self, collective_id: str) -> Sequence[LibraryEntry]:
        rows = [e for e in self._t.library.values() if e.collective_id == collective_id]
        return _copies(sorted(rows, key=lambda e: e.number))

    async def next_number(self, collective_id: str) -> int:
        numbers = [e.number for e in self._t.library.values() if e.collective_id == collective_id]
        return max(numbers, default=0) + 1

    async def add(self, entry: LibraryEntry) -> None:
        _insert(self._t.library, entry.id, entry, self._UNIQUE)

    async def save(self, entry: LibraryEntry) -> None:
        # Like the SQL store: uses moves only through add_use, so a copy read before a use
        # was counted cannot undo it.
        row = copy.deepcopy(entry)
        stored = self._t.library.get(entry.id)
        if stored is not None:
            row.uses = stored.uses
        _insert(self._t.library, row.id, row, self._UNIQUE, replace=True)

    async def delete(self, entry_id: str) -> None:
        self._t.library.pop(entry_id, None)
        for k in [k for k, u in self._t.library_uses.items() if u.entry_id == entry_id]:
            del self._t.library_uses[k]

    async def add_use(self, use: LibraryUse) -> bool:
        same = (use.entry_id, use.alert_id, use.member_id)
        if any(
            (u.entry_id, u.alert_id, u.member_id) == same for u in self._t.library_uses.values()
        ):
            return False
        _insert(self._t.library_uses, use.id, use)
        entry = self._t.library.get(use.entry_id)
        if entry is not None:
            entry.uses += 1
        return True

    async def most_used(
        self, collective_id: str, start: datetime, end: datetime, limit: int
    ) -> Sequence[tuple[LibraryEntry, int]]:
        counts = Counter(
            u.entry_id
            for u in self._t.library_uses.values()
            if u.collective_id == collective_id and start <= u.at < end
        )
        ranked = sorted(
            ((self._t.library[k], n) for k, n in counts.items() if k in self._t.library),
            key=lambda pair: (-pair[1], pair[0].number),
        )
        return [(copy.deepcopy(e), n) for e, n in ranked[: max(limit, 0)]]

    async def forget_member(self, member_id: str) -> int:
        changed = 0
        for e in self._t.library.values():  # counted per column, as SQL's two UPDATEs count
            if e.added_by_id == member_id:
                e.added_by_id = None
                changed += 1
            if e.approved_by_id == member_id:
                e.approved_by_id = None
                changed += 1
        for u in self._t.library_uses.values():
            if u.member_id == member_id:
                u.member_id = None
                changed += 1
        return changed


class MemoryAuditRepo(_Repo, AuditRepo):
    async def add(self, event: AuditEvent) -> None:
        _insert(self._t.audit, event.id, event)

    async def recent(self, collective_id: str, limit: int) -> Sequence[AuditEvent]:
        """The newest events first."""
        rows = [e for e in self._t.audit.values() if e.collective_id == collective_id]
        rows.sort(key=lambda e: (e.at, e.id), reverse=True)
        return _copies(rows[: max(limit, 0)])


class MemoryInboxRepo(_Repo, InboxRepo):
    async def drop_waiting(self, platform: str, workspace: str, user: str) -> int:
        doomed = [
            r.id
            for r in self._t.inbox.values()
            if (r.platform, r.workspace, r.user) == (platform, workspace, user)
            and r.worked_at is None
            and r.claimed_by is None
        ]
        for request_id in doomed:
            del self._t.inbox[request_id]
        return len(doomed)


class MemoryOutboxRepo(_Repo, OutboxRepo):
    async def add(self, item: OutboxItem) -> None:
        """Add a message; a second item with the same idempotency key is ignored."""
        if any(o.idempotency_key == item.idempotency_key for o in self._t.outbox.values()):
            return
        _insert(self._t.outbox, item.id, item)

    async def claim(
        self,
        now: datetime,
        lease_until: datetime,
        limit: int,
        platforms: Sequence[str],
        worker: str | None = None,
    ) -> Sequence[OutboxItem]:
        """Lease pending items due by now, oldest first; an edit waits for one in flight."""

        def target(o: OutboxItem) -> tuple[str, str, str, str]:
            return (o.key, o.platform, o.workspace, o.address)

        in_flight = {
            target(o)
            for o in self._t.outbox.values()
            if o.op == "update"
            and o.status is OutboxStatus.PENDING
            and o.lease_until is not None
            and o.lease_until > now
        }
        rows = [
            o
            for o in self._t.outbox.values()
            if o.status is OutboxStatus.PENDING
            and o.due_at <= now
            and o.platform in platforms
            and (o.lease_until is None or o.lease_until <= now)
            and not (o.op == "update" and target(o) in in_flight)
        ]
        rows.sort(key=lambda o: (o.created_at, o.id))
        for o in rows[: max(limit, 0)]:
            o.lease_until = lease_until.astimezone(UTC)
            o.attempts += 1
            o.claimed_by = worker
        return _copies(rows[: max(limit, 0)])

    async def take_back(self, worker: str, now: datetime) -> int:
        held = [
            o
            for o in self._t.outbox.values()
            if o.claimed_by == worker
            and o.status is OutboxStatus.PENDING
            and o.lease_until is not None
            and o.lease_until > now
        ]
        for o in held:
            o.lease_until, o.claimed_by = None, None
        return len(held)

    async def supersede_edits(self, key: str, address_kind: str | None = None) -> int:
        doomed = [
            o
            for o in self._t.outbox.values()
            if o.key == key
            and address_kind in (None, o.address_kind)
            and o.op == "update"
            and o.status is OutboxStatus.PENDING
            and o.lease_until is None
        ]
        for o in doomed:
            o.status, o.payload, o.about = OutboxStatus.SUPERSEDED, {}, ()
        return len(doomed)

    async def ref_for(self, key: str, platform: str, workspace: str, address: str) -> str | None:
        """The platform's id of the message sent for this key at this address."""
        rows = [
            o
            for o in self._t.outbox.values()
            if o.key == key
            and o.op == "post"
            and o.status is OutboxStatus.SENT
            and (o.platform, o.workspace, o.address) == (platform, workspace, address)
            and o.ref is not None
        ]
        rows.sort(key=lambda o: (o.created_at, o.id))
        return rows[0].ref if rows else None

    async def posted(self, key: str) -> Sequence[OutboxItem]:
        """Every "post" item of this logical message, so an update reaches each copy."""
        rows = [o for o in self._t.outbox.values() if o.key == key and o.op == "post"]
        return _copies(sorted(rows, key=lambda o: (o.created_at, o.id)))

    async def destinations(
        self, key: str, address_kind: str | None = None
    ) -> Sequence[Destination]:
        return [
            Destination(o.platform, o.workspace, o.address_kind, o.address)
            for o in await self.posted(key)
            if address_kind in (None, o.address_kind)
        ]

    async def save(self, item: OutboxItem) -> None:
        """Write a row's delivery state back: never a row that is gone, and a pending row's
        message and `about` only as they are stored (see the port)."""
        stored = self._t.outbox.get(item.id)
        if stored is None:
            return
        row = copy.deepcopy(item)
        if row.status is OutboxStatus.PENDING:
            row.payload, row.about = copy.deepcopy(stored.payload), stored.about
        _insert(self._t.outbox, item.id, row, (lambda o: o.idempotency_key,), replace=True)

    async def rewrite(self, item_id: str, payload: dict[str, object], about: Sequence[str]) -> None:
        stored = self._t.outbox.get(item_id)
        if stored is not None:
            stored.payload, stored.about = copy.deepcopy(payload), tuple(about)

    async def delete_settled_before(self, before: datetime) -> int:
        settled = (OutboxStatus.SENT, OutboxStatus.SUPERSEDED, OutboxStatus.FAILED)
        doomed = [
            o.id for o in self._t.outbox.values() if o.created_at < before and o.status in settled
        ]
        for item_id in doomed:
            del self._t.outbox[item_id]
        return len(doomed)

    async def withdraw(self, key_prefix: str, due_after: datetime) -> int:
        """Delete unsent, unclaimed posts whose key starts with this prefix, due after then."""
        doomed = [
            o.id
            for o in self._t.outbox.values()
            if o.key.startswith(key_prefix)
            and o.due_at > due_after
            and o.op == "post"
            and o.status is OutboxStatus.PENDING
            and o.lease_until is None
        ]
        for item_id in doomed:
            del self._t.outbox[item_id]
        return len(doomed)

    async def delete_dms_to(self, platform: str, user: str) -> int:
        doomed = [
            o.id
            for o in self._t.outbox.values()
            if o.platform == platform and o.address_kind == "dm" and o.address == user
        ]
        for item_id in doomed:
            del self._t.outbox[item_id]
        return len(doomed)

    async def unsent_about(self, ids: Sequence[str]) -> Sequence[OutboxItem]:
        wanted = set(ids)
        unsent = (OutboxStatus.PENDING, OutboxStatus.FAILED)
        rows = [o for o in self._t.outbox.values() if o.status in unsent and wanted & set(o.about)]
        return _copies(sorted(rows, key=lambda o: (o.created_at, o.id)))

    async def delete(self, item_ids: Sequence[str]) -> int:
        doomed = [i for i in dict.fromkeys(item_ids) if i in self._t.outbox]
        for item_id in doomed:
            del self._t.outbox[item_id]
        return len(doomed)

    async def delete_at_workspace(
        self, collective_id: str, platform: str, workspace: str, unsent_only: bool
    ) -> int:
        doomed = [
            o.id
            for o in self._t.outbox.values()
            if (o.collective_id, o.platform, o.workspace) == (collective_id, platform, workspace)
            and (not unsent_only or o.status is OutboxStatus.PENDING)
        ]
        for item_id in doomed:
            del self._t.outbox[item_id]
        return len(doomed)

    async def post_keys(self, collective_id: str, prefix: str) -> Sequence[str]:
        first: dict[str, tuple[datetime, str]] = {}
        for o in self._t.outbox.values():
            if o.op == "post" and o.collective_id == collective_id and o.key.startswith(prefix):
                first[o.key] = min(first.get(o.key, (o.created_at, o.key)), (o.created_at, o.key))
        return sorted(first, key=lambda k: first[k])


class MemoryUnitOfWork(UnitOfWork):
    """One transaction over a MemoryStore: a private copy until commit."""

    collectives: MemoryCollectiveRepo
    spaces: MemorySpaceRepo
    members: MemoryMemberRepo
    identities: MemoryIdentityRepo
    link_codes: MemoryLinkCodeRepo
    alerts: MemoryAlertRepo
    responses: MemoryResponseRepo
    rallied: MemoryRalliedRepo
    checkins: MemoryCheckInRepo
    evidence: MemoryEvidenceRepo
    audit: MemoryAuditRepo
    outbox: MemoryOutboxRepo
    library: MemoryLibraryRepo
    inbox: MemoryInboxRepo

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._tables: Tables | None = None
        self.collectives = MemoryCollectiveRepo(self)
        self.spaces = MemorySpaceRepo(self)
        self.members = MemoryMemberRepo(self)
        self.identities = MemoryIdentityRepo(self)
        self.link_codes = MemoryLinkCodeRepo(self)
        self.alerts = MemoryAlertRepo(self)
        self.responses = MemoryResponseRepo(self)
        self.rallied = MemoryRalliedRepo(self)
        self.checkins = MemoryCheckInRepo(self)
        self.evidence = MemoryEvidenceRepo(self)
        self.audit = MemoryAuditRepo(self)
        self.outbox = MemoryOutboxRepo(self)
        self.library = MemoryLibraryRepo(self)
        self.inbox = MemoryInboxRepo(self)

    @property
    def tables(self) -> Tables:
        """The working state of this open transaction."""
        if self._tables is None:
            raise RuntimeError("the unit of work is not open: use it in 'async with'")
        return self._tables

    async def __aenter__(self) -> Self:
        if self._tables is not None:
            raise RuntimeError("the unit of work is already open")
        self._tables = self._store.snapshot()
        self.members = MemoryMemberRepo(self)  # nothing seen yet in this transaction
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed."""
        self._tables = None

    async def commit(self) -> None:
        self._store.committed = copy.deepcopy(self.tables)
        self._store.commits += 1

    async def rollback(self) -> None:
        if self._tables is None:
            raise RuntimeError("the unit of work is not open: use it in 'async with'")
        self._tables = self._store.snapshot()


class MemoryStore:
    """The committed data; `uow` is the UnitOfWorkFactory the core is given."""

    def __init__(self) -> None:
        self.committed = Tables()
        self.commits = 0

    def uow(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self)

    def snapshot(self) -> Tables:
        """A deep copy of the committed data, to compare before and after."""
        return copy.deepcopy(self.committed)


class FakeClock(Clock):
    """A clock that stands still until a test sets or advances it."""

    def __init__(self, start: datetime) -> None:
        self._now = _utc(start)

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        return self._now

    def set(self, when: datetime) -> None:
        self._now = _utc(when)

    def advance(self, delta: timedelta) -> datetime:
        self._now = self._now + delta
        return self._now


def _utc(when: datetime) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("FakeClock needs a timezone-aware time")
    return when.astimezone(UTC)


class SeqIds(Ids):
    """Deterministic ids: 00…01, 00…02, … (32 lowercase hex characters)."""

    def __init__(self, start: int = 1) -> None:
        self._next = start

    def new(self) -> str:
        """A fresh unique id (32 lowercase hex characters)."""
        ident = f"{self._next:032x}"
        self._next += 1
        return ident


@dataclass
class Delivered:
    op: str
    item: OutboxItem
    message: Message
    ref: str


class MemoryChat(Chat):
    """A platform that accepts every message and remembers it, in order."""

    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.delivered: list[Delivered] = []
        self._refs = 0

    async def post(self, item: OutboxItem, message: Message) -> str:
        """Send a new message; return the platform's reference to it."""
        self._refs += 1
        ref = f"{self.platform}-{self._refs}"
        self.delivered.append(Delivered("post", copy.deepcopy(item), message, ref))
        return ref

    async def update(self, item: OutboxItem, ref: str, message: Message) -> None:
        """Replace an earlier message in place."""
        self.delivered.append(Delivered("update", copy.deepcopy(item), message, ref))
