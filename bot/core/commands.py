"""Commands: what a person asked for, already parsed, the same from every platform."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.core.library import Draft
from bot.core.model import (
    Action,
    CheckInAnswer,
    Help,
    Kind,
    MessageKind,
    ResponseState,
    Role,
    Severity,
    Venue,
    Visibility,
)


@dataclass(frozen=True)
class Caller:
    """Who is typing, as the platform told us; resolved to a member by the core."""

    platform: str
    workspace: str
    user: str
    display_name: str = ""
    channel: str | None = None
    can_manage: bool = False  # platform admin (Discord Manage Server, Slack admin)
    # The workspace/guild the command came from when it differs from the identity scope:
    # Discord user ids are global (identities use workspace ""), guilds are spaces.
    space: str | None = None
    roles: frozenset[str] = frozenset()  # the caller's platform role ids (Discord)

    @property
    def space_id(self) -> str:
        return self.space if self.space is not None else self.workspace


@dataclass(frozen=True)
class AlertRef:
    """An alert as a person names it (#12) or as a button carries it (its id)."""

    number: int | None = None
    id: str | None = None


@dataclass(frozen=True)
class MemberRef:
    """A member as someone named them, exactly one of: a handle as typed ("ben", "@Ben"), a
    user id on the caller's platform (a mention, or a person picked in a form), or a member
    id (carried by a button). The adapter decides which; the core only looks it up."""

    handle: str | None = None
    user: str | None = None
    member_id: str | None = None

    def __post_init__(self) -> None:
        if sum(v is not None for v in (self.handle, self.user, self.member_id)) != 1:
            raise ValueError("a MemberRef names a member exactly one way")

    @property
    def named(self) -> str:
        """How to quote it back to the person who named it."""
        if self.member_id is not None:
            return "id:" + self.member_id
        return self.handle if self.handle is not None else str(self.user)


@dataclass(frozen=True)
class RaiseAlert:
    links: tuple[str, ...]
    note: str = ""
    target: MemberRef | None = None
    post: str | None = None
    venue: Venue | None = None
    kinds: frozenset[Kind] = frozenset()
    severity: Severity | None = None
    help_wanted: frozenset[Help] = frozenset()
    visibility: Visibility | None = None
    anonymous: bool = False
    topics: frozenset[str] = frozenset()


@dataclass(frozen=True)
class OpenAlertForm:
    pass


@dataclass(frozen=True)
class ShowStatus:
    alert: AlertRef | None = None


@dataclass(frozen=True)
class StandDown:
    alert: AlertRef


@dataclass(frozen=True)
class GiveConsent:
    alert: AlertRef
    yes: bool
    anonymous: bool | None = None  # None: as raised; else whether the rally may name her
    crowd: bool = True  # False: a severe alert for the safety team only


@dataclass(frozen=True)
class Respond:
    alert: AlertRef
    state: ResponseState
    action: Action | None = None


@dataclass(frozen=True)
class ShowDoneChoices:
    alert: AlertRef


@dataclass(frozen=True)
class SafetyDecision:
    """A safety lead decides whether the crowd may be rallied for a severe alert."""

    alert: AlertRef
    rally: bool


@dataclass(frozen=True)
class TargetSafetyChoice:
    """The target of a severe alert says whether they want the crowd."""

    alert: AlertRef
    rally: bool
    anonymous: bool | None = None  # with rally: whether the rally may name her


@dataclass(frozen=True)
class ActOnEscalation:
    """A lead acts on an escalation: call more now, page every available responder, or
    take the alert on personally."""

    alert: AlertRef
    action: str  # "widen", "page_all" or "take"


@dataclass(frozen=True)
class ControlCheckInGroup:
    """The target pauses or stops the check-ins of every alert one check-in asked about."""

    group_id: str
    action: str  # "pause" or "stop"


@dataclass(frozen=True)
class AddEvidence:
    alert: AlertRef
    content: str


@dataclass(frozen=True)
class ExportEvidence:
    alert: AlertRef


@dataclass(frozen=True)
class Delegate:
    alert: AlertRef
    member: MemberRef


@dataclass(frozen=True)
class SetAvailable:
    on: bool


@dataclass(frozen=True)
class Pause:
    duration: timedelta | None  # None: resume now


@dataclass(frozen=True)
class SetQuiet:
    start: int | None  # minutes after local midnight; None: no quiet hours
    end: int | None


@dataclass(frozen=True)
class Prefer:
    """Where to be reached: a platform, and whether rallies come by DM too."""

    platform: str | None = None
    dm: bool | None = None


@dataclass(frozen=True)
class SetTimezone:
    tz: str


@dataclass(frozen=True)
class LinkIdentity:
    code: str | None = None  # None: make a code on this platform


@dataclass(frozen=True)
class ForgetMe:
    confirmed: bool = False
    member_id: str | None = None  # carried by the confirm button


@dataclass(frozen=True)
class ShowHelp:
    topic: str | None = None


@dataclass(frozen=True)
class Join:
    note: str = ""


@dataclass(frozen=True)
class Setup:
    what: str | None = None  # None: show; "rally" / "leads": this channel; "name"/"timezone"
    value: str | None = None


@dataclass(frozen=True)
class ListMembers:
    pass


@dataclass(frozen=True)
class ShowMe:
    pass


@dataclass(frozen=True)
class ReviewAlert:
    """A lead lets a held alert through, or turns it down."""

    alert: AlertRef
    release: bool


@dataclass(frozen=True)
class Suspend:
    member: MemberRef
    on: bool = True


@dataclass(frozen=True)
class ShowAudit:
    member: MemberRef | None = None
    alert: AlertRef | None = None
    limit: int = 20


@dataclass(frozen=True)
class Approve:
    member: MemberRef


@dataclass(frozen=True)
class Decline:
    """A lead turns a join request down: the request is deleted."""

    member: MemberRef


@dataclass(frozen=True)
class KeepOpen:
    """The target or a lead keeps an alert open that was about to close for lack of activity."""

    alert: AlertRef


@dataclass(frozen=True)
class SetRole:
    member: MemberRef
    role: Role | None  # None: plain member, every role removed
    on: bool = True


@dataclass(frozen=True)
class Digest:
    pass


@dataclass(frozen=True)
class AnswerCheckIn:
    checkin_id: str
    answer: CheckInAnswer


@dataclass(frozen=True)
class ControlCheckIns:
    alert: AlertRef
    action: str  # "pause", "resume" or "stop"


@dataclass(frozen=True)
class SuggestMessages:
    """A rallied responder asks the library what they could say (page: "Another")."""

    alert: AlertRef
    page: int = 0


@dataclass(frozen=True)
class UseMessage:
    entry_id: str
    alert: AlertRef


@dataclass(frozen=True)
class LibraryList:
    filter: str | None = None  # "pending", a kind or a topic


@dataclass(frozen=True)
class LibraryShow:
    number: int


@dataclass(frozen=True)
class LibraryAdd:
    draft: Draft


@dataclass(frozen=True)
class LibraryEdit:
    """Only what is given changes; new text waits for a lead's approval again."""

    number: int
    kind: MessageKind | None = None
    text: str | None = None
    topics: frozenset[str] | None = None
    venues: frozenset[Venue] | None = None
    alert_kinds: frozenset[Kind] | None = None
    sources: tuple[str, ...] | None = None


@dataclass(frozen=True)
class LibraryApprove:
    numbers: tuple[int, ...] = ()
    entry_id: str | None = None  # carried by the Approve button


@dataclass(frozen=True)
class LibraryRemove:
    number: int


@dataclass(frozen=True)
class LibraryTopics:
    action: str | None = None  # None: list; "add" or "remove"
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class LibraryImport:
    content: str | None  # None: the platform asks for the file (a form or an attachment)
    name: str = ""


@dataclass(frozen=True)
class LibraryExport:
    pass


Command = (
    RaiseAlert
    | OpenAlertForm
    | ShowStatus
    | StandDown
    | GiveConsent
    | Respond
    | ShowDoneChoices
    | SafetyDecision
    | TargetSafetyChoice
    | AddEvidence
    | ExportEvidence
    | Delegate
    | SetAvailable
    | Pause
    | SetQuiet
    | SetTimezone
    | Prefer
    | LinkIdentity
    | ForgetMe
    | ShowHelp
    | Join
    | Setup
    | ListMembers
    | ShowMe
    | ReviewAlert
    | Suspend
    | ShowAudit
    | Approve
    | Decline
    | KeepOpen
    | SetRole
    | Digest
    | AnswerCheckIn
    | ControlCheckIns
    | ActOnEscalation
    | ControlCheckInGroup
    | SuggestMessages
    | UseMessage
    | LibraryList
    | LibraryShow
    | LibraryAdd
    | LibraryEdit
    | LibraryApprove
    | LibraryRemove
    | LibraryTopics
    | LibraryImport
    | LibraryExport
)
