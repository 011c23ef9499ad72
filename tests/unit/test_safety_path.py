"""The severe path (docs/safety.md), every transition from every actor's view: the target
(ana), the safety lead (sam), a lead (lee), the raiser of an alert on someone's behalf and a
responder (ben). The words each is shown must match the alert's real state."""

from __future__ import annotations

import pytest

from bot.core.model import AlertStatus, CloseReason
from tests.unit.conftest import Rally

LINK = "https://x.com/doxxer/status/1"
POST = "https://x.com/ana/status/9"
NOTE = "someone posted my home address and my kids' school"


def text(rally: Rally, reply) -> str:
    assert reply.ok, reply.message.plain_text()
    return reply.message.plain_text()


async def status_line(rally: Rally, who: str, number: int = 1) -> str:
    return text(rally, await rally.say(who, f"status #{number}"))


def stage(rally: Rally, key: str, who: str = "Ana") -> str:
    return rally.copy(f"stage.{key}", who=who)


async def doxxed(rally: Rally, options: str = "") -> None:
    reply = await rally.say("ana", f"alert {LINK} kinds=doxxing post={POST} {options} {NOTE}")
    assert reply.ok, reply.message.plain_text()


# --- raised: the safety lead and the target hear at once -----------------------------------


async def test_raised_each_actor_sees_where_it_stands(rally: Rally) -> None:
    await doxxed(rally)
    to_sam = rally.last_dm("sam", prefix="safety:")
    assert rally.copy("safety.review_title", number=1) in to_sam.text
    assert NOTE in to_sam.text and LINK in to_sam.text and POST in to_sam.text
    assert rally.copy("gate.safety") in to_sam.text
    assert rally.copy("gate.target", name="Ana") in to_sam.text
    assert rally.copy("safety.resources") in rally.last_dm("ana", prefix="safety-target:").text
    assert stage(rally, "safety_open_you") in await status_line(rally, "ana")
    assert stage(rally, "safety_open") in await status_line(rally, "lee")
    assert stage(rally, "safety_open") in await status_line(rally, "sam")
    # Her own status speaks to her: her choice is hers, not "Ana's".
    hers = (await rally.say("ana", "status #1")).message.plain_text()
    assert rally.copy("gate.target_you") in hers
    assert rally.copy("gate.target", name="Ana") not in hers
    assert (
        rally.copy("gate.target", name="Ana")
        in (await rally.say("lee", "status #1")).message.plain_text()
    )
    # A responder knows nothing of it.
    refused = await rally.say("ben", "status #1")
    assert not refused.ok
    assert rally.outbox(prefix="rally:") == []


# --- keep it with the safety team ----------------------------------------------------------


async def test_keep_with_the_safety_team_is_told_truthfully_to_everyone(rally: Rally) -> None:
    await doxxed(rally)

    reply = await rally.press_dm("sam", "safety:", "button.safety_hold")

    said = text(rally, reply)
    assert rally.copy("safety.kept_lead", name="Ana") in said
    assert stage(rally, "safety_kept") in said
    # The target is told what the safety lead decided and what happens next.
    news = rally.last_dm("ana", prefix="standing:")
    assert rally.copy("safety.kept_target") in news.text
    assert [b.label for b in news.message.buttons] == [
        rally.copy("button.crowd_named"),
        rally.copy("button.crowd_anonymous"),
    ]
    assert stage(rally, "safety_kept") in await status_line(rally, "lee")
    assert stage(rally, "safety_kept") in await status_line(rally, "ana")
    assert rally.copy("gate.safety_kept") in await status_line(rally, "lee")
    assert rally.alert(1).escalate_at is None


async def test_the_target_asking_for_the_crowd_after_keep_is_told_truthfully(rally: Rally) -> None:
    await doxxed(rally)
    await rally.press_dm("sam", "safety:", "button.safety_hold")

    reply = await rally.press_dm("ana", "standing:", "button.crowd_named")

    said = text(rally, reply)
    # Never the false "Waiting for a safety lead's decision": a safety lead decided.
    assert rally.copy("safety.target_yes_but_kept") in said
    assert rally.copy("safety.target_yes_waiting") not in said
    alert = rally.alert(1)
    assert alert.status is AlertStatus.SAFETY_REVIEW and alert.target_ok
    # The safety lead who kept it hears that she now wants the crowd, and can reconsider.
    heard = rally.last_dm("sam", prefix="safety-choice:")
    assert rally.copy("safety.choice_reconsider", name="Ana") in heard.text
    assert [b.label for b in heard.message.buttons] == [
        rally.copy("button.safety_rally"),
        rally.copy("button.safety_hold"),
    ]
    lee_sees = await status_line(rally, "lee")
    assert stage(rally, "safety_kept_target_yes") in lee_sees
    assert rally.copy("gate.target", name="Ana") not in lee_sees  # she has chosen
    assert stage(rally, "safety_kept_target_yes_you") in await status_line(rally, "ana")

    # The safety lead reconsiders: the crowd is called at once.
    again = await rally.press("sam", heard, rally.copy("button.safety_rally"))
    assert rally.copy("safety.rallied_title", number=1) in text(rally, again)
    assert rally.alert(1).status is AlertStatus.ACTIVE
    assert rally.literal("safety.rallied_target", 3) in rally.last_dm("ana", "standing:").text


# --- rally ------------------------------------------------------------------------------------


async def test_the_safety_lead_says_rally_first_then_the_target_chooses(rally: Rally) -> None:
    await doxxed(rally)

    said = text(rally, await rally.press_dm("sam", "safety:", "button.safety_rally"))

    assert rally.copy("safety.rally_recorded", name="Ana") in said
    assert rally.copy("gate.target", name="Ana") in said
    news = rally.last_dm("ana", prefix="standing:")
    assert rally.copy("safety.lead_yes_target") in news.text
    assert stage(rally, "safety_lead_yes_you") in await status_line(rally, "ana")
    assert stage(rally, "safety_lead_yes") in await status_line(rally, "lee")

    done = await rally.press("ana", news, rally.copy("button.crowd_anonymous"))

    assert rally.literal("safety.rallied_target", 3) in text(rally, done)
    alert = rally.alert(1)
    assert (alert.status, alert.anonymous) == (AlertStatus.ACTIVE, True)
    assert rally.copy("safety.choice_rallied", name="Ana") in rally.last_dm("sam").text
    post = rally.posts_in("#rally", prefix="rally:")[0]
    assert "Ana" not in post.text  # she chose a rally without her name
    assert rally.copy("stage.active") in await status_line(rally, "ben")


async def test_the_target_says_yes_first_and_is_told_it_waits_for_a_safety_lead(
    rally: Rally,
) -> None:
    await doxxed(rally)

    said = text(rally, await rally.press_dm("ana", "safety-target:", "button.crowd_named"))

    assert rally.copy("safety.target_yes_waiting") in said
    assert rally.copy("safety.choice_yes", name="Ana") in rally.last_dm("sam").text
    assert stage(rally, "safety_target_yes") in await status_line(rally, "lee")
    assert stage(rally, "safety_target_yes_you") in await status_line(rally, "ana")
    await rally.press_dm("sam", "safety:", "button.safety_rally")
    assert rally.alert(1).status is AlertStatus.ACTIVE
    assert rally.alert(1).anonymous is False


async def test_no_crowd_from_the_target_is_told_to_the_safety_lead(rally: Rally) -> None:
    await doxxed(rally)

    said = text(rally, await rally.press_dm("ana", "safety-target:", "button.target_hold"))

    assert rally.copy("safety.target_no_recorded") in said
    assert rally.copy("safety.choice_no", name="Ana") in rally.last_dm("sam").text
    assert stage(rally, "safety_target_no") in await status_line(rally, "lee")
    # The safety lead would rally: she is told, and nobody is called without her.
    await rally.press_dm("sam", "safety:", "button.safety_rally")
    assert rally.alert(1).status is AlertStatus.SAFETY_REVIEW
    assert rally.copy("safety.lead_yes_target_no") in rally.last_dm("ana", "standing:").text
    assert stage(rally, "safety_lead_yes_target_no") in await status_line(rally, "lee")
    assert rally.outbox(prefix="rally:") == []


# --- stand down -------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["sam", "lee"])
async def test_stood_down_by_a_lead_the_target_is_told(rally: Rally, who: str) -> None:
    await doxxed(rally)

    said = text(rally, await rally.say(who, "standdown #1"))

    assert rally.copy("standdown.body") in said
    name = "Sam" if who == "sam" else "Lee"
    told = rally.last_dm("ana", prefix="standing:")
    assert rally.copy("standdown.target_body", name=name, number=1) in told.text
    alert = rally.alert(1)
    assert (alert.status, alert.close_reason) == (AlertStatus.CLOSED, CloseReason.STOOD_DOWN)
    assert rally.copy("stage.closed", reason=rally.copy("close.stood_down")) in await status_line(
        rally, "ana"
    )
    # A lead who is not a safety lead closing a safety case: the safety leads hear of it.
    heard = rally.dms("sam", prefix="safety-closed:")
    assert len(heard) == (1 if who == "lee" else 0)


async def test_stood_down_by_the_target_herself(rally: Rally) -> None:
    await doxxed(rally)
    said = text(rally, await rally.say("ana", "standdown #1"))
    assert rally.copy("standdown.body_target", number=1) in said
    assert rally.dms("ana", prefix="standing:") == []
    assert len(rally.dms("sam", prefix="safety-closed:")) == 1


# --- raised on her behalf -------------------------------------------------------------------


async def test_on_behalf_the_safety_lead_hears_before_consent_and_she_gets_resources(
    rally: Rally,
) -> None:
    reply = await rally.say("ben", f"alert {LINK} for=ana kinds=threat post={POST} {NOTE}")

    said = text(rally, reply)
    assert rally.copy("raised.safety_told") in said
    order = [s.key.split(":")[0] for s in rally.outbox()]
    assert order.index("safety") < order.index("consent")  # the safety lead hears first
    to_sam = rally.last_dm("sam", prefix="safety:")
    assert rally.copy("gate.consent", name="Ana") in to_sam.text
    asked = rally.last_dm("ana", prefix="consent:")
    assert rally.copy("safety.resources") in asked.text
    assert POST in asked.text and LINK in asked.text
    assert [b.label for b in asked.message.buttons] == [
        rally.copy("button.crowd_named"),
        rally.copy("button.crowd_anonymous"),
        rally.copy("button.consent_safety_only"),
        rally.copy("button.consent_no"),
    ]
    assert stage(rally, "pending_consent") in await status_line(rally, "ben")
    assert stage(rally, "pending_consent_you") in await status_line(rally, "ana")


async def test_on_behalf_a_safety_lead_decides_before_consent_and_her_yes_rallies(
    rally: Rally,
) -> None:
    await rally.say("ben", f"alert {LINK} for=ana kinds=threat")
    said = text(rally, await rally.press_dm("sam", "safety:", "button.safety_rally"))
    assert rally.copy("gate.consent", name="Ana") in said
    assert rally.alert(1).status is AlertStatus.PENDING_CONSENT
    assert rally.dms("ana", prefix="standing:") == []  # she is asked, not told yet

    yes = await rally.press_dm("ana", "consent:", "button.crowd_named")

    assert rally.copy("safety.rallied_title", number=1) in text(rally, yes)
    assert rally.alert(1).status is AlertStatus.ACTIVE
    told = rally.last_dm("ben", prefix="consented:")
    assert rally.copy("consent.given_raiser_severe", name="Ana") in told.text


async def test_on_behalf_only_the_safety_team(rally: Rally) -> None:
    await rally.say("ben", f"alert {LINK} for=ana kinds=sexual_harassment")

    said = text(rally, await rally.press_dm("ana", "consent:", "button.consent_safety_only"))

    assert rally.copy("safety.target_no_recorded") in said
    alert = rally.alert(1)
    assert (alert.status, alert.target_ok) == (AlertStatus.SAFETY_REVIEW, False)
    assert alert.target_choice_at is not None
    assert rally.copy("safety.choice_no", name="Ana") in rally.last_dm("sam").text
    assert stage(rally, "safety_target_no") in await status_line(rally, "lee")


async def test_on_behalf_she_says_no_and_the_safety_lead_hears(rally: Rally) -> None:
    await rally.say("ben", f"alert {LINK} for=ana kinds=threat")
    await rally.press_dm("ana", "consent:", "button.consent_no")
    assert rally.alert(1).close_reason is CloseReason.DECLINED
    assert rally.copy("safety.declined", name="Ana") in rally.last_dm("sam").text
    assert rally.copy("consent.declined_raiser", name="Ana") in rally.last_dm("ben").text


# --- held for a lead's review: the safety lead's decision is the review --------------------


async def test_a_new_members_doxxing_alert_reaches_the_safety_lead_before_any_review(
    rally: Rally,
) -> None:
    await rally.edit_member("ana", trusted=False)

    reply = await rally.say("ana", f"alert {LINK} kinds=doxxing {NOTE}")

    assert rally.copy("held.raiser_severe") in text(rally, reply)
    alert = rally.alert(1)
    assert (alert.status, alert.held_reason) == (AlertStatus.HELD, "first_alert")
    to_sam = rally.last_dm("sam", prefix="safety:")
    assert rally.copy("gate.held_first_alert") in to_sam.text  # the reason it waits
    assert rally.copy("button.reject") in [b.label for b in to_sam.message.buttons]
    assert rally.outbox(prefix="held:") == []  # one step for the safety lead, not two
    # The target has the resources at once, and her choice.
    assert rally.copy("safety.resources") in rally.last_dm("ana", prefix="safety-target:").text
    assert stage(rally, "held") in await status_line(rally, "lee")

    await rally.press_dm("ana", "safety-target:", "button.crowd_named")
    assert rally.alert(1).status is AlertStatus.HELD  # the crowd still waits for every gate
    said = text(rally, await rally.press_dm("sam", "safety:", "button.safety_rally"))

    # The decision released the hold and, both having agreed, rallied.
    assert rally.copy("safety.rallied_title", number=1) in said
    released = rally.alert(1)
    assert (released.status, released.held_reason) == (AlertStatus.ACTIVE, None)
    assert rally.member("ana").trusted
    assert [e.action for e in rally.audit() if e.action.startswith("alert_")][-2:] == [
        "alert_released",
        "alert_rallied",
    ]


async def test_a_held_severe_alert_can_be_turned_down_from_the_safety_message(
    rally: Rally,
) -> None:
    await rally.edit_member("ben", trusted=False)
    await rally.say("ben", f"alert {LINK} for=ana kinds=threat")
    assert rally.dms("ana") == []  # held: she is not contacted before a lead looks

    reply = await rally.press_dm("sam", "safety:", "button.reject")

    assert reply.ok
    assert rally.alert(1).close_reason is CloseReason.REJECTED
    assert rally.dms("ana") == []


async def test_a_held_severe_alert_released_by_the_safety_lead_asks_for_consent(
    rally: Rally,
) -> None:
    await rally.edit_member("ben", trusted=False)
    await rally.say("ben", f"alert {LINK} for=ana kinds=threat")

    await rally.press_dm("sam", "safety:", "button.safety_hold")

    alert = rally.alert(1)
    assert (alert.status, alert.held_reason) == (AlertStatus.PENDING_CONSENT, None)
    assert rally.copy("safety.resources") in rally.last_dm("ana", prefix="consent:").text


# --- leads only --------------------------------------------------------------------------------


async def test_a_leads_only_severe_alert_is_picked_up_never_rallied(rally: Rally) -> None:
    await doxxed(rally, "visibility=leads")
    to_sam = rally.last_dm("sam", prefix="safety:")
    assert [b.label for b in to_sam.message.buttons] == [rally.copy("button.safety_picked_up")]
    said = text(rally, await rally.press("sam", to_sam, rally.copy("button.safety_picked_up")))
    assert rally.copy("safety.picked_up_lead", name="Ana") in said
    assert rally.copy("safety.picked_up_target") in rally.last_dm("ana", "standing:").text
    assert stage(rally, "safety_picked_up") in await status_line(rally, "ana")
    assert rally.outbox(prefix="rally:") == []


# --- refusals -------------------------------------------------------------------------------------


async def test_no_safety_decision_on_an_ordinary_alert(rally: Rally) -> None:
    alert = await rally.raise_alert("ana")
    reply = await rally.act("sam", f"rally:safety:{alert.id}:rally")
    assert not reply.ok
    assert rally.copy("error.not_in_safety_review", number=1) in reply.message.plain_text()
