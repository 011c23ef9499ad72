"""Forget-me and the retention purge, proved by walking every string of every table.

After forget-me no row in any table of the store (every field, nested JSON payloads and audit
details included) holds the member's handle, display name or platform user ids, nor the links,
notes, posts and evidence of the alerts about them, except an open safety case, which is kept
(exactly those alerts) until it closes. The member's opaque id stays, pointing only at the
scrubbed "Former member" row. After the retention purge a closed alert's links, notes, post,
evidence and check-in answers are nowhere. Log lines written afterwards (DEBUG) hold none of it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from bot.core.commands import Caller
from bot.core.model import AlertStatus, MemberStatus
from bot.delivery.outbox import Dispatcher
from tests.fakes import MemoryChat, Tables
from tests.unit.conftest import Rally

# The member: a console account, a Slack account and a Discord account, linked.
NAME = "Zenobia Quartermaine"
HANDLE = "zenobia-quartermaine"
CONSOLE_ID = "zqx-console-7731"
SLACK_ID = "UZQX7731"
DISCORD_ID = "990011223344"
ZEN = Caller("console", "local", CONSOLE_ID, display_name=NAME, channel="#rally")
ZEN_SLACK = Caller("slack", "T1", SLACK_ID, display_name=NAME, channel="C1")
ZEN_DISCORD = Caller("discord", "", DISCORD_ID, display_name=NAME, space="G1", channel="CH1")
PERSONAL = (NAME, HANDLE, "Zenobia", "Quartermaine", CONSOLE_ID, SLACK_ID, DISCORD_ID)

# Alerts about her: #1 closed, #2 open and active, #3 open and severe (a safety case).
CLOSED = ("https://x.com/zq-troll/status/1111", "zq-note-closed-alert", "zq-evidence-closed")
CLOSED_POST = "https://x.com/zq-own/status/2222"
ACTIVE = ("https://x.com/zq-troll/status/3333", "zq-note-active-alert", "zq-evidence-active")
SAFETY = ("https://x.com/zq-doxxer/status/4444", "zq-note-safety-case", "zq-evidence-safety")
SCRUBBED = (*CLOSED, CLOSED_POST, *ACTIVE)


@dataclasses.dataclass(frozen=True)
class Found:
    table: str
    key: str
    path: str
    value: str


def strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string inside a row: dataclass fields, dict keys and values, sequences, sets."""
    if isinstance(value, str):
        yield path, value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from strings(getattr(value, f.name), f"{path}.{f.name}")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings(k, f"{path}[key]")
            yield from strings(v, f"{path}[{k!r}]")
    elif isinstance(value, list | tuple | set | frozenset):
        for i, v in enumerate(value):
            yield from strings(v, f"{path}[{i}]")


def holding(data: Tables, *needles: str) -> list[Found]:
    """Every place in the store whose text contains one of the needles (any case)."""
    wanted = [n.lower() for n in needles]
    found = []
    for f in dataclasses.fields(data):
        for key, row in getattr(data, f.name).items():
            for path, value in strings(row):
                if any(n in value.lower() for n in wanted):
                    found.append(Found(f.name, str(key), path, value[:120]))
    return found


def nowhere(data: Tables, *needles: str) -> None:
    found = holding(data, *needles)
    assert not found, "still stored:\n" + "\n".join(
        f"  {f.table}[{f.key}]{f.path} = {f.value!r}" for f in found
    )


async def ok(rally: Rally, who: str | Caller, text: str) -> None:
    reply = await rally.say(who, text)
    assert reply.ok, (text, reply.message.plain_text())


async def deliver(rally: Rally) -> None:
    chats = {p: MemoryChat(p) for p in ("console", "slack", "discord")}
    await Dispatcher(rally.services.uow, chats, rally.clock).drain()  # type: ignore[arg-type]


async def link(rally: Rally, caller: Caller) -> None:
    await ok(rally, ZEN, "link")
    (code,) = rally.data.link_codes
    await ok(rally, caller, f"link {code}")


async def her_life(rally: Rally) -> str:
    """Zenobia joins, links two more platforms, is attacked three times, helps others; some
    messages are delivered, some still wait. Returns her member id."""
    await ok(rally, ZEN, "join an ER physician")
    await ok(rally, "lee", f"approve {HANDLE}")
    await ok(rally, "lee", f"role {HANDLE} responder")
    await rally.edit_member(HANDLE, trusted=True)
    await link(rally, ZEN_SLACK)
    await link(rally, ZEN_DISCORD)
    await ok(rally, ZEN, "prefer dm")
    await ok(rally, ZEN, "quiet 23:00-06:00")
    await ok(rally, ZEN, "link")  # a code she never used
    link_1, note_1, evidence_1 = CLOSED
    await ok(rally, ZEN, f"alert {link_1} post={CLOSED_POST} kinds=trolling {note_1}")
    await ok(rally, ZEN, f"evidence #1 {evidence_1}")
    await ok(rally, ZEN, "delegate #1 dee")
    await ok(rally, "dee", "evidence #1 case 55512")
    await rally.press("ben", rally.posts_in("#rally", prefix="rally:")[-1], "I'm on it")
    link_2, note_2, evidence_2 = ACTIVE
    await ok(rally, ZEN, f"alert {link_2} kinds=pile_on {note_2}")
    await ok(rally, ZEN, f"evidence #2 {evidence_2}")
    link_3, note_3, evidence_3 = SAFETY
    await ok(rally, ZEN, f"alert {link_3} kinds=doxxing {note_3}")
    await ok(rally, ZEN, f"evidence #3 {evidence_3}")
    # She helps: on ana's alert (her name in the tally), and raises one for ben (her name in
    # the consent request).
    await ok(rally, "ana", "alert https://x.com/other/status/5 kinds=trolling")
    await rally.act(ZEN, f"rally:alert:{rally.alert(4).id}:on_it")
    await ok(rally, ZEN, "alert https://x.com/other/status/6 for=ben")
    await ok(rally, "lee", f"audit {HANDLE}")
    rally.clock.advance(timedelta(days=1))
    await rally.services.run_due()  # check-ins to her, escalations, reminders
    checkin = rally.last_dm(CONSOLE_ID, prefix="checkin:")
    await rally.press(ZEN, checkin, rally.copy("button.checkin_struggling"))
    await ok(rally, ZEN, "standdown #1")
    await deliver(rally)  # delivered rows keep no body
    rally.clock.advance(timedelta(days=2))
    await rally.services.run_due()  # the +3 day check-ins wait, undelivered
    await rally.act("cam", f"rally:alert:{rally.alert(4).id}:on_it")  # a tally edit waits too
    assert holding(rally.data, NAME), "her name is in undelivered messages before forget-me"
    return rally.member(HANDLE).id


async def forget(rally: Rally) -> None:
    confirm = await rally.say(ZEN, "forgetme")
    done = await rally.press(ZEN, confirm, rally.copy("button.forget_confirm"))
    assert done.ok, done.message.plain_text()
    assert rally.copy("forget.kept", numbers="#3") in done.message.plain_text()


async def test_after_forget_me_no_table_holds_her_identifiers_or_her_alerts_text(
    rally: Rally,
) -> None:
    zen_id = await her_life(rally)

    await forget(rally)

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
    (event,) = rally.audit("forget_me")
    assert (event.subject_id, event.detail["kept"]) == (zen_id, "3")


async def test_forget_me_keeps_exactly_the_open_safety_case(rally: Rally) -> None:
    zen_id = await her_life(rally)

    await forget(rally)

    kept = holding(rally.data, *SAFETY)
    safety_case = rally.alert(3)
    assert safety_case.status is AlertStatus.SAFETY_REVIEW
    evidence = {e.id for e in rally.data.evidence.values() if e.alert_id == safety_case.id}
    assert {(f.table, f.key) for f in kept} == {("alerts", safety_case.id)} | {
        ("evidence", e) for e in evidence
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


async def test_a_kept_safety_case_is_removed_once_it_closes(rally: Rally) -> None:
    """She was told: "Kept for the safety leads while open: #3"."""
    await her_life(rally)
    await forget(rally)

    await ok(rally, "sam", "standdown #3")
    await rally.services.run_due()
    await deliver(rally)

    assert rally.alert(3).status is AlertStatus.CLOSED
    nowhere(rally.data, *SAFETY)


async def test_log_lines_after_forget_me_hold_none_of_her_data(
    rally: Rally, caplog: pytest.LogCaptureFixture
) -> None:
    zen_id = await her_life(rally)
    caplog.set_level(logging.DEBUG)

    await forget(rally)
    await rally.act("dee", f"rally:alert:{rally.alert(4).id}:done")
    await ok(rally, "lee", "status #3")
    await ok(rally, "lee", "members")
    await ok(rally, "lee", "digest")
    await ok(rally, "lee", "audit")
    await rally.say("lee", f"approve {HANDLE}")
    await rally.act(ZEN, "rally:alert:" + "f" * 32 + ":on_it")
    await rally.act("ben", f"rally:forgetme:{zen_id}:confirm")  # a forgery naming her: logged
    rally.clock.advance(timedelta(days=8))
    await rally.services.run_due()
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
    assert holding(rally.data, *OLD, OLD_POST)

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
    assert holding(rally.data, "open-note-stays", "https://x.com/still-open/status/9")
    # Delivered messages older than the retention period are gone.
    cutoff = rally.clock.now() - timedelta(days=rally.services.policy.retention_days)
    assert not [o for o in rally.data.outbox.values() if o.created_at < cutoff]
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    for secret in (*OLD, OLD_POST):
        assert secret not in logged
