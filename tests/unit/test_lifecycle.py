"""The alert lifecycle: raise, consent, triage, safety review, responses, stand-down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.messages import Link
from bot.core.model import (
    Action,
    AlertStatus,
    CloseReason,
    Help,
    Kind,
    ResponseState,
    Severity,
    Venue,
    Visibility,
)

LINK = "https://x.com/troll/status/1"


def labels(sent) -> list[str]:
    return [b.label for b in sent.message.buttons]


# --- raising ----------------------------------------------------------------------------


async def test_a_one_line_alert_rallies_the_group_with_the_defaults(rally) -> None:
    reply = await rally.say("ana", f"alert {LINK} pile-on after my vaccine video")

    assert reply.ok
    alert = rally.alert(1)
    ana = rally.member("ana")
    assert alert.target_id == alert.raised_by_id == ana.id
    assert alert.links == (LINK,)
    assert alert.note == "pile-on after my vaccine video"
    assert alert.visibility is Visibility.ALL
    assert alert.help_wanted == {Help.AMPLIFY, Help.COUNTER, Help.REPORT}
    assert alert.venue is Venue.X
    assert alert.severity is Severity.MEDIUM
    assert alert.kinds == frozenset()
    assert alert.anonymous is False
    assert alert.status is AlertStatus.ACTIVE
    assert alert.activated_at == rally.clock.now()
    assert rally.rallied(alert) == ["ben", "cam", "dee"]
    assert len(rally.posts_in("#rally", prefix="rally:")) == 1
    assert rally.copy("raised.rallied", count=3) in reply.message.plain_text()
    assert [e.action for e in rally.audit()][-2:] == ["alert_raised", "alert_rallied"]


async def test_alert_numbers_count_up_per_collective(rally) -> None:
    await rally.raise_alert("ana")
    await rally.raise_alert("ben")
    assert [rally.alert(n).number for n in (1, 2)] == [1, 2]
    assert rally.collective().alert_seq == 2


@pytest.mark.parametrize(
    ("link", "venue"),
    [
        ("https://x.com/a/status/1", Venue.X),
        ("https://twitter.com/a/status/1", Venue.X),
        ("https://mobile.twitter.com/a", Venue.X),
        ("https://www.instagram.com/p/1", Venue.INSTAGRAM),
        ("https://www.tiktok.com/@a/video/1", Venue.TIKTOK),
        ("https://m.facebook.com/a", Venue.FACEBOOK),
        ("https://youtu.be/abc", Venue.YOUTUBE),
        ("https://old.reddit.com/r/a", Venue.REDDIT),
        ("https://www.linkedin.com/posts/a", Venue.LINKEDIN),
        ("https://www.yelp.com/biz/dr-ana", Venue.REVIEW_SITE),
        ("https://www.healthgrades.com/physician/ana", Venue.REVIEW_SITE),
        ("https://example.org/a", Venue.OTHER),
        ("https://x.com.evil.example/a", Venue.OTHER),
        ("https://notx.com/a", Venue.OTHER),
    ],
)
async def test_the_venue_is_guessed_from_the_first_links_host(rally, link, venue) -> None:
    alert = await rally.raise_alert("ana", link=link)
    assert alert.venue is venue


async def test_an_explicit_venue_beats_the_guess(rally) -> None:
    alert = await rally.raise_alert("ana", "where=email")
    assert alert.venue is Venue.EMAIL


@pytest.mark.parametrize(
    ("options", "severity"),
    [
        ("kinds=trolling", Severity.MEDIUM),
        ("kinds=trolling,misinformation,impersonation", Severity.MEDIUM),
        ("kinds=threat", Severity.HIGH),
        ("kinds=doxxing", Severity.HIGH),
        ("kinds=sexual_harassment", Severity.HIGH),
        ("kinds=trolling,doxxing", Severity.HIGH),
        ("kinds=threat severity=low", Severity.LOW),
        ("severity=critical", Severity.CRITICAL),
    ],
)
async def test_severity_is_medium_or_high_for_severe_kinds_unless_given(
    rally, options, severity
) -> None:
    alert = await rally.raise_alert("ana", options)
    assert alert.severity is severity


async def test_every_option_is_stored(rally) -> None:
    await rally.say(
        "ana",
        f"alert {LINK} link=https://x.com/troll/status/2 post=https://x.com/ana/status/9 "
        "where=instagram kinds=trolling,pile_on severity=high help=amplify,document "
        "visibility=responders anonymous=yes they keep coming",
    )
    alert = rally.alert(1)
    assert alert.links == (LINK, "https://x.com/troll/status/2")
    assert alert.target_post == "https://x.com/ana/status/9"
    assert alert.venue is Venue.INSTAGRAM
    assert alert.kinds == {Kind.TROLLING, Kind.PILE_ON}
    assert alert.severity is Severity.HIGH
    assert alert.help_wanted == {Help.AMPLIFY, Help.DOCUMENT}
    assert alert.visibility is Visibility.RESPONDERS
    assert alert.anonymous is True
    assert alert.note == "they keep coming"


async def test_the_rally_asks_to_amplify_the_targets_own_post_and_lists_attack_links_apart(
    rally,
) -> None:
    await rally.raise_alert("ana", "post=https://x.com/ana/status/9")
    rally_post = rally.posts_in("#rally", prefix="rally:")[0].message
    amplify = [b for b in rally_post.blocks if b.heading == rally.copy("rally.amplify_heading")]
    assert amplify and amplify[0].spans == (Link("https://x.com/ana/status/9"),)
    attack = [b for b in rally_post.blocks if b.heading == rally.copy("rally.links_heading")]
    assert attack and attack[0].spans == (Link(LINK),)
    assert rally.copy("rally.practice") in rally_post.plain_text()
    assert rally_post.has_attack_links


async def test_the_targets_post_is_not_offered_when_amplifying_was_not_asked_for(rally) -> None:
    await rally.raise_alert("ana", "post=https://x.com/ana/status/9 help=report")
    assert "https://x.com/ana/status/9" not in rally.posts_in("#rally")[0].text


# --- refusals change nothing ------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "text", "key"),
    [
        ("ana", "frobnicate", "error.unknown_command"),
        ("ana", "alert no link here", "error.alert_needs_link"),
        ("ana", "alert ftp://x.com/a", "error.bad_link"),
        ("ana", "alert link=javascript:alert(1)", "error.bad_link"),
        ("ana", f"alert {LINK} " + "n" * 1001, "error.too_long"),
        (
            "ana",
            "alert " + " ".join(f"https://x.com/{i}" for i in range(11)),
            "error.too_many_links",
        ),
        ("ana", f"alert {LINK} where=myspace", "error.bad_choice"),
        ("ana", f"alert {LINK} kinds=spam", "error.bad_choice"),
        ("ana", f"alert {LINK} severity=extreme", "error.bad_choice"),
        ("ana", f"alert {LINK} help=everything", "error.bad_choice"),
        ("ana", f"alert {LINK} visibility=public", "error.bad_choice"),
        ("ana", f"alert {LINK} anonymous=perhaps", "error.bad_yes_no"),
        ("ana", f"alert {LINK} for=nobody", "error.no_member"),
        ("ana", "status abc", "error.bad_alert_number"),
        ("ana", "standdown #x", "error.bad_alert_number"),
        ("ana", "status #99", "error.no_alert"),
        ("ana", "standdown #99", "error.no_alert"),
        ("ana", "consent #99 yes", "error.no_alert"),
        ("ana", "evidence #99 a note", "error.no_alert"),
        ("ana", "export #99", "error.no_alert"),
        ("ana", "checkins #99 stop", "error.no_alert"),
        ("zed", f"alert {LINK}", "error.not_member"),
        ("zed", "status", "error.not_member"),
        ("ben", "rally:alert:not-an-id:on_it", "error.bad_button"),
    ],
)
async def test_bad_input_is_refused_kindly_and_changes_nothing(rally, who, text, key) -> None:
    await rally.raise_alert("ana")
    before = rally.snapshot()

    if text.startswith("rally:"):
        reply = await rally.act(who, text)
    else:
        reply = await rally.say(who, text)

    assert not reply.ok
    assert reply.message.title == rally.copy("error.title")
    assert rally.literal(key) in reply.message.plain_text()
    assert rally.snapshot() == before


async def test_an_alert_for_someone_who_is_not_active_is_refused(rally) -> None:
    await rally.say(rally.caller("zoe"), "join")
    before = rally.snapshot()
    reply = await rally.say("ana", f"alert {LINK} for=zoe")
    assert not reply.ok
    assert rally.literal("error.target_not_active") in reply.message.plain_text()
    assert rally.snapshot() == before


async def test_alerts_are_rate_limited_per_member_over_a_rolling_day(rally) -> None:
    for _ in range(5):
        await rally.raise_alert("ana")
    before = rally.snapshot()

    refused = await rally.say("ana", f"alert {LINK}")
    assert not refused.ok
    assert rally.copy("error.rate_limited", count=5) in refused.message.plain_text()
    assert rally.snapshot() == before
    assert (await rally.say("ben", f"alert {LINK}")).ok

    rally.clock.advance(timedelta(days=1, minutes=1))
    assert (await rally.say("ana", f"alert {LINK}")).ok


# --- consent ----------------------------------------------------------------------------


async def test_an_alert_for_someone_else_waits_for_their_consent(rally) -> None:
    reply = await rally.say("ana", f"alert {LINK} for=ben they piled on him")

    assert reply.ok
    assert rally.copy("raised.waiting_consent", name="Ben") in reply.message.plain_text()
    alert = rally.alert(1)
    assert alert.status is AlertStatus.PENDING_CONSENT
    assert alert.target_id == rally.member("ben").id
    assert alert.raised_by_id == rally.member("ana").id
    assert rally.rallied(alert) == []
    assert rally.outbox(prefix="rally:") == []
    assert rally.checkins(alert) == []
    ask = rally.last_dm("ben", prefix="consent:")
    assert labels(ask) == [
        rally.copy("button.crowd_named"),
        rally.copy("button.crowd_anonymous"),
        rally.copy("button.consent_no"),
    ]
    assert (
        rally.copy("consent.body", raiser="Ana", kinds=rally.copy("kind.unspecified"), venue="X")
        in ask.text
    )
    assert LINK in ask.text and ask.message.has_attack_links
    # She sees who would see it and whether it names her, before she says yes.
    assert rally.literal("consent.seen_by") in ask.text
    assert rally.copy("consent.raised_named") in ask.text
    assert [s.to for s in rally.outbox()] == [("dm", "ben")]


@pytest.mark.parametrize("who", ["cam", "ana", "lee"])
async def test_only_the_target_can_consent(rally, who) -> None:
    await rally.say("ana", f"alert {LINK} for=ben")
    ask = rally.last_dm("ben", prefix="consent:")
    before = rally.snapshot()

    reply = await rally.press(who, ask, rally.copy("button.crowd_named"))

    assert not reply.ok
    assert rally.copy("error.not_your_consent") in reply.message.plain_text()
    assert rally.snapshot() == before


async def test_yes_triages_the_alert_and_tells_the_raiser(rally) -> None:
    await rally.say("ana", f"alert {LINK} for=ben")
    rally.clock.advance(timedelta(minutes=7))

    reply = await rally.press_dm("ben", "consent:", "button.crowd_named")

    assert reply.ok
    alert = rally.alert(1)
    assert alert.status is AlertStatus.ACTIVE
    assert alert.consented_at == rally.clock.now()
    assert rally.rallied(alert) == ["cam", "dee"]
    assert len(rally.posts_in("#rally", prefix="rally:")) == 1
    told = rally.last_dm("ana", prefix="consented:")
    assert rally.copy("consent.given_raiser", name="Ben") in told.text
    # On the days of the offsets, at the check-in hour (09:00 in Chicago, 15:00 UTC).
    assert [c.due_at for c in rally.checkins(alert)] == [
        datetime(2026, 11, d, 15, 0, tzinfo=UTC) for d in (26, 28)
    ] + [datetime(2026, 12, 2, 15, 0, tzinfo=UTC)]
    assert [e.action for e in rally.audit()][-2:] == ["consent_given", "alert_rallied"]


async def test_consent_can_be_typed_too(rally) -> None:
    await rally.say("ana", f"alert {LINK} for=ben")
    assert (await rally.say("ben", "consent #1 yes")).ok
    assert rally.alert(1).status is AlertStatus.ACTIVE


async def test_no_closes_the_alert_as_declined_and_tells_the_raiser(rally) -> None:
    await rally.say("ana", f"alert {LINK} for=ben")

    reply = await rally.press_dm("ben", "consent:", "button.consent_no")

    assert reply.ok
    assert rally.copy("consent.declined_target") in reply.message.plain_text()
    alert = rally.alert(1)
    assert alert.status is AlertStatus.CLOSED
    assert alert.close_reason is CloseReason.DECLINED
    assert alert.closed_by_id == rally.member("ben").id
    assert rally.rallied(alert) == []
    assert rally.outbox(prefix="rally:") == []
    assert rally.checkins(alert) == []
    told = rally.last_dm("ana", prefix="declined:")
    assert rally.copy("consent.declined_raiser", name="Ben") in told.text
    assert rally.audit()[-1].action == "consent_declined"


async def test_consent_is_given_once(rally) -> None:
    await rally.say("ana", f"alert {LINK} for=ben")
    ask = rally.last_dm("ben", prefix="consent:")
    await rally.press("ben", ask, rally.copy("button.consent_no"))
    before = rally.snapshot()

    again = await rally.press("ben", ask, rally.copy("button.crowd_named"))

    assert not again.ok
    closed = rally.copy("stage.closed", reason=rally.copy("close.declined"))
    expected = rally.copy("error.consent_not_pending", number=1, stage=closed)
    assert expected in again.message.plain_text()
    assert rally.snapshot() == before


# --- safety review ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options", ["kinds=threat", "kinds=doxxing", "kinds=sexual_harassment", "severity=critical"]
)
async def test_a_severe_alert_goes_to_the_safety_leads_first(rally, options) -> None:
    reply = await rally.say("ana", f"alert {LINK} {options}")

    assert reply.ok
    assert rally.copy("raised.safety_review") in reply.message.plain_text()
    alert = rally.alert(1)
    assert alert.status is AlertStatus.SAFETY_REVIEW
    assert rally.rallied(alert) == []
    assert rally.outbox(prefix="rally:") == []
    to_sam = rally.last_dm("sam", prefix="safety:")
    assert rally.copy("safety.resources") in to_sam.text
    assert labels(to_sam) == [rally.copy("button.safety_rally"), rally.copy("button.safety_hold")]
    assert LINK in to_sam.text and to_sam.message.has_attack_links
    to_ana = rally.last_dm("ana", prefix="safety-target:")
    assert rally.copy("safety.resources") in to_ana.text
    assert labels(to_ana) == [
        rally.copy("button.crowd_named"),
        rally.copy("button.crowd_anonymous"),
        rally.copy("button.target_hold"),
    ]
    # Only the safety lead and the target hear of it: no channel, no other lead.
    assert sorted(s.to for s in rally.outbox()) == [("dm", "ana"), ("dm", "sam")]


SAFETY_ORDERS = [
    ([("ana", "crowd_named"), ("sam", "safety_rally")], True),
    ([("sam", "safety_rally"), ("ana", "crowd_named")], True),
    ([("ana", "crowd_named"), ("sam", "safety_hold")], False),
    ([("sam", "safety_hold"), ("ana", "crowd_named")], False),
    ([("sam", "safety_rally"), ("ana", "target_hold")], False),
    ([("ana", "target_hold"), ("sam", "safety_rally")], False),
    ([("ana", "target_hold"), ("sam", "safety_hold")], False),
    ([("ana", "target_hold"), ("sam", "safety_rally"), ("ana", "crowd_named")], True),
    ([("sam", "safety_hold"), ("ana", "crowd_named"), ("sam", "safety_rally")], True),
]


@pytest.mark.parametrize(("steps", "rallied"), SAFETY_ORDERS)
async def test_the_crowd_is_rallied_only_when_target_and_safety_lead_both_agree(
    rally, steps, rallied
) -> None:
    await rally.raise_alert("ana", "kinds=threat")
    for who, button in steps:
        prefix = "safety-target:" if who == "ana" else "safety:"
        reply = await rally.press_dm(who, prefix, f"button.{button}")
        assert reply.ok, reply.message.plain_text()

    alert = rally.alert(1)
    if rallied:
        assert alert.status is AlertStatus.ACTIVE
        assert rally.rallied(alert) == ["ben", "cam", "dee"]
        assert len(rally.posts_in("#rally", prefix="rally:")) == 1
        assert alert.safety_lead_id == rally.member("sam").id
    else:
        assert alert.status is AlertStatus.SAFETY_REVIEW
        assert rally.rallied(alert) == []
        assert rally.outbox(prefix="rally:") == []


async def test_a_decision_is_recorded_and_says_who_we_wait_for(rally) -> None:
    await rally.raise_alert("ana", "kinds=threat")
    reply = await rally.press_dm("sam", "safety:", "button.safety_rally")
    text = reply.message.plain_text()
    assert rally.copy("safety.decided_lead", number=1) in text
    assert rally.copy("gate.target", name="Ana") in text
    assert rally.copy("gate.safety") not in text
    assert rally.alert(1).safety_lead_ok is True
    assert rally.audit()[-1].action == "safety_rally_ok"


@pytest.mark.parametrize(
    ("who", "key"), [("lee", "error.safety_leads_only"), ("ben", "error.leads_only")]
)
async def test_only_a_safety_lead_decides_when_the_collective_has_one(rally, who, key) -> None:
    await rally.raise_alert("ana", "kinds=threat")
    before = rally.snapshot()
    reply = await rally.press_dm(who, "safety:", "button.safety_rally", owner="sam")
    assert not reply.ok
    assert rally.copy(key) in reply.message.plain_text()
    assert rally.snapshot() == before


@pytest.mark.parametrize("who", ["ben", "lee", "sam"])
async def test_only_the_target_makes_the_targets_choice(rally, who) -> None:
    await rally.raise_alert("ana", "kinds=threat")
    before = rally.snapshot()
    reply = await rally.press_dm(who, "safety-target:", "button.crowd_named", owner="ana")
    assert not reply.ok
    assert rally.copy("error.not_your_alert") in reply.message.plain_text()
    assert rally.snapshot() == before


async def test_any_lead_decides_when_the_collective_has_no_safety_lead(rally) -> None:
    assert (await rally.say("lee", "role ben lead")).ok
    assert (await rally.say("lee", "role sam safety_lead off")).ok
    await rally.raise_alert("ana", "kinds=doxxing")

    for lead in ("lee", "ben"):
        review = rally.last_dm(lead, prefix="safety:")
        assert rally.copy("safety.resources") in review.text
    assert rally.dms("sam") == []
    await rally.press_dm("ana", "safety-target:", "button.crowd_named")
    reply = await rally.press_dm("ben", "safety:", "button.safety_rally")

    assert reply.ok
    assert rally.alert(1).status is AlertStatus.ACTIVE
    assert rally.alert(1).safety_lead_id == rally.member("ben").id
    assert rally.rallied(rally.alert(1)) == ["ben", "cam", "dee"]


async def test_without_a_safety_lead_a_severe_report_pending_consent_reaches_the_leads(
    rally,
) -> None:
    await rally.say("lee", "role sam safety_lead off")
    await rally.say("ana", f"alert {LINK} for=ben kinds=threat")
    heads_up = rally.last_dm("lee", prefix="safety:")
    assert rally.copy("safety.review_title", number=1) in heads_up.text
    assert rally.copy("gate.consent", name="Ben") in heads_up.text


async def test_a_severe_alert_for_someone_else_tells_the_safety_leads_while_consent_is_pending(
    rally,
) -> None:
    await rally.say("ana", f"alert {LINK} for=ben kinds=threat")

    alert = rally.alert(1)
    assert alert.status is AlertStatus.PENDING_CONSENT
    heads_up = rally.last_dm("sam", prefix="safety:")
    assert rally.copy("safety.review_title", number=1) in heads_up.text
    assert rally.copy("gate.consent", name="Ben") in heads_up.text
    assert rally.rallied(alert) == []
    await rally.press_dm("ben", "consent:", "button.crowd_named")
    assert rally.alert(1).status is AlertStatus.SAFETY_REVIEW
    assert rally.rallied(alert) == []


async def test_a_safety_decision_on_an_alert_not_in_review_is_refused(rally) -> None:
    await rally.raise_alert("ana", "kinds=threat")
    decision = rally.last_dm("sam", prefix="safety:")
    await rally.press_dm("ana", "safety-target:", "button.crowd_named")
    await rally.press("sam", decision, rally.copy("button.safety_rally"))
    before = rally.snapshot()

    again = await rally.press("sam", decision, rally.copy("button.safety_hold"))

    assert not again.ok
    assert rally.copy("error.not_in_safety_review", number=1) in again.message.plain_text()
    assert rally.snapshot() == before


# --- leads only -----------------------------------------------------------------------------


async def test_a_leads_only_alert_is_catalogued_without_rallying(rally) -> None:
    reply = await rally.say("ana", f"alert {LINK} visibility=leads")

    assert rally.copy("raised.catalogued") in reply.message.plain_text()
    alert = rally.alert(1)
    assert alert.status is AlertStatus.ACTIVE
    assert alert.escalate_at is None
    assert rally.rallied(alert) == []
    assert rally.outbox(prefix="rally:") == []
    logged = rally.posts_in("#leads", prefix="catalogue:")
    assert len(logged) == 1
    assert (
        rally.copy(
            "leads.summary",
            name="Ana",
            kinds=rally.copy("kind.unspecified"),
            venue="X",
            severity="medium",
        )
        in logged[0].text
    )
    assert {s.to for s in rally.outbox()} == {("channel", "#leads")}
    assert len(rally.checkins(alert)) == 3


async def test_a_leads_only_alert_does_not_exist_for_other_members(rally) -> None:
    await rally.say("ana", f"alert {LINK} visibility=leads")
    alert = rally.alert(1)

    for reply in (
        await rally.say("ben", "status #1"),
        await rally.act("ben", f"rally:alert:{alert.id}:on_it"),
    ):
        assert not reply.ok
        assert rally.copy("error.no_alert", number=1) in reply.message.plain_text()
    assert rally.copy("status.none") in (await rally.say("ben", "status")).message.plain_text()
    assert (await rally.say("lee", "status #1")).ok


# --- responses ------------------------------------------------------------------------------


async def test_one_row_per_responder_and_pressing_twice_changes_nothing(rally) -> None:
    await rally.raise_alert("ana")
    post = rally.posts_in("#rally", prefix="rally:")[0]

    first = await rally.press("ben", post, rally.copy("button.on_it"))
    before = rally.snapshot()
    second = await rally.press("ben", post, rally.copy("button.on_it"))

    assert rally.copy("respond.on_it", number=1) in first.message.plain_text()
    assert second.ok
    assert rally.copy("respond.already", number=1) in second.message.plain_text()
    assert rally.snapshot() == before
    rows = list(rally.data.responses.values())
    assert [(r.member_id, r.state) for r in rows] == [(rally.member("ben").id, ResponseState.ON_IT)]


async def test_done_actions_accumulate_and_the_latest_state_wins(rally) -> None:
    alert = await rally.raise_alert("ana")
    post = rally.posts_in("#rally", prefix="rally:")[0]
    await rally.press("ben", post, rally.copy("button.on_it"))
    rally.clock.advance(timedelta(minutes=5))

    choices = await rally.press("ben", post, rally.copy("button.done"))
    assert [b.label for b in choices.message.buttons] == [rally.copy(f"action.{a}") for a in Action]
    await rally.press("ben", choices, rally.copy("action.amplified"))
    await rally.press("ben", choices, rally.copy("action.reported"))
    again = await rally.press("ben", choices, rally.copy("action.reported"))

    assert rally.copy("respond.already", number=1) in again.message.plain_text()
    (row,) = rally.data.responses.values()
    assert row.state is ResponseState.DONE
    assert row.actions == {Action.AMPLIFIED, Action.REPORTED}
    assert row.first_at == alert.raised_at
    assert row.updated_at == rally.clock.now()

    await rally.press("ben", post, rally.copy("button.cant"))
    (row,) = rally.data.responses.values()
    assert row.state is ResponseState.CANT
    assert row.actions == {Action.AMPLIFIED, Action.REPORTED}


async def test_the_target_cannot_respond_to_their_own_alert(rally) -> None:
    await rally.raise_alert("ana")
    before = rally.snapshot()
    reply = await rally.press("ana", rally.posts_in("#rally")[0], rally.copy("button.on_it"))
    assert not reply.ok
    assert rally.copy("error.own_alert") in reply.message.plain_text()
    assert rally.snapshot() == before


async def test_every_response_updates_the_rallys_tally_in_place(rally) -> None:
    alert = await rally.raise_alert("ana")
    post = rally.posts_in("#rally", prefix="rally:")[0]

    await rally.press("ben", post, rally.copy("button.on_it"))
    await rally.press("cam", post, rally.copy("button.cant"))

    updates = [s for s in rally.outbox(key=f"rally:{alert.id}") if s.op == "update"]
    assert [s.to for s in updates] == [("channel", "#rally")] * 2
    latest = updates[-1].text
    assert rally.copy("rally.tally", on_it=1, done=0, cant=1) in latest
    assert rally.copy("rally.tally_on_it_person", name="Ben") in latest
    assert "Cam (" not in latest
    assert updates[-1].message.buttons == post.message.buttons


async def test_a_big_tally_names_the_first_helpers_and_counts_the_rest(rally) -> None:
    from dataclasses import replace
    from uuid import uuid4

    from bot.core.model import Identity
    from bot.core.views import TALLY_NAMES

    ben = rally.member("ben")
    helpers = [f"h{n:02d}" for n in range(TALLY_NAMES + 5)]
    async with rally.store.uow() as uow:
        for handle in helpers:
            member = replace(ben, id=uuid4().hex, handle=handle, display_name=handle.upper())
            await uow.members.add(member)
            await uow.identities.add(Identity(uuid4().hex, member.id, "console", "local", handle))
        await uow.commit()
    alert = await rally.raise_alert("ana")
    post = rally.posts_in("#rally", prefix=f"rally:{alert.id}")[0]
    for handle in helpers:
        assert (await rally.press(handle, post, rally.copy("button.on_it"))).ok
        rally.clock.advance(timedelta(seconds=1))
    await rally.press("cam", post, rally.copy("button.cant"))

    latest = [s for s in rally.outbox(key=f"rally:{alert.id}") if s.op == "update"][-1].text
    assert rally.copy("rally.tally", on_it=len(helpers), done=0, cant=1) in latest
    named = [h for h in helpers if f"{h.upper()} (" in latest]
    assert named == helpers[:TALLY_NAMES]  # in the order they answered
    assert rally.copy("rally.tally_more", count=5) in latest


async def test_a_public_rallys_dm_copies_point_to_the_channel_and_get_only_real_changes(
    rally,
) -> None:
    await rally.edit_member("ben", prefers_dm=True)
    alert = await rally.raise_alert("ana")
    key = f"rally:{alert.id}"
    (to_ben,) = rally.dms("ben", prefix=key)
    assert rally.copy("rally.tally_in_channel", number=1) in to_ben.text
    assert rally.copy("rally.tally", on_it=0, done=0, cant=0) not in to_ben.text

    await rally.press("ben", to_ben, rally.copy("button.on_it"))
    await rally.press("cam", rally.posts_in("#rally", prefix=key)[0], rally.copy("button.on_it"))
    edits = [s for s in rally.outbox(key=key) if s.op == "update"]
    assert {s.to for s in edits} == {("channel", "#rally")}  # one copy edited per response

    await rally.say("ana", "standdown #1")
    final = {s.to: s for s in rally.outbox(key=key) if s.op == "update"}
    assert set(final) == {("channel", "#rally"), ("dm", "ben")}
    for closed in final.values():  # closed: every copy shows the final tally
        assert rally.copy("rally.tally", on_it=2, done=0, cant=0) in closed.text
        assert closed.message.buttons == ()


async def test_a_private_rally_keeps_the_live_tally_in_its_dms(rally) -> None:
    alert = await rally.raise_alert("ana", "visibility=responders")
    key = f"rally:{alert.id}"
    assert rally.posts_in("#rally", prefix=key) == []
    copies = [s for s in rally.outbox(key=key) if s.op == "post"]
    assert copies and all(s.to[0] == "dm" for s in copies)

    await rally.press("ben", rally.last_dm("ben", key), rally.copy("button.on_it"))
    edits = [s for s in rally.outbox(key=key) if s.op == "update"]
    assert {s.to for s in edits} == {s.to for s in copies}
    for edit in edits:
        assert rally.copy("rally.tally", on_it=1, done=0, cant=0) in edit.text


async def test_the_first_helping_response_tells_the_target_once(rally) -> None:
    await rally.raise_alert("ana")
    post = rally.posts_in("#rally", prefix="rally:")[0]

    await rally.press("cam", post, rally.copy("button.cant"))
    assert rally.dms("ana", prefix="standing:") == []
    await rally.press("ben", post, rally.copy("button.on_it"))
    await rally.press("dee", post, rally.copy("button.on_it"))

    (told,) = rally.dms("ana", prefix="standing:")
    assert rally.copy("respond.first_body", name="Ben") in told.text
    assert rally.alert(1).first_response_at == rally.clock.now()


# --- stand-down -----------------------------------------------------------------------------


async def test_the_target_stands_an_alert_down_and_helpers_are_thanked(rally) -> None:
    alert = await rally.raise_alert("ana")
    post = rally.posts_in("#rally", prefix="rally:")[0]
    await rally.press("ben", post, rally.copy("button.on_it"))
    await rally.press("cam", post, rally.copy("button.cant"))

    reply = await rally.say("ana", "standdown #1")

    assert reply.ok
    closed = rally.alert(1)
    assert closed.status is AlertStatus.CLOSED
    assert closed.close_reason is CloseReason.STOOD_DOWN
    assert closed.closed_by_id == rally.member("ana").id
    assert closed.escalate_at is None
    final = [s for s in rally.outbox(key=f"rally:{alert.id}") if s.op == "update"][-1]
    assert rally.copy("rally.closed", reason=rally.copy("close.stood_down")) in final.text
    assert final.message.buttons == ()
    assert [s.to for s in rally.outbox(prefix="thanks:")] == [("dm", "ben")]
    assert rally.dms("ana", prefix="closed:") == []
    assert rally.audit()[-1].action == "alert_stood_down"


async def test_a_lead_stands_an_alert_down_and_the_target_is_told(rally) -> None:
    await rally.raise_alert("ana")
    assert (await rally.say("lee", "standdown #1")).ok
    assert rally.alert(1).closed_by_id == rally.member("lee").id
    told = rally.last_dm("ana", prefix="standing:")
    assert rally.copy("standdown.target_body", name="Lee", number=1) in told.text
    # The lead is told what happens next for the target; the target is never told about
    # herself in the third person.
    mine = await rally.say("ana", "alert https://x.com/troll/status/2")
    assert mine.ok
    reply = await rally.say("ana", "standdown #2")
    assert rally.copy("standdown.body_target", number=2) in reply.message.plain_text()
    assert "the target" not in reply.message.plain_text()


async def test_others_cannot_stand_an_alert_down(rally) -> None:
    await rally.raise_alert("ana")
    before = rally.snapshot()
    reply = await rally.say("cam", "standdown #1")
    assert not reply.ok
    assert rally.copy("error.standdown_not_allowed") in reply.message.plain_text()
    assert rally.snapshot() == before


async def test_the_raiser_may_withdraw_only_while_consent_is_pending(rally) -> None:
    await rally.say("ana", f"alert {LINK} for=ben")
    await rally.say("ana", f"alert {LINK} for=cam")
    await rally.say("cam", "consent #2 yes")

    assert (await rally.say("ana", "standdown #1")).ok
    assert rally.alert(1).status is AlertStatus.CLOSED
    before = rally.snapshot()
    refused = await rally.say("ana", "standdown #2")
    assert not refused.ok
    assert rally.snapshot() == before


async def test_a_withdrawn_alert_does_not_tell_the_target_a_lead_closed_it(rally) -> None:
    await rally.say("ana", f"alert {LINK} for=ben")
    await rally.say("ana", "standdown #1")
    # Ana is no lead, and no check-in was ever scheduled for Ben: neither may be claimed.
    assert rally.checkins(rally.alert(1)) == []
    for sent in rally.dms("ben", prefix="closed:"):
        assert rally.copy("standdown.target_body") not in sent.text


async def test_a_closed_alert_refuses_responses_and_a_second_stand_down(rally) -> None:
    await rally.raise_alert("ana")
    post = rally.posts_in("#rally", prefix="rally:")[0]
    await rally.say("ana", "standdown #1")
    before = rally.snapshot()

    respond = await rally.press("ben", post, rally.copy("button.on_it"))
    done = await rally.press("ben", post, rally.copy("button.done"))
    again = await rally.say("lee", "standdown #1")

    assert not respond.ok and not done.ok and not again.ok
    assert rally.copy("error.not_active", number=1) in respond.message.plain_text()
    assert rally.copy("error.already_closed", number=1) in again.message.plain_text()
    assert rally.snapshot() == before


# --- status ---------------------------------------------------------------------------------


async def test_status_lists_the_open_alerts_a_member_can_see(rally) -> None:
    await rally.raise_alert("ana", "kinds=trolling")
    await rally.raise_alert("ben", "visibility=leads")
    await rally.raise_alert("cam")
    await rally.say("cam", "standdown #3")

    member_view = (await rally.say("dee", "status")).message
    lead = (await rally.say("lee", "status")).message

    assert member_view.title == rally.copy("status.open_title", count=1)
    assert "#1 Ana" in member_view.plain_text()
    assert lead.title == rally.copy("status.open_title", count=2)
    assert "#2 Ben" in lead.plain_text()


async def test_status_of_one_alert_shows_its_state_links_and_tally(rally) -> None:
    await rally.raise_alert("ana", "kinds=pile_on")
    await rally.press("ben", rally.posts_in("#rally")[0], rally.copy("button.on_it"))

    reply = await rally.say("dee", "status #1")

    text = reply.message.plain_text()
    assert reply.message.title == rally.copy("status.title", number=1)
    assert (
        rally.copy(
            "status.line",
            who="Ana",
            stage=rally.copy("stage.active"),
            kinds="A pile-on",  # it starts a sentence
            venue="X",
            severity="medium",
        )
        in text
    )
    assert LINK in text and reply.message.has_attack_links
    assert rally.copy("rally.tally", on_it=1, done=0, cant=0) in text
    assert rally.copy("status.evidence", count=0) not in text
    assert (
        rally.copy("status.evidence", count=0)
        in (await rally.say("ana", "status #1")).message.plain_text()
    )
