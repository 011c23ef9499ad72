"""Check-ins with the target after an alert: asked privately, answered by them, never nagged."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.model import CheckInAnswer, CheckInStatus, MemberStatus

DAY = timedelta(hours=24)


def statuses(rally, alert) -> list[CheckInStatus]:
    return [c.status for c in rally.checkins(alert)]


async def test_check_ins_are_scheduled_at_the_offsets_after_triage(rally) -> None:
    alert = await rally.raise_alert("ana")
    rows = rally.checkins(alert)
    assert [c.due_at - alert.raised_at for c in rows] == [
        timedelta(hours=24),
        timedelta(hours=72),
        timedelta(hours=168),
    ]
    assert {c.member_id for c in rows} == {rally.member("ana").id}
    assert statuses(rally, alert) == [CheckInStatus.SCHEDULED] * 3


async def test_a_collectives_own_offsets_are_used(make_rally) -> None:
    rally = await make_rally(checkin_offsets_hours=(2, 12))
    alert = await rally.raise_alert("ana")
    assert [c.due_at - alert.raised_at for c in rally.checkins(alert)] == [
        timedelta(hours=2),
        timedelta(hours=12),
    ]


async def test_a_check_in_is_sent_privately_when_due_and_not_before(rally) -> None:
    alert = await rally.raise_alert("ana")
    rally.clock.advance(DAY - timedelta(seconds=1))
    await rally.services.run_due()
    assert rally.dms("ana", prefix="checkin:") == []
    assert statuses(rally, alert)[0] is CheckInStatus.SCHEDULED

    rally.clock.advance(timedelta(seconds=1))
    await rally.services.run_due()

    (asked,) = rally.dms("ana", prefix="checkin:")
    assert asked.message.title == rally.copy("checkin.title", number=1)
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
    rally.clock.advance(DAY * 8)
    # Stood down: nothing but the three check-ins (and the weekly digest) is due.
    assert await rally.services.run_due() == 4
    assert statuses(rally, alert) == [CheckInStatus.SENT] * 3
    assert len(rally.dms("ana", prefix="checkin:")) == 3


@pytest.mark.parametrize("answer", list(CheckInAnswer))
async def test_the_target_answers_a_check_in(rally, answer) -> None:
    alert = await rally.raise_alert("ana")
    rally.clock.advance(DAY)
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
        assert rally.copy("checkin.need_help_leads_body", name="Ana", number=1) in told.text
    else:
        assert need_help == []


async def test_an_answer_is_audited(rally) -> None:
    alert = await rally.raise_alert("ana")
    rally.clock.advance(DAY)
    await rally.services.run_due()
    await rally.press_dm("ana", "checkin:", "button.checkin_struggling")
    events = rally.audit("checkin_answered")
    assert [(e.actor_id, e.alert_id, e.detail) for e in events] == [
        (rally.member("ana").id, alert.id, {"answer": "struggling"})
    ]


async def test_the_same_answer_twice_is_recorded_once(rally) -> None:
    await rally.raise_alert("ana")
    rally.clock.advance(DAY)
    await rally.services.run_due()
    await rally.press_dm("ana", "checkin:", "button.checkin_need_help")
    before = rally.snapshot()

    again = await rally.press_dm("ana", "checkin:", "button.checkin_need_help")

    assert rally.copy("checkin.already") in again.message.plain_text()
    assert rally.snapshot() == before


async def test_a_changed_answer_reaches_the_leads_when_it_becomes_i_need_help(rally) -> None:
    alert = await rally.raise_alert("ana")
    rally.clock.advance(DAY)
    await rally.services.run_due()
    await rally.press_dm("ana", "checkin:", "button.checkin_ok")
    await rally.press_dm("ana", "checkin:", "button.checkin_need_help")
    assert rally.checkins(alert)[0].answer is CheckInAnswer.NEED_HELP
    assert len(rally.posts_in("#leads", prefix="needhelp:")) == 1


@pytest.mark.parametrize("who", ["ben", "lee"])
async def test_only_the_target_answers_their_check_in(rally, who) -> None:
    await rally.raise_alert("ana")
    rally.clock.advance(DAY)
    await rally.services.run_due()
    before = rally.snapshot()

    reply = await rally.press_dm(who, "checkin:", "button.checkin_ok", owner="ana")

    assert not reply.ok
    after = rally.snapshot()
    after.audit = before.audit  # a refused forgery may be audited: see test_safety_invariants
    assert after == before


async def test_pausing_skips_due_check_ins_and_resuming_brings_them_back(rally) -> None:
    alert = await rally.raise_alert("ana")
    rally.clock.advance(DAY)
    await rally.services.run_due()

    paused = await rally.press_dm("ana", "checkin:", "button.checkin_pause")
    assert rally.copy("checkin.paused", number=1) in paused.message.plain_text()
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
    assert rally.copy("checkin.resumed", number=1) in resumed.message.plain_text()
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
    rally.clock.advance(DAY)
    await rally.services.run_due()

    stopped = await rally.press_dm("ana", "checkin:", "button.checkin_stop")

    assert rally.copy("checkin.stopped", number=1) in stopped.message.plain_text()
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
    rally.clock.advance(DAY)
    await rally.services.run_due()
    assert rally.checkins(alert)[0].status is CheckInStatus.SENT
    assert rally.dms("ana", prefix="checkin:") == []
