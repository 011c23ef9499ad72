"""Entities and value types of a collective's alert practice; no I/O, no framework."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    RESPONDER = "responder"
    LEAD = "lead"
    SAFETY_LEAD = "safety_lead"


class MemberStatus(StrEnum):
    PENDING = "pending"  # asked to join, not yet vetted by a lead
    ACTIVE = "active"
    SUSPENDED = "suspended"
    FORGOTTEN = "forgotten"


class Venue(StrEnum):
    """Where the attack happens."""

    X = "x"
    INSTAGRAM = "instagram"
    TIKTOK = "tiktok"
    FACEBOOK = "facebook"
    YOUTUBE = "youtube"
    REDDIT = "reddit"
    LINKEDIN = "linkedin"
    REVIEW_SITE = "review_site"
    EMAIL = "email"
    OTHER = "other"


class Kind(StrEnum):
    TROLLING = "trolling"
    PILE_ON = "pile_on"
    MISINFORMATION = "misinformation"
    SEXUAL_HARASSMENT = "sexual_harassment"
    THREAT = "threat"
    DOXXING = "doxxing"
    IMPERSONATION = "impersonation"
    REVIEW_BOMBING = "review_bombing"


SEVERE_KINDS = frozenset({Kind.THREAT, Kind.DOXXING, Kind.SEXUAL_HARASSMENT})


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Help(StrEnum):
    AMPLIFY = "amplify"
    COUNTER = "counter"
    REPORT = "report"
    DOCUMENT = "document"
    SUPPORT = "support"  # supportive DMs
    QUIET = "quiet"  # quiet support only: nothing public


class Visibility(StrEnum):
    ALL = "all"  # the whole collective
    RESPONDERS = "responders"  # only the responders rallied
    LEADS = "leads"  # catalogue it, don't rally


class AlertStatus(StrEnum):
    HELD = "held"  # waiting for a lead: a new member's first alert, or a brigading pattern
    PENDING_CONSENT = "pending_consent"
    SAFETY_REVIEW = "safety_review"
    ACTIVE = "active"
    CLOSED = "closed"


class CloseReason(StrEnum):
    STOOD_DOWN = "stood_down"
    RESOLVED = "resolved"
    DECLINED = "declined"  # the target said no to an alert raised on their behalf
    EXPIRED = "expired"  # the target never answered the consent request
    REJECTED = "rejected"  # a lead reviewing a held alert turned it down
    SUSPENDED = "suspended"  # the raiser was suspended
    FORGOTTEN = "forgotten"  # the target asked rallybot to forget them
    IDLE = "idle"  # nothing happened for open_alert_idle_days, and nobody kept it open


class ResponseState(StrEnum):
    ON_IT = "on_it"
    DONE = "done"
    CANT = "cant"


class Action(StrEnum):
    AMPLIFIED = "amplified"
    COUNTERED = "countered"
    REPORTED = "reported"
    SUPPORTED = "supported"
    DOCUMENTED = "documented"


class CheckInStatus(StrEnum):
    SCHEDULED = "scheduled"
    SENT = "sent"
    ANSWERED = "answered"
    SKIPPED = "skipped"  # fell due while check-ins were paused
    CANCELLED = "cancelled"


class CheckInAnswer(StrEnum):
    OK = "ok"
    STRUGGLING = "struggling"
    NEED_HELP = "need_help"


class EvidenceKind(StrEnum):
    LINK = "link"
    NOTE = "note"
    CASE = "case"  # a platform report's case number
    ATTACHMENT = "attachment"


class MessageKind(StrEnum):
    """What a library message is for."""

    SUPPORT = "support"  # a supportive message to the target, sent privately
    REPLY = "reply"  # a public reply under the target's post
    COUNTER = "counter"  # a counter-message on a topic
    REPORT = "report"  # text for a platform's report form


class EntryStatus(StrEnum):
    PENDING = "pending"  # waits for a lead; never suggested
    APPROVED = "approved"


class Channel(StrEnum):
    RALLY = "rally"
    LEADS = "leads"


@dataclass
class Collective:
    id: str
    name: str
    timezone: str
    created_at: datetime
    rally_cap: int
    escalation_wait_minutes: int
    escalation_min_responders: int
    escalation_max_steps: int
    checkin_offsets_hours: tuple[int, ...]
    alerts_per_day: int
    alert_seq: int = 0
    digest_weekday: int = 0  # Monday; the weekly digest day in the collective's time zone
    digest_hour: int = 9
    digest_to_channel: bool = False  # the leads channel; otherwise a DM to each lead
    next_digest_at: datetime | None = None
    review_first_alerts: bool = True  # a new member's first alert waits for a lead
    brigade_threshold: int = 3  # recent joiners reporting one link before it is held
    topics: tuple[str, ...] = ()  # the collective's own list, for alerts and its library


@dataclass
class Space:
    """A Slack workspace, Discord guild or console that belongs to a collective."""

    id: str
    collective_id: str
    platform: str
    external_id: str
    rally_channel: str | None = None
    leads_channel: str | None = None
    lead_role: str | None = None  # a platform role (Discord) whose holders are leads
    removed_at: datetime | None = None  # the platform removed rallybot from it
    delete_at: datetime | None = None  # then its data (or its collective's) goes at this time
    check_at: datetime | None = None  # when to check who can read its channels next
    check_digest: str | None = None  # what the last check found (a hash), to tell it once
    check_told_at: datetime | None = None  # when the leads were last told of a finding

    @property
    def removed(self) -> bool:
        return self.removed_at is not None


@dataclass
class Member:
    id: str
    collective_id: str
    handle: str
    display_name: str
    joined_at: datetime
    status: MemberStatus = MemberStatus.ACTIVE
    roles: frozenset[Role] = frozenset()
    available: bool = True
    paused_until: datetime | None = None
    quiet_start: int | None = None  # minutes after local midnight
    quiet_end: int | None = None
    timezone: str | None = None  # None: the collective's
    skills: frozenset[str] = frozenset()
    prefers_dm: bool = False
    preferred_platform: str | None = None
    last_rallied_at: datetime | None = None
    lead_via_role: bool = False  # lead because of the space's lead role; revoked with it
    trusted: bool = True  # False for joiners until a lead lets their first alert through

    def has(self, role: Role) -> bool:
        if role is Role.LEAD:
            return Role.LEAD in self.roles or Role.SAFETY_LEAD in self.roles
        return role in self.roles

    @property
    def is_lead(self) -> bool:
        return self.has(Role.LEAD)

    @property
    def is_active(self) -> bool:
        return self.status is MemberStatus.ACTIVE


@dataclass
class Identity:
    """One platform account of a member."""

    id: str
    member_id: str
    platform: str
    workspace: str
    user: str


@dataclass
class LinkCode:
    code: str
    member_id: str
    expires_at: datetime


@dataclass
class Alert:
    id: str
    collective_id: str
    number: int
    target_id: str
    raised_by_id: str
    raised_at: datetime
    links: tuple[str, ...]
    kinds: frozenset[Kind]
    severity: Severity
    help_wanted: frozenset[Help]
    visibility: Visibility
    venue: Venue = Venue.OTHER
    target_post: str | None = None
    note: str = ""
    anonymous: bool = False
    status: AlertStatus = AlertStatus.PENDING_CONSENT
    consented_at: datetime | None = None
    activated_at: datetime | None = None
    first_response_at: datetime | None = None
    escalation_step: int = 0
    escalate_at: datetime | None = None
    last_escalated_at: datetime | None = None
    safety_lead_id: str | None = None
    safety_lead_ok: bool = False
    target_ok: bool = False
    delegates: frozenset[str] = frozenset()
    checkins_paused: bool = False
    closed_at: datetime | None = None
    close_reason: CloseReason | None = None
    closed_by_id: str | None = None
    purged_at: datetime | None = None  # personal data removed by the retention purge
    held_reason: str | None = None  # "first_alert", "brigading" or "link" while held
    topics: frozenset[str] = frozenset()  # from the collective's list: picks suggestions
    idle_notice_at: datetime | None = None  # the target and leads were told it closes soon
    kept_open_at: datetime | None = None  # someone pressed "Keep it open" (counts as activity)
    target_choice_at: datetime | None = None  # when the target said crowd or not (target_ok)
    target_told_at: datetime | None = None  # the last "where your alert stands" message
    taken_by_id: str | None = None  # a lead who took the alert on personally

    @property
    def is_severe(self) -> bool:
        return bool(self.kinds & SEVERE_KINDS) or self.severity is Severity.CRITICAL

    @property
    def is_open(self) -> bool:
        return self.status is not AlertStatus.CLOSED

    @property
    def on_behalf(self) -> bool:
        return self.raised_by_id != self.target_id

    @property
    def keeps_details_private(self) -> bool:
        """Threats, doxxing, sexual harassment (and anything critical): the note and links
        go only to those who take it on, never to the whole crowd."""
        return self.is_severe


@dataclass
class Response:
    """One row per responder per alert; the latest state wins, actions accumulate."""

    alert_id: str
    member_id: str
    state: ResponseState
    actions: frozenset[Action]
    first_at: datetime
    updated_at: datetime
    reminded_at: datetime | None = None  # "still on it?" was asked


@dataclass
class Rallied:
    """A responder the bot asked to help with an alert, and in which wave."""

    alert_id: str
    member_id: str
    wave: int
    at: datetime


@dataclass
class CheckIn:
    id: str
    alert_id: str
    member_id: str
    due_at: datetime
    status: CheckInStatus = CheckInStatus.SCHEDULED
    sent_at: datetime | None = None
    answer: CheckInAnswer | None = None
    answered_at: datetime | None = None
    group_id: str | None = None  # the check-ins asked in one message share an id


@dataclass
class Evidence:
    id: str
    alert_id: str
    added_by_id: str
    added_at: datetime
    kind: EvidenceKind
    content: str
    sha256: str


@dataclass
class AuditEvent:
    id: str
    collective_id: str
    at: datetime
    actor_id: str | None
    action: str
    alert_id: str | None = None
    subject_id: str | None = None
    detail: dict[str, str] = field(default_factory=dict)


@dataclass
class LibraryEntry:
    """A vetted message a rallied responder can start from (see bot.core.library)."""

    id: str
    collective_id: str
    number: int  # per collective, as leads name it: m12
    kind: MessageKind
    text: str
    added_at: datetime
    added_by_id: str | None = None  # None: the starter library or a forgotten member
    topics: frozenset[str] = frozenset()  # none: fits every topic
    venues: frozenset[Venue] = frozenset()  # none: fits every platform
    alert_kinds: frozenset[Kind] = frozenset()  # none: fits every kind of attack
    sources: tuple[str, ...] = ()  # links a responder can cite
    status: EntryStatus = EntryStatus.PENDING
    approved_by_id: str | None = None
    approved_at: datetime | None = None
    uses: int = 0


@dataclass
class LibraryUse:
    """A responder said they used an entry for an alert; once per entry, alert and person."""

    id: str
    collective_id: str
    entry_id: str
    alert_id: str
    member_id: str | None  # None once they asked to be forgotten
    at: datetime


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # parked after the attempt limit; the leads were told
    SUPERSEDED = "superseded"  # an edit replaced by a newer edit of the same message


@dataclass
class OutboxItem:
    """One message to one platform address, written in the transaction that caused it."""

    id: str
    collective_id: str
    key: str  # logical message, e.g. "rally:<alert id>"; updates name the same key
    idempotency_key: str
    platform: str
    workspace: str
    address_kind: str  # "channel" or "dm"
    address: str  # channel id, or the platform user id for a DM
    op: str  # "post" or "update"
    payload: dict[str, object]
    created_at: datetime
    due_at: datetime
    status: OutboxStatus = OutboxStatus.PENDING
    attempts: int = 0
    ref: str | None = None  # the platform's id for the sent message
    sent_at: datetime | None = None
    last_error: str | None = None
    lease_until: datetime | None = None  # claimed by a dispatcher until then
    claimed_by: str | None = None  # that dispatcher's worker id (RALLYBOT_WORKER_ID)
    # Ids of the members the message mentions or names and of the things its key names (an
    # alert, a member, a check-in): forget-me finds the unsent rows about a person by them.
    about: tuple[str, ...] = ()
