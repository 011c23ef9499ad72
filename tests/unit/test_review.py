"""Against infiltration: a newcomer's first alert and brigading patterns wait for a lead;
suspension stops a member at once; leads can read the audit log."""

from __future__ import annotations

from datetime import timedelta

from bot.core.commands import Caller
from bot.core.model import AlertStatus, CloseReason, MemberStatus
from tests.unit.conftest import Rally


def stranger(name: str) -> Caller:
    return Caller("console", "local", name, display_name=name.title(), channel="#rally")


async def newcomer(rally: Rally, name: str) -> None:
    assert (await rally.say(stranger(name), "join")).ok
    assert (await rally.say("lee", f"approve {name}")).ok


async def test_a_new_members_first_alert_waits_for_a_lead(rally: Rally) -> None:
    await newcomer(rally, "zoe")
    reply = await rally.say(stranger("zoe"), "alert https://x.com/t/1 piling on me")
    assert reply.ok and rally.copy("held.raiser") in reply.message.plain_text()
    held = rally.alert(1)
    assert (held.status, held.held_reason) == (AlertStatus.HELD, "first_alert")
    assert not rally.posts_in("#rally")  # nobody rallied
    review = rally.posts_in("#leads")[-1]
    assert review.message.title == rally.copy("held.title", number=1)
    await rally.press("lee", review, rally.copy("button.release"))
    assert rally.alert(1).status is AlertStatus.ACTIVE
    assert rally.posts_in("#rally")  # the rally went out
    # Once a first alert went through, the member's next alerts go straight out.
    await rally.say(stranger("zoe"), "alert https://x.com/t/2 again")
    assert rally.alert(2).status is AlertStatus.ACTIVE


async def test_a_rejected_alert_is_closed_and_the_raiser_told_kindly(rally: Rally) -> None:
    await newcomer(rally, "zoe")
    await rally.say(stranger("zoe"), "alert https://x.com/t/1")
    alert = rally.alert(1)
    assert (await rally.act("lee", f"rally:review:{alert.id}:reject")).ok
    closed = rally.alert(1)
    assert (closed.status, closed.close_reason) == (AlertStatus.CLOSED, CloseReason.REJECTED)
    assert [s.to for s in rally.outbox(prefix="rejected:")] == [("dm", "zoe")]
    assert not rally.posts_in("#rally")
    # Members can't review, and a second review of the same alert changes nothing.
    assert not (await rally.act("ben", f"rally:review:{alert.id}:release")).ok
    assert not (await rally.act("lee", f"rally:review:{alert.id}:release")).ok


async def test_an_unreviewed_alert_keeps_reaching_the_leads(rally: Rally) -> None:
    await newcomer(rally, "zoe")
    await rally.say(stranger("zoe"), "alert https://x.com/t/1")
    rally.clock.advance(timedelta(minutes=31))
    await rally.services.run_due()
    assert len(rally.outbox(prefix="held:")) == 2


async def test_one_link_reported_by_several_newcomers_is_held_as_brigading(
    rally: Rally,
) -> None:
    for name in ("kim", "lou", "max"):
        await newcomer(rally, name)
    link = "https://x.com/dr_vax/status/9"
    await rally.say(stranger("kim"), f"alert {link}")
    await rally.say("lee", "review #1 release")
    await rally.say(stranger("lou"), f"alert {link}")
    await rally.say("lee", "review #2 release")
    await rally.say(stranger("max"), f"alert {link}")  # trusted now? no: first alert
    await rally.say("lee", "review #3 release")
    # All three are trusted now; a fourth report of the same link by one of them is held
    # because three recent joiners reported it within a day.
    await rally.say(stranger("kim"), f"alert {link} for=ana")
    assert (rally.alert(4).status, rally.alert(4).held_reason) == (AlertStatus.HELD, "brigading")
    # An established member reporting another link is not affected.
    await rally.say("ben", "alert https://x.com/other/1")
    assert rally.alert(5).status is AlertStatus.ACTIVE


async def test_suspension_stops_a_member_and_closes_the_alerts_they_raised(
    rally: Rally,
) -> None:
    await rally.raise_alert("ben", "for=ana")  # pending consent
    await rally.raise_alert("ben")  # active
    assert (await rally.say("lee", "suspend ben")).ok
    assert rally.member("ben").status is MemberStatus.SUSPENDED
    assert {rally.alert(1).status, rally.alert(2).status} == {AlertStatus.CLOSED}
    assert rally.alert(2).close_reason is CloseReason.SUSPENDED
    refused = await rally.say("ben", "alert https://x.com/t/3")
    assert not refused.ok and rally.copy("error.suspended") in refused.message.plain_text()
    await rally.raise_alert("ana")
    rallied = {r.member_id for r in rally.data.rallied.values() if r.alert_id == rally.alert(3).id}
    assert rally.member("ben").id not in rallied
    assert (await rally.say("lee", "unsuspend ben")).ok
    assert rally.member("ben").status is MemberStatus.ACTIVE
    assert not (await rally.say("ben", "suspend cam")).ok  # members can't suspend
    assert not (await rally.say("lee", "suspend lee")).ok


async def test_leads_read_the_audit_log_filtered_by_member_or_alert(rally: Rally) -> None:
    await rally.raise_alert("ana")
    await rally.say("ana", "evidence #1 case 123")
    await rally.say("ana", "export #1")
    await rally.say("lee", "role cam lead")
    everything = (await rally.say("lee", "audit")).message.plain_text()
    for action in ("alert_raised", "evidence_added", "evidence_exported", "role_changed"):
        assert action in everything
    about_cam = (await rally.say("lee", "audit cam")).message.plain_text()
    assert "role_changed" in about_cam and "evidence_added" not in about_cam
    about_one = (await rally.say("lee", "audit #1 2")).message.plain_text()
    assert about_one.count("#1") == 2
    assert not (await rally.say("ben", "audit")).ok
    assert "audit_viewed" in (await rally.say("lee", "audit")).message.plain_text()
