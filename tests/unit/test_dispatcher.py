"""The outbox dispatcher on the memory store: leases, retries, parking, pacing, edits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from bot.core.messages import Message, from_dict
from bot.core.model import OutboxItem, OutboxStatus
from bot.core.ports import Limit, RateLimited, Undeliverable
from bot.delivery.outbox import Dispatcher
from bot.delivery.pacing import Pacer
from tests.fakes import MemoryChat
from tests.unit.conftest import Rally


class FlakyChat(MemoryChat):
    """Fails the first `failures` sends with `error`, then behaves."""

    def __init__(self, error: Exception, failures: int) -> None:
        super().__init__("console")
        self.error = error
        self.failures = failures
        self.tries = 0

    async def post(self, item: OutboxItem, message: Message) -> str:
        self.tries += 1
        if self.tries <= self.failures:
            raise self.error
        return await super().post(item, message)


def rows(rally: Rally) -> list[OutboxItem]:
    return sorted(rally.data.outbox.values(), key=lambda o: (o.created_at, o.id))


def dispatcher(rally: Rally, chat: MemoryChat, **options: object) -> Dispatcher:
    return Dispatcher(
        rally.services.uow,
        {"console": chat},
        rally.clock,
        on_failed=rally.services.report_undelivered,
        **options,
    )  # type: ignore[arg-type]


async def test_every_row_is_sent_once_with_its_reference_and_no_body_kept(rally: Rally) -> None:
    await rally.raise_alert("ana")
    chat = MemoryChat("console")
    settled = await dispatcher(rally, chat).drain()
    assert settled == len(rows(rally)) == len(chat.delivered) > 0
    for row in rows(rally):
        assert row.status is OutboxStatus.SENT and row.ref and row.payload == {}
        assert row.lease_until is None
    assert await dispatcher(rally, chat).drain() == 0  # nothing twice


async def test_a_rate_limit_is_honoured_and_is_not_a_failure(rally: Rally) -> None:
    await rally.raise_alert("ana")
    chat = FlakyChat(RateLimited(30.0), failures=1)
    first = dispatcher(rally, chat, max_attempts=1)
    await first.drain()
    waiting = [r for r in rows(rally) if r.status is OutboxStatus.PENDING]
    assert len(waiting) == 1 and waiting[0].attempts == 0  # not counted against the limit
    assert waiting[0].due_at == rally.clock.now() + timedelta(seconds=30)
    rally.clock.advance(timedelta(seconds=30))
    await dispatcher(rally, chat, max_attempts=1).drain()
    assert all(r.status is OutboxStatus.SENT for r in rows(rally))
    assert first.rate_limited == 1


async def test_errors_back_off_then_the_row_is_parked_and_the_leads_told(rally: Rally) -> None:
    await rally.say("lee", "setup")  # nothing is sent; just a lead to tell
    await rally.raise_alert("ana", "visibility=responders")
    chat = FlakyChat(ConnectionError("down"), failures=10_000)
    delays = []
    for _attempt in range(3):
        await dispatcher(rally, chat, max_attempts=3).drain()
        pending = [
            r
            for r in rows(rally)
            if r.status is OutboxStatus.PENDING and not r.key.startswith("undelivered:")
        ]
        if pending:
            delays.append(min(r.due_at for r in pending) - rally.clock.now())
            rally.clock.advance(timedelta(minutes=10))
    assert delays and all(timedelta(0) < d <= timedelta(seconds=4) for d in delays)
    parked = [r for r in rows(rally) if r.status is OutboxStatus.FAILED]
    assert parked and all(r.attempts == 3 for r in parked)
    # A parked row keeps where it went and why it failed, not what it said.
    assert all((r.payload, r.about, r.last_error) == ({}, (), "ConnectionError") for r in parked)
    told = [r for r in rows(rally) if r.key.startswith("undelivered:")]
    assert len(told) == len(parked) * 1  # to the leads channel, once per parked row
    assert {r.address for r in told} == {"#leads"}
    said = "\n".join(from_dict(r.payload).plain_text() for r in told)
    assert said.count(rally.copy("delivery.failed_title")) == len(parked)
    assert "Rally #1" not in said and "Ana" not in said  # the leads hear where, never what


async def test_an_undeliverable_message_is_parked_at_once(rally: Rally) -> None:
    await rally.raise_alert("ana")
    chat = FlakyChat(Undeliverable("channel_not_found"), failures=1)
    await dispatcher(rally, chat).drain()
    parked = [r for r in rows(rally) if r.status is OutboxStatus.FAILED]
    assert len(parked) == 1 and parked[0].attempts == 1
    assert parked[0].last_error and "channel_not_found" in parked[0].last_error


async def test_a_crash_between_claim_and_send_is_sent_after_the_lease(rally: Rally) -> None:
    await rally.raise_alert("ana")
    crashed = dispatcher(rally, MemoryChat("console"), lease_seconds=60)
    claimed = await crashed.claim()  # ... and the process dies before sending
    assert claimed
    survivor_chat = MemoryChat("console")
    survivor = dispatcher(rally, survivor_chat, lease_seconds=60)
    assert await survivor.drain() == 0  # still leased
    rally.clock.advance(timedelta(seconds=61))
    assert await survivor.drain() == len(claimed)
    assert sorted(d.item.id for d in survivor_chat.delivered) == sorted(i.id for i in claimed)


async def test_a_burst_of_clicks_sends_the_last_tally_and_it_lands(rally: Rally) -> None:
    await rally.raise_alert("ana")
    chat = MemoryChat("console")
    await dispatcher(rally, chat).drain()  # the rally is posted
    rally_id = rally.alert(1).id
    for who in ("ben", "cam", "dee"):
        await rally.act(who, f"rally:alert:{rally_id}:on_it")
    edits = [r for r in rows(rally) if r.op == "update"]
    assert sorted(r.status for r in edits) == [
        OutboxStatus.PENDING,
        OutboxStatus.SUPERSEDED,
        OutboxStatus.SUPERSEDED,
    ]
    await dispatcher(rally, chat).drain()
    sent_edits = [d for d in chat.delivered if d.op == "update"]
    assert len(sent_edits) == 1
    assert "On it: 3" in sent_edits[0].message.plain_text()


async def test_an_edit_waits_for_its_message_to_be_sent(rally: Rally) -> None:
    await rally.raise_alert("ana")
    await rally.act("ben", f"rally:alert:{rally.alert(1).id}:on_it")
    edit = next(r for r in rows(rally) if r.op == "update")
    chat = MemoryChat("console")
    d = dispatcher(rally, chat, batch=1)
    await d._send(edit)  # the post isn't sent yet: the edit waits a second
    waiting = rally.data.outbox[edit.id]
    assert waiting.status is OutboxStatus.PENDING
    assert waiting.due_at == rally.clock.now() + timedelta(seconds=1)
    rally.clock.advance(timedelta(seconds=1))
    await d.drain()
    assert [x.op for x in chat.delivered][-1] == "update"


def test_the_pacer_spaces_sends_by_the_published_limit() -> None:
    now = [100.0]
    pacer = Pacer(now=lambda: now[0])
    limit: Sequence[Limit] = [Limit("channel:C1", per_second=1.0, burst=2)]
    assert pacer.delay(limit) == 0
    for _ in range(2):  # the burst
        pacer._bucket(limit[0], now[0]).tokens -= 1
    assert pacer.delay(limit) == 1.0
    now[0] += 0.5
    assert pacer.delay(limit) == 0.5
    pacer.hold(limit, 30.0)  # a 429 with Retry-After: 30
    assert pacer.delay(limit) == 30.0
    assert pacer.delay([Limit("channel:C2", 1.0)]) == 0  # other destinations go on
