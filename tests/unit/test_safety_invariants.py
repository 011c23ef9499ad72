"""The six safety invariants of DOMAIN.md, proved at the level of the core."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.commands import Caller
from bot.core.messages import Link, Mention, Message, Text
from bot.core.model import AlertStatus, CheckInStatus, CloseReason, MemberStatus
from bot.delivery.outbox import Dispatcher
from tests.fakes import MemoryChat

LINK = "https://x.com/troll/status/1"
WAIT = timedelta(minutes=30)
HOSTILE = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!subteam^S0123|@docs>",
    "@everyone",
    "@here",
    "<@U123>",
    "<@!4242>",
    "<@&1>",
    "<#C123>",
    "<https://evil.example|your clinic's page>",
    "[click](https://evil.example)",
]


def all_messages(rally) -> list[tuple[str, Message]]:
    """Every message the bot produced: outbox rows and private replies, with where they went."""
    sent = [(f"{s.item.address_kind}:{s.item.address}", s.message) for s in rally.outbox()]
    replies = [(f"reply:{caller.user}", reply.message) for caller, reply in rally.replies]
    extras = [(f"reply:{c.user}", m) for c, reply in rally.replies for m in reply.extras]
    return sent + replies + extras


def spans(message: Message) -> list:
    return [span for block in message.blocks for span in block.spans]


def rallied_ids(rally) -> set[str]:
    return {r.member_id for r in rally.data.rallied.values()}


# --- 1. typed text never pings --------------------------------------------------------------


async def hostile_scenario(rally) -> str:
    note = " ".join(HOSTILE)
    await rally.raise_alert("ana", f"post=https://x.com/ana/status/9 {note}")
    await rally.say("ana", f"alert {LINK} for=ben {note}")
    await rally.say(Caller("console", "local", "zoe", display_name="Zoe"), f"join {note}")
    await rally.say("ana", f"evidence #1 {note}")
    await rally.say("ana", f"status #1 {note}")
    await rally.say("ana", note)
    await rally.say("ana", f"delegate #1 {HOSTILE[6]}")
    post = rally.posts_in("#rally", prefix="rally:")[0]
    await rally.press("cam", post, rally.copy("button.on_it"))
    rally.clock.advance(WAIT)
    await rally.services.run_due()
    await rally.say("lee", "standdown #1")
    return note


async def test_typed_text_stays_plain_text_and_never_becomes_a_mention_or_link(rally) -> None:
    note = await hostile_scenario(rally)
    messages = all_messages(rally)

    carried = [
        m for _, m in messages if any(isinstance(s, Text) and note in s.text for s in spans(m))
    ]
    assert len(carried) >= 3  # the rally, its updates and the consent question quote the note
    for _, message in messages:
        for span in spans(message):
            if isinstance(span, Mention):
                assert not any(h in span.label for h in HOSTILE)
            if isinstance(span, Link):
                assert not any(ch in span.url for ch in "<>| \n"), span.url
                assert "evil.example" not in span.url
        for hostile in HOSTILE:
            assert hostile not in message.title


async def test_the_only_mentions_are_the_responders_the_bot_called(rally) -> None:
    await hostile_scenario(rally)
    called = rallied_ids(rally)
    members = rally.data.members
    identities = {
        (i.member_id, i.platform, i.workspace): i.user for i in rally.data.identities.values()
    }

    mentions = [
        (where, s) for where, m in all_messages(rally) for s in spans(m) if isinstance(s, Mention)
    ]

    assert mentions
    for where, mention in mentions:
        assert mention.member_id in called, where
        assert mention.label == members[mention.member_id].display_name
        assert mention.user == identities[(mention.member_id, "console", "local")]


@settings(max_examples=40, deadline=None)
@given(note=st.text(min_size=1, max_size=200).filter(lambda t: t.strip() and "=" not in t))
async def test_no_note_whatever_it_says_makes_a_mention(make_rally, note) -> None:
    rally = await make_rally()
    reply = await rally.say("ana", f"alert {LINK} . {note}")
    if not reply.ok:
        return
    called = rallied_ids(rally)
    for _, message in all_messages(rally):
        for span in spans(message):
            if isinstance(span, Mention):
                assert span.member_id in called
            if isinstance(span, Link):
                assert span.url == LINK


# --- 2. attack links are never unfurled -------------------------------------------------------


async def test_every_message_that_shows_a_link_switches_unfurling_off(rally) -> None:
    await rally.raise_alert("ana", "post=https://x.com/ana/status/9")
    await rally.say("ana", f"alert {LINK}/2 for=ben")
    await rally.say("ana", f"alert {LINK}/3 for=cam kinds=doxxing")
    await rally.raise_alert("dee", "kinds=threat")
    await rally.raise_alert("ben", "visibility=leads")
    await rally.raise_alert("cam", "visibility=responders")
    await rally.say("ben", "consent #2 yes")
    for who in ("ana", "dee", "lee"):
        await rally.say(who, "status #1")
        await rally.say(who, "status #4")
    await rally.say("ana", "evidence #1 https://x.com/troll/status/77")
    await rally.say("ana", "export #1")
    rally.clock.advance(WAIT)
    await rally.services.run_due()

    with_links = [
        (w, m) for w, m in all_messages(rally) if any(isinstance(s, Link) for s in spans(m))
    ]
    assert len(with_links) > 10
    for where, message in with_links:
        assert message.has_attack_links, (where, message.title)
    for where, message in all_messages(rally):
        if any(link in message.plain_text() for link in (LINK, "https://x.com/troll")):
            assert message.has_attack_links, (where, message.title)


# --- 3. one collective never reaches another's data --------------------------------------------

FORGEABLE = [
    "rally:alert:{id}:on_it",
    "rally:alert:{id}:cant",
    "rally:alert:{id}:done",
    "rally:alert:{id}:did:reported",
    "rally:alert:{id}:standdown",
    "rally:consent:{id}:yes",
    "rally:safety:{id}:rally",
    "rally:target:{id}:rally",
    "rally:checkins:{id}:stop",
]


def except_audit(rally, before):
    after = rally.snapshot()
    assert after.audit.keys() >= before.audit.keys()
    after.audit = before.audit
    return after


# A member's button, or a safety lead's; a member pressing a leads' button is refused for
# the role before any id is looked at.
FORGERIES = [("ana", a) for a in FORGEABLE if ":safety:" not in a] + [("sam", a) for a in FORGEABLE]


@pytest.mark.parametrize(("who", "action"), FORGERIES)
async def test_another_collectives_alert_id_is_refused_and_audited(rally, who, action) -> None:
    await rally.raise_alert("ana")
    _, theirs = await rally.other_collective()
    before = rally.snapshot()

    reply = await rally.act(who, action.format(id=theirs.id))

    assert not reply.ok
    assert except_audit(rally, before) == before
    (event,) = [e for e in rally.audit() if e.id not in before.audit]
    assert event.action == "forged_request_refused"
    assert event.collective_id == rally.collective().id
    assert event.actor_id == rally.member(who).id
    assert event.detail["alert_id"] == theirs.id


async def test_a_forged_alert_id_gets_the_same_reply_as_a_missing_one(rally) -> None:
    await rally.raise_alert("ana")
    _, theirs = await rally.other_collective()

    for action in FORGEABLE:
        forged = await rally.act("sam", action.format(id=theirs.id))
        missing = await rally.act("sam", action.format(id="f" * 32))
        # Any difference would tell a prober that the id exists somewhere else.
        assert forged.message == missing.message, action


@pytest.mark.parametrize(
    "text", ["status #2", "standdown #2", "consent #2 yes", "evidence #2 note", "export #2",
             "checkins #2 stop", "delegate #2 ben"],
)  # fmt: skip
async def test_another_collectives_alert_number_does_not_exist_here(rally, text) -> None:
    await rally.raise_alert("ana")
    lead, _ = await rally.other_collective()
    await rally.raise_alert(lead, "a second one")
    before = rally.snapshot()

    reply = await rally.say("ana", text)

    assert not reply.ok
    assert reply.message.plain_text() == "\n".join(
        [rally.copy("error.title"), rally.copy("error.no_alert", number=2)]
    )
    assert rally.snapshot() == before


async def test_another_members_forget_me_button_is_refused_and_audited(rally) -> None:
    ben_id = rally.member("ben").id
    before = rally.snapshot()

    reply = await rally.act("ana", f"rally:forgetme:{ben_id}:confirm")

    assert not reply.ok
    assert except_audit(rally, before) == before
    assert rally.member("ben").status is MemberStatus.ACTIVE
    event = rally.audit("forged_request_refused")[-1]
    assert (event.actor_id, event.detail["member_id"]) == (rally.member("ana").id, ben_id)


async def test_another_collectives_member_cannot_be_approved_from_here(rally) -> None:
    await rally.other_collective()
    olga = rally.member("olga", "Other collective")
    before = rally.snapshot()

    reply = await rally.act("lee", f"rally:member:{olga.id}:approve")

    assert not reply.ok
    assert except_audit(rally, before) == before
    assert rally.audit("forged_request_refused")[-1].actor_id == rally.member("lee").id
    assert not (await rally.say("lee", "role olga lead")).ok


async def test_another_collectives_check_in_is_refused_and_audited(rally) -> None:
    _, theirs = await rally.other_collective()
    rally.clock.advance(timedelta(days=1))
    await rally.services.run_due()
    (checkin,) = [
        c
        for c in rally.data.checkins.values()
        if c.alert_id == theirs.id and c.status is CheckInStatus.SENT
    ]
    before = rally.snapshot()

    reply = await rally.act("ana", f"rally:checkin:{checkin.id}:need_help")

    assert not reply.ok
    assert except_audit(rally, before) == before
    assert rally.audit("forged_request_refused")[-1].actor_id == rally.member("ana").id


async def test_another_members_check_in_is_refused_and_audited(rally) -> None:
    await rally.raise_alert("ana")
    rally.clock.advance(timedelta(days=1))
    await rally.services.run_due()
    asked = rally.last_dm("ana", prefix="checkin:")
    before = rally.snapshot()

    reply = await rally.press("ben", asked, rally.copy("button.checkin_need_help"))

    assert not reply.ok
    assert except_audit(rally, before) == before
    event = rally.audit("forged_request_refused")[-1]
    assert event.actor_id == rally.member("ben").id


async def test_a_member_typed_as_a_mention_resolves_only_inside_the_collective(rally) -> None:
    lead, _ = await rally.other_collective()
    before = rally.snapshot()
    # U9 is Olga's Slack id; typed in the console it names nobody here.
    reply = await rally.say("ana", f"alert {LINK} for=<@U9>")
    assert not reply.ok
    assert rally.snapshot() == before
    from_slack = await rally.say(lead, "role <@U9> responder")
    assert from_slack.ok
    assert rally.member("olga", "Other collective").collective_id != rally.collective().id


# --- 4. visibility: leads-only and anonymous alerts ---------------------------------------------

ANA = re.compile(r"\bAna\b")


def seen_by(rally, where: str) -> bool:
    """Whether a message sent here may show what only leads and the target may know."""
    leads_and_target = {
        "channel:#leads",
        "dm:lee",
        "dm:sam",
        "dm:ana",
        "reply:lee",
        "reply:sam",
        "reply:ana",
    }
    return where not in leads_and_target


async def test_an_anonymous_alert_never_names_the_target_to_responders(make_rally) -> None:
    rally = await make_rally(rally_cap=1)
    ana_id = rally.member("ana").id
    await rally.raise_alert("ana", "anonymous=yes post=https://x.com/ana/status/9 kinds=trolling")
    await rally.press("ben", rally.posts_in("#rally")[0], rally.copy("button.on_it"))
    for _ in range(2):
        rally.clock.advance(WAIT)
        await rally.services.run_due()
    for who in ("ben", "cam", "dee"):
        await rally.say(who, "status #1")
        await rally.say(who, "status")
    lead_status = await rally.say("lee", "status #1")
    await rally.say("ana", "standdown #1")

    others = [(w, m) for w, m in all_messages(rally) if seen_by(rally, w)]
    assert {w for w, _ in others} >= {"channel:#rally", "reply:ben", "reply:cam", "reply:dee"}
    for where, message in others:
        assert not ANA.search(message.plain_text()), (where, message.plain_text())
        assert ana_id not in {getattr(s, "member_id", None) for s in spans(message)}
        assert "https://x.com/ana/status/9" not in message.plain_text()
    assert rally.literal("alert.anonymous_target") in rally.posts_in("#rally")[0].text
    assert ANA.search(lead_status.message.plain_text())


async def test_a_leads_only_alert_reaches_only_the_leads_and_the_target(rally) -> None:
    await rally.raise_alert("ana", "visibility=leads kinds=trolling")
    for who in ("ben", "cam"):
        await rally.say(who, "status #1")
        await rally.say(who, "status")
        await rally.act(who, f"rally:alert:{rally.alert(1).id}:on_it")
    rally.clock.advance(timedelta(days=8))
    await rally.services.run_due()

    # The weekly digest went to the leads too; nothing reached the crowd.
    assert {s.to for s in rally.outbox()} == {
        ("channel", "#leads"),
        ("dm", "ana"),
        ("dm", "lee"),
        ("dm", "sam"),
    }
    assert {s.to for s in rally.outbox(prefix="digest:")} == {("dm", "lee"), ("dm", "sam")}
    for caller, reply in rally.replies:
        if caller.user in ("ben", "cam"):
            assert not ANA.search(reply.message.plain_text())
            assert LINK not in reply.message.plain_text()


async def test_a_severe_leads_only_alert_is_never_sent_to_the_crowd(rally) -> None:
    alert = await rally.raise_alert("ana", "visibility=leads kinds=threat")
    offered = [b.label for _, m in all_messages(rally) for b in m.buttons]
    assert rally.copy("button.crowd_named") not in offered
    assert rally.copy("button.safety_rally") not in offered
    # Even the crowd buttons' ids, typed by hand, can't call the crowd for a leads-only alert.
    assert not (await rally.act("ana", f"rally:target:{alert.id}:rally")).ok
    assert not (await rally.act("sam", f"rally:safety:{alert.id}:rally")).ok
    assert rally.alert(1).status is AlertStatus.SAFETY_REVIEW

    for where, message in all_messages(rally):
        if seen_by(rally, where):
            assert LINK not in message.plain_text(), where


# --- 5. no secrets or message bodies in logs -----------------------------------------------------


async def test_logs_carry_no_message_bodies_or_personal_data(rally, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    secret_note = "my-home-address-is-12-Elm-Street"
    _, theirs = await rally.other_collective()
    await rally.raise_alert("ana", f"kinds=doxxing {secret_note}")
    await rally.say("ana", f"evidence #1 {secret_note}")
    await rally.act("ana", f"rally:alert:{theirs.id}:on_it")
    await rally.say("ana", f"frobnicate {secret_note}")
    rally.clock.advance(timedelta(days=2))
    await rally.services.run_due()

    ours = [r for r in caplog.records if r.name.startswith("bot")]
    assert ours  # the forged request is logged, without what it carried
    logged = "\n".join(f"{r.getMessage()} {r.args!r}" for r in ours)
    for private in (secret_note, LINK, "Ana", theirs.id, "Olga", "U9"):
        assert private not in logged


# --- 6. forget me ------------------------------------------------------------------------------


async def test_after_forget_me_no_stored_message_names_or_reaches_them(rally) -> None:
    await rally.raise_alert("ana", "kinds=trolling")
    await rally.press("ben", rally.posts_in("#rally")[0], rally.copy("button.on_it"))
    await rally.say("ana", "standdown #1")
    rally.clock.advance(timedelta(days=1))
    await rally.services.run_due()
    # Delivered rows keep only the platform's reference, not the body.
    chat = MemoryChat("console")
    await Dispatcher(rally.services.uow, {"console": chat}, rally.clock).drain()
    assert chat.delivered
    rally.clock.advance(timedelta(days=2))
    await rally.services.run_due()  # the +3 day check-in is written, not yet delivered
    assert any(s.to == ("dm", "ana") for s in rally.outbox() if s.item.sent_at is None)
    confirm = await rally.say("ana", "forgetme")
    await rally.press("ana", confirm, rally.copy("button.forget_confirm"))

    for sent in rally.outbox():
        if sent.item.sent_at is None:
            assert sent.to != ("dm", "ana"), sent.key  # unsent DMs to them are dropped
        assert not ANA.search(sent.text), (sent.key, sent.text)


async def test_forget_me_keeps_an_open_safety_case_and_says_so(rally) -> None:
    """Invariant 6's exception, stated to her: an open safety case is closed (nobody acts on
    it in her name any more) and its record stays with the safety leads for a stated time."""
    await rally.raise_alert("ana", "kinds=doxxing they posted my address")
    confirm = await rally.say("ana", "forgetme")
    days = rally.services.policy.safety_case_days
    assert f"for {days} days" in confirm.message.plain_text()
    done = await rally.press("ana", confirm, rally.copy("button.forget_confirm"))
    until = (rally.clock.now() + timedelta(days=days)).astimezone(ZoneInfo("America/Chicago"))
    date = until.strftime(rally.copy("period.date_format"))
    assert rally.copy("forget.kept", numbers="#1", date=date) in done.message.plain_text()
    kept = rally.alert(1)
    assert (kept.status, kept.close_reason) == (AlertStatus.CLOSED, CloseReason.FORGOTTEN)
    assert (kept.links, kept.note) == ((LINK,), "they posted my address")
    told = rally.last_dm("sam", prefix="forgotten:")
    assert rally.copy("forget.case_body", number=1, date=date) in told.text
    assert not ANA.search(told.text)
    # What they were told to do works: the safety lead reads and exports the case.
    assert (await rally.say("sam", "status #1")).ok
    assert (await rally.say("sam", "export #1")).ok
    (packet,) = rally.dms("sam", prefix="export:")
    markdown = next(a for a in packet.message.attachments if a.filename.endswith(".md"))
    assert "they posted my address" in markdown.content
    assert not ANA.search(packet.message.attachments[0].content)
    # Then it goes, as she was told.
    rally.clock.advance(timedelta(days=days, minutes=1))
    while await rally.services.run_due():
        pass
    gone = rally.alert(1)
    assert (gone.links, gone.note, gone.purged_at) == ((), "", rally.clock.now())
