"""Discord's typed options become the core's commands directly: every subcommand of /rally
and /rally-library, through the real discord.py, builds its Command and never hands the core
a line of text to parse again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.adapters.discord.cog import SUBCOMMANDS
from bot.adapters.discord.library import LIBRARY_SUBCOMMANDS
from bot.core import commands as c
from bot.core.library import Draft
from bot.core.messages import Reply
from bot.core.model import Help, Kind, MessageKind, Role, Severity, Venue
from tests.adapters.discord.conftest import World, shown

LINK = "https://x.com/troll/status/1"
Case = tuple[str, dict[str, Any], c.Command]


class Handled:
    """The commands the Discord adapter hands the core; text handed to the parser fails."""

    def __init__(self, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
        assert world.runtime is not None
        services = world.runtime.services
        self.commands: list[c.Command] = []
        handle = services.handle

        async def recorded(caller: c.Caller, command: c.Command) -> Reply:
            self.commands.append(command)
            return await handle(caller, command)

        async def no_text(*args: object) -> Reply:
            raise AssertionError(f"the Discord adapter sent text to the parser: {args[1:]}")

        monkeypatch.setattr(services, "handle", recorded)
        monkeypatch.setattr(services, "handle_text", no_text)


def rally_cases(world: World) -> list[Case]:
    ben, cam = world.ben, world.cam
    return [
        ("alert", {}, c.OpenAlertForm()),
        (
            "alert",
            {
                "link": f"<{LINK}>",
                "more_links": "https://x.com/troll/status/2",
                "note": "pile-on",
                "for": ben,
                "where": "x",
                "kinds": "pile_on, threat",
                "severity": "high",
                "help": "amplify",
                "anonymous": True,
                "topics": "vaccines",
            },
            c.RaiseAlert(
                links=(LINK, "https://x.com/troll/status/2"),
                note="pile-on",
                target=c.MemberRef(user=ben.id),
                venue=Venue.X,
                kinds=frozenset({Kind.PILE_ON, Kind.THREAT}),
                severity=Severity.HIGH,
                help_wanted=frozenset({Help.AMPLIFY}),
                anonymous=True,
                topics=frozenset({"vaccines"}),
            ),
        ),
        ("status", {}, c.ShowStatus()),
        ("status", {"alert": 7}, c.ShowStatus(c.AlertRef(number=7))),
        ("standdown", {"alert": 3}, c.StandDown(c.AlertRef(number=3))),
        ("consent", {"alert": 4, "answer": "yes"}, c.GiveConsent(c.AlertRef(number=4), True)),
        (
            "evidence",
            {"alert": 5, "item": f"<{LINK}>"},
            c.AddEvidence(c.AlertRef(number=5), LINK),
        ),
        ("export", {"alert": 6}, c.ExportEvidence(c.AlertRef(number=6))),
        (
            "delegate",
            {"alert": 6, "member": ben},
            c.Delegate(c.AlertRef(number=6), c.MemberRef(user=ben.id)),
        ),
        (  # a mention pasted into the handle option is the person
            "delegate",
            {"alert": 6, "handle": f"<@{cam.id}>"},
            c.Delegate(c.AlertRef(number=6), c.MemberRef(user=cam.id)),
        ),
        (
            "checkins",
            {"alert": 2, "action": "stop"},
            c.ControlCheckIns(c.AlertRef(number=2), "stop"),
        ),
        ("me", {}, c.ShowMe()),
        ("me", {"prefer": "slack"}, c.Prefer(platform="slack")),
        ("me", {"prefer": "channel"}, c.Prefer(dm=False)),
        ("available", {"state": "on"}, c.SetAvailable(True)),
        ("pause", {"duration": "3d"}, c.Pause(timedelta(days=3))),
        ("pause", {"duration": "off"}, c.Pause(None)),
        ("quiet", {"hours": "22:00-07:00"}, c.SetQuiet(22 * 60, 7 * 60)),
        ("timezone", {"zone": "Europe/Paris"}, c.SetTimezone("Europe/Paris")),
        ("link", {"code": "ab12cd34"}, c.LinkIdentity("AB12CD34")),
        ("forgetme", {}, c.ForgetMe()),
        ("join", {"note": "a nurse"}, c.Join("a nurse")),
        ("help", {"topic": "alert"}, c.ShowHelp("alert")),
        ("setup", {}, c.Setup()),
        ("setup", {"what": "name", "value": "Nurses"}, c.Setup("name", "Nurses")),
        (
            "setup",
            {"what": "timezone", "value": "Europe/Paris"},
            c.Setup("timezone", "Europe/Paris"),
        ),
        ("setup", {"what": "leadrole", "value": "off"}, c.Setup("leadrole", None)),
        ("members", {}, c.ListMembers()),
        ("approve", {"member": ben}, c.Approve(c.MemberRef(user=ben.id))),
        ("approve", {"handle": "zoe", "decline": True}, c.Decline(c.MemberRef("zoe"))),
        (
            "role",
            {"role": "lead", "member": cam, "on": False},
            c.SetRole(c.MemberRef(user=cam.id), Role.LEAD, False),
        ),
        ("role", {"role": "member", "handle": "cam"}, c.SetRole(c.MemberRef("cam"), None, True)),
        ("review", {"alert": 3, "decision": "reject"}, c.ReviewAlert(c.AlertRef(number=3), False)),
        ("suspend", {"handle": "cam", "undo": True}, c.Suspend(c.MemberRef("cam"), False)),
        ("audit", {}, c.ShowAudit()),
        (
            "audit",
            {"member": cam, "alert": 2, "count": 5},
            c.ShowAudit(c.MemberRef(user=cam.id), c.AlertRef(number=2), 5),
        ),
        ("digest", {}, c.Digest()),
    ]


LIBRARY_CASES: list[Case] = [
    ("list", {}, c.LibraryList()),
    ("list", {"only": "Pending"}, c.LibraryList("pending")),
    ("show", {"message": "m3"}, c.LibraryShow(3)),
    (
        "add",
        {
            "kind": "reply",
            "text": "Thank you for speaking up.",
            "topics": "vaccines",
            "platforms": "x, instagram",
            "for": "pile_on",
            "sources": "<https://cdc.gov/a>",
        },
        c.LibraryAdd(
            Draft(
                kind=MessageKind.REPLY,
                text="Thank you for speaking up.",
                topics=frozenset({"vaccines"}),
                venues=frozenset({Venue.X, Venue.INSTAGRAM}),
                alert_kinds=frozenset({Kind.PILE_ON}),
                sources=("https://cdc.gov/a",),
            )
        ),
    ),
    ("edit", {"message": "m3", "topics": "-"}, c.LibraryEdit(3, topics=frozenset())),
    ("edit", {"message": "4", "kind": "support"}, c.LibraryEdit(4, kind=MessageKind.SUPPORT)),
    ("approve", {"messages": "m3, m4 m3"}, c.LibraryApprove((3, 4))),
    ("remove", {"message": "m2"}, c.LibraryRemove(2)),
    ("topics", {}, c.LibraryTopics()),
    ("topics", {"action": "add", "names": "masks, gun-violence"},
     c.LibraryTopics("add", ("masks", "gun-violence"))),
    ("import", {}, c.LibraryImport(None, "ours.toml")),  # the file is read after this asks
    ("export", {}, c.LibraryExport()),
]  # fmt: skip


async def test_every_rally_subcommand_builds_its_command_from_typed_options(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await world.founded()
    leads = world.guild.add_role("Rally leads")
    handled = Handled(world, monkeypatch)
    cases = [*rally_cases(world), ("setup", {"what": "leadrole", "role": leads},
                                   c.Setup("leadrole", leads.id))]  # fmt: skip
    for sub, options, expected in cases:
        before = len(handled.commands)
        interaction = await world.run("lee", sub, **options)
        await (interaction.wait() if sub == "alert" and not options else interaction.text())
        assert handled.commands[before:][:1] == [expected], (sub, options)
    assert {sub for sub, _, _ in cases} == set(SUBCOMMANDS)


async def test_every_library_subcommand_builds_its_command_from_typed_options(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fakes.discord import Upload

    await world.founded()
    handled = Handled(world, monkeypatch)
    for sub, options, expected in LIBRARY_CASES:
        if sub == "import":
            options = {"file": Upload("ours.toml", b'schema = "rallybot.library/1"\n')}
        before = len(handled.commands)
        interaction = await world.fake.command(
            world.lee, sub, options, channel=world.general, name="rally-library"
        )
        await interaction.text()
        assert handled.commands[before:][:1] == [expected], (sub, options)
    assert {sub for sub, _, _ in LIBRARY_CASES} == set(LIBRARY_SUBCOMMANDS)


@pytest.mark.parametrize(
    ("sub", "options", "usage"),
    [
        ("approve", {}, "/rally approve member:@someone (or handle:ben)"),
        ("approve", {"decline": True},
         "/rally approve member:@someone (or handle:ben) decline:True"),
        ("suspend", {"undo": True}, "/rally suspend member:@someone (or handle:ben) undo:True"),
        ("role", {"role": "lead"}, "/rally role role:(the role) member:@someone (or handle:ben)"),
        ("delegate", {"alert": 1}, "/rally delegate alert:12 member:@someone (or handle:ben)"),
        ("setup", {"what": "name"}, "/rally setup what:name value:(1 to 80 characters)"),
        ("setup", {"what": "leadrole"}, "/rally setup what:leadrole role:@role (or value:off"),
    ],
)  # fmt: skip
async def test_an_option_left_out_gets_discords_own_usage(
    world: World, sub: str, options: dict[str, Any], usage: str
) -> None:
    await world.founded()
    said = await world.say("lee", sub, **options)
    assert "Sorry, that didn't work" in said and f"Usage: {usage}" in said, said


async def test_a_library_option_left_out_gets_the_library_groups_usage(world: World) -> None:
    await world.founded()
    interaction = await world.fake.command(
        world.lee, "edit", {"message": "m1"}, channel=world.general, name="rally-library"
    )
    said = shown(await interaction.text())
    assert "Usage: /rally-library edit message:m3 and at least one thing to change" in said
