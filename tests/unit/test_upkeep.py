"""Due upkeep: consent requests that expire, one reminder to quiet responders, retention of
closed alerts, and open alerts closed when nothing happens on them for a long time."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.model import AlertStatus, CloseReason, OutboxStatus
from bot.delivery.outbox import Dispatcher
from bot.settings import Settings
from tests.fakes import MemoryChat
from tests.unit.conftest import Rally


async def test_an_unanswered_consent_request_closes_the_alert_and_tells_the_raiser(
    rally: Rally,
) -> None:
    await rally.raise_alert("ben", "for=ana")
    rally.clock.advance(timedelta(hours=47))
    await rally.services.run_due()
    assert rally.alert(1).status is AlertStatus.PENDING_CONSENT
    rally.clock.advance(timedelta(hours=1))
    await rally.services.run_due()
    alert = rally.alert(1)
    assert (alert.status, alert.close_reason) == (AlertStatus.CLOSED, CloseReason.EXPIRED)
    assert [s.to for s in rally.outbox(prefix="expired:")] == [("dm", "ben")]
    assert not rally.posts_in("#rally")  # nobody was rallied
    # The target hears of it too, and a late yes still starts it (see test_standing.py).
    assert [s.to for s in rally.outbox(prefix="standing:")] == [("dm", "ana")]


async def test_an_answered_consent_request_never_expires(rally: Rally) -> None:
    await rally.raise_alert("ben", "for=ana")
    assert (await rally.say("ana", "consent #1 yes")).ok
    rally.clock.advance(timedelta(hours=49))
    await rally.services.run_due()
    assert rally.alert(1).status is AlertStatus.ACTIVE


async def test_a_quiet_responder_is_asked_once_if_they_are_still_on_it(rally: Rally) -> None:
    alert = await rally.raise_alert("ana")
    await rally.act("ben", f"rally:alert:{alert.id}:on_it")
    await rally.act("cam", f"rally:alert:{alert.id}:did:reported")  # done: never reminded
    rally.clock.advance(timedelta(minutes=59))
    await rally.services.run_due()
    assert rally.outbox(prefix="reminder:") == []
    rally.clock.advance(timedelta(minutes=2))
    await rally.services.run_due()
    rally.clock.advance(timedelta(days=2))
    await rally.services.run_due()
    reminders = rally.outbox(prefix="reminder:")
    assert [s.to for s in reminders] == [("dm", "ben")]
    labels = [b.label for b in reminders[0].message.buttons]
    assert labels == [rally.copy("button.done"), rally.copy("button.cant")]


async def test_retention_purges_closed_alerts_personal_data_and_old_messages(
    rally: Rally,
) -> None:
    alert = await rally.raise_alert("ana", "they wrote my home town")
    await rally.say("ana", "evidence #1 case 4711")
    await Dispatcher(rally.services.uow, {"console": MemoryChat("console")}, rally.clock).drain()
    await rally.say("ana", "standdown #1")
    open_one = await rally.raise_alert("lee", "still going on")
    rally.clock.advance(timedelta(days=364))
    await rally.services.run_due()
    assert rally.alert(1).purged_at is None
    rally.clock.advance(timedelta(days=2))
    while await rally.services.run_due():
        pass
    purged = rally.alert(1)
    assert purged.purged_at is not None
    assert (purged.links, purged.note) == ((), "")
    assert not [e for e in rally.data.evidence.values() if e.alert_id == alert.id]
    assert rally.alert(2).links == open_one.links  # open alerts are never purged
    sent = [o for o in rally.data.outbox.values() if o.status is OutboxStatus.SENT]
    assert sent == []  # delivered rows older than a year are gone
    assert any(e.action == "alert_purged" for e in rally.data.audit.values())


async def test_expired_link_codes_are_removed(rally: Rally) -> None:
    await rally.say("ben", "link")
    assert len(rally.data.link_codes) == 1
    rally.clock.advance(timedelta(minutes=16))
    await rally.services.run_due()
    assert rally.data.link_codes == {}


# --- open alerts left idle -------------------------------------------------------------------


def idle_times(rally: Rally) -> tuple[timedelta, timedelta]:
    """How long after its last activity an alert's notice goes, and then its closing."""
    policy = rally.services.policy
    notice = timedelta(days=policy.open_alert_notice_days)
    return timedelta(days=policy.open_alert_idle_days) - notice, notice


async def settle(rally: Rally) -> None:
    while await rally.services.run_due():
        pass


async def idle_alert(rally: Rally, note: str = "idle-note-51") -> str:
    """Ana's alert, rallied, escalated and left alone; its escalations are its last activity.
    Returns its id."""
    alert = await rally.raise_alert("ana", f"kinds=trolling {note}")
    for _step in range(rally.services.policy.escalation_max_steps + 1):
        rally.clock.advance(timedelta(minutes=31))  # every escalation step is done
        await settle(rally)
    assert rally.data.alerts[alert.id].escalate_at is None
    await Dispatcher(rally.services.uow, {"console": MemoryChat("console")}, rally.clock).drain()
    return alert.id


async def test_an_idle_alert_is_announced_then_closed_then_purged(rally: Rally) -> None:
    alert_id = await idle_alert(rally)
    last = rally.data.alerts[alert_id].last_escalated_at
    assert last is not None
    until_notice, notice = idle_times(rally)
    rally.clock.set(last + until_notice - timedelta(minutes=1))
    await settle(rally)
    assert rally.outbox(prefix="idle") == []

    rally.clock.set(last + until_notice + timedelta(minutes=1))
    await settle(rally)

    told = rally.outbox(prefix="idle")
    assert {s.to for s in told} == {("dm", "ana"), ("channel", "#leads")}
    closes = (rally.clock.now() + notice).astimezone(ZoneInfo("America/Chicago"))
    title = rally.copy(
        "retention.notice_title", number=1, date=closes.strftime(rally.copy("period.date_format"))
    )
    assert all(s.message.title == title for s in told)
    assert [b.label for b in told[0].message.buttons] == [
        rally.copy("button.keep_open"),
        rally.copy("button.close_now"),
    ]
    assert rally.data.alerts[alert_id].status is AlertStatus.ACTIVE
    assert [e.alert_id for e in rally.audit("alert_idle_notice")] == [alert_id]

    rally.clock.advance(notice - timedelta(minutes=2))
    await settle(rally)
    assert rally.data.alerts[alert_id].status is AlertStatus.ACTIVE
    rally.clock.advance(timedelta(minutes=3))
    await settle(rally)

    closed = rally.data.alerts[alert_id]
    assert (closed.status, closed.close_reason) == (AlertStatus.CLOSED, CloseReason.IDLE)
    assert {s.to for s in rally.outbox(prefix="idle-closed")} == {
        ("dm", "ana"),
        ("channel", "#leads"),
    }
    (edit,) = [s for s in rally.outbox(key=f"rally:{alert_id}") if s.op == "update"]
    assert rally.copy("rally.closed", reason=rally.copy("close.idle")) in edit.text
    assert not edit.message.buttons
    assert [e.alert_id for e in rally.audit("alert_closed_idle")] == [alert_id]
    # Then the closed alerts' retention: its personal data goes after retention_days.
    rally.clock.advance(timedelta(days=rally.services.policy.retention_days, minutes=1))
    await settle(rally)
    purged = rally.data.alerts[alert_id]
    assert (purged.note, purged.links, purged.purged_at) == ("", (), rally.clock.now())


async def test_keep_it_open_starts_the_clock_again(rally: Rally) -> None:
    alert_id = await idle_alert(rally)
    until_notice, notice = idle_times(rally)
    rally.clock.advance(until_notice)
    await settle(rally)
    (told, *_) = rally.outbox(prefix="idle:")

    kept = await rally.press("ana", told, rally.copy("button.keep_open"))

    assert kept.ok and kept.message.title == rally.copy("retention.kept_title", number=1)
    alert = rally.data.alerts[alert_id]
    assert (alert.kept_open_at, alert.idle_notice_at) == (rally.clock.now(), None)
    rally.clock.advance(notice + timedelta(days=1))
    await settle(rally)
    assert rally.data.alerts[alert_id].status is AlertStatus.ACTIVE
    # Idle again for as long, it is announced again.
    rally.clock.advance(until_notice - notice)
    await settle(rally)
    assert len(rally.outbox(prefix="idle:")) == 2


@pytest.mark.parametrize(
    "activity",
    ["ben's answer", "new evidence", "a check-in answer"],
)
async def test_activity_after_the_notice_keeps_the_alert_open(rally: Rally, activity: str) -> None:
    alert_id = await idle_alert(rally)
    until_notice, notice = idle_times(rally)
    rally.clock.advance(until_notice)
    await settle(rally)
    assert rally.data.alerts[alert_id].idle_notice_at is not None
    rally.clock.advance(timedelta(days=1))
    if activity == "ben's answer":
        assert (await rally.act("ben", f"rally:alert:{alert_id}:on_it")).ok
    elif activity == "new evidence":
        assert (await rally.say("ana", "evidence #1 case 9001")).ok
    else:
        (checkin, *_) = rally.checkins(rally.data.alerts[alert_id])
        assert (await rally.act("ana", f"rally:checkin:{checkin.id}:ok")).ok

    rally.clock.advance(notice)
    await settle(rally)

    alert = rally.data.alerts[alert_id]
    assert (alert.status, alert.idle_notice_at) == (AlertStatus.ACTIVE, None)
    assert rally.audit("alert_closed_idle") == []


async def test_a_closed_alert_can_not_be_kept_open(rally: Rally) -> None:
    alert_id = await idle_alert(rally)
    await rally.say("ana", "standdown #1")
    before = rally.snapshot()
    reply = await rally.act("ana", f"rally:alert:{alert_id}:keep")
    assert not reply.ok
    assert rally.copy("error.already_closed", number=1) in reply.message.plain_text()
    assert rally.snapshot() == before


def test_the_privacy_settings_reach_the_policy() -> None:
    settings = Settings(
        join_request_days=14, open_alert_idle_days=10, open_alert_notice_days=30, safety_case_days=5
    )
    policy = settings.policy()
    assert (policy.join_request_days, policy.safety_case_days) == (14, 5)
    # A notice longer than the idle time would go out before the alert was idle at all.
    assert (policy.open_alert_idle_days, policy.open_alert_notice_days) == (10, 9)
    defaults = Settings().policy()
    assert (defaults.open_alert_idle_days, defaults.open_alert_notice_days) == (90, 7)
    assert (defaults.join_request_days, defaults.safety_case_days) == (30, 30)
