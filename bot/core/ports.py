"""What the core needs from the outside world, as Protocols: storage, time, ids, delivery."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from bot.core.messages import Message
from bot.core.model import (
    Alert,
    AuditEvent,
    CheckIn,
    Collective,
    Evidence,
    Identity,
    LibraryEntry,
    LibraryUse,
    LinkCode,
    Member,
    OutboxItem,
    Rallied,
    Response,
    ResponseState,
    Space,
)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class Ids(Protocol):
    def new(self) -> str:
        """A fresh unique id (32 lowercase hex characters)."""
        ...


class CollectiveRepo(Protocol):
    async def get(self, collective_id: str) -> Collective | None: ...
    async def by_name(self, name: str) -> Collective | None:
        """The oldest collective with this name (names need not be unique)."""
        ...

    async def all(self) -> Sequence[Collective]: ...
    async def add(self, collective: Collective) -> None: ...
    async def save(self, collective: Collective) -> None: ...
    async def due_digests(self, now: datetime, limit: int) -> Sequence[Collective]:
        """Collectives whose weekly digest fell due (claimed on PostgreSQL)."""
        ...

    async def next_alert_number(self, collective_id: str) -> int:
        """Atomically take the next per-collective alert number."""
        ...

    async def delete(self, collective_id: str) -> None:
        """The collective and every row that belongs to it, in every table."""
        ...


class SpaceRepo(Protocol):
    async def get(self, space_id: str) -> Space | None: ...
    async def find(self, platform: str, external_id: str) -> Space | None: ...
    async def for_collective(self, collective_id: str) -> Sequence[Space]: ...
    async def add(self, space: Space) -> None: ...
    async def save(self, space: Space) -> None: ...
    async def delete(self, space_id: str) -> None: ...
    async def removed(self) -> Sequence[Space]:
        """The spaces of every collective that a platform removed rallybot from (few: they
        are deleted after the grace period)."""
        ...

    async def due_deletions(self, now: datetime, limit: int) -> Sequence[Space]:
        """Spaces the platform removed rallybot from whose grace period ended, oldest first
        (claimed on PostgreSQL)."""
        ...

    async def due_checks(
        self, now: datetime, limit: int, platforms: Sequence[str]
    ) -> Sequence[Space]:
        """Spaces on these platforms, not removed, whose channel check fell due, oldest first
        (claimed on PostgreSQL)."""
        ...


class MemberRepo(Protocol):
    async def get(self, member_id: str) -> Member | None: ...
    async def by_handle(self, collective_id: str, handle: str) -> Member | None: ...
    async def for_collective(self, collective_id: str) -> Sequence[Member]:
        """Every member that is not forgotten, in one query."""
        ...

    async def many(self, member_ids: Sequence[str]) -> Sequence[Member]: ...
    async def add(self, member: Member) -> None: ...
    async def save(self, member: Member) -> None: ...
    async def delete(self, member_id: str) -> None:
        """A member row that nothing points at (a join request), with its identities and
        link codes."""
        ...

    async def expired_requests(self, joined_before: datetime, limit: int) -> Sequence[Member]:
        """Pending members who asked to join before this time, oldest first (claimed on
        PostgreSQL)."""
        ...

    def seen(self) -> Mapping[str, str]:
        """The display names, by id, of the members this unit of work has read or written
        (forgotten ones left out): the names a message built in it can hold."""
        ...

    async def lock_many(self, member_ids: Sequence[str]) -> Sequence[Member]:
        """These members as committed now, their rows locked until the transaction ends (in
        id order), so two workers asking one person a check-in take turns."""
        ...

    async def mark_rallied(self, member_ids: Sequence[str], at: datetime) -> None:
        """Set last_rallied_at of these members, in one statement."""
        ...

    async def display_names(self, member_ids: Sequence[str]) -> Mapping[str, str]:
        """Display names of these members (forgotten ones are left out), one narrow query."""
        ...

    async def digest_people(
        self, collective_id: str, joined_from: datetime, joined_to: datetime
    ) -> tuple[list[str], list[str]]:
        """Display names of the active members who joined in [joined_from, joined_to) and of
        the pending members, each list sorted."""
        ...


class IdentityRepo(Protocol):
    async def find(self, platform: str, workspace: str, user: str) -> Identity | None: ...
    async def for_members(self, member_ids: Sequence[str]) -> Sequence[Identity]: ...
    async def add(self, identity: Identity) -> None: ...
    async def delete_for_member(self, member_id: str) -> int: ...
    async def in_workspace(
        self, collective_id: str, platform: str, workspace: str
    ) -> Sequence[Identity]:
        """The identities of this collective's members in one workspace ("" for a platform's
        global accounts)."""
        ...

    async def delete(self, identity_ids: Sequence[str]) -> int: ...


class LinkCodeRepo(Protocol):
    async def get(self, code: str) -> LinkCode | None: ...
    async def add(self, link_code: LinkCode) -> None: ...
    async def delete(self, code: str) -> None: ...
    async def delete_for_member(self, member_id: str) -> int: ...
    async def delete_expired(self, now: datetime) -> int: ...


class AlertRepo(Protocol):
    async def get(self, alert_id: str) -> Alert | None: ...
    async def lock(self, alert_id: str) -> Alert | None:
        """The alert as committed now, its row locked until the transaction ends, so that
        transactions about one alert (responses to it) run one after the other."""
        ...

    async def many(self, alert_ids: Sequence[str]) -> Sequence[Alert]:
        """The alerts with these ids; unknown ids are left out."""
        ...

    async def first_response_times(
        self, collective_id: str, start: datetime, end: datetime
    ) -> Sequence[FirstResponseTimes]:
        """raised_at, activated_at and first_response_at of the alerts raised in [start, end)
        (the digest's chart: three columns, not whole alerts)."""
        ...

    async def by_number(self, collective_id: str, number: int) -> Alert | None: ...
    async def open_for_collective(self, collective_id: str) -> Sequence[Alert]: ...
    async def for_target(self, member_id: str) -> Sequence[Alert]: ...
    async def raised_by_since(self, member_id: str, since: datetime) -> int: ...
    async def raised_between(
        self, collective_id: str, start: datetime, end: datetime
    ) -> Sequence[Alert]: ...
    async def raisers_of_links(
        self, collective_id: str, links: frozenset[str], start: datetime, end: datetime
    ) -> set[str]:
        """Who raised an alert in [start, end) that names one of `links` (member ids)."""
        ...

    async def due_escalations(self, now: datetime, limit: int) -> Sequence[Alert]:
        """Open alerts (active, in safety review, held for review or waiting for consent)
        whose timer fell due, oldest first (claimed on PostgreSQL)."""
        ...

    async def due_purge(self, closed_before: datetime, limit: int) -> Sequence[Alert]:
        """Closed, not yet purged alerts closed before this time (claimed on PostgreSQL)."""
        ...

    async def forgotten_cases(self, closed_before: datetime, limit: int) -> Sequence[Alert]:
        """Not yet purged alerts closed because their target asked to be forgotten, closed
        before this time: the safety cases kept for a while (claimed on PostgreSQL)."""
        ...

    async def last_activity(self, alert_id: str) -> datetime | None:
        """When anything last happened to this alert: raised, consented, rallied, first
        answered, escalated or kept open, and the latest response, evidence item and
        check-in answer."""
        ...

    async def idle(self, active_before: datetime, limit: int) -> Sequence[Alert]:
        """Open alerts whose last activity was before this time and whose target and leads
        were not yet told they close, oldest first (claimed on PostgreSQL)."""
        ...

    async def noticed_before(self, before: datetime, limit: int) -> Sequence[Alert]:
        """Open alerts whose "closes soon" notice went out before this time (claimed on
        PostgreSQL)."""
        ...

    async def add(self, alert: Alert) -> None: ...
    async def save(self, alert: Alert) -> None: ...


class ResponseRepo(Protocol):
    async def get(self, alert_id: str, member_id: str) -> Response | None: ...
    async def for_alert(self, alert_id: str) -> Sequence[Response]: ...
    async def for_alerts(self, alert_ids: Sequence[str]) -> Sequence[Response]: ...
    async def first_between(
        self, collective_id: str, start: datetime, end: datetime
    ) -> Sequence[Response]:
        """Responses in this collective whose first answer fell in [start, end)."""
        ...

    async def tally(
        self, alert_id: str, named: int
    ) -> tuple[Mapping[ResponseState, int], Sequence[Response]]:
        """How many responses of each state this alert has (counted in the database), and
        its first `named` responses other than "can't", in the order they were given."""
        ...

    async def helping_per_member(
        self, collective_id: str, start: datetime, end: datetime
    ) -> Mapping[str, int]:
        """How many responses other than "can't" each member first gave in [start, end),
        counted in the database (members with none are left out)."""
        ...

    async def save(self, response: Response) -> None:
        """Insert or replace the one row of this responder for this alert."""
        ...

    async def delete_for_member(self, member_id: str) -> int: ...
    async def due_reminders(self, updated_before: datetime, limit: int) -> Sequence[Response]:
        """ "On it" responses of active alerts, unchanged since before this time and not yet
        reminded (claimed on PostgreSQL)."""
        ...


class RalliedRepo(Protocol):
    async def for_alert(self, alert_id: str) -> Sequence[Rallied]: ...
    async def add_many(self, rows: Sequence[Rallied]) -> None: ...


class CheckInRepo(Protocol):
    async def get(self, checkin_id: str) -> CheckIn | None: ...
    async def for_alert(self, alert_id: str) -> Sequence[CheckIn]: ...
    async def due(self, now: datetime, limit: int) -> Sequence[CheckIn]: ...
    async def due_between(
        self, collective_id: str, start: datetime, end: datetime
    ) -> Sequence[CheckIn]:
        """Check-ins of this collective's alerts that fell due in [start, end)."""
        ...

    async def scheduled_for(self, member_ids: Sequence[str], until: datetime) -> Sequence[CheckIn]:
        """Scheduled check-ins of these members due by `until`, oldest first (with a batch of
        due ones: a person's are asked together)."""
        ...

    async def in_group(self, group_id: str) -> Sequence[CheckIn]:
        """The check-ins asked in one message."""
        ...

    async def last_sent(self, member_ids: Sequence[str]) -> Mapping[str, datetime]:
        """When each of these members was last asked a check-in (those never asked are left
        out)."""
        ...

    async def add(self, checkin: CheckIn) -> None: ...
    async def save(self, checkin: CheckIn) -> None: ...
    async def delete_for_member(self, member_id: str) -> int: ...


class EvidenceRepo(Protocol):
    async def for_alert(self, alert_id: str) -> Sequence[Evidence]: ...
    async def add(self, evidence: Evidence) -> None: ...
    async def delete_for_alert(self, alert_id: str) -> int: ...
    async def anonymise_author(self, member_id: str, replacement: str) -> int: ...


class LibraryRepo(Protocol):
    """A collective's message library: small (hundreds of entries), read whole."""

    async def get(self, entry_id: str) -> LibraryEntry | None: ...
    async def by_number(self, collective_id: str, number: int) -> LibraryEntry | None: ...
    async def for_collective(self, collective_id: str) -> Sequence[LibraryEntry]: ...
    async def next_number(self, collective_id: str) -> int: ...
    async def add(self, entry: LibraryEntry) -> None: ...
    async def save(self, entry: LibraryEntry) -> None: ...
    async def delete(self, entry_id: str) -> None:
        """The entry and its use records."""
        ...

    async def add_use(self, use: LibraryUse) -> bool:
        """Record a use and count it on the entry; False (nothing changed) when this member
        already used this entry for this alert."""
        ...

    async def most_used(
        self, collective_id: str, start: datetime, end: datetime, limit: int
    ) -> Sequence[tuple[LibraryEntry, int]]:
        """Entries by uses recorded in [start, end), most first."""
        ...

    async def forget_member(self, member_id: str) -> int:
        """Drop the member from entries they added or approved and from their uses."""
        ...


class AuditRepo(Protocol):
    async def add(self, event: AuditEvent) -> None: ...
    async def recent(self, collective_id: str, limit: int) -> Sequence[AuditEvent]: ...


class OutboxRepo(Protocol):
    async def add(self, item: OutboxItem) -> None:
        """Add a message; a second item with the same idempotency key is ignored."""
        ...

    async def claim(
        self,
        now: datetime,
        lease_until: datetime,
        limit: int,
        platforms: Sequence[str],
        worker: str | None = None,
    ) -> Sequence[OutboxItem]:
        """Lease pending items due by now on these platforms, oldest first, in one statement:
        each gets lease_until, one more attempt and the claiming worker's id, so no other
        dispatcher takes it before the lease ends. An edit waits while an earlier edit of the
        same message is in flight."""
        ...

    async def take_back(self, worker: str, now: datetime) -> int:
        """End the leases this worker id still holds on pending rows (a process that died
        held them; the new one with its id takes them back at once). Returns how many."""
        ...

    async def supersede_edits(self, key: str, address_kind: str | None = None) -> int:
        """Mark unclaimed pending edits of this message superseded (newer ones follow), at
        every address or only at those of one kind ("channel" or "dm")."""
        ...

    async def ref_for(
        self, key: str, platform: str, workspace: str, address: str
    ) -> str | None: ...
    async def posted(self, key: str) -> Sequence[OutboxItem]:
        """Every "post" item of this logical message, so an update reaches each copy."""
        ...

    async def destinations(
        self, key: str, address_kind: str | None = None
    ) -> Sequence[Destination]:
        """Where the copies of this logical message were posted (no bodies), oldest first:
        all of them, or those at one kind of address ("channel" or "dm")."""
        ...

    async def save(self, item: OutboxItem) -> None:
        """Write a row's delivery state back. A row that is gone stays gone (forget-me may
        have dropped it while it was being sent), and a pending row's payload and `about`
        are left as stored (forget-me may have rewritten them meanwhile): only settling a
        row (a status other than pending) writes them, to clear them."""
        ...

    async def rewrite(self, item_id: str, payload: dict[str, object], about: Sequence[str]) -> None:
        """Replace an unsent row's message and whom it is about (forget-me)."""
        ...

    async def delete_settled_before(self, before: datetime) -> int:
        """Delete sent, superseded and failed rows created before this time (retention)."""
        ...

    async def withdraw(self, key_prefix: str, due_after: datetime) -> int:
        """Delete unsent, unclaimed posts whose key starts with this prefix and that wait to
        be sent after this time (a newer message takes their place)."""
        ...

    async def delete_dms_to(self, platform: str, user: str) -> int:
        """Drop every DM row to this platform user, sent or not (they asked to be forgotten):
        the rows hold their platform id."""
        ...

    async def unsent_about(self, ids: Sequence[str]) -> Sequence[OutboxItem]:
        """Pending and parked rows whose `about` holds one of these ids, oldest first."""
        ...

    async def delete(self, item_ids: Sequence[str]) -> int: ...
    async def delete_at_workspace(
        self, collective_id: str, platform: str, workspace: str, unsent_only: bool
    ) -> int:
        """Delete this collective's rows addressed to one workspace: the unsent ones (the
        platform removed rallybot: they can't go), or all of them (its data goes)."""
        ...

    async def post_keys(self, collective_id: str, prefix: str) -> Sequence[str]:
        """The keys, in order, of this collective's messages posted under keys that start
        with this prefix (a rally's later waves)."""
        ...


class InboxRepo(Protocol):
    """Requests a platform was told we received, waiting in the inbox to be worked."""

    async def drop_waiting(self, platform: str, workspace: str, user: str) -> int:
        """Delete this platform user's requests that are not worked yet and that no worker
        holds (forget-me: what they sent goes with them); returns how many. A request a
        worker holds is left to it: it is emptied when answered."""
        ...


@dataclass(frozen=True)
class Destination:
    """Where one copy of a message went."""

    platform: str
    workspace: str
    address_kind: str  # "channel" or "dm"
    address: str


@dataclass(frozen=True)
class FirstResponseTimes:
    raised_at: datetime
    activated_at: datetime | None
    first_response_at: datetime | None


class UnitOfWork(Protocol):
    """One database transaction: state, outbox rows and audit events commit together."""

    collectives: CollectiveRepo
    spaces: SpaceRepo
    members: MemberRepo
    identities: IdentityRepo
    link_codes: LinkCodeRepo
    alerts: AlertRepo
    responses: ResponseRepo
    rallied: RalliedRepo
    checkins: CheckInRepo
    evidence: EvidenceRepo
    audit: AuditRepo
    outbox: OutboxRepo
    library: LibraryRepo
    inbox: InboxRepo

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed."""
        ...

    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


class RateLimited(Exception):
    """The platform said "too many requests": try again after retry_after seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited for {retry_after:.1f}s")
        self.retry_after = retry_after


class Undeliverable(Exception):
    """The platform will never accept this message (unknown channel, blocked DM…)."""


@dataclass(frozen=True)
class Readers:
    """Who can read a platform channel, as far as the platform tells rallybot."""

    users: frozenset[str]  # platform user ids that can read it (rallybot itself left out)
    everyone: bool = False  # anyone in the workspace or server can read it
    others: int = 0  # more readers the platform only counts (Discord, when everyone can)


class ChannelUnreadable(Exception):
    """rallybot may not look at who reads a channel: `reason` is "missing_scope" (the app
    lacks a permission), "no_access" (it can't see the channel) or "not_found"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@runtime_checkable
class Directory(Protocol):
    """Who can read a channel, on one platform (implemented by its Chat)."""

    platform: str

    async def readers(self, workspace: str, channel: str, known: Sequence[str]) -> Readers:
        """The readers of this channel. `known`: the platform user ids of the collective's
        people there; a platform that can't list a channel's readers (Discord, without the
        privileged members intent) answers for these, and counts the rest. Raises
        ChannelUnreadable, or anything else for a failure worth trying again later."""
        ...


class ChartRenderer(Protocol):
    """Draws the digest's picture; None when plotting is not installed (text still goes)."""

    def weekly(
        self,
        weeks: Sequence[Mapping[str, str | int | float | None]],
        alerts_label: str,
        median_label: str,
    ) -> bytes | None: ...


class Chat(Protocol):
    """Sends rendered messages on one platform; implemented by each adapter."""

    platform: str

    async def post(self, item: OutboxItem, message: Message) -> str:
        """Send a new message; return the platform's reference to it."""
        ...

    async def update(self, item: OutboxItem, ref: str, message: Message) -> None:
        """Replace an earlier message in place.

        Both raise RateLimited (honoured, not counted as a failure), Undeliverable (parked at
        once) or any other exception (retried with backoff up to the attempt limit).
        """
        ...


@dataclass(frozen=True)
class Limit:
    """A published rate limit: `burst` sends at once, then `per_second` on average."""

    key: str
    per_second: float
    burst: int = 1


@runtime_checkable
class PacedChat(Chat, Protocol):
    """A Chat that states the limits a send counts against, so the dispatcher can pace
    itself instead of bouncing off 429s. Every platform's Chat is one (`bot.ops.platform`);
    the console's and tests' Chats need not be."""

    def limits(self, item: OutboxItem) -> Sequence[Limit]: ...
