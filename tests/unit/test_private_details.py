"""Nothing harmful is repeated to the crowd: a threat, doxxing or sexual harassment rally never
carries the note or any link (its post, DM copies, later waves, tally edits); each responder
who presses "I'm on it" gets them privately, with the practice for that kind."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.messages import Link
from tests.unit.conftest import Rally

ATTACK = ("https://x.com/doxxer/status/1", "https://pastebin.com/raw/abc")
POST = "https://x.com/ana/status/9"
NOTE = "they posted my home address 12 Elm Street"


async def rallied(rally: Rally, kinds: str, named: bool = True, note: str = NOTE) -> None:
    links = " ".join(f"link={x}" for x in ATTACK)
    reply = await rally.say("ana", f"alert {links} kinds={kinds} post={POST} {note}")
    assert reply.ok, reply.message.plain_text()
    choice = "button.crowd_named" if named else "button.crowd_anonymous"
    await rally.press_dm("ana", "safety-target:", choice)
    await rally.press_dm("sam", "safety:", "button.safety_rally")


def harmful(text: str) -> list[str]:
    return [x for x in (*ATTACK, POST, NOTE, "Elm Street") if x in text]


def crowd_messages(rally: Rally, alert_id: str) -> list:
    """Every rally message: channel posts and edits, later waves, and the DM copies."""
    return [s for s in rally.outbox() if s.key.startswith(f"rally:{alert_id}")]


@pytest.mark.parametrize("kinds", ["doxxing", "threat", "sexual_harassment"])
async def test_the_crowd_never_sees_the_note_or_any_link(make_rally, kinds: str) -> None:
    rally = await make_rally(rally_cap=1)
    await rally.edit_member("cam", prefers_dm=True)
    await rally.say("lee", "role cam responder")
    await rallied(rally, kinds)
    alert = rally.alert(1)
    post = rally.posts_in("#rally", prefix="rally:")[0]
    await rally.press("ben", post, rally.copy("button.on_it"))  # a tally edit
    rally.clock.advance(timedelta(minutes=30))
    await rally.services.run_due()  # a later wave: a "more hands" post and a DM copy
    await rally.say("ana", "standdown #1")  # the final edit of every copy

    sent = crowd_messages(rally, alert.id)
    assert {s.op for s in sent} == {"post", "update"}
    assert any(s.to[0] == "dm" for s in sent) and any(s.to[0] == "channel" for s in sent)
    assert any(s.key.endswith(":wave1") for s in sent)
    for s in sent:
        assert harmful(s.text) == [], (s.key, s.to, s.op)
        assert not any(isinstance(x, Link) for b in s.message.blocks for x in b.spans)
    assert rally.copy("rally.private_details") in post.text
    assert rally.copy("rally.practice_private") in post.text


async def test_i_am_on_it_gives_the_details_privately_with_the_practice(rally: Rally) -> None:
    await rallied(rally, "doxxing")
    post = rally.posts_in("#rally", prefix="rally:")[0]

    reply = await rally.press("ben", post, rally.copy("button.on_it"))

    assert reply.ok
    assert harmful(reply.message.plain_text()) == []  # the reply itself says thank you
    (details,) = reply.extras
    text = details.plain_text()
    assert details.title == rally.copy("details.title", number=1)
    assert set(harmful(text)) == {*ATTACK, POST, NOTE, "Elm Street"}
    assert rally.copy("practice.doxxing") in text
    assert rally.copy("details.keep_private") in text
    assert details.has_attack_links
    # Pressing again, the details come again; "can't" and "done" carry none.
    again = await rally.press("ben", post, rally.copy("button.on_it"))
    assert len(again.extras) == 1
    cant = await rally.press("cam", post, rally.copy("button.cant"))
    assert cant.extras == ()
    assert [e.subject_id for e in rally.audit("details_shared")] == [rally.member("ben").id]


async def test_each_severe_kind_has_its_own_practice(rally: Rally) -> None:
    # (A note naming an address would make it doxxing too: tests/unit/test_severe_words.py.)
    await rallied(rally, "threat,sexual_harassment", note="messages every night since my talk")
    post = rally.posts_in("#rally", prefix="rally:")[0]
    (details,) = (await rally.press("ben", post, rally.copy("button.on_it"))).extras
    text = details.plain_text()
    assert rally.copy("practice.threat") in text
    assert rally.copy("practice.sexual_harassment") in text
    assert rally.copy("practice.doxxing") not in text


async def test_status_shows_the_details_only_to_those_who_took_it_on(rally: Rally) -> None:
    await rallied(rally, "doxxing")
    post = rally.posts_in("#rally", prefix="rally:")[0]
    before = (await rally.say("dee", "status #1")).message.plain_text()
    assert harmful(before) == []
    assert rally.copy("status.details_private") in before
    await rally.press("dee", post, rally.copy("button.on_it"))
    after = (await rally.say("dee", "status #1")).message.plain_text()
    assert set(harmful(after)) >= set(ATTACK)
    # The target and the leads always see them.
    for who in ("ana", "lee", "sam"):
        assert set(harmful((await rally.say(who, "status #1")).message.plain_text())) >= {
            *ATTACK,
            POST,
        }


async def test_an_anonymous_target_is_not_named_in_the_details_either(rally: Rally) -> None:
    await rallied(rally, "doxxing", named=False)
    post = rally.posts_in("#rally", prefix="rally:")[0]
    (details,) = (await rally.press("ben", post, rally.copy("button.on_it"))).extras
    assert POST not in details.plain_text()  # her own post would name her
    assert "Ana" not in details.plain_text()


async def test_an_ordinary_rally_still_shows_its_links_to_the_crowd(rally: Rally) -> None:
    await rally.say("ana", f"alert {ATTACK[0]} kinds=pile_on post={POST} they piled on")
    post = rally.posts_in("#rally", prefix="rally:")[0]
    assert {ATTACK[0], POST, "they piled on"} <= set(
        x for x in (ATTACK[0], POST, "they piled on") if x in post.text
    )
    reply = await rally.press("ben", post, rally.copy("button.on_it"))
    assert reply.extras == ()
