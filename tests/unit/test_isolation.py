"""Two collectives: every read and write across the boundary is refused and changes nothing.

"Ours" is the demo collective (console): ana (member), ben/cam/dee (responders), lee (lead),
sam (safety lead), with alert #1 (ana's, active) and evidence on it.

"Theirs" is a second collective on its own Slack workspace T2: olga (lead), oscar (member,
a newcomer), pia (asked to join), and alerts #1 (olga's, active, with evidence), #2 (raised by
olga for oscar, waiting for consent), #3 (olga's threat, in safety review) and #4 (oscar's
first alert, held for review). Alert numbers are per collective, so ours has no #2-#4.

Ids carried by buttons or typed as `id:<member id>` that belong to the other collective are
forgeries: refused with the very reply a missing id gets, and audited as
forged_request_refused in the presser's own collective. Numbers and handles are looked up in
the caller's collective only, so the other collective's simply do not exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest

from bot.core.commands import Caller
from bot.core.model import AuditEvent, Role
from tests.fakes import Tables
from tests.unit.conftest import Rally

LINK = "https://x.com/troll/status/1"
THEIR_LINK = "https://x.com/their-troll/status/31337"
THEIR_NOTE = "their-private-note-4f2a"
THEIR_EVIDENCE = "their-evidence-case-9931"
OUR_NOTE = "our-private-note-7c1e"
OUR_EVIDENCE = "our-evidence-item-5511"
MISSING = "f" * 32

OLGA = Caller("slack", "T2", "UOLGA", display_name="Olga", channel="C2", can_manage=True)
OSCAR = Caller("slack", "T2", "UOSCAR", display_name="Oscar", channel="C2")
PIA = Caller("slack", "T2", "UPIA", display_name="Pia", channel="C2")


@dataclass
class Theirs:
    alerts: dict[int, str]  # number → id
    checkin: str  # olga's first check-in for their #1
    olga: str
    oscar: str
    pia: str


async def ok(rally: Rally, who: str | Caller, text: str) -> None:
    reply = await rally.say(who, text)
    assert reply.ok, (text, reply.message.plain_text())


async def two_collectives(rally: Rally) -> Theirs:
    await ok(rally, "ana", f"alert {LINK} kinds=trolling {OUR_NOTE}")
    await ok(rally, "ana", f"evidence #1 {OUR_EVIDENCE}")
    await ok(rally, OLGA, "setup name Other collective")
    await ok(rally, OSCAR, "join")
    await ok(rally, PIA, "join")
    await ok(rally, OLGA, "approve oscar")
    await ok(rally, OLGA, f"alert {THEIR_LINK} kinds=trolling {THEIR_NOTE}")
    await ok(rally, OLGA, f"evidence #1 {THEIR_EVIDENCE}")
    await ok(rally, OLGA, f"alert {THEIR_LINK}/2 for=oscar")
    await ok(rally, OLGA, f"alert {THEIR_LINK}/3 kinds=threat")
    await ok(rally, OSCAR, f"alert {THEIR_LINK}/4")
    other = "Other collective"
    statuses = [rally.alert(n, other).status.value for n in (1, 2, 3, 4)]
    assert statuses == ["active", "pending_consent", "safety_review", "held"]
    return Theirs(
        alerts={n: rally.alert(n, other).id for n in (1, 2, 3, 4)},
        checkin=rally.checkins(rally.alert(1, other))[0].id,
        olga=rally.member("olga", other).id,
        oscar=rally.member("oscar", other).id,
        pia=rally.member("pia", other).id,
    )


def named(text: str, *names: str) -> list[str]:
    """Which of these people the text names (handle or display name, as a whole word)."""
    return [n for n in names if re.search(rf"\b{n}\b", text, re.IGNORECASE)]


def new_audit(rally: Rally, before: Tables) -> list[AuditEvent]:
    return [e for e in rally.audit() if e.id not in before.audit]


def unchanged_but_audit(rally: Rally, before: Tables) -> None:
    after = rally.snapshot()
    after.audit = {k: v for k, v in after.audit.items() if k in before.audit}
    assert after == before


def assert_forgery_audited(rally: Rally, before: Tables, actor: str, collective: str) -> None:
    events = new_audit(rally, before)
    assert [e.action for e in events] == ["forged_request_refused"]
    assert events[0].actor_id == actor
    assert events[0].collective_id == collective


# --- buttons carrying the other collective's ids -------------------------------------------

# (action template, whose id it carries, whether only leads get as far as the lookup)
BUTTONS = [
    ("rally:alert:{a1}:on_it", False),
    ("rally:alert:{a1}:cant", False),
    ("rally:alert:{a1}:done", False),
    ("rally:alert:{a1}:did:reported", False),
    ("rally:alert:{a1}:standdown", False),
    ("rally:alert:{a2}:standdown", False),
    ("rally:consent:{a2}:yes", False),
    ("rally:consent:{a2}:no", False),
    ("rally:safety:{a3}:rally", True),
    ("rally:safety:{a3}:hold", True),
    ("rally:target:{a3}:rally", False),
    ("rally:target:{a3}:hold", False),
    ("rally:checkins:{a1}:pause", False),
    ("rally:checkins:{a1}:resume", False),
    ("rally:checkins:{a1}:stop", False),
    ("rally:checkin:{c1}:ok", False),
    ("rally:checkin:{c1}:struggling", False),
    ("rally:checkin:{c1}:need_help", False),
    ("rally:review:{a4}:release", True),
    ("rally:review:{a4}:reject", True),
    ("rally:member:{pia}:approve", True),
    ("rally:forgetme:{olga}:confirm", False),
    ("rally:forgetme:{oscar}:confirm", False),
]
OURS = ("ana", "ben", "lee", "sam")


def fill(template: str, theirs: Theirs, missing: bool = False) -> str:
    values = {f"a{n}": i for n, i in theirs.alerts.items()}
    values.update(c1=theirs.checkin, olga=theirs.olga, oscar=theirs.oscar, pia=theirs.pia)
    if missing:
        values = dict.fromkeys(values, MISSING)
    return template.format(**values)


@pytest.mark.parametrize("who", OURS)
@pytest.mark.parametrize(("template", "leads_only"), BUTTONS)
async def test_a_button_with_the_other_collectives_id_is_refused_changes_nothing_and_is_audited(
    rally: Rally, who: str, template: str, leads_only: bool
) -> None:
    theirs = await two_collectives(rally)
    before = rally.snapshot()

    reply = await rally.act(who, fill(template, theirs))

    assert not reply.ok
    unchanged_but_audit(rally, before)
    if leads_only and who not in ("lee", "sam"):
        # Refused for the role before any id is looked at: nothing to audit.
        assert rally.copy("error.leads_only") in reply.message.plain_text()
        assert new_audit(rally, before) == []
        return
    assert_forgery_audited(rally, before, rally.member(who).id, rally.collective().id)
    # The same words as for an id that exists nowhere: no oracle for probing ids.
    missing = await rally.act(who, fill(template, theirs, missing=True))
    assert not missing.ok
    assert reply.message.plain_text().replace(theirs.pia, MISSING) == (missing.message.plain_text())


@pytest.mark.parametrize(
    "template",
    ["rally:alert:{a1}:on_it", "rally:alert:{a1}:standdown", "rally:consent:{a1}:yes",
     "rally:safety:{a1}:rally", "rally:target:{a1}:rally", "rally:checkins:{a1}:stop",
     "rally:checkin:{c1}:need_help", "rally:review:{a1}:release", "rally:member:{ana}:approve",
     "rally:forgetme:{ana}:confirm"],
)  # fmt: skip
async def test_their_lead_pressing_our_ids_is_refused_and_audited_in_their_collective(
    rally: Rally, template: str
) -> None:
    theirs = await two_collectives(rally)
    await rally.services.run_due()  # nothing due yet; the check-in exists either way
    ours = {
        "a1": rally.alert(1).id,
        "c1": rally.checkins(rally.alert(1))[0].id,
        "ana": rally.member("ana").id,
    }
    before = rally.snapshot()

    reply = await rally.act(OLGA, template.format(**ours))

    assert not reply.ok
    unchanged_but_audit(rally, before)
    assert_forgery_audited(rally, before, theirs.olga, rally.collective("Other collective").id)


# --- typed numbers, handles, id: references and mentions ----------------------------------

NUMBERS = [
    "status #2", "status #4", "standdown #2", "consent #2 yes", "consent #2 no",
    "evidence #3 a note", "export #3", "export #4", "delegate #2 ben", "checkins #3 stop",
    "checkins #3 pause", "review #4 release", "review #4 reject", "audit #3",
]  # fmt: skip


@pytest.mark.parametrize("who", ["ana", "lee", "sam"])
@pytest.mark.parametrize("text", NUMBERS)
async def test_the_other_collectives_alert_numbers_do_not_exist_here(
    rally: Rally, who: str, text: str
) -> None:
    await two_collectives(rally)
    before = rally.snapshot()

    reply = await rally.say(who, text)

    assert not reply.ok
    assert rally.snapshot() == before  # a number is not a forgery: nothing is audited
    if ("review" in text or "audit" in text) and who == "ana":
        assert rally.copy("error.leads_only") in reply.message.plain_text()
        return
    number = int(text.split("#")[1].split()[0])
    assert rally.copy("error.no_alert", number=number) in reply.message.plain_text()


HANDLES = [
    "approve pia", "approve oscar", "role olga lead", "role oscar member", "suspend oscar",
    "unsuspend oscar", "audit olga", "delegate #1 oscar", "alert {link} for=oscar",
    "alert {link} for=olga", "approve <@UPIA>", "suspend <@UOSCAR>", "delegate #1 <@UOSCAR>",
]  # fmt: skip


@pytest.mark.parametrize("text", HANDLES)
async def test_the_other_collectives_handles_and_mentions_name_nobody_here(
    rally: Rally, text: str
) -> None:
    await two_collectives(rally)
    before = rally.snapshot()
    # Ana is the target of #1 (delegate); lee leads (approve, role, suspend, audit).
    who = "ana" if text.startswith(("delegate", "alert")) else "lee"

    reply = await rally.say(who, text.format(link=LINK + "/9"))

    assert not reply.ok
    assert rally.snapshot() == before
    assert rally.literal("error.no_member") in reply.message.plain_text()


ID_REFS = [
    ("lee", "approve id:{pia}"),
    ("lee", "role id:{oscar} lead"),
    ("lee", "role id:{olga} member"),
    ("lee", "suspend id:{oscar}"),
    ("lee", "unsuspend id:{oscar}"),
    ("lee", "audit id:{olga}"),
    ("ana", "delegate #1 id:{oscar}"),
    ("ana", "alert {link} for=id:{oscar}"),
]


@pytest.mark.parametrize(("who", "text"), ID_REFS)
async def test_a_typed_member_id_of_the_other_collective_is_a_forgery(
    rally: Rally, who: str, text: str
) -> None:
    theirs = await two_collectives(rally)
    before = rally.snapshot()

    reply = await rally.say(
        who, text.format(link=LINK + "/9", pia=theirs.pia, oscar=theirs.oscar, olga=theirs.olga)
    )

    assert not reply.ok
    unchanged_but_audit(rally, before)
    assert_forgery_audited(rally, before, rally.member(who).id, rally.collective().id)
    assert rally.literal("error.no_member") in reply.message.plain_text()


# --- reads: each collective sees only its own --------------------------------------------


async def test_each_collective_reads_only_its_own_alerts_evidence_and_audit(rally: Rally) -> None:
    await two_collectives(rally)
    await ok(rally, "lee", "export #1")
    await ok(rally, OLGA, "export #1")

    reads = ("status", "status #1", "audit", "members", "digest")
    ours = " ".join([(await rally.say("lee", t)).message.plain_text() for t in reads])
    theirs = " ".join([(await rally.say(OLGA, t)).message.plain_text() for t in reads])
    assert LINK in ours and named(ours, "ana", "lee")
    assert THEIR_LINK in theirs and named(theirs, "olga", "oscar", "pia")
    assert OUR_NOTE not in theirs and LINK not in theirs
    assert not named(theirs, "ana", "ben", "cam", "dee", "lee", "sam")
    assert THEIR_NOTE not in ours and THEIR_LINK not in ours
    assert not named(ours, "olga", "oscar", "pia")

    (our_packet,) = [s for s in rally.outbox(prefix="export:") if s.to == ("dm", "lee")]
    (their_packet,) = [s for s in rally.outbox(prefix="export:") if s.to == ("dm", "UOLGA")]
    our_files = " ".join(a.content for a in our_packet.message.attachments)
    their_files = " ".join(a.content for a in their_packet.message.attachments)
    assert OUR_EVIDENCE in our_files and OUR_NOTE in our_files
    assert THEIR_EVIDENCE not in our_files and THEIR_LINK not in our_files
    assert THEIR_EVIDENCE in their_files and THEIR_NOTE in their_files
    assert OUR_EVIDENCE not in their_files and LINK not in their_files


async def test_nothing_one_collective_does_is_sent_to_the_others_spaces(rally: Rally) -> None:
    await two_collectives(rally)
    ours, theirs = rally.collective().id, rally.collective("Other collective").id
    rally.clock.advance(timedelta(days=8))
    await rally.services.run_due()  # escalations, check-ins, reminders, both digests
    for sent in rally.outbox():
        if sent.item.collective_id == ours:
            assert sent.item.platform == "console", sent.key
        else:
            assert sent.item.collective_id == theirs
            assert (sent.item.platform, sent.item.workspace) == ("slack", "T2"), sent.key
            assert OUR_NOTE not in sent.text and LINK not in sent.text
    for event in rally.audit():
        members = {m.id: m for m in rally.data.members.values()}
        for who in (event.actor_id, event.subject_id):
            if who is not None:
                assert members[who].collective_id == event.collective_id, event.action
        if event.alert_id is not None:
            assert rally.data.alerts[event.alert_id].collective_id == event.collective_id


async def test_setup_from_a_workspace_of_the_other_collective_is_a_forgery(rally: Rally) -> None:
    await two_collectives(rally)
    # Lee links a Slack account in T2 (the other collective's workspace) to himself...
    await ok(rally, "lee", "link")
    (code,) = rally.data.link_codes
    lee_t2 = Caller("slack", "T2", "ULEE", display_name="Lee", channel="C2")
    await ok(rally, lee_t2, f"link {code}")
    before = rally.snapshot()

    # ...but can't point their workspace at his collective, nor change theirs.
    for text in ("setup", "setup rally", "setup leads", "setup name Taken over"):
        reply = await rally.say(lee_t2, text)
        assert not reply.ok, text
    unchanged_but_audit(rally, before)
    assert {e.action for e in new_audit(rally, before)} == {"forged_request_refused"}
    assert rally.collective("Other collective").name == "Other collective"


# --- Discord: user ids are global, guilds are the spaces ---------------------------------


def in_guild(user: str, guild: str, *roles: str, **more: object) -> Caller:
    return Caller(
        "discord", "", user, space=guild, channel="CH" + guild, roles=frozenset(roles), **more
    )


async def two_guilds(rally: Rally) -> None:
    """Ours in guild G1 (lee is L1, ben is B1, role 555 makes leads); theirs in G2 (olga 201,
    oscar 202: Discord user ids are digits, and so are its mentions)."""
    for handle, user in (("lee", "L1"), ("ben", "B1")):
        await ok(rally, handle, "link")
        (code,) = rally.data.link_codes
        await ok(rally, in_guild(user, "G1"), f"link {code}")
    await ok(rally, in_guild("L1", "G1", can_manage=True), "setup")
    await ok(rally, in_guild("L1", "G1"), "setup leadrole <@&555>")
    olga = in_guild("201", "G2", can_manage=True, display_name="Olga")
    await ok(rally, olga, "setup name Other collective")
    await ok(rally, in_guild("202", "G2", display_name="Oscar"), "join")
    await ok(rally, olga, "approve <@202>")


@pytest.mark.parametrize(
    "text",
    ["approve <@202>", "role <@202> lead", "suspend <@201>", "audit <@!201>", "role <@201> member"],
)
async def test_a_discord_mention_of_the_other_collectives_member_is_a_forgery(
    rally: Rally, text: str
) -> None:
    await two_guilds(rally)
    before = rally.snapshot()

    reply = await rally.say(in_guild("L1", "G1"), text)

    assert not reply.ok
    unchanged_but_audit(rally, before)
    assert_forgery_audited(rally, before, rally.member("lee").id, rally.collective().id)


async def test_using_rallybot_in_another_guild_does_not_revoke_a_lead_role_held_at_home(
    rally: Rally,
) -> None:
    await two_guilds(rally)
    await ok(rally, in_guild("B1", "G1", "555"), "status")  # ben leads through the role
    assert rally.member("ben").roles == {Role.RESPONDER, Role.LEAD}
    before = rally.snapshot()

    # Ben is also on the other collective's server (and one nobody set up) and looks there.
    await rally.say(in_guild("B1", "G2"), "status")
    await rally.say(in_guild("B1", "G9"), "status")

    # Roles on a server of another collective say nothing about his own collective.
    assert rally.member("ben").roles == {Role.RESPONDER, Role.LEAD}
    assert rally.snapshot() == before


async def test_a_lead_cannot_attach_a_server_they_do_not_manage(rally: Rally) -> None:
    await two_guilds(rally)
    before = rally.snapshot()

    # Lee is an ordinary member of server G7, where nobody has set rallybot up yet.
    reply = await rally.say(in_guild("L1", "G7", can_manage=False), "setup")

    # Attaching it would post this collective's rallies (names, links, notes) in G7's
    # channel, and lock G7's own admins out of setting up their collective.
    assert not reply.ok
    assert rally.copy("error.setup_needs_admin") in reply.message.plain_text()
    assert rally.snapshot() == before
    assert [s for s in rally.data.spaces.values() if s.external_id == "G7"] == []
