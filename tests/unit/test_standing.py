"""The target always knows where her alert stands: nobody has answered yet, a safety alert
still waits a day, consent expired (and a late yes still starts it), someone else stood it
down. At most one such message per alert per hour, the latest news winning, never in her
quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core.model import AlertStatus, CloseReason
from tests.unit.conftest import NOW, Rally

WAIT = timedelta(minutes=30)
HOUR = timedelta(hours=1)


def standing(rally: Rally, user: str = "ana") -> list:
    return rally.dms(user, prefix="standing:")


async def test_nobody_answered_yet_she_is_told_what_the_leads_are_doing(make_rally) -> None:
    rally = await make_rally(rally_cap=1)
    await rally.raise_alert("ana")
    rally.clock.advance(WAIT)

    await rally.services.run_due()

    (told,) = standing(rally)
    assert told.message.title == rally.copy("escalation.target_title", number=1)
    assert rally.copy("escalation.target_body", count=1) in told.text
    assert told.item.due_at == rally.clock.now()
    assert rally.alert(1).target_told_at == rally.clock.now()


async def test_not_when_someone_is_already_on_it(make_rally) -> None:
    rally = await make_rally(rally_cap=1)
    await rally.raise_alert("ana")
    await rally.press("ben", rally.posts_in("#rally")[0], rally.copy("button.on_it"))
    rally.clock.advance(WAIT)
    await rally.services.run_due()
    assert [s.message.title for s in standing(rally)] == [
        rally.copy("respond.first_title", number=1)
    ]


async def test_at_most_one_message_an_hour_and_the_latest_news_wins(make_rally) -> None:
    rally = await make_rally(rally_cap=1)
    await rally.raise_alert("ana")
    rally.clock.advance(WAIT)
    await rally.services.run_due()  # "nobody has answered yet", now
    first_at = rally.clock.now()
    rally.clock.advance(timedelta(minutes=10))
    await rally.press("cam", rally.posts_in("#rally")[-1], rally.copy("button.on_it"))
    # "Help is here" waits for the hour to pass...
    waiting = standing(rally)[-1]
    assert waiting.message.title == rally.copy("respond.first_title", number=1)
    assert waiting.item.due_at == first_at + HOUR
    rally.clock.advance(timedelta(minutes=5))
    await rally.say("lee", "standdown #1")

    # ...and the newer news replaces it in the same slot: two messages in all.
    first, second = standing(rally)
    assert first.message.title == rally.copy("escalation.target_title", number=1)
    assert second.message.title == rally.copy("standdown.target_title", number=1)
    assert second.item.due_at == first_at + HOUR
    assert rally.alert(1).target_told_at == first_at + HOUR
    # Two hours on, the next news goes at once.
    assert (second.item.due_at - first.item.due_at) >= HOUR


async def test_her_quiet_hours_hold_the_message_back(make_rally) -> None:
    rally = await make_rally(rally_cap=1)
    await rally.say("ana", "quiet 09:00-12:00")  # it is 09:00 in Chicago
    await rally.raise_alert("ana")
    rally.clock.advance(WAIT)
    await rally.services.run_due()
    (told,) = standing(rally)
    noon = datetime(2026, 11, 25, 12, tzinfo=ZoneInfo("America/Chicago")).astimezone(UTC)
    assert told.item.due_at == noon


async def test_stood_down_by_someone_else_she_is_told_and_by_herself_she_is_not(
    rally: Rally,
) -> None:
    await rally.raise_alert("ana")
    await rally.raise_alert("ana", link="https://x.com/troll/status/2")
    await rally.say("lee", "standdown #1")
    await rally.say("ana", "standdown #2")
    (told,) = standing(rally)
    assert told.key.startswith(f"standing:{rally.alert(1).id}:")
    assert rally.copy("standdown.target_body", name="Lee", number=1) in told.text


async def test_an_alert_closed_because_its_raiser_was_suspended_is_told_to_her(
    rally: Rally,
) -> None:
    await rally.say("ben", "alert https://x.com/troll/status/1 for=ana")
    await rally.say("ana", "consent #1 yes")
    await rally.say("lee", "suspend ben")
    told = standing(rally)[-1]
    assert rally.copy("standdown.target_body", name="Lee", number=1) in told.text
    assert "suspend" not in told.text.lower()


# --- consent expired --------------------------------------------------------------------------


async def expired(rally: Rally) -> None:
    await rally.say("ben", "alert https://x.com/troll/status/1 for=ana post=https://x.com/ana/9")
    rally.clock.advance(timedelta(hours=48))
    await rally.services.run_due()
    assert rally.alert(1).close_reason is CloseReason.EXPIRED


async def test_when_consent_expired_she_is_told_and_a_late_yes_still_starts_it(
    rally: Rally,
) -> None:
    await expired(rally)
    (told,) = standing(rally)
    assert rally.copy("consent.expired_target", count=7) in told.text
    assert [b.label for b in told.message.buttons] == [
        rally.copy("button.crowd_named"),
        rally.copy("button.crowd_anonymous"),
        rally.copy("button.consent_no"),
    ]
    rally.clock.advance(timedelta(days=3))

    reply = await rally.press("ana", told, rally.copy("button.crowd_named"))

    assert reply.ok, reply.message.plain_text()
    alert = rally.alert(1)
    assert (alert.status, alert.closed_at, alert.close_reason) == (AlertStatus.ACTIVE, None, None)
    assert rally.rallied(alert)  # the group is called now
    assert rally.audit("consent_given")[-1].detail["late"] == "true"


async def test_a_late_no_leaves_it_closed(rally: Rally) -> None:
    await expired(rally)
    before = rally.snapshot().alerts
    reply = await rally.press("ana", standing(rally)[0], rally.copy("button.consent_no"))
    assert reply.ok
    assert rally.copy("consent.late_no", number=1) in reply.message.plain_text()
    assert rally.snapshot().alerts == before


async def test_after_the_limit_a_late_yes_is_refused_kindly(make_rally) -> None:
    rally = await make_rally(late_consent_days=2)
    await expired(rally)
    rally.clock.advance(timedelta(days=2, seconds=1))
    reply = await rally.say("ana", "consent #1 yes")
    assert not reply.ok
    assert rally.copy("error.consent_too_late", number=1) in reply.message.plain_text()
    assert rally.alert(1).status is AlertStatus.CLOSED


# --- a severe alert still waiting a day ---------------------------------------------------------


async def test_a_severe_alert_still_waiting_after_a_day_is_told_daily(rally: Rally) -> None:
    await rally.raise_alert("ana", "kinds=threat")
    for _ in range(3):
        rally.clock.advance(WAIT)
        await rally.services.run_due()  # the three escalations to every lead
    assert standing(rally) == []
    rally.clock.set(NOW + timedelta(days=1))
    await rally.services.run_due()

    (told,) = standing(rally)
    assert rally.copy("escalation.day_target", count=1) in told.text
    assert rally.copy("safety.resources") in told.text
    leads = rally.posts_in("#leads", prefix="still-waiting:")
    assert rally.copy("escalation.day_body", count=1, kinds="threats") in leads[-1].text
    rally.clock.set(NOW + timedelta(days=2))
    await rally.services.run_due()
    assert rally.copy("escalation.day_target", count=2) in standing(rally)[-1].text
    # A safety lead picks it up: the daily reminders stop.
    await rally.press_dm("sam", "safety:", "button.safety_hold")
    rally.clock.set(NOW + timedelta(days=3))
    await rally.services.run_due()
    assert len(rally.posts_in("#leads", prefix="still-waiting:")) == 2
