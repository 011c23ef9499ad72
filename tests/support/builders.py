"""Rows for repository tests: a valid entity of each kind, changed where a test cares, and
`seed` to commit several in one transaction of any UnitOfWork (SQL or the in-memory fakes)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

from bot.core.model import (
    Alert,
    AuditEvent,
    CheckIn,
    Collective,
    Evidence,
    Help,
    Identity,
    Kind,
    LibraryEntry,
    LinkCode,
    Member,
    MessageKind,
    OutboxItem,
    Rallied,
    Response,
    Severity,
    Space,
    Venue,
    Visibility,
)
from bot.core.ports import UnitOfWork

Uow = Callable[[], UnitOfWork]

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CEST = timezone(timedelta(hours=2))
SLACK = ["slack"]


def new_id() -> str:
    return uuid.uuid4().hex


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def a_collective(**changes: object) -> Collective:
    c = Collective(
        id=new_id(),
        name=f"collective {new_id()[:8]}",
        timezone="America/Chicago",
        created_at=T0,
        rally_cap=12,
        escalation_wait_minutes=20,
        escalation_min_responders=3,
        escalation_max_steps=2,
        checkin_offsets_hours=(24, 72, 168),
        alerts_per_day=5,
    )
    return dataclasses.replace(c, **changes)  # type: ignore[arg-type]


def a_member(collective: Collective, handle: str, **changes: object) -> Member:
    m = Member(
        id=new_id(),
        collective_id=collective.id,
        handle=handle,
        display_name=handle.title(),
        joined_at=T0,
    )
    return dataclasses.replace(m, **changes)  # type: ignore[arg-type]


def an_alert(collective: Collective, target: Member, number: int, **changes: object) -> Alert:
    a = Alert(
        id=new_id(),
        collective_id=collective.id,
        number=number,
        target_id=target.id,
        raised_by_id=target.id,
        raised_at=T0,
        links=("https://x.example/1",),
        kinds=frozenset({Kind.TROLLING}),
        severity=Severity.MEDIUM,
        help_wanted=frozenset({Help.AMPLIFY}),
        visibility=Visibility.ALL,
    )
    return dataclasses.replace(a, **changes)  # type: ignore[arg-type]


def an_outbox_item(collective: Collective, **changes: object) -> OutboxItem:
    item = OutboxItem(
        id=new_id(),
        collective_id=collective.id,
        key="rally:a1",
        idempotency_key=new_id(),
        platform="slack",
        workspace="T1",
        address_kind="channel",
        address="C1",
        op="post",
        payload={"title": "Help Dr A", "sections": [{"text": "x"}]},
        created_at=T0,
        due_at=T0,
    )
    return dataclasses.replace(item, **changes)  # type: ignore[arg-type]


def an_entry(collective: Collective, number: int, **changes: object) -> LibraryEntry:
    e = LibraryEntry(
        id=new_id(),
        collective_id=collective.id,
        number=number,
        kind=MessageKind.REPLY,
        text=f"Thank you, number {number}.",
        added_at=T0,
        topics=frozenset({"vaccines", "masks"}),
        venues=frozenset({Venue.X, Venue.INSTAGRAM}),
        alert_kinds=frozenset({Kind.PILE_ON}),
        sources=("https://example.org/b", "https://example.org/a"),
    )
    return dataclasses.replace(e, **changes)  # type: ignore[arg-type]


async def add(u: UnitOfWork, obj: object) -> None:
    """Add one entity through the repository that owns it."""
    match obj:
        case Collective():
            await u.collectives.add(obj)
        case Space():
            await u.spaces.add(obj)
        case Member():
            await u.members.add(obj)
        case Identity():
            await u.identities.add(obj)
        case LinkCode():
            await u.link_codes.add(obj)
        case Alert():
            await u.alerts.add(obj)
        case Response():
            await u.responses.save(obj)
        case Rallied():
            await u.rallied.add_many([obj])
        case CheckIn():
            await u.checkins.add(obj)
        case Evidence():
            await u.evidence.add(obj)
        case AuditEvent():
            await u.audit.add(obj)
        case OutboxItem():
            await u.outbox.add(obj)
        case LibraryEntry():
            await u.library.add(obj)
        case _:
            raise TypeError(obj)


async def seed(uow: Uow, *objects: object) -> None:
    """Add the objects in one transaction, in the given order."""
    async with uow() as u:
        for obj in objects:
            await add(u, obj)
        await u.commit()
