"""The repository contract: the outbox (idempotent adds, leases and claims, edits, where a
message went, forget-me's rewrites and deletions, retention)."""

from __future__ import annotations

import dataclasses

from bot.core.model import Collective, Member, OutboxStatus
from tests.support.builders import SLACK, T0, Uow, a_collective, an_outbox_item, at, seed


async def test_a_repeated_idempotency_key_is_ignored(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, _, _ = world
    first = an_outbox_item(c, idempotency_key="rally:1:C1")
    repeat = an_outbox_item(c, idempotency_key="rally:1:C1", payload={"other": True})
    after = an_outbox_item(c, created_at=at(1))
    async with uow() as u:
        await u.outbox.add(first)
        await u.outbox.add(repeat)
        await u.outbox.add(after)  # the transaction is still usable
        await u.commit()
    async with uow() as u:
        await u.outbox.add(dataclasses.replace(repeat, id="another"))
        await u.commit()
    async with uow() as u:
        assert await u.outbox.posted(first.key) == [first, after]


async def test_outbox_rows_wait_for_commit_and_a_rollback_drops_them(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, _, _ = world
    first, twin = an_outbox_item(c), an_outbox_item(c, created_at=at(1))
    twin = dataclasses.replace(twin, idempotency_key=first.idempotency_key)
    async with uow() as u:
        await u.outbox.add(first)
        await u.rollback()
        await u.outbox.add(twin)
        await u.outbox.add(first)  # the same idempotency key: ignored
        await u.commit()
    async with uow() as u:
        assert [i.id for i in await u.outbox.posted("rally:a1")] == [twin.id]


async def test_claimed_items_are_due_unleased_and_in_creation_order(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, _, _ = world
    ids = sorted(["0" * 31 + "b", "0" * 31 + "a"])
    same_time_b = an_outbox_item(c, id=ids[1], created_at=at(1))
    same_time_a = an_outbox_item(c, id=ids[0], created_at=at(1))
    oldest = an_outbox_item(c, created_at=at(0), due_at=at(5))
    retry_later = an_outbox_item(c, created_at=at(-5), due_at=at(30))
    sent = an_outbox_item(c, created_at=at(-9), status=OutboxStatus.SENT)
    failed = an_outbox_item(c, created_at=at(-9), status=OutboxStatus.FAILED)
    discord = an_outbox_item(c, created_at=at(-9), platform="discord")
    await seed(uow, same_time_b, same_time_a, oldest, retry_later, sent, failed, discord)
    lease = at(70)
    async with uow() as u:
        assert await u.outbox.claim(at(10), lease, 10, []) == []
        first = await u.outbox.claim(at(10), lease, 1, SLACK)
        assert [i.id for i in first] == [oldest.id]
        assert (first[0].lease_until, first[0].attempts) == (lease, oldest.attempts + 1)
        rest = await u.outbox.claim(at(10), lease, 10, SLACK)
        assert [i.id for i in rest] == [same_time_a.id, same_time_b.id]
        assert await u.outbox.claim(at(10), lease, 10, SLACK) == []  # all leased
        await u.commit()
    async with uow() as u:
        # After the lease ends (a dispatcher died) the rows are claimable again, and by now
        # the one retrying later is due too.
        again = await u.outbox.claim(lease, at(130), 10, SLACK)
        assert [i.id for i in again] == [retry_later.id, oldest.id, same_time_a.id, same_time_b.id]
        assert [i.attempts for i in again] == [1, 2, 2, 2]
        assert [i.id for i in await u.outbox.claim(lease, at(130), 10, ["discord"])] == [discord.id]


async def test_a_worker_takes_back_only_the_live_leases_it_holds(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, _, _ = world
    mine, theirs, unclaimed = (an_outbox_item(c, created_at=at(i)) for i in range(3))
    await seed(uow, mine, theirs, unclaimed)
    async with uow() as u:
        assert [i.claimed_by for i in await u.outbox.claim(at(5), at(65), 1, SLACK, "w1")] == ["w1"]
        await u.outbox.claim(at(5), at(65), 1, SLACK, "w2")
        await u.commit()
    async with uow() as u:
        # w1 died and starts again: its lease ends now, w2's stays, nothing else changes.
        assert await u.outbox.take_back("w1", at(6)) == 1
        await u.commit()
    async with uow() as u:
        again = await u.outbox.claim(at(7), at(67), 10, SLACK, "w1")
        assert [i.id for i in again] == [mine.id, unclaimed.id]
        assert again[0].attempts == 2  # the attempt it may have made still counts
        assert await u.outbox.take_back("w1", at(68)) == 0  # a lease that ended is not held


async def test_an_edit_waits_while_an_earlier_edit_of_its_message_is_in_flight(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, _, _ = world
    older = an_outbox_item(c, key="rally:a1", op="update", created_at=at(0))
    newer = an_outbox_item(c, key="rally:a1", op="update", created_at=at(1))
    elsewhere = an_outbox_item(c, key="rally:a1", op="update", address="C9", created_at=at(2))
    await seed(uow, older)
    async with uow() as u:
        assert [i.id for i in await u.outbox.claim(at(5), at(65), 1, SLACK)] == [older.id]
        await u.commit()
    await seed(uow, newer, elsewhere)
    async with uow() as u:
        # newer edits the same message as the in-flight older: it waits; elsewhere doesn't.
        assert [i.id for i in await u.outbox.claim(at(5), at(65), 10, SLACK)] == [elsewhere.id]
        assert await u.outbox.supersede_edits("rally:a1") == 1  # newer; elsewhere is in flight
        await u.commit()
    async with uow() as u:
        # Both leases ran out unsettled; the superseded edit never goes.
        again = await u.outbox.claim(at(70), at(130), 10, SLACK)
        assert [i.id for i in again] == [older.id, elsewhere.id]


async def test_superseding_edits_of_one_kind_of_copy(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, _, _ = world
    to_channel = an_outbox_item(c, op="update", about=("m1",))
    to_dm = an_outbox_item(c, op="update", address_kind="dm", address="U7", about=("m1",))
    await seed(uow, to_channel, to_dm)
    async with uow() as u:
        assert await u.outbox.supersede_edits("rally:a1", "dm") == 1
        assert await u.outbox.supersede_edits("rally:a1", "dm") == 0
        assert [i.id for i in await u.outbox.claim(T0, at(60), 10, SLACK)] == [to_channel.id]
        # A superseded row's message and whom it was about are cleared.
        assert [i.id for i in await u.outbox.unsent_about(["m1"])] == [to_channel.id]


async def test_ref_for_posted_and_destinations(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, _, _ = world
    key = "rally:a1"
    in_channel = an_outbox_item(c, key=key, status=OutboxStatus.SENT, ref="111.1")
    dm = an_outbox_item(
        c,
        key=key,
        address_kind="dm",
        address="U7",
        created_at=at(1),
        status=OutboxStatus.SENT,
        ref="222.2",
    )
    unsent = an_outbox_item(c, key=key, workspace="T2", created_at=at(2))
    edit = an_outbox_item(c, key=key, op="update", status=OutboxStatus.SENT, ref="111.1")
    other = an_outbox_item(c, key="rally:a2", status=OutboxStatus.SENT, ref="333.3")
    await seed(uow, in_channel, dm, unsent, edit, other)
    async with uow() as u:
        assert await u.outbox.ref_for(key, "slack", "T1", "C1") == "111.1"
        assert await u.outbox.ref_for(key, "slack", "T1", "U7") == "222.2"
        assert await u.outbox.ref_for(key, "slack", "T2", "C1") is None  # not sent yet
        assert await u.outbox.ref_for(key, "discord", "T1", "C1") is None
        assert await u.outbox.posted(key) == [in_channel, dm, unsent]
        assert [d.address for d in await u.outbox.destinations(key)] == ["C1", "U7", "C1"]
        assert [d.address for d in await u.outbox.destinations(key, "dm")] == ["U7"]
        assert await u.outbox.destinations("nope") == []


async def test_saving_writes_delivery_state_and_a_pending_rows_message_stays(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, _, _ = world
    item = an_outbox_item(c, about=("m1",))
    await seed(uow, item)
    async with uow() as u:
        [got] = await u.outbox.claim(T0, at(60), 10, SLACK)
        await u.outbox.rewrite(item.id, {"title": "rewritten"}, ["m2"])
        got.payload = {"title": "stale copy"}  # read before the rewrite
        got.last_error = "timeout"
        await u.outbox.save(got)  # still pending: the message is left as stored
        await u.commit()
    async with uow() as u:
        [pending] = await u.outbox.posted(item.key)
        assert (pending.payload, pending.about, pending.last_error) == (
            {"title": "rewritten"},
            ("m2",),
            "timeout",
        )
        pending.status, pending.ref, pending.payload, pending.about = (
            OutboxStatus.SENT,
            "ref-1",
            {},
            (),
        )
        await u.outbox.save(pending)  # settling writes it all
        await u.commit()
    async with uow() as u:
        [sent] = await u.outbox.posted(item.key)
        assert (sent.status, sent.ref, sent.payload, sent.about) == (
            OutboxStatus.SENT,
            "ref-1",
            {},
            (),
        )
        assert await u.outbox.delete([item.id]) == 1
        await u.outbox.save(sent)  # a row that is gone stays gone
        await u.outbox.rewrite(item.id, {"title": "x"}, [])
        assert await u.outbox.posted(item.key) == []


async def test_a_waiting_message_is_withdrawn_and_nothing_else(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, _, _ = world
    dm = {"address_kind": "dm", "address": "U1"}
    waiting = an_outbox_item(c, key="standing:a1:100", due_at=at(60), **dm)
    due_now = an_outbox_item(c, key="standing:a1:50", due_at=at(0), **dm)
    claimed = an_outbox_item(c, key="standing:a1:200", due_at=at(90), lease_until=at(95), **dm)
    other_alert = an_outbox_item(c, key="standing:a2:100", due_at=at(60), **dm)
    like_sql = an_outbox_item(c, key="standing:a1_x:100", due_at=at(60), **dm)
    await seed(uow, waiting, due_now, claimed, other_alert, like_sql)
    async with uow() as u:
        assert await u.outbox.withdraw("standing:a1:", at(10)) == 1
        await u.commit()
    async with uow() as u:
        left = {o.key for o in await u.outbox.claim(at(94), at(99), 10, ["slack"])}
        assert await u.outbox.posted("standing:a1:200")  # claimed: never withdrawn
    # "_" is a LIKE wildcard: the prefix is matched literally.
    assert left == {"standing:a1:50", "standing:a2:100", "standing:a1_x:100"}


async def test_unsent_rows_are_found_by_whom_they_are_about_and_posts_by_key_prefix(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, _, _ = world
    other = a_collective()
    rows = [
        an_outbox_item(c, key="rally:x", about=("m1",)),
        an_outbox_item(c, key="rally:x:wave1", about=("m2",), created_at=at(1)),
        an_outbox_item(c, key="rally:x:wave2", about=("m1",), status=OutboxStatus.SENT),
        an_outbox_item(c, key="rally:y", op="update", about=("m1", "m3"), created_at=at(2)),
        an_outbox_item(
            c, key="rally:x_z", about=("m1",), status=OutboxStatus.FAILED, created_at=at(0.5)
        ),
        an_outbox_item(c, key="rally:x:wave2", created_at=at(-1), workspace="T2"),
        an_outbox_item(other, key="rally:x:wave9"),
    ]
    await seed(uow, other, *rows)
    async with uow() as u:
        # Pending and parked (failed) rows, oldest first.
        assert await u.outbox.unsent_about(["m1"]) == [rows[0], rows[4], rows[3]]
        assert await u.outbox.unsent_about([]) == []
        # In order of each key's first post; "_" and ":" are matched literally.
        assert await u.outbox.post_keys(c.id, "rally:x:") == ["rally:x:wave2", "rally:x:wave1"]
        assert await u.outbox.post_keys(c.id, "rally:y") == []  # an edit is not a post
        assert await u.outbox.post_keys(other.id, "rally:x:") == ["rally:x:wave9"]
        assert await u.outbox.delete([rows[0].id, "nope"]) == 1
        assert await u.outbox.delete([]) == 0
        assert await u.outbox.unsent_about(["m1", "m2"]) == [rows[4], rows[1], rows[3]]


async def test_forget_me_and_removal_delete_rows_by_address_and_workspace(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, _, _ = world
    other = a_collective()
    dm = {"address_kind": "dm", "address": "U7"}
    sent_dm = an_outbox_item(c, status=OutboxStatus.SENT, **dm)
    unsent_dm = an_outbox_item(c, created_at=at(1), **dm)
    channel_u7 = an_outbox_item(c, address="U7", created_at=at(2))  # a channel, not the person
    discord_dm = an_outbox_item(c, platform="discord", created_at=at(0.5), **dm)
    t2_sent = an_outbox_item(c, workspace="T2", status=OutboxStatus.SENT, created_at=at(-1))
    t2_pending = an_outbox_item(c, workspace="T2", created_at=at(3))
    t2_theirs = an_outbox_item(other, key="rally:b1", workspace="T2")
    await seed(uow, other, sent_dm, unsent_dm, channel_u7, discord_dm, t2_sent, t2_pending)
    await seed(uow, t2_theirs)
    async with uow() as u:
        assert await u.outbox.delete_dms_to("slack", "U7") == 2
        assert await u.outbox.delete_at_workspace(c.id, "slack", "T2", unsent_only=True) == 1
        assert await u.outbox.posted("rally:a1") == [t2_sent, discord_dm, channel_u7]
        assert await u.outbox.delete_at_workspace(c.id, "slack", "T2", unsent_only=False) == 1
        assert await u.outbox.posted("rally:a1") == [discord_dm, channel_u7]
        assert await u.outbox.destinations("rally:a1") != []
        assert [i.id for i in await u.outbox.claim(at(9), at(60), 10, ["slack"])] == [
            t2_theirs.id,
            channel_u7.id,
        ]


async def test_settled_rows_go_after_retention(
    uow: Uow, world: tuple[Collective, Member, Member]
) -> None:
    c, _, _ = world
    old = {"created_at": at(-10)}
    sent = an_outbox_item(c, status=OutboxStatus.SENT, **old)
    superseded = an_outbox_item(c, status=OutboxStatus.SUPERSEDED, op="update", **old)
    failed = an_outbox_item(c, status=OutboxStatus.FAILED, **old)
    pending = an_outbox_item(c, **old)
    recent = an_outbox_item(c, status=OutboxStatus.SENT, created_at=at(0))
    await seed(uow, sent, superseded, failed, pending, recent)
    async with uow() as u:
        assert await u.outbox.delete_settled_before(at(0)) == 3
        assert await u.outbox.posted("rally:a1") == [pending, recent]
