"""Typed SQLAlchemy tables, one row class per domain entity; column names equal field names."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.store.types import CleanString, CleanText, Json, UTCDateTime

# Stable constraint names: Alembic batch mode on SQLite can only alter what has a name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Every string column stores no control characters (bot.store.types).
ID = CleanString(64)  # our ids are 32 hex characters; room for uuids with dashes
ENUM = CleanString(32)
PLATFORM = CleanString(16)
EXTERNAL = CleanString(64)  # a platform's own id: Slack team/user/channel, Discord snowflake
NAME = CleanString(200)
KEY = CleanString(255)
TZ = CleanString(64)
SHORT = CleanString(16)


def _parent(column: str) -> ForeignKey:
    """A reference whose row goes away with its parent."""
    return ForeignKey(column, ondelete="CASCADE")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class CollectiveRow(Base):
    __tablename__ = "collectives"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(NAME)
    timezone: Mapped[str] = mapped_column(TZ)
    created_at: Mapped[datetime]
    rally_cap: Mapped[int] = mapped_column(Integer)
    escalation_wait_minutes: Mapped[int] = mapped_column(Integer)
    escalation_min_responders: Mapped[int] = mapped_column(Integer)
    escalation_max_steps: Mapped[int] = mapped_column(Integer)
    checkin_offsets_hours: Mapped[list[int]] = mapped_column(Json)
    alerts_per_day: Mapped[int] = mapped_column(Integer)
    alert_seq: Mapped[int] = mapped_column(Integer)
    digest_weekday: Mapped[int] = mapped_column(Integer)
    digest_hour: Mapped[int] = mapped_column(Integer)
    digest_to_channel: Mapped[bool] = mapped_column(Boolean)
    next_digest_at: Mapped[datetime | None] = mapped_column(index=True)
    review_first_alerts: Mapped[bool] = mapped_column(Boolean)
    brigade_threshold: Mapped[int] = mapped_column(Integer)
    topics: Mapped[list[str]] = mapped_column(Json)


class SpaceRow(Base):
    __tablename__ = "spaces"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    collective_id: Mapped[str] = mapped_column(ID, _parent("collectives.id"), index=True)
    platform: Mapped[str] = mapped_column(PLATFORM)
    external_id: Mapped[str] = mapped_column(EXTERNAL)
    rally_channel: Mapped[str | None] = mapped_column(EXTERNAL)
    leads_channel: Mapped[str | None] = mapped_column(EXTERNAL)
    lead_role: Mapped[str | None] = mapped_column(EXTERNAL)
    # The platform removed rallybot (uninstalled, kicked): its data goes at delete_at.
    removed_at: Mapped[datetime | None]
    delete_at: Mapped[datetime | None] = mapped_column(index=True)
    # Who can read its rally and leads channels is checked at check_at (daily).
    check_at: Mapped[datetime | None] = mapped_column(index=True)
    check_digest: Mapped[str | None] = mapped_column(CleanString(64))
    check_told_at: Mapped[datetime | None]


class MemberRow(Base):
    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("collective_id", "handle"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    collective_id: Mapped[str] = mapped_column(ID, _parent("collectives.id"))
    handle: Mapped[str] = mapped_column(NAME)
    display_name: Mapped[str] = mapped_column(NAME)
    joined_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(ENUM)
    roles: Mapped[list[str]] = mapped_column(Json)
    available: Mapped[bool] = mapped_column(Boolean)
    paused_until: Mapped[datetime | None]
    quiet_start: Mapped[int | None] = mapped_column(Integer)
    quiet_end: Mapped[int | None] = mapped_column(Integer)
    timezone: Mapped[str | None] = mapped_column(TZ)
    skills: Mapped[list[str]] = mapped_column(Json)
    prefers_dm: Mapped[bool] = mapped_column(Boolean)
    preferred_platform: Mapped[str | None] = mapped_column(PLATFORM)
    last_rallied_at: Mapped[datetime | None]
    lead_via_role: Mapped[bool] = mapped_column(Boolean)
    trusted: Mapped[bool] = mapped_column(Boolean)


class IdentityRow(Base):
    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("platform", "workspace", "user"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    member_id: Mapped[str] = mapped_column(ID, _parent("members.id"), index=True)
    platform: Mapped[str] = mapped_column(PLATFORM)
    workspace: Mapped[str] = mapped_column(EXTERNAL)
    user: Mapped[str] = mapped_column(EXTERNAL)


class LinkCodeRow(Base):
    __tablename__ = "link_codes"

    code: Mapped[str] = mapped_column(ID, primary_key=True)
    member_id: Mapped[str] = mapped_column(ID, _parent("members.id"), index=True)
    expires_at: Mapped[datetime]


OPEN = "status != 'closed'"  # alerts.status of an open alert (AlertStatus.CLOSED is "closed")


class AlertRow(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("collective_id", "number"),
        Index(None, "status", "escalate_at"),
        Index(None, "collective_id", "raised_at"),
        Index(None, "raised_by_id", "raised_at"),
        # The few open alerts of a collective, whatever the length of its history. The
        # predicate is a literal so SQLite can match a query against it (see OPEN).
        Index(
            "ix_alerts_open",
            "collective_id",
            "number",
            sqlite_where=text(OPEN),
            postgresql_where=text(OPEN),
        ),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    collective_id: Mapped[str] = mapped_column(ID, _parent("collectives.id"))
    number: Mapped[int] = mapped_column(Integer)
    # Members are forgotten by status, never deleted, so an alert keeps its people.
    target_id: Mapped[str] = mapped_column(ID, ForeignKey("members.id"), index=True)
    raised_by_id: Mapped[str] = mapped_column(ID, ForeignKey("members.id"))
    raised_at: Mapped[datetime]
    links: Mapped[list[str]] = mapped_column(Json)
    kinds: Mapped[list[str]] = mapped_column(Json)
    severity: Mapped[str] = mapped_column(ENUM)
    help_wanted: Mapped[list[str]] = mapped_column(Json)
    visibility: Mapped[str] = mapped_column(ENUM)
    venue: Mapped[str] = mapped_column(ENUM)
    target_post: Mapped[str | None] = mapped_column(CleanText)
    note: Mapped[str] = mapped_column(CleanText)
    anonymous: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(ENUM)
    consented_at: Mapped[datetime | None]
    activated_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    escalation_step: Mapped[int] = mapped_column(Integer)
    escalate_at: Mapped[datetime | None]
    last_escalated_at: Mapped[datetime | None]
    safety_lead_id: Mapped[str | None] = mapped_column(ID)
    safety_lead_ok: Mapped[bool] = mapped_column(Boolean)
    target_ok: Mapped[bool] = mapped_column(Boolean)
    delegates: Mapped[list[str]] = mapped_column(Json)
    checkins_paused: Mapped[bool] = mapped_column(Boolean)
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[str | None] = mapped_column(ENUM)
    closed_by_id: Mapped[str | None] = mapped_column(ID)
    purged_at: Mapped[datetime | None]
    held_reason: Mapped[str | None] = mapped_column(CleanString(32))
    topics: Mapped[list[str]] = mapped_column(Json)
    idle_notice_at: Mapped[datetime | None]
    kept_open_at: Mapped[datetime | None]
    target_choice_at: Mapped[datetime | None]
    target_told_at: Mapped[datetime | None]
    taken_by_id: Mapped[str | None] = mapped_column(ID)


class ResponseRow(Base):
    __tablename__ = "responses"

    alert_id: Mapped[str] = mapped_column(ID, _parent("alerts.id"), primary_key=True)
    member_id: Mapped[str] = mapped_column(ID, _parent("members.id"), primary_key=True, index=True)
    state: Mapped[str] = mapped_column(ENUM)
    actions: Mapped[list[str]] = mapped_column(Json)
    first_at: Mapped[datetime] = mapped_column(index=True)  # the digest's period queries
    updated_at: Mapped[datetime]
    reminded_at: Mapped[datetime | None]


class RalliedRow(Base):
    __tablename__ = "rallied"

    alert_id: Mapped[str] = mapped_column(ID, _parent("alerts.id"), primary_key=True)
    member_id: Mapped[str] = mapped_column(ID, _parent("members.id"), primary_key=True, index=True)
    wave: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]


class CheckInRow(Base):
    __tablename__ = "checkins"
    # (due_at) alone: the digest's week of check-ins, whatever their status.
    __table_args__ = (Index(None, "status", "due_at"), Index(None, "due_at"))

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    alert_id: Mapped[str] = mapped_column(ID, _parent("alerts.id"), index=True)
    member_id: Mapped[str] = mapped_column(ID, _parent("members.id"), index=True)
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(ENUM)
    sent_at: Mapped[datetime | None]
    answer: Mapped[str | None] = mapped_column(ENUM)
    answered_at: Mapped[datetime | None]
    group_id: Mapped[str | None] = mapped_column(ID, index=True)


class EvidenceRow(Base):
    __tablename__ = "evidence"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    alert_id: Mapped[str] = mapped_column(ID, _parent("alerts.id"), index=True)
    # No foreign key: anonymise_author replaces the author with a placeholder id.
    added_by_id: Mapped[str] = mapped_column(ID, index=True)
    added_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(ENUM)
    content: Mapped[str] = mapped_column(CleanText)
    sha256: Mapped[str] = mapped_column(CleanString(64))


class LibraryEntryRow(Base):
    __tablename__ = "library_entries"
    __table_args__ = (UniqueConstraint("collective_id", "number"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    collective_id: Mapped[str] = mapped_column(ID, _parent("collectives.id"))
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(ENUM)
    text: Mapped[str] = mapped_column(CleanText)
    added_at: Mapped[datetime]
    # No foreign keys: forget-me sets them to NULL.
    added_by_id: Mapped[str | None] = mapped_column(ID, index=True)
    topics: Mapped[list[str]] = mapped_column(Json)
    venues: Mapped[list[str]] = mapped_column(Json)
    alert_kinds: Mapped[list[str]] = mapped_column(Json)
    sources: Mapped[list[str]] = mapped_column(Json)
    status: Mapped[str] = mapped_column(ENUM)
    approved_by_id: Mapped[str | None] = mapped_column(ID, index=True)
    approved_at: Mapped[datetime | None]
    uses: Mapped[int] = mapped_column(Integer)


class LibraryUseRow(Base):
    __tablename__ = "library_uses"
    __table_args__ = (
        UniqueConstraint("entry_id", "alert_id", "member_id"),
        Index(None, "collective_id", "at"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    collective_id: Mapped[str] = mapped_column(ID, _parent("collectives.id"))
    entry_id: Mapped[str] = mapped_column(ID, _parent("library_entries.id"))
    alert_id: Mapped[str] = mapped_column(ID, _parent("alerts.id"), index=True)
    member_id: Mapped[str | None] = mapped_column(ID, index=True)
    at: Mapped[datetime]


class AuditEventRow(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index(None, "collective_id", "at"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    collective_id: Mapped[str] = mapped_column(ID, _parent("collectives.id"))
    at: Mapped[datetime]
    # Plain ids, no foreign keys: the audit trail must outlive what it talks about.
    actor_id: Mapped[str | None] = mapped_column(ID)
    action: Mapped[str] = mapped_column(CleanString(64))
    alert_id: Mapped[str | None] = mapped_column(ID)
    subject_id: Mapped[str | None] = mapped_column(ID)
    detail: Mapped[dict[str, Any]] = mapped_column(Json)


class OutboxRow(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index(None, "status", "due_at"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    collective_id: Mapped[str] = mapped_column(ID, _parent("collectives.id"), index=True)
    key: Mapped[str] = mapped_column(KEY, index=True)
    idempotency_key: Mapped[str] = mapped_column(KEY, unique=True)
    platform: Mapped[str] = mapped_column(PLATFORM)
    workspace: Mapped[str] = mapped_column(EXTERNAL)
    address_kind: Mapped[str] = mapped_column(SHORT)
    address: Mapped[str] = mapped_column(EXTERNAL)
    op: Mapped[str] = mapped_column(SHORT)
    payload: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime]
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(ENUM)
    attempts: Mapped[int] = mapped_column(Integer)
    ref: Mapped[str | None] = mapped_column(KEY)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(CleanText)
    lease_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(ID)  # the worker holding the lease
    about: Mapped[list[str]] = mapped_column(Json, server_default=text("'[]'"))


class InboxRow(Base):
    """A request a platform was told we received (Slack's ack, Discord's deferral): written
    before the acknowledgement, worked and answered from here, so a crash loses none.
    Answered rows keep only the platform's request id (to recognise a retry) until purged."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("platform", "request_id"),
        Index(None, "done_at", "next_try"),
        # One person's lane: their requests are worked in the order they were acknowledged.
        Index(None, "platform", "workspace", "user", "created_at"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    platform: Mapped[str] = mapped_column(PLATFORM)
    request_id: Mapped[str] = mapped_column(KEY)  # Slack: a hash of the body; Discord: the id
    workspace: Mapped[str] = mapped_column(EXTERNAL)
    user: Mapped[str] = mapped_column(EXTERNAL)  # emptied once answered
    kind: Mapped[str] = mapped_column(SHORT)  # command, action, form, home, removed, …
    payload: Mapped[dict[str, Any]] = mapped_column(Json)  # what was sent; emptied once answered
    respond_to: Mapped[str | None] = mapped_column(CleanText)  # response_url / interaction token
    respond_until: Mapped[datetime | None]  # after this the answer goes by DM
    created_at: Mapped[datetime]  # the acknowledgement's time: a lane's order
    next_try: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer)
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(ID)  # the worker holding the lease
    lease_until: Mapped[datetime | None]
    worked_at: Mapped[datetime | None]  # set in the work's own transaction
    reply: Mapped[dict[str, Any] | None] = mapped_column(Json)  # the answer, until it is sent
    done_at: Mapped[datetime | None]  # answered (or reported as failed)
    last_error: Mapped[str | None] = mapped_column(CleanText)
