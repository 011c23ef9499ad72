"""The core's services on the real store, on SQLite and PostgreSQL: the same rules hold."""

from __future__ import annotations

import asyncio
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.core.commands import Caller
from bot.core.messages import from_dict
from bot.core.model import (
    AlertStatus,
    CheckInStatus,
    Identity,
    Member,
    OutboxStatus,
    ResponseState,
    Role,
)
from bot.core.policy import Policy
from bot.core.services import Services
from bot.core.wording import Copy, flatten
from bot.store.tables import CheckInRow, OutboxRow
from bot.store.uow import SqlUnitOfWork

CONFIG = Path(__file__).resolve().parents[2] / "config" / "rallybot.toml"


@dataclass
class Clock:
    at: datetime = field(default_factory=lambda: datetime(2026, 11, 25, 15, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.at


class Ids:
    def new(self) -> str:
        return uuid.uuid4().hex


def services(uow: Callable[[], SqlUnitOfWork], clock: Clock) -> Services:
    copy = Copy(flatten(tomllib.loads(CONFIG.read_text())["copy"]))
    return Services(uow=uow, clock=clock, ids=Ids(), copy=copy, policy=Policy())


def as_(handle: str) -> Caller:
    return Caller("console", "local", handle, channel="#rally")


async def outbox(uow: Callable[[], SqlUnitOfWork]) -> list[tuple[str, str, str]]:
    """(address, op, title) of every outbox row, oldest first."""
    async with uow() as work:
        rows = (
            await work.session.scalars(
                select(OutboxRow).order_by(OutboxRow.created_at, OutboxRow.id)
            )
        ).all()
        return [(r.address, r.op, from_dict(r.payload).title) for r in rows]


async def test_alert_lifecycle_round_trips_through_the_database(
    uow: Callable[[], SqlUnitOfWork],
) -> None:
    clock = Clock()
    core = services(uow, clock)
    await core.seed_demo()
    await core.seed_demo()  # seeding twice is harmless
    reply = await core.handle_text(as_("ana"), "alert https://x.com/t/1 pile-on kinds=pile_on")
    assert reply.ok, reply.message.plain_text()
    sent = await outbox(uow)
    assert ("#rally", "post", "Rally #1: Ana is under attack") in sent

    async with uow() as work:
        collective = await work.collectives.by_name("Demo collective")
        assert collective is not None
        alert = await work.alerts.by_number(collective.id, 1)
        assert alert is not None and alert.status is AlertStatus.ACTIVE
    on_it = f"rally:alert:{alert.id}:on_it"
    assert (await core.handle_action(as_("ben"), on_it)).ok
    again = await core.handle_action(as_("ben"), on_it)
    assert "Already recorded" in again.message.plain_text()
    assert (await core.handle_action(as_("cam"), f"rally:alert:{alert.id}:did:reported")).ok
    async with uow() as work:
        responses = await work.responses.for_alert(alert.id)
    assert sorted(r.state for r in responses) == [ResponseState.DONE, ResponseState.ON_IT]

    assert (await core.handle_text(as_("ana"), "standdown #1")).ok
    clock.at += timedelta(days=1, minutes=1)
    assert await core.run_due() == 1  # the +1 day check-in; the closed alert doesn't escalate
    async with uow() as work:
        checkins = await work.checkins.for_alert(alert.id)
    assert sorted(c.status for c in checkins) == [
        CheckInStatus.SCHEDULED,
        CheckInStatus.SCHEDULED,
        CheckInStatus.SENT,
    ]
    assert any(t == "Checking in after alert #1" for _, _, t in await outbox(uow))


async def test_bad_input_changes_nothing_in_the_database(
    uow: Callable[[], SqlUnitOfWork],
) -> None:
    core = services(uow, Clock())
    await core.seed_demo()
    before = await outbox(uow)
    for text in (
        "alert javascript:alert(1)",
        "standdown #7",
        "approve ben",
        "role ana lead",
        "alert https://x.com/a severity=apocalyptic",
        "consent #1 maybe",
    ):
        reply = await core.handle_text(as_("ana"), text)
        assert not reply.ok, text
    assert await outbox(uow) == before
    async with uow() as work:
        collective = await work.collectives.by_name("Demo collective")
        assert collective is not None and collective.alert_seq == 0


@pytest.mark.backends("postgres")
async def test_two_workers_never_send_one_check_in_twice(
    uow: Callable[[], SqlUnitOfWork],
) -> None:
    clock = Clock()
    core = services(uow, clock)
    await core.seed_demo()
    for n, raiser in enumerate(("ana", "lee", "sam", "ana", "lee", "sam")):
        assert (await core.handle_text(as_(raiser), f"alert https://x.com/t/{n}")).ok
    clock.at += timedelta(days=8)  # every check-in (3 per alert) and escalation is now due
    worker_a, worker_b = services(uow, clock), services(uow, clock)
    done = await asyncio.gather(worker_a.run_due(limit=1000), worker_b.run_due(limit=1000))
    async with uow() as work:
        sent = await work.session.scalar(
            select(func.count())
            .select_from(CheckInRow)
            .where(CheckInRow.status == CheckInStatus.SENT.value)
        )
        titles = [
            from_dict(r.payload).title
            for r in await work.session.scalars(
                select(OutboxRow).where(OutboxRow.status == OutboxStatus.PENDING.value)
            )
        ]
        waiting = await work.session.scalar(
            select(func.count())
            .select_from(CheckInRow)
            .where(CheckInRow.status == CheckInStatus.SCHEDULED.value)
        )
    # Ana, Lee and Sam each have two alerts with three check-ins due: each is asked once,
    # about both alerts (one message a day); whatever the other worker held waits a day.
    checkin_messages = [t for t in titles if t.startswith("Checking in after alert")]
    assert len(checkin_messages) == 3
    assert sent + waiting == 18 and sent >= 6
    assert sum(done) >= 18


async def test_what_fell_due_while_nothing_ran_is_delivered_once_on_the_next_start(
    uow: Callable[[], SqlUnitOfWork],
) -> None:
    clock = Clock()
    first = services(uow, clock)
    await first.seed_demo()
    assert (await first.handle_text(as_("ana"), "alert https://x.com/t/1 nobody answers")).ok
    # The only process stops; the escalation (30 min) and the first check-in (1 day) fall due.
    clock.at += timedelta(days=2)
    restarted = services(uow, clock)
    assert await restarted.run_due(limit=100) >= 2
    assert await restarted.run_due(limit=100) == 0  # nothing twice
    titles = [title for _, _, title in await outbox(uow)]
    assert titles.count("Checking in after alert #1") == 1
    assert any(t.startswith("Alert #1 needs attention") for t in titles)


@pytest.mark.backends("postgres")
async def test_concurrent_responses_leave_one_pending_edit_with_the_exact_tally(
    uow: Callable[[], SqlUnitOfWork],
) -> None:
    clock = Clock()
    core = services(uow, clock)
    collective = await core.seed_demo()
    people = [f"helper{n:02d}" for n in range(20)]
    async with uow() as work:
        for handle in people:
            member = Member(
                id=uuid.uuid4().hex,
                collective_id=collective.id,
                handle=handle,
                display_name=handle.title(),
                joined_at=clock.at - timedelta(days=30),
                roles=frozenset({Role.RESPONDER}),
            )
            await work.members.add(member)
            await work.identities.add(
                Identity(uuid.uuid4().hex, member.id, "console", "local", handle)
            )
        await work.commit()
    assert (await core.handle_text(as_("ana"), "alert https://x.com/t/1 pile-on")).ok
    async with uow() as work:
        alert = await work.alerts.by_number(collective.id, 1)
        assert alert is not None

    # The first response is in (the only one that writes the alert row), then every other
    # helper presses "I'm on it" at once, each in their own transaction and connection.
    on_it = f"rally:alert:{alert.id}:on_it"
    assert (await core.handle_action(as_(people[0]), on_it)).ok
    replies = await asyncio.gather(
        *(services(uow, clock).handle_action(as_(h), on_it) for h in people[1:])
    )
    assert all(reply.ok for reply in replies)

    async with uow() as work:
        pending = [
            (row.address, from_dict(row.payload).plain_text())
            for row in await work.session.scalars(
                select(OutboxRow).where(
                    OutboxRow.key == f"rally:{alert.id}",
                    OutboxRow.op == "update",
                    OutboxRow.status == OutboxStatus.PENDING.value,
                )
            )
        ]
    # Each response superseded the edit before it, so one edit per copy is left to send, and
    # it counts every response: none rendered from a snapshot missing a concurrent one.
    assert [address for address, _ in pending] == ["#rally"]
    tally = pending[0][1]
    assert f"On it: {len(people)} · Done: 0" in tally
    assert all(f"{h.title()} (on it)" in tally for h in people)


async def test_due_check_ins_go_in_batches_whose_statements_do_not_grow_with_their_number(
    uow: Callable[[], SqlUnitOfWork], statements: list[str]
) -> None:
    clock = Clock()
    core = services(uow, clock)
    await core.seed_demo()

    async def due_work_after(raisers: list[str]) -> tuple[int, int]:
        for n, raiser in enumerate(raisers):
            assert (await core.handle_text(as_(raiser), f"alert https://x.com/t/{n}")).ok
        async with uow() as work:
            collective = await work.collectives.by_name("Demo collective")
            assert collective is not None
            open_alerts = await work.alerts.open_for_collective(collective.id)
        for alert in open_alerts:
            assert (await core.handle_text(as_("lee"), f"standdown #{alert.number}")).ok
        clock.at += timedelta(days=8)  # every check-in (3 per alert) and the digest fall due
        statements.clear()
        return await core.run_due(limit=1000), len(statements)

    few = await due_work_after(["ana", "sam"])
    many = await due_work_after(["ana", "sam", "lee", "ana", "sam", "lee"])
    assert few[0] == 2 * 3 + 1  # the check-ins and the weekly digest
    assert many[0] == 6 * 3 + 1
    assert many[1] == few[1]  # three times the check-ins, the same statements
