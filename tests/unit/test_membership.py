"""Members: setup, joining and vetting, roles, linked identities, settings, forget-me."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import pytest

from bot.core.commands import Caller
from bot.core.model import AlertStatus, CloseReason, MemberStatus, Role
from bot.delivery.outbox import Dispatcher
from tests.fakes import InboxRequest, MemoryChat

LINK = "https://x.com/troll/status/1"
ZOE = Caller("console", "local", "zoe", display_name="Zoe", channel="#rally")


async def deliver(rally) -> None:
    await Dispatcher(rally.services.uow, {"console": MemoryChat("console")}, rally.clock).drain()


# --- setup ------------------------------------------------------------------------------------


async def test_an_admin_sets_up_a_fresh_workspace_and_becomes_its_first_lead(rally) -> None:
    admin = Caller("slack", "T1", "U1", display_name="Dr Rae Moss", channel="C1", can_manage=True)

    reply = await rally.say(admin, "setup name Peoria Docs")

    assert reply.ok
    assert reply.message.title == rally.copy("setup.created_title", name="Peoria Docs")
    collective = rally.collective("Peoria Docs")
    assert collective.timezone == "America/Chicago"
    (space,) = [s for s in rally.data.spaces.values() if s.collective_id == collective.id]
    assert (space.platform, space.external_id, space.rally_channel) == ("slack", "T1", "C1")
    rae = rally.member("dr-rae-moss", "Peoria Docs")
    assert rae.display_name == "Dr Rae Moss"
    assert rae.roles == {Role.LEAD, Role.RESPONDER}
    assert rae.status is MemberStatus.ACTIVE
    assert [
        (i.platform, i.workspace, i.user)
        for i in rally.data.identities.values()
        if i.member_id == rae.id
    ] == [("slack", "T1", "U1")]
    assert rally.audit("collective_created")[-1].subject_id == rae.id
    assert (await rally.say(admin, "members")).ok


async def test_setup_without_a_name_uses_the_default_and_a_given_time_zone(rally) -> None:
    admin = Caller("discord", "G1", "42", display_name="Kit", channel="99", can_manage=True)
    assert (await rally.say(admin, "setup timezone Europe/Dublin")).ok
    collective = rally.collective(rally.copy("setup.default_name"))
    assert collective.timezone == "Europe/Dublin"


async def test_two_workspaces_can_each_be_set_up_without_a_name(rally) -> None:
    first = Caller("slack", "T1", "U1", channel="C1", can_manage=True)
    second = Caller("discord", "G1", "42", channel="99", can_manage=True)
    assert (await rally.say(first, "setup")).ok
    reply = await rally.say(second, "setup")
    assert reply.ok
    assert len(rally.data.collectives) == 3


async def test_a_non_admin_cannot_set_up_a_fresh_workspace(rally) -> None:
    before = rally.snapshot()
    reply = await rally.say(Caller("slack", "T1", "U1", channel="C1"), "setup")
    assert not reply.ok
    assert rally.copy("error.setup_needs_admin") in reply.message.plain_text()
    assert rally.snapshot() == before


async def test_a_lead_sees_and_changes_the_setup(rally) -> None:
    shown = await rally.say("lee", "setup")
    assert shown.message.title == rally.copy("setup.title", name="Demo collective")
    assert "#rally" in shown.message.plain_text() and "#leads" in shown.message.plain_text()

    assert (await rally.say(Caller("console", "local", "lee", channel="#ops"), "setup leads")).ok
    assert (await rally.say("lee", "setup name Demo Docs")).ok
    (space,) = rally.data.spaces.values()
    assert space.leads_channel == "#ops"
    assert rally.collective("Demo Docs").alert_seq == 0
    assert [e.detail["what"] for e in rally.audit("setup_changed")] == ["leads", "name"]


async def test_renaming_the_collective_keeps_its_alert_numbers(rally) -> None:
    await rally.raise_alert("ana")
    await rally.say("lee", "setup name Demo Docs")
    await rally.raise_alert("ana")
    assert rally.collective("Demo Docs").alert_seq == 2
    assert [rally.alert(n, "Demo Docs").number for n in (1, 2)] == [1, 2]


async def test_a_rally_or_leads_channel_needs_a_channel(rally) -> None:
    before = rally.snapshot()
    reply = await rally.say(Caller("console", "local", "lee"), "setup rally")
    assert not reply.ok
    assert rally.copy("error.setup_needs_channel") in reply.message.plain_text()
    assert rally.snapshot() == before


@pytest.mark.parametrize(
    "text",
    ["setup", "setup rally", "setup name Mine", "members", "approve zoe", "role ben lead",
     "role cam member", "digest"],
)  # fmt: skip
@pytest.mark.parametrize("who", ["ana", "ben"])
async def test_members_cannot_use_lead_commands(rally, who, text) -> None:
    await rally.say(ZOE, "join")
    before = rally.snapshot()
    reply = await rally.say(who, text)
    assert not reply.ok
    assert rally.copy("error.leads_only") in reply.message.plain_text()
    assert rally.snapshot() == before


# --- joining ----------------------------------------------------------------------------------


async def test_a_stranger_asks_to_join_and_the_leads_get_an_approve_button(rally) -> None:
    reply = await rally.say(ZOE, "join I'm an ER nurse in Peoria")

    assert reply.ok
    assert reply.message.title == rally.copy("join.title")
    zoe = rally.member("zoe")
    assert (zoe.status, zoe.display_name, zoe.roles) == (MemberStatus.PENDING, "Zoe", frozenset())
    (asked,) = rally.posts_in("#leads", prefix="join:")
    assert rally.copy("join.leads_note", note="I'm an ER nurse in Peoria") in asked.text
    assert [b.label for b in asked.message.buttons] == [
        rally.copy("button.approve"),
        rally.copy("button.decline"),
    ]
    assert rally.audit("join_requested")[-1].subject_id == zoe.id


async def test_a_pending_member_sees_and_raises_nothing(rally) -> None:
    await rally.say(ZOE, "join")
    before = rally.snapshot()
    for text in (f"alert {LINK}", "status", "available off"):
        reply = await rally.say(ZOE, text)
        assert not reply.ok
        assert rally.copy("error.pending_member") in reply.message.plain_text()
    assert rally.copy("join.still_pending") in (await rally.say(ZOE, "join")).message.plain_text()
    assert rally.snapshot() == before


async def test_a_lead_approves_with_the_button_and_the_member_is_welcomed(rally) -> None:
    await rally.say(ZOE, "join")

    reply = await rally.press(
        "lee", rally.posts_in("#leads", prefix="join:")[0], rally.copy("button.approve")
    )

    assert rally.copy("approve.done", name="Zoe") in reply.message.plain_text()
    assert rally.member("zoe").status is MemberStatus.ACTIVE
    assert rally.last_dm("zoe", prefix="welcome:").message.title == rally.copy(
        "approve.welcome_title"
    )
    assert rally.audit("member_approved")[-1].detail == {"by": rally.member("lee").id}
    assert (await rally.say(ZOE, f"alert {LINK}")).ok
    before = rally.snapshot()
    again = await rally.say("lee", "approve zoe")
    assert not again.ok
    assert rally.snapshot() == before


def traces(rally, *needles: str) -> list[str]:
    """Where any of these strings is still stored, in any field of any table."""
    found = []
    for table in dataclasses.fields(rally.data):
        for key, row in getattr(rally.data, table.name).items():
            text = repr(row)
            found += [f"{table.name}[{key}]: {n}" for n in needles if n in text]
    return found


JOIN_NOTE = "zoe-note: night nurse at Peoria General"


async def test_a_lead_declines_a_request_and_nothing_of_it_stays(rally) -> None:
    await rally.say(ZOE, f"join {JOIN_NOTE}")
    zoe_id = rally.member("zoe").id
    asked = rally.posts_in("#leads", prefix="join:")[0]
    await deliver(rally)  # the leads' copy of the request is out, with its note

    reply = await rally.press("lee", asked, rally.copy("button.decline"))

    assert reply.ok
    assert rally.copy("decline.done", name="Zoe") in reply.message.plain_text()
    assert zoe_id not in rally.data.members
    assert not [i for i in rally.data.identities.values() if i.member_id == zoe_id]
    assert traces(rally, "Zoe", "zoe", JOIN_NOTE) == []
    # The request the leads already have is edited: closed, without her name or note.
    (edit,) = [s for s in rally.outbox(key=f"join:{zoe_id}") if s.op == "update"]
    assert edit.to == ("channel", "#leads") and not edit.message.buttons
    assert edit.message.title == rally.copy("decline.closed_title")
    assert rally.copy("decline.closed_declined") in edit.text
    assert [(e.action, e.subject_id, e.detail) for e in rally.audit("join_declined")] == [
        ("join_declined", zoe_id, {})
    ]
    # She is a stranger again, and may ask again.
    assert rally.copy("error.not_member") in (await rally.say(ZOE, "status")).message.plain_text()
    assert (await rally.say(ZOE, "join")).ok


async def test_decline_by_name_from_the_members_list_and_only_a_pending_request(rally) -> None:
    await rally.say(ZOE, "join")
    listing = await rally.say("lee", "members")
    assert (await rally.press("lee", listing, rally.copy("members.decline", name="Zoe"))).ok
    await rally.say(ZOE, "join")
    assert (await rally.say("lee", "decline zoe")).ok
    assert not [m for m in rally.data.members.values() if m.handle == "zoe"]
    before = rally.snapshot()
    refused = await rally.say("lee", "decline ben")
    assert rally.copy("error.not_pending", name="Ben") in refused.message.plain_text()
    assert rally.snapshot() == before


async def test_an_unsent_request_is_dropped_when_declined(rally) -> None:
    await rally.say(ZOE, f"join {JOIN_NOTE}")
    zoe_id = rally.member("zoe").id
    assert (await rally.say("lee", "decline zoe")).ok
    assert rally.outbox(key=f"join:{zoe_id}") == []  # never sent: nothing to edit
    assert traces(rally, JOIN_NOTE, "Zoe") == []


async def test_a_request_nobody_decides_on_expires(rally) -> None:
    days = rally.services.policy.join_request_days
    await rally.say(ZOE, f"join {JOIN_NOTE}")
    zoe_id = rally.member("zoe").id
    await deliver(rally)
    rally.clock.advance(timedelta(days=days) - timedelta(minutes=1))
    await rally.services.run_due()
    assert rally.member("zoe").status is MemberStatus.PENDING

    rally.clock.advance(timedelta(minutes=2))
    await rally.services.run_due()

    assert zoe_id not in rally.data.members
    assert traces(rally, "Zoe", "zoe", JOIN_NOTE) == []
    (edit,) = [s for s in rally.outbox(key=f"join:{zoe_id}") if s.op == "update"]
    assert rally.copy("decline.closed_expired", period=f"{days} days") in edit.text
    (event,) = rally.audit("join_expired")
    assert (event.actor_id, event.subject_id) == (None, zoe_id)


async def test_a_pending_member_can_withdraw_with_forget_me(rally) -> None:
    await rally.say(ZOE, f"join {JOIN_NOTE}")
    zoe_id = rally.member("zoe").id
    asked = await rally.say(ZOE, "forgetme")
    assert rally.copy("forget.confirm_request") in asked.message.plain_text()

    done = await rally.press(ZOE, asked, rally.copy("button.forget_confirm"))

    assert rally.copy("forget.done_request") in done.message.plain_text()
    assert zoe_id not in rally.data.members
    assert traces(rally, "Zoe", "zoe", JOIN_NOTE) == []
    assert [e.subject_id for e in rally.audit("forget_me")] == [zoe_id]


def waiting(rally, platform: str, workspace: str, user: str, holder: str | None = None) -> str:
    """A request in the inbox, as an entry point wrote it, that no worker has worked."""
    rid = f"{platform}-{user}-{holder or 'waiting'}"
    rally.data.inbox[rid] = InboxRequest(rid, platform, workspace, user, {"text": "typed"}, holder)
    return rid


async def test_a_pending_members_forget_me_drops_what_she_sent_that_still_waits(rally) -> None:
    await rally.say(ZOE, f"join {JOIN_NOTE}")
    asked = await rally.say(ZOE, "forgetme")
    waiting(rally, "console", "local", "zoe")  # typed after her forgetme
    others = {waiting(rally, "console", "local", "ben"), waiting(rally, "slack", "T1", "zoe")}

    await rally.press(ZOE, asked, rally.copy("button.forget_confirm"))

    assert set(rally.data.inbox) == others


async def test_forget_me_drops_what_she_sent_from_any_account_unless_a_worker_holds_it(
    rally,
) -> None:
    said = (await rally.say("ben", "link")).message.plain_text()
    code = re.search(r"link ([A-Z0-9]{8})", said)
    assert code, said
    discord = Caller("discord", "", "4242", display_name="Ben")
    assert (await rally.say(discord, f"link {code.group(1)}")).ok
    asked = await rally.say("ben", "forgetme")
    waiting(rally, "console", "local", "ben")
    waiting(rally, "discord", "", "4242")
    others = {
        waiting(rally, "discord", "", "4242", holder="worker-2"),  # in another worker's hands
        waiting(rally, "console", "local", "cam"),
    }

    await rally.press("ben", asked, rally.copy("button.forget_confirm"))

    assert set(rally.data.inbox) == others


async def test_a_suspended_member_can_forget_themself(rally) -> None:
    await rally.raise_alert("cam", "kinds=trolling cam-note-9")
    await rally.say("lee", "suspend cam")
    cam_id = rally.member("cam").id
    asked = await rally.say("cam", "forgetme")
    done = await rally.press("cam", asked, rally.copy("button.forget_confirm"))
    assert done.ok, done.message.plain_text()
    cam = rally.data.members[cam_id]
    assert (cam.status, cam.display_name) == (
        MemberStatus.FORGOTTEN,
        rally.copy("forget.former_member"),
    )
    assert traces(rally, "Cam", "cam-note-9") == []


async def test_a_suspended_lead_can_forget_themself_while_another_lead_remains(rally) -> None:
    await rally.say("lee", "role ana lead")
    await rally.say("lee", "suspend ana")
    await rally.say("lee", "role sam safety_lead off")  # lee is the one active lead left
    done = await rally.press("ana", await rally.say("ana", "forgetme"), "Yes, forget me")
    assert done.ok, done.message.plain_text()


async def test_joining_needs_a_set_up_workspace_and_a_member_cannot_join_twice(rally) -> None:
    before = rally.snapshot()
    nowhere = await rally.say(Caller("slack", "T9", "U1"), "join")
    member = await rally.say("ana", "join")
    assert rally.copy("error.no_space") in nowhere.message.plain_text()
    assert rally.copy("error.already_member") in member.message.plain_text()
    assert rally.snapshot() == before


async def test_a_joiner_gets_a_handle_of_their_own(rally) -> None:
    await rally.say(Caller("console", "local", "U77", display_name="Ana"), "join")
    second = rally.member("ana2")
    assert (second.display_name, second.status) == ("Ana", MemberStatus.PENDING)
    assert rally.member("ana").status is MemberStatus.ACTIVE


async def test_help_for_a_stranger_explains_how_to_join(rally) -> None:
    reply = await rally.say(ZOE, "help")
    assert rally.copy("error.how_to_join") in reply.message.plain_text()
    assert rally.copy("help.member") not in reply.message.plain_text()
    member = (await rally.say("ana", "help")).message.plain_text()
    lead = (await rally.say("lee", "help")).message.plain_text()
    assert rally.copy("help.member") in member and rally.copy("help.lead") not in member
    assert rally.copy("help.lead") in lead
    form = await rally.say("ana", "alert")
    assert form.form == "alert"


# --- roles ------------------------------------------------------------------------------------


async def test_leads_grant_and_remove_roles(rally) -> None:
    granted = await rally.say("lee", "role ben lead")
    assert rally.member("ben").roles == {Role.RESPONDER, Role.LEAD}
    assert rally.copy("role.done", name="Ben", roles="lead, responder") in (
        granted.message.plain_text()
    )
    await rally.say("lee", "role ben lead off")
    assert rally.member("ben").roles == {Role.RESPONDER}
    await rally.say("lee", "role ana responder")
    assert rally.member("ana").roles == {Role.RESPONDER}
    await rally.say("lee", "role ben member")
    assert rally.member("ben").roles == frozenset()
    assert [e.detail["roles"] for e in rally.audit("role_changed")] == [
        "lead,responder",
        "responder",
        "responder",
        "member",
    ]


async def test_a_new_lead_may_use_lead_commands(rally) -> None:
    assert not (await rally.say("ben", "members")).ok
    await rally.say("lee", "role ben lead")
    listing = await rally.say("ben", "members")
    assert listing.message.title == rally.copy("members.title", count=6)


async def test_the_last_lead_cannot_be_removed(rally) -> None:
    assert (await rally.say("lee", "role sam safety_lead off")).ok
    before = rally.snapshot()
    for text in ("role lee lead off", "role lee member"):
        reply = await rally.say("lee", text)
        assert not reply.ok
        assert rally.copy("error.last_lead") in reply.message.plain_text()
    assert rally.snapshot() == before
    assert rally.member("lee").is_lead


async def test_roles_are_given_only_to_active_members_of_the_collective(rally) -> None:
    await rally.say(ZOE, "join")
    before = rally.snapshot()
    pending = await rally.say("lee", "role zoe responder")
    unknown = await rally.say("lee", "role nobody responder")
    assert rally.copy("error.target_not_active", name="Zoe") in pending.message.plain_text()
    assert rally.copy("error.no_member", name="nobody") in unknown.message.plain_text()
    assert rally.snapshot() == before


async def test_members_are_listed_for_leads_pending_first(rally) -> None:
    await rally.say(ZOE, "join")
    listing = (await rally.say("lee", "members")).message
    assert listing.title == rally.copy("members.title", count=7)
    lines = listing.plain_text().splitlines()[1:]
    assert lines[0].startswith("zoe · Zoe · member · waiting for approval")
    assert [line.split(" · ")[0] for line in lines[1:]] == [
        "ana",
        "ben",
        "cam",
        "dee",
        "lee",
        "sam",
    ]


# --- settings ---------------------------------------------------------------------------------


async def test_a_member_sets_availability_quiet_hours_and_time_zone(rally) -> None:
    off = await rally.say("ben", "available off")
    quiet = await rally.say("ben", "quiet 22:30-06:45")
    zone = await rally.say("ben", "timezone Europe/Berlin")

    ben = rally.member("ben")
    assert (ben.available, ben.quiet_start, ben.quiet_end, ben.timezone) == (
        False,
        22 * 60 + 30,
        6 * 60 + 45,
        "Europe/Berlin",
    )
    assert rally.copy("available.off") in off.message.plain_text()
    assert rally.copy("quiet.on", start="22:30", end="06:45") in quiet.message.plain_text()
    assert rally.copy("timezone.done", tz="Europe/Berlin") in zone.message.plain_text()
    await rally.say("ben", "quiet off")
    assert (rally.member("ben").quiet_start, rally.member("ben").quiet_end) == (None, None)


async def test_a_pause_is_told_in_the_collectives_time_zone(rally) -> None:
    reply = await rally.say("ben", "pause 2h")
    assert rally.copy("pause.on", until="Wed 25 Nov 11:00 CST") in reply.message.plain_text()


async def test_a_pause_is_told_in_the_members_own_time_zone(rally) -> None:
    await rally.say("ben", "timezone Europe/London")
    reply = await rally.say("ben", "pause 2h")
    assert rally.copy("pause.on", until="Wed 25 Nov 17:00 GMT") in reply.message.plain_text()


# --- linking identities -------------------------------------------------------------------------


async def test_a_code_made_on_one_platform_links_an_account_on_another(rally) -> None:
    made = await rally.say("ana", "link")
    (code,) = rally.data.link_codes.values()
    assert code.member_id == rally.member("ana").id
    assert code.expires_at == rally.clock.now() + timedelta(minutes=15)
    assert rally.copy("link.code_body", code=code.code, minutes=15) in made.message.plain_text()

    slack_ana = Caller("slack", "T1", "UANA", channel="C1")
    reply = await rally.say(slack_ana, f"link {code.code.lower()}")

    assert rally.copy("link.done_body", name="Ana") in reply.message.plain_text()
    assert rally.data.link_codes == {}
    ana_id = rally.member("ana").id
    linked = {(i.platform, i.user) for i in rally.data.identities.values() if i.member_id == ana_id}
    assert linked == {("console", "ana"), ("slack", "UANA")}
    assert rally.audit("identity_linked")[-1].detail == {"platform": "slack"}
    # One person: the alert raised on Slack is Ana's, and the console sees it as hers.
    assert (await rally.say(slack_ana, f"alert {LINK}")).ok
    assert rally.alert(1).target_id == rally.member("ana").id
    assert (await rally.say("ana", "standdown #1")).ok


async def test_making_and_using_a_code_are_audited(rally) -> None:
    ana_id = rally.member("ana").id
    await rally.say("ana", "link")
    (code,) = rally.data.link_codes
    await rally.say(Caller("slack", "T1", "UANA"), f"link {code}")
    assert [(e.action, e.actor_id) for e in rally.audit()[-2:]] == [
        ("link_code_made", ana_id),
        ("identity_linked", ana_id),
    ]


async def test_a_code_made_on_slack_links_a_discord_account(rally) -> None:
    await rally.say("ben", "link")
    (code,) = rally.data.link_codes
    slack_ben = Caller("slack", "T1", "UBEN")
    await rally.say(slack_ben, f"link {code}")

    assert (await rally.say(slack_ben, "link")).ok
    (code,) = rally.data.link_codes
    assert (await rally.say(Caller("discord", "G1", "777"), f"link {code}")).ok
    platforms = {
        i.platform for i in rally.data.identities.values() if i.member_id == rally.member("ben").id
    }
    assert platforms == {"console", "slack", "discord"}


async def test_two_codes_made_at_the_same_time_are_different(rally) -> None:
    await rally.say("ana", "link")
    reply = await rally.say("ben", "link")
    assert reply.ok
    codes = {c.code: c.member_id for c in rally.data.link_codes.values()}
    assert sorted(codes.values()) == sorted([rally.member("ana").id, rally.member("ben").id])


@pytest.mark.parametrize("minutes", [15, 16, 60])
async def test_an_expired_code_is_refused(rally, minutes) -> None:
    await rally.say("ana", "link")
    (code,) = rally.data.link_codes
    rally.clock.advance(timedelta(minutes=minutes))
    before = rally.snapshot()
    reply = await rally.say(Caller("slack", "T1", "UANA"), f"link {code}")
    assert not reply.ok
    assert rally.copy("error.bad_link_code") in reply.message.plain_text()
    assert rally.snapshot() == before


async def test_a_code_just_before_expiry_still_works(rally) -> None:
    await rally.say("ana", "link")
    (code,) = rally.data.link_codes
    rally.clock.advance(timedelta(minutes=15) - timedelta(seconds=1))
    assert (await rally.say(Caller("slack", "T1", "UANA"), f"link {code}")).ok


async def test_a_code_is_used_once_and_an_unknown_code_is_refused(rally) -> None:
    await rally.say("ana", "link")
    (code,) = rally.data.link_codes
    await rally.say(Caller("slack", "T1", "UANA"), f"link {code}")
    before = rally.snapshot()
    reused = await rally.say(Caller("discord", "G1", "1"), f"link {code}")
    unknown = await rally.say(Caller("discord", "G1", "2"), "link ZZZZZZZZ")
    assert rally.copy("error.bad_link_code") in reused.message.plain_text()
    assert rally.copy("error.bad_link_code") in unknown.message.plain_text()
    assert rally.snapshot() == before


async def test_an_account_already_linked_cannot_redeem_a_code(rally) -> None:
    await rally.say("ana", "link")
    (code,) = rally.data.link_codes
    before = rally.snapshot()
    reply = await rally.say("ben", f"link {code}")
    assert rally.copy("error.already_linked") in reply.message.plain_text()
    assert rally.snapshot() == before


# --- forget me --------------------------------------------------------------------------------


async def test_forget_me_asks_first_and_changes_nothing_until_confirmed(rally) -> None:
    before = rally.snapshot()
    reply = await rally.say("ana", "forgetme")
    assert reply.message.title == rally.copy("forget.confirm_title")
    assert [b.label for b in reply.message.buttons] == [rally.copy("button.forget_confirm")]
    assert rally.snapshot() == before


async def test_forget_me_removes_personal_data_and_keeps_open_safety_cases(rally) -> None:
    await rally.say("ana", "quiet 22:00-07:00")
    await rally.say("ana", "timezone Europe/Paris")
    await rally.say("ana", "link")
    closed = await rally.raise_alert(
        "ana", "post=https://x.com/ana/status/9 kinds=trolling my note"
    )
    await rally.say("ana", "evidence #1 case 111")
    await rally.say("ana", "delegate #1 cam")
    await rally.say("ana", "standdown #1")
    safety = await rally.raise_alert("ana", "kinds=threat threat note")
    await rally.say("ana", "evidence #2 they know my address")
    confirm = await rally.say("ana", "forgetme")
    ana_id = rally.member("ana").id

    done = await rally.press("ana", confirm, rally.copy("button.forget_confirm"))

    text = done.message.plain_text()
    assert rally.copy("forget.done_body") in text
    assert rally.literal("forget.kept") in text and "#2" in text
    ana = rally.data.members[ana_id]
    assert ana.status is MemberStatus.FORGOTTEN
    assert ana.display_name == rally.copy("forget.former_member")
    assert "ana" not in ana.handle
    assert (ana.roles, ana.quiet_start, ana.quiet_end, ana.timezone, ana.available) == (
        frozenset(),
        None,
        None,
        None,
        False,
    )
    assert [i for i in rally.data.identities.values() if i.member_id == ana_id] == []
    assert [c for c in rally.data.link_codes.values() if c.member_id == ana_id] == []
    assert [c for c in rally.data.checkins.values() if c.member_id == ana_id] == []
    gone = rally.data.alerts[closed.id]
    assert (gone.links, gone.note, gone.target_post, gone.delegates) == ((), "", None, frozenset())
    assert [e for e in rally.data.evidence.values() if e.alert_id == closed.id] == []
    kept = rally.data.alerts[safety.id]
    assert (kept.status, kept.close_reason) == (AlertStatus.CLOSED, CloseReason.FORGOTTEN)
    assert kept.links and kept.note == "threat note"
    assert [e.content for e in rally.data.evidence.values() if e.alert_id == safety.id] == [
        "they know my address"
    ]
    # The account is a stranger now.
    assert not (await rally.say("ana", "status")).ok
    assert "ana" not in [m.handle for m in rally.data.members.values()]


@pytest.mark.parametrize("who", ["ben", "sam"])
async def test_forget_me_is_recorded_in_the_audit_log(rally, who) -> None:
    member_id = rally.member(who).id
    confirm = await rally.say(who, "forgetme")
    await rally.press(who, confirm, rally.copy("button.forget_confirm"))
    events = rally.audit("forget_me")
    assert [(e.actor_id, e.subject_id, e.detail) for e in events] == [
        (member_id, member_id, {"kept": ""})
    ]


async def test_forget_me_records_which_open_safety_cases_were_kept(rally) -> None:
    await rally.raise_alert("ana", "kinds=doxxing")
    await rally.raise_alert("ana", "severity=critical")
    await rally.raise_alert("ana")
    ana_id = rally.member("ana").id
    await rally.press(
        "ana", await rally.say("ana", "forgetme"), rally.copy("button.forget_confirm")
    )
    (event,) = rally.audit("forget_me")
    assert (event.subject_id, event.detail) == (ana_id, {"kept": "1,2"})


async def test_the_last_lead_cannot_forget_themself(rally) -> None:
    await rally.say("lee", "role sam safety_lead off")
    confirm = await rally.say("lee", "forgetme")
    before = rally.snapshot()
    reply = await rally.press("lee", confirm, rally.copy("button.forget_confirm"))
    assert not reply.ok
    assert rally.copy("error.last_lead") in reply.message.plain_text()
    assert rally.snapshot() == before


async def test_a_forgotten_member_may_join_again_as_a_stranger(rally) -> None:
    confirm = await rally.say("ben", "forgetme")
    await rally.press("ben", confirm, rally.copy("button.forget_confirm"))
    assert (await rally.say("ben", "join")).ok
    assert rally.member("ben").status is MemberStatus.PENDING


# --- digest -----------------------------------------------------------------------------------


async def test_the_digest_preview_counts_this_weeks_alerts(rally) -> None:
    await rally.raise_alert("ana", "kinds=pile_on")
    post = rally.posts_in("#rally")[0]
    rally.clock.advance(timedelta(minutes=4))
    await rally.press("ben", post, rally.copy("button.on_it"))
    await rally.raise_alert("cam", "kinds=trolling,pile_on where=instagram")
    rally.clock.advance(timedelta(minutes=1))

    digest = (await rally.say("lee", "digest")).message

    assert digest.title == rally.copy("digest.title", name="Demo collective", week="2026-W48")
    text = digest.plain_text()
    assert rally.copy("digest.alerts", count=2, change="+2") in text
    assert rally.copy("digest.kinds", kinds="pile-on 2 (+2), trolling 1 (+1)") in text
    assert rally.copy("digest.venues", venues="Instagram 1 (+1), X 1 (+1)") in text
    assert rally.copy("digest.first_response", median="4", p90="4", answered=1) in text
    assert rally.copy("digest.responders", count=1) in text
    # Cam's alert is a minute old: not "never answered" within the escalation window.
    assert rally.copy("digest.unanswered", count=0, change="0") in text
    assert rally.copy("digest.open_line", number=1, status="active", days=0.0) in text


# --- a platform role that makes leads (Discord) ------------------------------------------------


def in_guild(user: str, guild: str, *roles: str, **more: object) -> Caller:
    """A Discord user typing in a guild: identities are global (workspace ""), guilds are spaces."""
    return Caller("discord", "", user, space=guild, channel="CH", roles=frozenset(roles), **more)


async def link_discord(rally, handle: str, user: str, guild: str) -> None:
    await rally.say(handle, "link")
    (code,) = rally.data.link_codes
    assert (await rally.say(in_guild(user, guild), f"link {code}")).ok


async def demo_guild(rally) -> None:
    """The demo collective's Discord guild G1, whose role 555 makes leads."""
    await link_discord(rally, "lee", "L1", "G1")
    # Lee manages the server (Manage Server), so may attach it to the collective.
    assert (await rally.say(in_guild("L1", "G1", can_manage=True), "setup")).ok
    assert (await rally.say(in_guild("L1", "G1"), "setup leadrole <@&555>")).ok


async def test_a_lead_names_the_guild_role_that_makes_leads(rally) -> None:
    await demo_guild(rally)
    space = next(s for s in rally.data.spaces.values() if s.platform == "discord")
    assert (space.collective_id, space.external_id, space.lead_role) == (
        rally.collective().id,
        "G1",
        "555",
    )
    assert (await rally.say(in_guild("L1", "G1"), "setup leadrole off")).ok
    assert rally.data.spaces[space.id].lead_role is None


async def test_holding_the_lead_role_makes_a_lead_and_losing_it_revokes_it(rally) -> None:
    await demo_guild(rally)
    await link_discord(rally, "ben", "B1", "G1")

    assert (await rally.say(in_guild("B1", "G1", "555"), "members")).ok
    assert rally.member("ben").roles == {Role.RESPONDER, Role.LEAD}
    assert rally.audit("role_changed")[-1].detail == {
        "via": "platform_role",
        "roles": "lead,responder",
    }

    assert (await rally.say(in_guild("B1", "G1", "777"), "status")).ok
    assert rally.member("ben").roles == {Role.RESPONDER}
    refused = await rally.say(in_guild("B1", "G1"), "members")
    assert rally.copy("error.leads_only") in refused.message.plain_text()


async def test_a_direct_message_carries_no_roles_and_changes_none(rally) -> None:
    await demo_guild(rally)
    await link_discord(rally, "ben", "B1", "G1")
    await rally.say(in_guild("B1", "G1", "555"), "status")
    before = rally.snapshot()
    assert (await rally.say(Caller("discord", "", "B1"), "status")).ok
    assert rally.snapshot() == before


async def test_a_lead_role_in_another_collectives_guild_gives_nothing_here(rally) -> None:
    boss = in_guild("O1", "G2", can_manage=True, display_name="Olga")
    assert (await rally.say(boss, "setup name Other collective")).ok
    assert (await rally.say(boss, "setup leadrole 999")).ok
    await link_discord(rally, "ana", "A1", "G2")

    # Ana holds the other collective's lead role in its guild: she must not lead hers.
    await rally.say(in_guild("A1", "G2", "999"), "status")

    assert not rally.member("ana").is_lead
    assert not (await rally.say("ana", "members")).ok


# --- /rally me, and approving from the members list --------------------------------------


async def test_me_shows_what_the_bot_knows_of_you(rally) -> None:
    await rally.say("ben", "quiet 22:00-07:00")
    await rally.say("ben", "pause 2h")
    text = (await rally.say("ben", "me")).message.plain_text()
    assert rally.copy("me.roles", roles="responder") in text
    assert rally.copy("me.quiet", start="22:00", end="07:00") in text
    assert "Paused until" in text
    assert rally.copy("me.timezone", tz="America/Chicago") in text
    stranger = await rally.say("zoe", "me")
    assert not stranger.ok


async def test_the_members_list_offers_approve_and_decline_per_pending_request(rally) -> None:
    await rally.say("zoe", "join a nurse in Peoria")
    listing = await rally.say("lee", "members")
    labels = [b.label for b in listing.message.buttons]
    assert labels == [  # as the platform named them
        rally.copy("members.approve", name="zoe"),
        rally.copy("members.decline", name="zoe"),
    ]
    approved = await rally.press("lee", listing, labels[0])
    assert approved.ok
    assert (await rally.say("lee", "members")).message.buttons == ()
