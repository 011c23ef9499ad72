"""Escalation: wait, widen the rally, tell the leads, repeat; an unanswered alert reaches a lead."""

from __future__ import annotations

from datetime import timedelta

from bot.core.model import AlertStatus

WAIT = timedelta(minutes=30)
DAY = timedelta(days=1)


def escalations(rally, alert) -> list:
    return rally.outbox(prefix=f"escalation:{alert.id}:")


def said(rally, engaged: int, minutes: int, called: int, silent: str = "") -> list[str]:
    """The lines an escalation of an active alert gives the leads."""
    lines = [
        rally.copy("escalation.engaged", count=engaged, waited=rally.copy.duration(minutes)),
        rally.copy("escalation.called", count=called),
    ]
    if silent:
        names = silent.split(", ")
        lines.append(rally.copy("escalation.silent", count=len(names), names=silent))
    return lines


def has_all(text: str, lines: list[str]) -> bool:
    return all(line in text for line in lines)


async def test_nothing_escalates_before_the_wait(rally) -> None:
    alert = await rally.raise_alert("ana")
    rally.clock.advance(WAIT - timedelta(seconds=1))
    assert await rally.services.run_due() == 0
    assert escalations(rally, alert) == []
    assert rally.alert(1).escalation_step == 0


async def test_too_few_responders_after_the_wait_widen_the_rally_and_tell_the_leads(
    make_rally,
) -> None:
    rally = await make_rally(rally_cap=1)
    alert = await rally.raise_alert("ana")
    assert rally.rallied(alert) == ["ben"]
    rally.clock.advance(WAIT)

    assert await rally.services.run_due() == 1

    escalated = rally.alert(1)
    assert escalated.escalation_step == 1
    assert escalated.last_escalated_at == rally.clock.now()
    assert escalated.escalate_at == rally.clock.now() + WAIT
    assert rally.rallied(alert) == ["ben", "cam"]
    (wave,) = rally.outbox(key=f"rally:{alert.id}:wave1")
    assert wave.to == ("channel", "#rally")
    assert [m.label for m in wave.message.mentions] == ["Cam"]
    (told,) = escalations(rally, alert)
    assert told.to == ("channel", "#leads")
    assert told.message.title == rally.copy("escalation.title", number=1, step=1, steps=3)
    assert has_all(told.text, said(rally, engaged=0, minutes=30, called=1, silent="Ben"))
    assert rally.copy("escalation.next", count=30) in told.text
    assert [b.label for b in told.message.buttons] == [
        rally.copy(f"button.{b}") for b in ("widen", "page_all", "take", "standdown")
    ]
    event = rally.audit("alert_escalated")[-1]
    assert (event.alert_id, event.detail) == (alert.id, {"step": "1", "called": "1"})


async def test_escalation_repeats_up_to_the_last_step_then_stops_with_a_final_message(
    make_rally,
) -> None:
    rally = await make_rally(rally_cap=1)
    alert = await rally.raise_alert("ana")

    for _ in range(3):
        rally.clock.advance(WAIT)
        assert await rally.services.run_due() == 1
    rally.clock.advance(WAIT * 10)
    assert await rally.services.run_due() == 0

    steps = escalations(rally, alert)
    assert [s.message.title for s in steps] == [
        rally.copy("escalation.title", number=1, step=n, steps=3) for n in (1, 2, 3)
    ]
    assert rally.copy("escalation.final") not in steps[1].text
    assert rally.copy("escalation.final") in steps[2].text
    # The minutes count from the rally, not from the last check.
    assert has_all(steps[1].text, said(rally, 0, 60, 1, silent="Ben, Cam"))
    assert has_all(steps[2].text, said(rally, 0, 90, 0, silent="Ben, Cam, Dee"))
    assert rally.rallied(alert) == ["ben", "cam", "dee"]
    final = rally.alert(1)
    assert final.escalation_step == 3
    assert final.escalate_at is None
    assert final.status is AlertStatus.ACTIVE


async def test_escalation_stops_when_enough_responders_are_helping(rally) -> None:
    alert = await rally.raise_alert("ana")
    post = rally.posts_in("#rally")[0]
    await rally.press("ben", post, rally.copy("button.on_it"))
    await rally.press("cam", post, rally.copy("button.done"))
    await rally.act("cam", f"rally:alert:{alert.id}:did:reported")
    rally.clock.advance(WAIT)

    await rally.services.run_due()

    assert escalations(rally, alert) == []
    assert rally.alert(1).escalation_step == 0
    assert rally.alert(1).escalate_at is None
    rally.clock.advance(WAIT * 5)
    # Nothing escalates; the one due item is ben's "still on it?" reminder.
    assert await rally.services.run_due() == 1
    assert escalations(rally, alert) == []
    assert [s.to for s in rally.outbox(prefix="reminder:")] == [("dm", "ben")]


async def test_cant_right_now_does_not_count_as_helping(rally) -> None:
    alert = await rally.raise_alert("ana")
    post = rally.posts_in("#rally")[0]
    await rally.press("ben", post, rally.copy("button.on_it"))
    await rally.press("cam", post, rally.copy("button.cant"))
    rally.clock.advance(WAIT)

    await rally.services.run_due()

    (told,) = escalations(rally, alert)
    assert has_all(told.text, said(rally, engaged=1, minutes=30, called=0, silent="Dee"))


async def test_escalation_stops_once_enough_people_answer_a_widened_rally(make_rally) -> None:
    rally = await make_rally(rally_cap=1)
    alert = await rally.raise_alert("ana")
    await rally.press("ben", rally.posts_in("#rally")[0], rally.copy("button.on_it"))
    rally.clock.advance(WAIT)
    await rally.services.run_due()
    (wave,) = rally.outbox(key=f"rally:{alert.id}:wave1")
    await rally.press("cam", wave, rally.copy("button.on_it"))
    rally.clock.advance(WAIT)

    await rally.services.run_due()

    assert len(escalations(rally, alert)) == 1
    assert rally.alert(1).escalate_at is None


async def test_an_alert_nobody_can_answer_reaches_the_leads_at_once_and_again_later(rally) -> None:
    for handle in ("ben", "cam", "dee"):
        await rally.say(handle, "available off")
    alert = await rally.raise_alert("ana")
    assert len(rally.posts_in("#leads", prefix="nobody:")) == 1

    rally.clock.advance(WAIT)
    await rally.services.run_due()

    (told,) = escalations(rally, alert)
    assert has_all(told.text, said(rally, engaged=0, minutes=30, called=0))
    assert rally.literal("escalation.silent") not in told.text


async def test_a_safety_review_nobody_picks_up_escalates_to_every_lead(rally) -> None:
    alert = await rally.raise_alert("ana", "kinds=threat")
    assert rally.alert(1).escalate_at == rally.clock.now() + WAIT

    for _ in range(3):
        rally.clock.advance(WAIT)
        assert await rally.services.run_due() == 1
    rally.clock.advance(WAIT)
    assert await rally.services.run_due() == 0

    steps = escalations(rally, alert)
    assert [s.to for s in steps] == [("channel", "#leads")] * 3
    assert rally.copy("escalation.safety_body", waited="30 minutes") in steps[0].text
    assert rally.copy("escalation.safety_body", waited="90 minutes") in steps[2].text
    assert rally.copy("escalation.final") in steps[2].text
    assert rally.rallied(alert) == []
    review = rally.alert(1)
    assert review.status is AlertStatus.SAFETY_REVIEW
    # Then, a day after it was raised, every lead and the target hear it still waits.
    assert (review.escalation_step, review.escalate_at) == (3, alert.raised_at + DAY)


async def test_a_safety_leads_decision_ends_the_review_escalation(rally) -> None:
    alert = await rally.raise_alert("ana", "kinds=doxxing")
    await rally.press_dm("sam", "safety:", "button.safety_hold")
    rally.clock.advance(WAIT * 4)

    assert await rally.services.run_due() == 0
    assert escalations(rally, alert) == []


async def test_after_both_agree_the_rally_escalates_like_any_other(make_rally) -> None:
    rally = await make_rally(rally_cap=1)
    alert = await rally.raise_alert("ana", "kinds=threat")
    rally.clock.advance(timedelta(minutes=10))
    await rally.press_dm("ana", "safety-target:", "button.crowd_named")
    await rally.press_dm("sam", "safety:", "button.safety_rally")
    assert rally.alert(1).escalate_at == rally.clock.now() + WAIT

    rally.clock.advance(WAIT)
    await rally.services.run_due()

    (told,) = escalations(rally, alert)
    assert has_all(told.text, said(rally, engaged=0, minutes=30, called=1, silent="Ben"))


async def test_leads_only_pending_and_closed_alerts_never_escalate(rally) -> None:
    await rally.raise_alert("ana", "visibility=leads")
    await rally.say("ana", "alert https://x.com/a for=ben")
    await rally.raise_alert("cam")
    await rally.say("cam", "standdown #3")

    rally.clock.advance(WAIT * 10)

    assert await rally.services.run_due() == 0
    assert rally.outbox(prefix="escalation:") == []


async def test_each_due_alert_is_handled_in_its_own_turn(rally) -> None:
    first = await rally.raise_alert("ana")
    rally.clock.advance(timedelta(minutes=1))
    second = await rally.raise_alert("ben")
    rally.clock.advance(WAIT)

    assert await rally.services.run_due() == 2
    assert len(escalations(rally, first)) == len(escalations(rally, second)) == 1
    assert await rally.services.run_due() == 0


async def test_a_later_wave_calls_more_hands_and_the_channel_keeps_the_live_tally(
    make_rally,
) -> None:
    rally = await make_rally(rally_cap=1)
    await rally.edit_member("dee", prefers_dm=True)
    alert = await rally.raise_alert("ana")
    for _ in range(2):
        rally.clock.advance(WAIT)
        await rally.services.run_due()

    (more,) = rally.outbox(key=f"rally:{alert.id}:wave1")
    assert more.message.title == rally.copy("rally.more_hands_title", number=1, who="Ana")
    assert [m.label for m in more.message.mentions] == ["Cam"]
    (to_dee,) = rally.dms("dee", prefix=f"rally:{alert.id}")
    assert to_dee.key == f"rally:{alert.id}"
    await rally.press("cam", more, rally.copy("button.on_it"))
    await rally.press("dee", to_dee, rally.copy("button.on_it"))

    # The DM copy points to the channel, whose post carries the live tally; responses edit
    # only the channel post (decision 28).
    assert rally.copy("rally.tally_in_channel", number=1) in to_dee.text
    updates = [s for s in rally.outbox(key=f"rally:{alert.id}") if s.op == "update"]
    assert {s.to for s in updates} == {("channel", "#rally")}
    assert rally.copy("rally.tally", on_it=2, done=0, cant=0) in updates[-1].text


# --- acting on an escalation -------------------------------------------------------------------


async def escalated(rally, options: str = "") -> tuple:
    alert = await rally.raise_alert("ana", options)
    rally.clock.advance(WAIT)
    await rally.services.run_due()
    (told,) = escalations(rally, alert)
    return alert, told


async def test_call_more_now_calls_the_next_wave_at_once(make_rally) -> None:
    rally = await make_rally(rally_cap=1)
    alert, told = await escalated(rally)
    assert rally.rallied(alert) == ["ben", "cam"]

    reply = await rally.press("lee", told, rally.copy("button.widen"))

    assert rally.copy("escalation.done_widen", count=1, number=1) in reply.message.plain_text()
    assert rally.rallied(alert) == ["ben", "cam", "dee"]
    assert len(rally.outbox(key=f"rally:{alert.id}:wave2")) == 1
    event = rally.audit("escalation_widen")[-1]
    assert (event.actor_id, event.alert_id, event.detail) == (
        rally.member("lee").id,
        alert.id,
        {"called": "1"},
    )
    again = await rally.press("lee", told, rally.copy("button.widen"))
    assert rally.copy("escalation.done_widen", count=0, number=1) in again.message.plain_text()


async def test_page_everyone_available_calls_every_responder_not_yet_called(make_rally) -> None:
    rally = await make_rally(rally_cap=1)
    await rally.say("lee", "role sam responder")
    alert, told = await escalated(rally)

    reply = await rally.press("lee", told, rally.copy("button.page_all"))

    assert rally.copy("escalation.done_page_all", count=2, number=1) in reply.message.plain_text()
    assert sorted(rally.rallied(alert)) == ["ben", "cam", "dee", "sam"]
    assert rally.audit("escalation_page_all")[-1].detail == {"called": "2"}


async def test_a_lead_takes_it_on_personally(rally) -> None:
    alert, told = await escalated(rally)

    reply = await rally.press("lee", told, rally.copy("button.take"))

    assert rally.copy("escalation.done_take", number=1) in reply.message.plain_text()
    taken = rally.alert(1)
    assert (taken.taken_by_id, taken.escalate_at) == (rally.member("lee").id, None)
    assert taken.first_response_at == rally.clock.now()
    assert (
        rally.copy("escalation.taken_target", name="Lee")
        in rally.last_dm("ana", prefix="standing:").text
    )
    status = (await rally.say("ana", "status #1")).message.plain_text()
    assert rally.copy("stage.active_taken", lead="Lee") in status
    assert "Lee (on it)" in rally.outbox(key=f"rally:{alert.id}")[-1].text
    assert rally.audit("escalation_take")[-1].actor_id == rally.member("lee").id
    rally.clock.advance(WAIT * 4)
    await rally.services.run_due()
    assert len(escalations(rally, alert)) == 1
    # Someone else taking it too is told who has it.
    await rally.say("lee", "role sam lead")
    other = await rally.press("sam", told, rally.copy("button.take"))
    assert not other.ok
    assert rally.copy("error.already_taken", name="Lee", number=1) in other.message.plain_text()


async def test_only_leads_act_on_an_escalation(rally) -> None:
    _, told = await escalated(rally)
    before = rally.snapshot()
    for label in ("button.widen", "button.page_all", "button.take"):
        reply = await rally.press("ben", told, rally.copy(label))
        assert not reply.ok
        assert rally.copy("error.leads_only") in reply.message.plain_text()
    assert rally.snapshot() == before


async def test_an_escalation_of_a_closed_alert_does_nothing(rally) -> None:
    _, told = await escalated(rally)
    await rally.say("ana", "standdown #1")
    reply = await rally.press("lee", told, rally.copy("button.widen"))
    assert not reply.ok
    assert rally.copy("error.not_active", number=1) in reply.message.plain_text()


async def test_an_anonymous_alert_counts_the_silent_responders_without_names(make_rally) -> None:
    rally = await make_rally(rally_cap=2)
    _, told = await escalated(rally, "anonymous=yes")
    assert rally.copy("escalation.silent_count", count=2) in told.text
    assert "Ben" not in told.text and "Cam" not in told.text
