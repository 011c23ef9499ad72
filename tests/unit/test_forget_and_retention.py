"""Forget-me and the retention purge, proved by walking every string of every table.

After forget-me no row in any table of the store (every field, nested JSON payloads and audit
details included) holds the member's handle, display name, join note or platform user ids,
nor the links, notes, posts and evidence of the alerts about them, except an open safety case,
which is closed and kept (exactly that alert and its evidence) for `safety_case_days`, then
purged. Unsent messages about her are dropped, those that only name her lose her name, and
parked messages hold no text. The member's opaque id stays, pointing only at the scrubbed
"Former member" row. After the retention purge a closed alert's links, notes, post, evidence and
check-in answers are nowhere. Log lines written afterwards (DEBUG) hold none of it. The same
scenario walks the SQL store's tables on SQLite and PostgreSQL (tests/store/test_forget_walk.py).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from bot.core.messages import from_dict
from bot.core.model import AlertStatus, CloseReason, MemberStatus, OutboxItem, OutboxStatus
from bot.delivery.outbox import Dispatcher
from tests.fakes import MemoryChat, Tables
from tests.support.forget import (
    AUDIT_VALUE,
    CONSOLE_ID,
    HANDLE,
    JOIN_NOTE,
    NAME,
    PERSONAL,
    SAFETY,
    SCRUBBED,
    World,
    forget,
    found_in,
    her_life,
)
from tests.unit.conftest import Rally


def world_of(rally: Rally) -> World:
    async def read_outbox() -> list[OutboxItem]:
        return sorted(rally.data.outbox.values(), key=lambda o: (o.created_at, o.id))

    return World(rally.services, rally.clock, read_outbox)


def rows(data: Tables) -> Iterator[tuple[str, str, str, Any]]:
    """(table, key, field, value) of every field of every row of every table."""
    for table in dataclasses.fields(data):
        for key, row in getattr(data, table.name).items():
            for f in dataclasses.fields(row):
                yield table.name, str(key), f.name, getattr(row, f.name)


def nowhere(data: Tables, *needles: str) -> None:
    found = found_in(rows(data), *needles)
    assert not found, "still stored:\n  " + "\n  ".join(found)


async def ok(rally: Rally, who: str, text: str) -> None:
    reply = await rally.say(who, text)
    assert reply.ok, (text, reply.message.plain_text())


async def deliver(rally: Rally) -> None:
    chats = {p: MemoryChat(p) for p in ("console", "slack", "discord")}
    await Dispatcher(rally.services.uow, chats, rally.clock).drain()  # type: ignore[arg-type]


async def test_after_forget_me_no_table_holds_her_identifiers_or_her_alerts_text(
    rally: Rally,
) -> None:
    world = world_of(rally)
    await her_life(world)
    zen_id = rally.member(HANDLE).id
    assert [o for o in rally.data.outbox.values() if o.status is OutboxStatus.FAILED]
    for needle in (*PERSONAL, *SCRUBBED):  # the walk sees each of them before
        # (her join note was only ever in the leads' message, parked: its text is gone)
        assert needle in JOIN_NOTE or found_in(rows(rally.data), needle), needle

    said = await forget(world)

    assert rally.literal("forget.kept") in said and "#3" in said
    nowhere(rally.data, *PERSONAL)
    nowhere(rally.data, *SCRUBBED)
    row = rally.data.members[zen_id]
    assert (row.status, row.display_name, row.roles) == (
        MemberStatus.FORGOTTEN,
        rally.copy("forget.former_member"),
        frozenset(),
    )
    assert [i for i in rally.data.identities.values() if i.member_id == zen_id] == []
    assert [c for c in rally.data.link_codes.values() if c.member_id == zen_id] == []
    assert [c for c in rally.data.checkins.values() if c.member_id == zen_id] == []
    # The audit keeps ids and actions; its details are short tokens, none of them hers.
    (event,) = rally.audit("forget_me")
    assert (event.subject_id, event.detail) == (zen_id, {"kept": "3"})
    for e in rally.audit():
        assert all(AUDIT_VALUE.fullmatch(v) for v in e.detail.values()), e


async def test_forget_me_closes_her_alerts_and_keeps_exactly_the_safety_case(
    rally: Rally,
) -> None:
    world = world_of(rally)
    await her_life(world)
    zen_id = rally.member(HANDLE).id

    await forget(world)

    assert not [a for a in rally.data.alerts.values() if a.target_id == zen_id and a.is_open]
    kept = found_in(rows(rally.data), *SAFETY)
    safety_case = rally.alert(3)
    assert (safety_case.status, safety_case.close_reason) == (
        AlertStatus.CLOSED,
        CloseReason.FORGOTTEN,
    )
    evidence = {e.id for e in rally.data.evidence.values() if e.alert_id == safety_case.id}
    assert {f.split("]")[0] + "]" for f in kept} == {f"alerts[{safety_case.id}]"} | {
        f"evidence[{e}]" for e in evidence
    }
    # The alerts about her that were not safety cases lost their text.
    for number in (1, 2):
        alert = rally.alert(number)
        assert (alert.links, alert.note, alert.target_post, alert.delegates) == (
            (),
            "",
            None,
            frozenset(),
        )
        assert not [e for e in rally.data.evidence.values() if e.alert_id == alert.id]
    # Her id remains only as a pointer to the scrubbed row.
    assert rally.data.members[zen_id].handle.startswith("forgotten-")


async def test_nothing_waiting_to_be_sent_names_her_or_is_about_her(rally: Rally) -> None:
    world = world_of(rally)
    await her_life(world)
    four = rally.alert(4)
    zen_id = rally.member(HANDLE).id
    called = [
        m.member_id
        for m in from_dict(rally.outbox(key=f"rally:{four.id}")[0].item.payload).mentions
    ]
    assert zen_id in called

    await forget(world)

    waiting = [s for s in rally.outbox() if s.item.status is OutboxStatus.PENDING]
    assert waiting
    for sent in waiting:
        assert NAME not in sent.text and "Zenobia" not in sent.text, (sent.key, sent.text)
        assert sent.item.address != CONSOLE_ID, sent.key
        assert zen_id not in [m.member_id for m in sent.message.mentions]
    # Ana's rally still calls the others, and says a former member is on it.
    post = rally.outbox(key=f"rally:{four.id}")[0]
    assert rally.copy("forget.former_member") in post.text
    first = rally.last_dm("ana", prefix=f"standing:{four.id}:")
    assert rally.copy("respond.first_body", name=rally.copy("forget.former_member")) in first.text
    # "She needs help" and anything else about her own check-ins and alerts never goes.
    assert not rally.outbox(prefix="needhelp:")
    for number in (1, 2, 3):
        alert = rally.alert(number)
        assert not [
            s for s in waiting if s.key.startswith(("safety:", "held:")) and alert.id in s.key
        ]


async def test_her_rally_posts_are_edited_closed_without_her_name_note_or_links(
    rally: Rally,
) -> None:
    world = world_of(rally)
    await her_life(world)
    one, two = rally.alert(1), rally.alert(2)  # #1 was stood down before, #2 is live

    await forget(world)

    for alert, reason in ((one, "close.stood_down"), (two, "close.forgotten")):
        edits = [s for s in rally.outbox(key=f"rally:{alert.id}") if s.op == "update"]
        pending = [s for s in edits if s.item.status is OutboxStatus.PENDING]
        assert {s.to for s in pending} == {
            s.to for s in rally.outbox(key=f"rally:{alert.id}") if s.op == "post"
        }
        for edit in pending:
            assert rally.copy("rally.closed", reason=rally.copy(reason)) in edit.text
            assert not edit.message.buttons
            assert rally.copy("rally.links_heading") not in edit.text  # no links, no heading
            for secret in (*PERSONAL, *SCRUBBED):
                assert secret not in edit.text


async def test_the_later_waves_of_her_rally_are_edited_too(make_rally: Any) -> None:
    rally = await make_rally(rally_cap=1)
    alert = await rally.raise_alert("ana", "kinds=pile_on ana-wave-note")
    rally.clock.advance(timedelta(minutes=31))
    await rally.services.run_due()  # too few answered: a second wave, its own post
    (wave,) = [s for s in rally.posts_in("#rally") if s.key == f"rally:{alert.id}:wave1"]
    assert "Ana" in wave.text
    await deliver(rally)

    done = await rally.press("ana", await rally.say("ana", "forgetme"), "Yes, forget me")

    assert done.ok
    (edit,) = [s for s in rally.outbox(key=f"rally:{alert.id}:wave1") if s.op == "update"]
    assert rally.copy("rally.closed", reason=rally.copy("close.forgotten")) in edit.text
    assert "Ana" not in edit.text and not edit.message.buttons
    for sent in rally.outbox(prefix=f"rally:{alert.id}"):
        if sent.item.status is OutboxStatus.PENDING:
            assert "Ana" not in sent.text and "ana-wave-note" not in sent.text


async def test_a_kept_safety_case_is_removed_after_the_stated_time(rally: Rally) -> None:
    """She was told: "Kept for the safety leads until <date>, then removed: … #3"."""
    world = world_of(rally)
    await her_life(world)
    await forget(world)
    await deliver(rally)
    days = rally.services.policy.safety_case_days

    rally.clock.advance(timedelta(days=days) - timedelta(minutes=1))
    while await rally.services.run_due():
        pass
    assert found_in(rows(rally.data), *SAFETY)  # not before the date she was given

    rally.clock.advance(timedelta(minutes=2))
    while await rally.services.run_due():
        pass
    nowhere(rally.data, *SAFETY)
    assert rally.alert(3).purged_at is not None


async def test_log_lines_after_forget_me_hold_none_of_her_data(
    rally: Rally, caplog: pytest.LogCaptureFixture
) -> None:
    world = world_of(rally)
    await her_life(world)
    zen_id = rally.member(HANDLE).id
    caplog.set_level(logging.DEBUG)

    await forget(world)
    await rally.act("dee", f"rally:alert:{rally.alert(4).id}:done")
    await ok(rally, "lee", "status #3")
    await ok(rally, "lee", "members")
    await ok(rally, "lee", "digest")
    await ok(rally, "lee", "audit")
    await rally.say("lee", f"approve {HANDLE}")
    await rally.act("ben", f"rally:forgetme:{zen_id}:confirm")  # a forgery naming her: logged
    rally.clock.advance(timedelta(days=40))
    while await rally.services.run_due():
        pass
    await deliver(rally)

    assert [r for r in caplog.records if r.name.startswith("bot")]  # the forgery was logged
    logged = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records
    ).lower()
    for secret in (*PERSONAL, *SCRUBBED, *SAFETY):
        assert secret.lower() not in logged, secret


# --- retention -------------------------------------------------------------------------------

OLD = ("https://x.com/old-troll/status/777", "old-note-ret-9c2", "old-evidence-ret-41d")
OLD_POST = "https://x.com/ana/status/778"


async def test_after_the_retention_purge_no_table_holds_a_closed_alerts_text(
    rally: Rally, caplog: pytest.LogCaptureFixture
) -> None:
    link_, note, evidence = OLD
    await ok(rally, "ana", f"alert {link_} post={OLD_POST} kinds=trolling {note}")
    await ok(rally, "ana", f"evidence #1 {evidence}")
    await ok(rally, "ana", "delegate #1 dee")
    await rally.press("ben", rally.posts_in("#rally", prefix="rally:")[-1], "I'm on it")
    rally.clock.advance(timedelta(days=1))
    await rally.services.run_due()
    await rally.press("ana", rally.last_dm("ana", prefix="checkin:"), "Still dealing with it")
    await ok(rally, "ana", "standdown #1")
    # A second, open alert is not touched by the purge.
    await ok(rally, "ana", "alert https://x.com/still-open/status/9 open-note-stays")
    await deliver(rally)
    assert found_in(rows(rally.data), *OLD, OLD_POST)

    caplog.set_level(logging.DEBUG)
    rally.clock.advance(timedelta(days=rally.services.policy.retention_days + 1))
    while await rally.services.run_due():
        pass
    await deliver(rally)
    while await rally.services.run_due():
        pass

    nowhere(rally.data, *OLD, OLD_POST)
    purged = rally.alert(1)
    assert purged.purged_at is not None and purged.delegates == frozenset()
    assert all(c.answer is None for c in rally.checkins(purged))
    assert rally.audit("alert_purged")[-1].alert_id == purged.id
    assert found_in(rows(rally.data), "open-note-stays", "https://x.com/still-open/status/9")
    # Delivered messages older than the retention period are gone.
    cutoff = rally.clock.now() - timedelta(days=rally.services.policy.retention_days)
    assert not [o for o in rally.data.outbox.values() if o.created_at < cutoff]
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    for secret in (*OLD, OLD_POST):
        assert secret not in logged


class ForgetsMidSend(MemoryChat):
    """A platform on which, while the first message is being sent, `who` confirms forget-me;
    messages whose key starts with `fail` then fail (and will be retried)."""

    def __init__(self, rally: Rally, who: str, fail: str) -> None:
        super().__init__("console")
        self.rally, self.who, self.fail, self.done = rally, who, fail, False

    async def post(self, item: OutboxItem, message: Any) -> str:
        if not self.done:
            self.done = True
            asked = await self.rally.say(self.who, "forgetme")
            assert (await self.rally.press(self.who, asked, "Yes, forget me")).ok
        if item.key.startswith(self.fail):
            raise ConnectionError("down")
        return await super().post(item, message)


async def test_a_message_in_flight_when_she_forgets_is_neither_brought_back_nor_renamed_back(
    rally: Rally,
) -> None:
    """Sending happens outside any transaction: a row forget-me dropped or rewritten while it
    was being sent stays dropped, or keeps its rewritten text when it is retried."""
    alert = await rally.raise_alert("ana", "kinds=trolling")
    await deliver(rally)
    await rally.act("ben", f"rally:alert:{alert.id}:on_it")  # "Ben is on it", to ana
    rally.clock.advance(timedelta(minutes=61))
    await rally.services.run_due()  # "still on it?", to ben
    in_flight = {s.key for s in rally.outbox() if s.item.status is OutboxStatus.PENDING}
    assert f"reminder:{alert.id}:{rally.member('ben').id}" in in_flight
    assert any(key.startswith(f"standing:{alert.id}:") for key in in_flight)  # "help is here"

    chat = ForgetsMidSend(rally, "ben", fail=f"standing:{alert.id}:")
    await Dispatcher(rally.services.uow, {"console": chat}, rally.clock).drain(max_rounds=1)

    assert rally.outbox(prefix="reminder:") == []  # sent meanwhile, and not brought back
    (first,) = rally.outbox(prefix=f"standing:{alert.id}:")
    assert first.item.status is OutboxStatus.PENDING and first.item.attempts == 1
    assert "Ben" not in first.text
    assert rally.copy("forget.former_member") in first.text
