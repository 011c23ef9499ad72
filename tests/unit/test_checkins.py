"""Check-ins with the target after an alert: asked privately, answered by them, never nagged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.model import CheckInAnswer, CheckInStatus, MemberStatus
from tests.unit.conftest import NOW

DAY = timedelta(hours=24)
# The demo starts on Wednesday 09:00 in Chicago and check-ins go at 09:00 local time (the
# default check-in hour), so the first one is due a day after the alert.
FIRST = DAY


def statuses(rally, alert) -> list[CheckInStatus]:
    return [c.status for c in rally.checkins(alert)]


def chicago(day: int, hour: int = 9, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=ZoneInfo("America/Chicago")).astimezone(UTC)


async def test_check_ins_are_scheduled_on_the_offset_days_at_the_check_in_hour(rally) -> None:
    alert = await rally.raise_alert("ana")
    rows = rally.checkins(alert)
    assert [c.due_at for c in rows] == [chicago(26), chicago(28), chicago(2, month=12)]
    assert {c.member_id for c in rows} == {rally.member("ana").id}
    assert statuses(rally, alert) == [CheckInStatus.SCHEDULED] * 3


async def test_the_check_in_hour_is_the_targets_own_time_and_outside_her_quiet_hours(
    make_rally,
) -> None:
    rally = await make_rally(checkin_hour=8)
    await rally.say("ana", "timezone Europe/Berlin")
    await rally.say("ana", "quiet 07:00-09:30")
    alert = await rally.raise_alert("ana")
    berlin = ZoneInfo("Europe/Berlin")
    due = [c.due_at.astimezone(berlin) for c in rally.checkins(alert)]
    # 08:00 in Berlin falls in her quiet hours: the check-in waits until they end.
    assert {(d.hour, d.minute) for d in due} == {(9, 30)}
    assert [d.day for d in due] == [26, 28, 2]


async def test_a_collectives_own_offsets_are_used(make_rally) -> None:
    rally = await make_rally(checkin_offsets_hours=(2, 50), checkin_hour=10)
    alert = await rally.raise_alert("ana")
    # +2 hours is still today: today's check-in hour (10:00) is after the alert (09:00).
    assert [c.due_at for c in rally.checkins(alert)] == [chicago(25, 10), chicago(27, 10)]


async def test_a_check_in_is_sent_privately_when_due_and_not_before(rally) -> None:
    alert = await rally.raise_alert("ana")
    rally.clock.advance(FIRST - timedelta(seconds=1))
    await rally.services.run_due()
    assert rally.dms("ana", prefix="checkin:") == []
    assert statuses(rally, alert)[0] is CheckInStatus.SCHEDULED

    rally.clock.advance(timedelta(seconds=1))
    await rally.services.run_due()

    (asked,) = rally.dms("ana", prefix="checkin:")
    assert asked.message.title == rally.copy("checkin.title", count=1, numbers="#1")
    assert rally.copy("checkin.body", name="Ana") in asked.text
    assert [b.label for b in asked.message.buttons] == [
        rally.copy(f"button.checkin_{k}")
        for k in ("ok", "struggling", "need_help", "pause", "stop")
    ]
    first = rally.checkins(alert)[0]
    assert (first.status, first.sent_at) == (CheckInStatus.SENT, rally.clock.now())
    assert [s.to for s in rally.outbox(prefix="checkin:")] == [("dm", "ana")]


async def test_check_ins_go_on_after_the_alert_is_stood_down(rally) -> None:
    alert = await rally.raise_alert("ana")
    await rally.say("ana", "standdown #1")
    for _ in range(8):
        rally.clock.advance(DAY)
        await rally.services.run_due()
    assert statuses(rally, alert) == [CheckInStatus.SENT] * 3
    assert len(rally.dms("ana", prefix="checkin:")) == 3


async def test_two_alerts_give_one_check_in_a_day_and_one_answer_covers_both(rally) -> None:
    first = await rally.raise_alert("ana")
    second = await rally.raise_alert("ana", link="https://x.com/troll/status/2")
    third = await rally.raise_alert("ana", link="https://x.com/troll/status/3")
    days: list[int] = []
    for day in range(1, 9):
        rally.clock.set(NOW + day * DAY + timedelta(hours=2))
        await rally.services.run_due()
        days += [day] * (len(rally.dms("ana", prefix="checkin:")) - len(days))
    # Three alerts, three offsets: three messages in all, on days 1, 3 and 7, never two a day.
    assert days == [1, 3, 7]
    asked = rally.dms("ana", prefix="checkin:")[0]
    assert asked.message.title == rally.copy("checkin.title", count=3, numbers="#1, #2 and #3")
    assert rally.copy("checkin.covers", count=3, numbers="#1, #2 and #3") in asked.text

    reply = await rally.press("ana", asked, rally.copy("button.checkin_struggling"))

    assert reply.ok
    for alert in (first, second, third):
        row = rally.checkins(alert)[0]
        assert (row.status, row.answer) == (CheckInStatus.ANSWERED, CheckInAnswer.STRUGGLING)
    assert [e.alert_id for e in rally.audit("checkin_answered")] == [first.id, second.id, third.id]


async def test_a_second_check_in_due_the_same_day_waits_for_the_next_day(make_rally) -> None:
    rally = await make_rally(checkin_offsets_hours=(24,))
    await rally.raise_alert("ana")
    rally.clock.advance(FIRST)
    await rally.services.run_due()
    assert len(rally.dms("ana", prefix="checkin:")) == 1
    # An alert raised after that check-in went, whose check-in falls due the same day.
    rally.clock.set(chicago(26, 11))
    second = await rally.raise_alert("ana", link="https://x.com/troll/status/2")
    async with rally.store.uow() as uow:
        row = (await uow.checkins.for_alert(second.id))[0]
        row.due_at = chicago(26, 12)
        await uow.checkins.save(row)
        await uow.commit()
    rally.clock.set(chicago(26, 12))
    await rally.services.run_due()

    assert len(rally.dms("ana", prefix="checkin:")) == 1
    assert rally.checkins(second)[0].due_at == chicago(27)
    rally.clock.set(chicago(27))
    await rally.services.run_due()
    assert len(rally.dms("ana", prefix="checkin:")) == 2


async def test_quiet_hours_that_began_after_scheduling_still_hold_a_check_in_back(rally) -> None:
    alert = await rally.raise_alert("ana")
    await rally.say("ana", "quiet 09:00-13:00")
    rally.clock.set(chicago(26))
    await rally.services.run_due()
    assert rally.dms("ana", prefix="checkin:") == []
    assert rally.checkins(alert)[0].due_at == chicago(26, 13)
    rally.clock.set(chicago(26, 13))
    await rally.services.run_due()
    assert len(rally.dms("ana", prefix="checkin:")) == 1


async def test_a_check_in_about_several_alerts_pauses_or_stops_them_all(rally) -> None:
    await rally.raise_alert("ana")
    await rally.raise_alert("ana", link="https://x.com/troll/status/2")
    rally.clock.advance(FIRST)
    await rally.services.run_due()

    paused = await rally.press_dm("ana", "checkin:", "button.checkin_pause")

    assert rally.copy("checkin.paused", count=2, numbers="#1 and #2") in paused.message.plain_text()
    assert rally.alert(1).checkins_paused and rally.alert(2).checkins_paused
    stopped = await rally.press_dm("ana", "checkin:", "button.checkin_stop")
    assert stopped.ok
    assert statuses(rally, rally.alert(2))[1:] == [CheckInStatus.CANCELLED] * 2
    # One alert's check-ins still go back on by themselves.
    assert (await rally.say("ana", "checkins #1 resume")).ok
    assert not rally.alert(1).checkins_paused and rally.alert(2).checkins_paused


@pytest.mark.parametrize("answer", list(CheckInAnswer))
async def test_the_target_answers_a_check_in(rally, answer) -> None:
    alert = await rally.raise_alert("ana")
    rally.clock.advance(FIRST)
    await rally.services.run_due()
    rally.clock.advance(timedelta(hours=1))

    reply = await rally.press_dm("ana", "checkin:", f"button.checkin_{answer}")

    assert reply.ok
    assert rally.copy(f"checkin.thanks_{answer}") in reply.message.plain_text()
    row = rally.checkins(alert)[0]
    assert (row.status, row.answer, row.answered_at) == (
        CheckInStatus.ANSWERED,
        answer,
        rally.clock.now(),
    )
    need_help = rally.posts_in("#leads", prefix="needhelp:")
    if answer is CheckInAnswer.NEED_HELP:
        (told,) = need_help
        body = rally.copy("checkin.need_help_leads_body", name="Ana", count=1, numbers="#1")
        assert body in told.text
    else:
        assert need_help == []


async def test_an_answer_is_audited(rally) -> None:
    alert = await rally.raise_alert("ana")
    rally.clock.advance(FIRST)
    await rally.services.run_due()
    await rally.press_dm("ana", "checkin:", "button.checkin_struggling")
    events = rally.audit("checkin_answered")
    assert [(e.actor_id, e.alert_id, e.detail) for e in events] == [
        (rally.member("ana").id, alert.id, {"answer": "struggling"})
    ]


async def test_the_same_answer_twice_is_recorded_once(rally) -> None:
    await rally.raise_alert("ana")
    rally.clock.advance(FIRST)
    await rally.services.run_due()
    await rally.press_dm("ana", "checkin:", "button.checkin_need_help")
    before = rally.snapshot()

    again = await rally.press_dm("ana", "checkin:", "button.checkin_need_help")

    assert rally.copy("checkin.already") in again.message.plain_text()
    assert rally.snapshot() == before


async def test_a_changed_answer_reaches_the_leads_when_it_becomes_i_need_help(rally) -> None:
    alert = await rally.raise_alert("ana")
    rally.clock.advance(FIRST)
    await rally.services.run_due()
    await rally.press_dm("ana", "checkin:", "button.checkin_ok")
    await rally.press_dm("ana", "checkin:", "button.checkin_need_help")
    assert rally.checkins(alert)[0].answer is CheckInAnswer.NEED_HELP
    assert len(rally.posts_in("#leads", prefix="needhelp:")) == 1


@pytest.mark.parametrize("who", ["ben", "lee"])
async def test_only_the_target_answers_their_check_in(rally, who) -> None:
    await rally.raise_alert("ana")
    rally.clock.advance(FIRST)
    await rally.services.run_due()
    before = rally.snapshot()

    reply = await rally.press_dm(who, "checkin:", "button.checkin_ok", owner="ana")

    assert not reply.ok
    after = rally.snapshot()
    after.audit = before.audit  # a refused forgery may be audited: see test_safety_invariants
    assert after == before


async def test_pausing_skips_due_check_ins_and_resuming_brings_them_back(rally) -> None:
    alert = await rally.raise_alert("ana")
    rally.clock.advance(FIRST)
    await rally.services.run_due()

    paused = await rally.press_dm("ana", "checkin:", "button.checkin_pause")
    assert rally.copy("checkin.paused", count=1, numbers="#1") in paused.message.plain_text()
    assert rally.alert(1).checkins_paused is True
    rally.clock.advance(DAY * 2)
    await rally.services.run_due()

    assert statuses(rally, alert) == [
        CheckInStatus.SENT,
        CheckInStatus.SKIPPED,
        CheckInStatus.SCHEDULED,
    ]
    assert len(rally.dms("ana", prefix="checkin:")) == 1

    resumed = await rally.say("ana", "checkins #1 resume")
    assert rally.copy("checkin.resumed", count=1, numbers="#1") in resumed.message.plain_text()
    rally.clock.advance(DAY * 4)
    await rally.services.run_due()
    assert statuses(rally, alert)[-1] is CheckInStatus.SENT
    assert len(rally.dms("ana", prefix="checkin:")) == 2
    assert [e.action for e in rally.audit() if e.action.startswith("checkins_")] == [
        "checkins_pause",
        "checkins_resume",
    ]


async def test_stopping_cancels_the_check_ins_still_to_come(rally) -> None:
    alert = await rally.raise_alert("ana")
    rally.clock.advance(FIRST)
    await rally.services.run_due()

    stopped = await rally.press_dm("ana", "checkin:", "button.checkin_stop")

    assert rally.copy("checkin.stopped", count=1, numbers="#1") in stopped.message.plain_text()
    assert statuses(rally, alert) == [
        CheckInStatus.SENT,
        CheckInStatus.CANCELLED,
        CheckInStatus.CANCELLED,
    ]
    rally.clock.advance(DAY * 30)
    await rally.services.run_due()
    assert len(rally.dms("ana", prefix="checkin:")) == 1
    before = rally.snapshot()
    again = await rally.say("ana", "checkins #1 stop")
    assert not again.ok
    assert rally.copy("error.no_checkins_left", number=1) in again.message.plain_text()
    assert rally.snapshot() == before


@pytest.mark.parametrize("text", ["checkins #1 pause", "checkins #1 stop"])
@pytest.mark.parametrize("who", ["ben", "lee"])
async def test_only_the_target_controls_their_check_ins(rally, who, text) -> None:
    await rally.raise_alert("ana")
    before = rally.snapshot()
    reply = await rally.say(who, text)
    assert not reply.ok
    assert rally.copy("error.not_your_alert") in reply.message.plain_text()
    assert rally.snapshot() == before


async def test_a_check_in_is_not_sent_to_a_target_who_has_left(rally) -> None:
    alert = await rally.raise_alert("ana")
    await rally.edit_member("ana", status=MemberStatus.SUSPENDED)
    rally.clock.advance(FIRST)
    await rally.services.run_due()
    assert rally.checkins(alert)[0].status is CheckInStatus.CANCELLED
    assert rally.dms("ana", prefix="checkin:") == []
