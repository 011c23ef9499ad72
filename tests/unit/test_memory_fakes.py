"""What only the in-memory fakes have: the clock, the ids, the chat, and the committed
tables a unit test reads. How their repositories behave is the repository contract's, run
on the fakes and on both SQL stores alike (tests/store/contract/)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.messages import Message
from bot.core.model import Collective, OutboxItem
from tests.fakes import FakeClock, MemoryChat, MemoryStore, SeqIds

T0 = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


def outbox(oid: str, idem: str, **more: object) -> OutboxItem:
    fields: dict[str, object] = {
        "id": oid,
        "collective_id": "c1",
        "key": "k",
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


async def test_the_committed_tables_change_only_at_commit_and_a_closed_unit_refuses() -> None:
    store = MemoryStore()
    uow = store.uow()
    with pytest.raises(RuntimeError):  # not open yet: no tables to work on
        await uow.members.get("m1")
    async with uow:
        await uow.collectives.add(Collective("c1", "One", "UTC", T0, 8, 30, 2, 3, (24,), 5))
        assert store.committed.collectives == {} and store.commits == 0
        await uow.commit()
    assert set(store.committed.collectives) == {"c1"} and store.commits == 1
    snapshot = store.snapshot()
    assert snapshot == store.committed and snapshot is not store.committed


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
