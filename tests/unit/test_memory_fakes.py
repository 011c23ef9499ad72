"""The in-memory fakes behave like the database they stand in for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.messages import Message
from bot.core.model import (
    Alert,
    AlertStatus,
    CheckIn,
    CheckInStatus,
    CloseReason,
    Collective,
    Identity,
    Member,
    MemberStatus,
    OutboxItem,
    OutboxStatus,
    Rallied,
    Response,
    ResponseState,
    Severity,
    Visibility,
)
from tests.fakes import FakeClock, IntegrityError, MemoryChat, MemoryStore, SeqIds

T0 = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


def collective(cid: str = "c1", name: str = "One") -> Collective:
    return Collective(cid, name, "UTC", T0, 8, 30, 2, 3, (24,), 5)


def member(mid: str, handle: str, cid: str = "c1", **more: object) -> Member:
    return Member(mid, cid, handle, handle.title(), T0, **more)  # type: ignore[arg-type]


def alert(aid: str, number: int, **more: object) -> Alert:
    fields: dict[str, object] = {
        "id": aid,
        "collective_id": "c1",
        "number": number,
        "target_id": "m1",
        "raised_by_id": "m1",
        "raised_at": T0,
        "links": ("https://x.com/a",),
        "kinds": frozenset(),
        "severity": Severity.MEDIUM,
        "help_wanted": frozenset(),
        "visibility": Visibility.ALL,
    }
    fields.update(more)
    return Alert(**fields)  # type: ignore[arg-type]


def outbox(oid: str, idem: str, key: str = "k", **more: object) -> OutboxItem:
    fields: dict[str, object] = {
        "id": oid,
        "collective_id": "c1",
        "key": key,
        "idempotency_key": idem,
        "platform": "console",
        "workspace": "local",
        "address_kind": "dm",
        "address": "ana",
        "op": "post",
        "payload": {"title": "hi"},
        "created_at": T0,
        "due_at": T0,
    }
    fields.update(more)
    return OutboxItem(**fields)  # type: ignore[arg-type]


async def seeded() -> MemoryStore:
    store = MemoryStore()
    async with store.uow() as uow:
        await uow.collectives.add(collective())
        await uow.members.add(member("m1", "ana"))
        await uow.commit()
    return store


async def test_nothing_is_visible_before_commit_and_rollback_discards() -> None:
    store = await seeded()
    async with store.uow() as uow:
        await uow.members.add(member("m2", "ben"))
        assert await uow.members.get("m2") is not None
        assert "m2" not in store.committed.members
        await uow.rollback()
        assert await uow.members.get("m2") is None
    async with store.uow() as uow:
        await uow.members.add(member("m3", "cam"))
    assert set(store.committed.members) == {"m1"}


async def test_a_change_not_saved_is_lost_like_in_a_database() -> None:
    store = await seeded()
    async with store.uow() as uow:
        ana = await uow.members.get("m1")
        assert ana is not None
        ana.display_name = "Changed"
        await uow.commit()
    assert store.committed.members["m1"].display_name == "Ana"
    async with store.uow() as uow:
        ana = await uow.members.get("m1")
        assert ana is not None
        ana.display_name = "Saved"
        await uow.members.save(ana)
        ana.display_name = "After save"
        await uow.commit()
    assert store.committed.members["m1"].display_name == "Saved"


async def test_a_unit_of_work_opens_once_and_only_inside_with() -> None:
    store = await seeded()
    uow = store.uow()
    with pytest.raises(RuntimeError):
        await uow.members.get("m1")
    async with uow:
        with pytest.raises(RuntimeError):
            await uow.__aenter__()


async def test_primary_keys_and_unique_constraints_are_enforced() -> None:
    store = await seeded()
    async with store.uow() as uow:
        with pytest.raises(IntegrityError):
            await uow.members.add(member("m1", "other"))
        with pytest.raises(IntegrityError):
            await uow.members.add(member("m9", "ana"))
        await uow.members.add(member("m9", "ana", cid="c2"))
        await uow.identities.add(Identity("i1", "m1", "slack", "T1", "U1"))
        with pytest.raises(IntegrityError):
            await uow.identities.add(Identity("i2", "m9", "slack", "T1", "U1"))
        with pytest.raises(IntegrityError):
            await uow.collectives.add(collective("c1", "Another"))
        await uow.collectives.add(collective("c9", "One"))  # names need not be unique


async def test_alert_numbers_are_taken_atomically_and_save_cannot_undo_them() -> None:
    store = await seeded()
    async with store.uow() as uow:
        stale = await uow.collectives.get("c1")
        assert stale is not None
        assert [await uow.collectives.next_alert_number("c1") for _ in range(3)] == [1, 2, 3]
        stale.name = "Renamed"
        await uow.collectives.save(stale)
        await uow.commit()
    assert store.committed.collectives["c1"].alert_seq == 3
    assert store.committed.collectives["c1"].name == "Renamed"


async def test_forgotten_members_are_left_out_of_the_collective_and_many_keeps_order() -> None:
    store = await seeded()
    async with store.uow() as uow:
        await uow.members.add(member("m2", "ben"))
        await uow.members.add(member("m3", "cam", status=MemberStatus.FORGOTTEN))
        await uow.members.add(member("m4", "dee", cid="c2"))
        assert [m.handle for m in await uow.members.for_collective("c1")] == ["ana", "ben"]
        assert [m.id for m in await uow.members.many(["m3", "zz", "m1", "m3"])] == ["m3", "m1"]


async def test_due_escalations_are_open_and_due_oldest_first() -> None:
    store = await seeded()
    async with store.uow() as uow:
        rows = [
            alert("a1", 1, status=AlertStatus.ACTIVE, escalate_at=T0 + timedelta(minutes=5)),
            alert("a2", 2, status=AlertStatus.SAFETY_REVIEW, escalate_at=T0),
            alert("a3", 3, status=AlertStatus.CLOSED, escalate_at=T0),
            alert("a4", 4, status=AlertStatus.PENDING_CONSENT, escalate_at=T0),
            alert("a5", 5, status=AlertStatus.ACTIVE, escalate_at=None),
            alert("a6", 6, status=AlertStatus.ACTIVE, escalate_at=T0 + timedelta(hours=1)),
        ]
        for row in rows:
            await uow.alerts.add(row)
        due = await uow.alerts.due_escalations(T0 + timedelta(minutes=5), 10)
        # a4 waits for consent: its timer is the consent request's expiry.
        assert [a.id for a in due] == ["a2", "a4", "a1"]
        assert [a.id for a in await uow.alerts.due_escalations(T0 + timedelta(hours=2), 1)] == [
            "a2"
        ]
        assert [a.number for a in await uow.alerts.open_for_collective("c1")] == [1, 2, 4, 5, 6]
        assert await uow.alerts.raised_by_since("m1", T0) == 6
        assert await uow.alerts.raised_by_since("m1", T0 + timedelta(seconds=1)) == 0
        assert await uow.alerts.raised_between("c1", T0, T0) == []


async def test_due_check_ins_are_the_scheduled_ones_whose_time_came() -> None:
    store = await seeded()
    async with store.uow() as uow:
        for cid, status, due_at in [
            ("k1", CheckInStatus.SCHEDULED, T0),
            ("k2", CheckInStatus.SENT, T0),
            ("k3", CheckInStatus.SCHEDULED, T0 + timedelta(seconds=1)),
            ("k4", CheckInStatus.SCHEDULED, T0 - timedelta(days=1)),
        ]:
            await uow.checkins.add(CheckIn(cid, "a1", "m1", due_at, status))
        assert [c.id for c in await uow.checkins.due(T0, 10)] == ["k4", "k1"]
        assert await uow.checkins.delete_for_member("m1") == 4


async def test_one_response_row_per_responder_per_alert() -> None:
    store = await seeded()
    async with store.uow() as uow:
        await uow.responses.save(Response("a1", "m1", ResponseState.ON_IT, frozenset(), T0, T0))
        await uow.responses.save(Response("a1", "m1", ResponseState.CANT, frozenset(), T0, T0))
        assert [r.state for r in await uow.responses.for_alert("a1")] == [ResponseState.CANT]
        await uow.rallied.add_many([Rallied("a1", "m1", 0, T0)])
        with pytest.raises(IntegrityError):
            await uow.rallied.add_many([Rallied("a1", "m1", 1, T0)])


async def test_the_outbox_ignores_a_repeated_idempotency_key_and_finds_posts() -> None:
    store = await seeded()
    async with store.uow() as uow:
        await uow.outbox.add(outbox("o1", "same"))
        await uow.outbox.add(outbox("o2", "same"))
        await uow.outbox.add(outbox("o3", "other", op="update"))
        await uow.outbox.add(outbox("o4", "third", key="k2"))
        assert set(uow.tables.outbox) == {"o1", "o3", "o4"}
        assert [o.id for o in await uow.outbox.posted("k")] == ["o1"]
        assert await uow.outbox.ref_for("k", "console", "local", "ana") is None
        sent = (await uow.outbox.posted("k"))[0]
        sent.status, sent.ref = OutboxStatus.SENT, "ref-1"
        await uow.outbox.save(sent)
        assert await uow.outbox.ref_for("k", "console", "local", "ana") == "ref-1"
        lease = T0 + timedelta(minutes=2)
        assert await uow.outbox.claim(T0 - timedelta(seconds=1), lease, 10, ["console"]) == []
        assert await uow.outbox.claim(T0, lease, 10, ["slack"]) == []
        claimed = await uow.outbox.claim(T0, lease, 1, ["slack", "console"])
        assert [(o.id, o.lease_until, o.attempts) for o in claimed] == [("o3", lease, 1)]
        # o3 is leased until `lease`: a second claim takes only o4, then nothing.
        assert [o.id for o in await uow.outbox.claim(T0, lease, 10, ["console"])] == ["o4"]
        assert await uow.outbox.claim(T0, lease, 10, ["console"]) == []
        # When the lease runs out (a crashed dispatcher), the rows can be claimed again.
        again = await uow.outbox.claim(lease, lease + timedelta(minutes=2), 10, ["console"])
        assert [(o.id, o.attempts) for o in again] == [("o3", 2), ("o4", 2)]


def test_the_clock_is_utc_settable_and_advances() -> None:
    clock = FakeClock(T0)
    assert clock.now() == T0 and clock.now().tzinfo is UTC
    assert clock.advance(timedelta(minutes=5)) == T0 + timedelta(minutes=5)
    clock.set(datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
    assert clock.now().hour == 12
    with pytest.raises(ValueError):
        clock.set(datetime(2026, 1, 1))


def test_ids_are_32_hex_characters_and_never_repeat() -> None:
    ids = SeqIds()
    made = [ids.new() for _ in range(1000)]
    assert made[0] == "0" * 31 + "1"
    assert len(set(made)) == 1000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in made)


async def test_the_chat_fake_remembers_what_it_was_asked_to_send() -> None:
    chat = MemoryChat("console")
    ref = await chat.post(outbox("o1", "i1"), Message("hello"))
    await chat.update(outbox("o2", "i2", op="update"), ref, Message("hello again"))
    assert [(d.op, d.ref, d.message.title) for d in chat.delivered] == [
        ("post", ref, "hello"),
        ("update", ref, "hello again"),
    ]


async def test_a_unit_of_work_knows_the_names_it_read_and_a_request_is_deleted() -> None:
    store = await seeded()
    async with store.uow() as uow:
        await uow.members.add(member("m2", "zoe", status=MemberStatus.PENDING))
        await uow.identities.add(Identity("i2", "m2", "console", "local", "zoe"))
        assert await uow.members.get("m1") is not None
        assert uow.members.seen() == {"m1": "Ana", "m2": "Zoe"}
        assert [m.id for m in await uow.members.expired_requests(T0 + timedelta(1), 5)] == ["m2"]
        assert await uow.members.expired_requests(T0, 5) == []
        await uow.members.delete("m2")
        assert uow.members.seen() == {"m1": "Ana"}
        assert await uow.identities.for_members(["m2"]) == []
        await uow.alerts.add(alert("a1", 1))
        with pytest.raises(IntegrityError):  # an alert points at ana: like the foreign key
            await uow.members.delete("m1")
    async with store.uow() as uow:
        assert uow.members.seen() == {}  # each transaction starts with nothing read


async def test_an_alerts_last_activity_and_the_idle_and_forgotten_queries() -> None:
    store = await seeded()
    later = T0 + timedelta(days=10)
    async with store.uow() as uow:
        await uow.alerts.add(alert("a1", 1, status=AlertStatus.ACTIVE))
        await uow.alerts.add(alert("a2", 2, status=AlertStatus.ACTIVE, idle_notice_at=T0))
        await uow.alerts.add(
            alert(
                "a3", 3, status=AlertStatus.CLOSED, close_reason=CloseReason.FORGOTTEN,
                closed_at=T0,
            )
        )  # fmt: skip
        await uow.responses.save(
            Response("a1", "m1", ResponseState.ON_IT, frozenset(), T0, T0 + timedelta(days=1))
        )
        assert await uow.alerts.last_activity("a1") == T0 + timedelta(days=1)
        assert await uow.alerts.last_activity("a2") == T0
        assert await uow.alerts.last_activity("nope") is None
        assert [a.id for a in await uow.alerts.idle(later, 5)] == ["a1"]  # a2 was told already
        assert [a.id for a in await uow.alerts.noticed_before(later, 5)] == ["a2"]
        assert [a.id for a in await uow.alerts.forgotten_cases(later, 5)] == ["a3"]
        assert await uow.alerts.forgotten_cases(T0, 5) == []


async def test_unsent_rows_are_found_by_whom_they_are_about_and_posts_by_key_prefix() -> None:
    store = await seeded()
    async with store.uow() as uow:
        await uow.outbox.add(outbox("o1", "i1", key="rally:x", about=("m1",)))
        await uow.outbox.add(outbox("o2", "i2", key="rally:x:wave1", about=("m2",)))
        await uow.outbox.add(
            outbox("o3", "i3", key="rally:x:wave2", about=("m1",), status=OutboxStatus.SENT)
        )
        await uow.outbox.add(outbox("o4", "i4", key="rally:y", op="update", about=("m1",)))
        assert [o.id for o in await uow.outbox.unsent_about(["m1"])] == ["o1", "o4"]
        assert await uow.outbox.post_keys("c1", "rally:x:") == ["rally:x:wave1", "rally:x:wave2"]
        assert await uow.outbox.post_keys("c2", "rally:x:") == []
        assert await uow.outbox.delete(["o1", "o9"]) == 1
        assert [o.id for o in await uow.outbox.unsent_about(["m1", "m2"])] == ["o2", "o4"]
