"""Privacy on the SQL store, SQLite and PostgreSQL: join requests declined and expired, open
alerts closed when idle, and the queries forget-me and the idle clock rely on."""

from __future__ import annotations

import tomllib
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.core.commands import Caller
from bot.core.model import (
    AlertStatus,
    CheckInAnswer,
    CloseReason,
    Evidence,
    EvidenceKind,
    OutboxItem,
    OutboxStatus,
    Response,
    ResponseState,
)
from bot.core.policy import Policy
from bot.core.services import Services
from bot.core.wording import Copy, flatten
from bot.store.tables import IdentityRow, MemberRow
from bot.store.uow import SqlUnitOfWork
from tests.fakes import FakeClock
from tests.unit.conftest import NOW

CONFIG = Path(__file__).resolve().parents[2] / "config" / "rallybot.toml"
Uow = Callable[[], SqlUnitOfWork]
ZOE = Caller("console", "local", "zoe", display_name="Zoe")


class Ids:
    def new(self) -> str:
        return uuid.uuid4().hex


def services(uow: Uow, clock: FakeClock) -> Services:
    copy = Copy(flatten(tomllib.loads(CONFIG.read_text())["copy"]))
    return Services(uow=uow, clock=clock, ids=Ids(), copy=copy, policy=Policy())


def as_(handle: str) -> Caller:
    return Caller("console", "local", handle, channel="#rally")


async def people_named(uow: Uow, handle: str) -> tuple[int, int]:
    async with uow() as work:
        members = await work.session.scalar(
            select(func.count()).select_from(MemberRow).where(MemberRow.handle == handle)
        )
        identities = await work.session.scalar(
            select(func.count()).select_from(IdentityRow).where(IdentityRow.user == handle)
        )
    return members or 0, identities or 0


async def settle(core: Services) -> None:
    while await core.run_due():
        pass


async def test_a_declined_request_is_deleted_with_its_account(uow: Uow) -> None:
    core = services(uow, FakeClock(NOW))
    await core.seed_demo()
    assert (await core.handle_text(ZOE, "join zoe-note")).ok
    assert await people_named(uow, "zoe") == (1, 1)

    assert (await core.handle_text(as_("lee"), "decline zoe")).ok

    assert await people_named(uow, "zoe") == (0, 0)
    assert (await core.handle_text(ZOE, "join again")).ok  # a stranger again


async def test_a_request_nobody_decides_on_expires(uow: Uow) -> None:
    clock = FakeClock(NOW)
    core = services(uow, clock)
    await core.seed_demo()
    assert (await core.handle_text(ZOE, "join")).ok
    clock.advance(timedelta(days=core.policy.join_request_days, minutes=1))
    await settle(core)
    assert await people_named(uow, "zoe") == (0, 0)


async def test_an_idle_alert_is_told_then_closed_unless_something_happens(uow: Uow) -> None:
    clock = FakeClock(NOW)
    core = services(uow, clock)
    collective = await core.seed_demo()
    for text in ("alert https://x.com/t/1 first", "alert https://x.com/t/2 second"):
        assert (await core.handle_text(as_("ana"), text)).ok
    for _step in range(core.policy.escalation_max_steps + 1):
        clock.advance(timedelta(minutes=31))
        await settle(core)
    idle = timedelta(days=core.policy.open_alert_idle_days)
    notice = timedelta(days=core.policy.open_alert_notice_days)
    clock.advance(idle - notice)
    await settle(core)
    async with uow() as work:
        first = await work.alerts.by_number(collective.id, 1)
        second = await work.alerts.by_number(collective.id, 2)
        assert first is not None and second is not None
        assert first.idle_notice_at == second.idle_notice_at == clock.now()
    # Something happens on #2 after the notice: it stays open; #1 closes.
    clock.advance(timedelta(days=1))
    assert (await core.handle_text(as_("ana"), "evidence #2 case 777")).ok
    clock.advance(notice)
    await settle(core)
    async with uow() as work:
        first = await work.alerts.get(first.id)
        second = await work.alerts.get(second.id)
    assert first is not None and second is not None
    assert (first.status, first.close_reason) == (AlertStatus.CLOSED, CloseReason.IDLE)
    assert (second.status, second.idle_notice_at) == (AlertStatus.ACTIVE, None)


async def test_last_activity_is_the_latest_of_the_alert_its_responses_evidence_and_answers(
    uow: Uow,
) -> None:
    clock = FakeClock(NOW)
    core = services(uow, clock)
    collective = await core.seed_demo()
    assert (await core.handle_text(as_("ana"), "alert https://x.com/t/1 first")).ok
    async with uow() as work:
        alert = await work.alerts.by_number(collective.id, 1)
        ben = await work.members.by_handle(collective.id, "ben")
        assert alert is not None and ben is not None
        assert await work.alerts.last_activity(alert.id) == NOW  # raised and rallied
        (checkin, *_) = await work.checkins.for_alert(alert.id)
        moments = {
            "response": NOW + timedelta(hours=1),
            "evidence": NOW + timedelta(hours=2),
            "answer": NOW + timedelta(hours=3),
            "kept open": NOW + timedelta(hours=4),
        }
        await work.responses.save(
            Response(alert.id, ben.id, ResponseState.ON_IT, frozenset(), NOW, moments["response"])
        )
        assert await work.alerts.last_activity(alert.id) == moments["response"]
        await work.evidence.add(
            Evidence(
                uuid.uuid4().hex,
                alert.id,
                ben.id,
                moments["evidence"],
                EvidenceKind.NOTE,
                "x",
                "0" * 64,
            )
        )
        assert await work.alerts.last_activity(alert.id) == moments["evidence"]
        checkin.answer, checkin.answered_at = CheckInAnswer.OK, moments["answer"]
        await work.checkins.save(checkin)
        await work.session.flush()
        assert await work.alerts.last_activity(alert.id) == moments["answer"]
        alert.kept_open_at = moments["kept open"]
        await work.alerts.save(alert)
        await work.session.flush()
        assert await work.alerts.last_activity(alert.id) == moments["kept open"]
        assert await work.alerts.idle(moments["kept open"], 10) == []
        assert [a.id for a in await work.alerts.idle(moments["kept open"] + timedelta(1), 10)] == [
            alert.id
        ]


async def test_unsent_rows_are_found_by_whom_they_are_about(uow: Uow) -> None:
    core = services(uow, FakeClock(NOW))
    collective = await core.seed_demo()
    a, b, c = (uuid.uuid4().hex for _ in range(3))

    made = iter(range(100))

    def row(about: tuple[str, ...], status: OutboxStatus = OutboxStatus.PENDING) -> OutboxItem:
        ident = uuid.uuid4().hex
        at = NOW + timedelta(minutes=next(made))
        return OutboxItem(
            ident, collective.id, f"k:{ident}", ident, "console", "local", "dm", "x", "post",
            {"title": "t"}, at, at, status=status, about=about,
        )  # fmt: skip

    rows = [
        row((a,)),
        row((a, b)),
        row((c,)),
        row((b,), OutboxStatus.FAILED),
        row((a,), OutboxStatus.SENT),
    ]
    async with uow() as work:
        for r in rows:
            await work.outbox.add(r)
        await work.commit()
    async with uow() as work:
        found = [r.id for r in await work.outbox.unsent_about([a])]
        assert found == [rows[0].id, rows[1].id]
        assert [r.id for r in await work.outbox.unsent_about([b, "0" * 32])] == [
            rows[1].id,
            rows[3].id,
        ]
        assert await work.outbox.unsent_about([]) == []
        assert await work.outbox.delete([rows[0].id, rows[2].id]) == 2
        assert [r.id for r in await work.outbox.unsent_about([a, c])] == [rows[1].id]


async def test_post_keys_are_the_keys_under_a_prefix_in_order(uow: Uow) -> None:
    core = services(uow, FakeClock(NOW))
    collective = await core.seed_demo()
    stem = f"rally:{uuid.uuid4().hex}"

    def row(key: str, minutes: int, op: str = "post") -> OutboxItem:
        ident = uuid.uuid4().hex
        at = NOW + timedelta(minutes=minutes)
        return OutboxItem(
            ident, collective.id, key, ident, "console", "local", "channel", "#rally", op,
            {}, at, at,
        )  # fmt: skip

    async with uow() as work:
        for r in (
            row(f"{stem}:wave2", 2),
            row(f"{stem}:wave1", 1),
            row(f"{stem}:wave1", 3),
            row(f"{stem}:wave3", 4, op="update"),
            row(stem, 0),
            row(f"{stem}x", 5),
        ):
            await work.outbox.add(r)
        await work.commit()
    async with uow() as work:
        keys = await work.outbox.post_keys(collective.id, f"{stem}:")
        assert keys == [f"{stem}:wave1", f"{stem}:wave2"]
        assert await work.outbox.post_keys(uuid.uuid4().hex, f"{stem}:") == []


async def test_saving_delivery_state_never_brings_a_row_back_nor_its_old_text(uow: Uow) -> None:
    core = services(uow, FakeClock(NOW))
    collective = await core.seed_demo()

    def row(n: int) -> OutboxItem:
        ident = uuid.uuid4().hex
        at = NOW + timedelta(minutes=n)
        return OutboxItem(
            ident, collective.id, f"k:{ident}", ident, "console", "local", "dm", "x", "post",
            {"title": "Ben is on it"}, at, at, about=("b" * 32,),
        )  # fmt: skip

    dropped, renamed = row(1), row(2)
    async with uow() as work:
        await work.outbox.add(dropped)
        await work.outbox.add(renamed)
        await work.commit()
    # Forget-me, while both are being sent: one dropped, one rewritten.
    async with uow() as work:
        await work.outbox.delete([dropped.id])
        await work.outbox.rewrite(renamed.id, {"title": "Former member is on it"}, [])
        await work.commit()
    # The dispatcher settles what it had claimed: one sent, one to retry.
    dropped.status, dropped.payload = OutboxStatus.SENT, {}
    renamed.attempts, renamed.last_error = 1, "ConnectionError"
    async with uow() as work:
        await work.outbox.save(dropped)
        await work.outbox.save(renamed)
        await work.commit()
    async with uow() as work:
        assert await work.outbox.posted(dropped.key) == []
        (again,) = await work.outbox.posted(renamed.key)
    assert (again.payload, again.about) == ({"title": "Former member is on it"}, ())
    assert (again.attempts, again.last_error) == (1, "ConnectionError")
