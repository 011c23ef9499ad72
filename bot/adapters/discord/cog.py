"""/rally on Discord: one GroupCog, one method per subcommand. Typed options become the core's
commands directly; every description and choice name comes from the copy."""

from __future__ import annotations

import dataclasses
import zoneinfo
from collections.abc import Iterable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.app_commands import Choice, Range
from discord.ext import commands

from bot.adapters.discord.interactions import answer_with_form, caller_of, fail, run
from bot.adapters.discord.syntax import DISCORD
from bot.adapters.discord.views import AlertModal, AlertOptions
from bot.core import commands as c
from bot.core.messages import Reply
from bot.core.model import Help, Kind, Role, Severity, Venue, Visibility
from bot.core.parse import (
    MAX_EVIDENCE_CHARS,
    MAX_LINK_CHARS,
    MAX_NOTE_CHARS,
    member_ref,
    parse_evidence,
    parse_pause,
    parse_prefer,
    parse_quiet,
    parse_setup,
    parse_timezone,
    role_change,
    usage,
)
from bot.core.services import Services
from bot.core.wording import Copy

if TYPE_CHECKING:
    from bot.adapters.discord.client import RallyBot

MAX_ALERT_NUMBER = 999_999_999
AlertNumber = Range[int, 1, MAX_ALERT_NUMBER]
Interaction = discord.Interaction[Any]
Person = discord.User | discord.Member

SUBCOMMANDS = (
    *("alert", "status", "standdown", "consent", "evidence", "export", "delegate", "checkins"),
    *("me", "available", "pause", "quiet", "timezone", "link", "forgetme", "join", "help"),
    *("setup", "members", "approve", "role", "review", "suspend", "audit", "digest"),
)
# Discord allows at most 25 subcommands in a group; these ride on another one.
FOLDED = {"prefer": "me", "unsuspend": "suspend", "decline": "approve"}


def split_list(text: str | None) -> tuple[str, ...]:
    """ "pile_on, threat" or "pile_on threat" → ("pile_on", "threat")."""
    return tuple(w for w in (text or "").replace(",", " ").split() if w)


def suggest(current: str, values: Iterable[str]) -> list[Choice[str]]:
    """Autocomplete for a comma-separated list: keep what is typed, offer the next value."""
    *done, partial = [p.strip() for p in current.split(",")]
    chosen = [p for p in done if p]
    out: list[Choice[str]] = []
    for value in values:
        if value in chosen or not value.startswith(partial.lower()):
            continue
        text = ", ".join([*chosen, value])[:100]
        out.append(Choice(name=text, value=text))
    return out[:25]


@cache
def _zones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones() | {"UTC"}))


def suggest_zone(current: str) -> list[Choice[str]]:
    wanted = current.strip().lower().replace(" ", "_")
    found = [z for z in _zones() if wanted in z.lower()]
    found.sort(key=lambda z: (not z.lower().startswith(wanted), len(z), z))
    return [Choice(name=z, value=z) for z in found[:25]]


def keyed(prefix: str, values: Sequence[str]) -> list[Choice[str]]:
    """Choices whose names are copy keys (`prefix` + value): `worded` names them."""
    return [Choice(name=f"{prefix}{v}", value=v) for v in values]


def worded(cog: commands.GroupCog, copy: Copy, name: str) -> None:
    """Word one cog from the copy. Its class holds [copy.discord] keys where descriptions go
    and copy keys as choice names; the instance gets the texts (Discord: at most 100
    characters), and the group its name, and that is what `rallybot discord-sync` sends."""

    def t(key: str) -> str:
        return copy(f"discord.{key}")[:100]

    group = cog.app_command
    if group is None:
        raise TypeError("worded() words a GroupCog")
    group.name, group.description = name, t(group.description)
    for command in group.walk_commands():
        command.description = t(command.description)
        if isinstance(command, app_commands.Command):
            # discord.py copies a cog's commands for each instance but shares their
            # parameters with the class: give this instance its own, worded, so the keys in
            # the class stay keys for the next instance (a test's bot, a restart).
            command._params = {
                key: dataclasses.replace(
                    param,
                    description=t(str(param.description)),
                    choices=[
                        Choice(name=copy(ch.name)[:100], value=ch.value) for ch in param.choices
                    ]
                    if param.choices
                    else param.choices,
                )
                for key, param in command._params.items()
            }


def member_of(member: Person | None, handle: str | None, name: str) -> c.MemberRef:
    """The member two options name: a person picked in Discord, else the rallybot handle typed
    (a mention pasted into it counts as the person); neither: the usage of `name`."""
    if member is not None:
        return c.MemberRef(user=str(member.id))
    words = (handle or "").split()
    if not words:
        raise usage(name)
    return member_ref(words[0], DISCORD)


def _alert(number: int) -> c.AlertRef:
    return c.AlertRef(number=number)


class WordedGroup:
    """What every rallybot command group shares (mixed into a GroupCog): worded from the
    copy when made, and a failure answered kindly."""

    def __init__(self, services: Services, name: str) -> None:
        self.services = services
        worded(self, services.copy, name)  # type: ignore[arg-type]

    async def cog_app_command_error(
        self, interaction: Interaction, error: app_commands.AppCommandError
    ) -> None:
        await fail(interaction, error)


@app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
@app_commands.allowed_installs(guilds=True, users=False)
class RallyCog(WordedGroup, commands.GroupCog, group_name="rally", group_description="group"):
    """The /rally group. Descriptions in the decorators are [copy.discord] keys and choice
    names are copy keys: `worded` gives each instance the texts, and the group the name of
    the `command` setting."""

    # --- alerts ---------------------------------------------------------------------

    @app_commands.command(name="alert", description="cmd_alert")
    @app_commands.rename(for_member="for")
    @app_commands.describe(
        link="opt_link",
        more_links="opt_more_links",
        note="opt_note",
        for_member="opt_for",
        post="opt_post",
        where="opt_where",
        kinds="opt_kinds",
        severity="opt_severity",
        help="opt_help",
        visibility="opt_visibility",
        anonymous="opt_anonymous",
        topics="opt_alert_topics",
    )
    @app_commands.choices(
        where=keyed("venue.", [v.value for v in Venue]),
        severity=keyed("severity.", [s.value for s in Severity]),
        visibility=keyed("visibility.", [v.value for v in Visibility]),
    )
    async def alert(
        self,
        interaction: Interaction,
        link: Range[str, 1, MAX_LINK_CHARS] | None = None,
        more_links: Range[str, 1, 4000] | None = None,
        note: Range[str, 1, MAX_NOTE_CHARS] | None = None,
        for_member: discord.User | None = None,
        post: Range[str, 1, MAX_LINK_CHARS] | None = None,
        where: Choice[str] | None = None,
        kinds: str | None = None,
        severity: Choice[str] | None = None,
        help: str | None = None,
        visibility: Choice[str] | None = None,
        anonymous: bool = False,
        topics: Range[str, 1, 400] | None = None,
    ) -> None:
        o = AlertOptions(
            note=note or "",
            post=post or "",
            where=where.value if where else "",
            kinds=split_list(kinds),
            severity=severity.value if severity else "",
            help_wanted=split_list(help),
            visibility=visibility.value if visibility else "",
            anonymous=anonymous,
            target=c.MemberRef(user=str(for_member.id)) if for_member else None,
            topics=",".join(split_list(topics)),
        )
        if not link:
            await self._open_form(interaction, o)
            return
        links = " ".join(w for w in (link, more_links or "") if w)
        await run(interaction, lambda: o.command(links))

    async def _open_form(self, interaction: Interaction, options: AlertOptions) -> None:
        """No link: the core checks the caller may raise alerts, then the form opens."""
        caller, services, copy = caller_of(interaction), self.services, self.services.copy

        async def form() -> Reply:
            return await services.handle(caller, c.OpenAlertForm())

        opener = interaction.user.id
        await answer_with_form(interaction, form, lambda: AlertModal(copy, opener, options))

    @alert.autocomplete("kinds")
    async def _kinds(self, interaction: Interaction, current: str) -> list[Choice[str]]:
        return suggest(current, [k.value for k in Kind])

    @alert.autocomplete("help")
    async def _help(self, interaction: Interaction, current: str) -> list[Choice[str]]:
        return suggest(current, [h.value for h in Help])

    @app_commands.command(name="status", description="cmd_status")
    @app_commands.describe(alert="opt_alert_any")
    async def status(self, interaction: Interaction, alert: AlertNumber | None = None) -> None:
        await run(interaction, c.ShowStatus(_alert(alert) if alert else None))

    @app_commands.command(name="standdown", description="cmd_standdown")
    @app_commands.describe(alert="opt_alert")
    async def standdown(self, interaction: Interaction, alert: AlertNumber) -> None:
        await run(interaction, c.StandDown(_alert(alert)))

    @app_commands.command(name="consent", description="cmd_consent")
    @app_commands.describe(alert="opt_alert", answer="opt_consent")
    @app_commands.choices(answer=keyed("word.", ["yes", "no"]))
    async def consent(
        self, interaction: Interaction, alert: AlertNumber, answer: Choice[str]
    ) -> None:
        await run(interaction, c.GiveConsent(_alert(alert), answer.value == "yes"))

    @app_commands.command(name="evidence", description="cmd_evidence")
    @app_commands.describe(alert="opt_alert", item="opt_item")
    async def evidence(
        self,
        interaction: Interaction,
        alert: AlertNumber,
        item: Range[str, 1, MAX_EVIDENCE_CHARS],
    ) -> None:
        await run(interaction, lambda: c.AddEvidence(_alert(alert), parse_evidence(item, DISCORD)))

    @app_commands.command(name="export", description="cmd_export")
    @app_commands.describe(alert="opt_alert")
    async def export(self, interaction: Interaction, alert: AlertNumber) -> None:
        await run(interaction, c.ExportEvidence(_alert(alert)))

    @app_commands.command(name="delegate", description="cmd_delegate")
    @app_commands.describe(alert="opt_alert", member="opt_member", handle="opt_handle")
    async def delegate(
        self,
        interaction: Interaction,
        alert: AlertNumber,
        member: discord.User | None = None,
        handle: Range[str, 1, 64] | None = None,
    ) -> None:
        await run(
            interaction,
            lambda: c.Delegate(_alert(alert), member_of(member, handle, "delegate")),
        )

    @app_commands.command(name="checkins", description="cmd_checkins")
    @app_commands.describe(alert="opt_alert", action="opt_checkins")
    @app_commands.choices(action=keyed("discord.choice_", ["pause", "resume", "stop"]))
    async def checkins(
        self, interaction: Interaction, alert: AlertNumber, action: Choice[str]
    ) -> None:
        await run(interaction, c.ControlCheckIns(_alert(alert), action.value))

    # --- you ------------------------------------------------------------------------

    @app_commands.command(name="me", description="cmd_me")
    @app_commands.describe(prefer="opt_prefer")
    @app_commands.choices(prefer=keyed("discord.choice_", ["discord", "slack", "dm", "channel"]))
    async def me(self, interaction: Interaction, prefer: Choice[str] | None = None) -> None:
        # Discord allows 25 subcommands in a group: `prefer` rides on `me` here.
        await run(interaction, lambda: parse_prefer(prefer.value) if prefer else c.ShowMe())

    @app_commands.command(name="available", description="cmd_available")
    @app_commands.describe(state="opt_available")
    @app_commands.choices(state=keyed("discord.choice_", ["on", "off"]))
    async def available(self, interaction: Interaction, state: Choice[str]) -> None:
        await run(interaction, c.SetAvailable(state.value == "on"))

    @app_commands.command(name="pause", description="cmd_pause")
    @app_commands.describe(duration="opt_duration")
    async def pause(self, interaction: Interaction, duration: Range[str, 1, 16]) -> None:
        await run(interaction, lambda: parse_pause(duration))

    @app_commands.command(name="quiet", description="cmd_quiet")
    @app_commands.describe(hours="opt_hours")
    async def quiet(self, interaction: Interaction, hours: Range[str, 1, 16]) -> None:
        await run(interaction, lambda: parse_quiet(hours))

    @app_commands.command(name="timezone", description="cmd_timezone")
    @app_commands.describe(zone="opt_zone")
    async def timezone(self, interaction: Interaction, zone: Range[str, 1, 64]) -> None:
        await run(interaction, lambda: c.SetTimezone(parse_timezone(zone.strip())))

    @timezone.autocomplete("zone")
    async def _zone(self, interaction: Interaction, current: str) -> list[Choice[str]]:
        return suggest_zone(current)

    @app_commands.command(name="link", description="cmd_link")
    @app_commands.describe(code="opt_code")
    async def link(self, interaction: Interaction, code: Range[str, 1, 32] | None = None) -> None:
        await run(interaction, c.LinkIdentity(code.strip().upper() or None if code else None))

    @app_commands.command(name="forgetme", description="cmd_forgetme")
    async def forgetme(self, interaction: Interaction) -> None:
        await run(interaction, c.ForgetMe())

    @app_commands.command(name="join", description="cmd_join")
    @app_commands.describe(note="opt_join_note")
    async def join(
        self, interaction: Interaction, note: Range[str, 1, MAX_NOTE_CHARS] | None = None
    ) -> None:
        await run(interaction, c.Join((note or "").strip()))

    @app_commands.command(name="help", description="cmd_help")
    @app_commands.describe(topic="opt_topic")
    @app_commands.choices(topic=keyed("discord.choice_", ["alert"]))
    async def help_(self, interaction: Interaction, topic: Choice[str] | None = None) -> None:
        await run(interaction, c.ShowHelp(topic.value if topic else None))

    # --- leads ----------------------------------------------------------------------

    @app_commands.command(name="setup", description="cmd_setup")
    @app_commands.describe(what="opt_setup_what", value="opt_setup_value", role="opt_role_lead")
    @app_commands.choices(
        what=keyed("discord.choice_", ["rally", "leads", "name", "timezone", "leadrole"])
    )
    async def setup_(
        self,
        interaction: Interaction,
        what: Choice[str] | None = None,
        value: Range[str, 1, 80] | None = None,
        role: discord.Role | None = None,
    ) -> None:
        if what is None:
            await run(interaction, c.Setup())
            return
        # The lead role is the role picked (or the value "off"); the rest take the value.
        given = str(role.id) if what.value == "leadrole" and role is not None else value
        await run(interaction, lambda: parse_setup(what.value, (given or "").strip() or None))

    @setup_.autocomplete("value")
    async def _setup_value(self, interaction: Interaction, current: str) -> list[Choice[str]]:
        what = getattr(interaction.namespace, "what", None)
        return suggest_zone(current) if what == "timezone" else []

    @app_commands.command(name="members", description="cmd_members")
    async def members(self, interaction: Interaction) -> None:
        await run(interaction, c.ListMembers())

    @app_commands.command(name="approve", description="cmd_approve")
    @app_commands.describe(member="opt_member", handle="opt_handle", decline="opt_decline")
    async def approve(
        self,
        interaction: Interaction,
        member: discord.User | None = None,
        handle: Range[str, 1, 64] | None = None,
        decline: bool = False,
    ) -> None:
        # `decline` rides on `approve` (Discord's 25-subcommand limit).
        if decline:
            await run(interaction, lambda: c.Decline(member_of(member, handle, "decline")))
        else:
            await run(interaction, lambda: c.Approve(member_of(member, handle, "approve")))

    @app_commands.command(name="role", description="cmd_role")
    @app_commands.describe(role="opt_role", member="opt_member", handle="opt_handle", on="opt_on")
    @app_commands.choices(role=keyed("role.", [*(r.value for r in Role), "member"]))
    async def role(
        self,
        interaction: Interaction,
        role: Choice[str],
        member: discord.User | None = None,
        handle: Range[str, 1, 64] | None = None,
        on: bool = True,
    ) -> None:
        await run(
            interaction, lambda: role_change(member_of(member, handle, "role"), role.value, on)
        )

    @app_commands.command(name="review", description="cmd_review")
    @app_commands.describe(alert="opt_alert", decision="opt_review")
    @app_commands.choices(decision=keyed("discord.choice_", ["release", "reject"]))
    async def review(
        self, interaction: Interaction, alert: AlertNumber, decision: Choice[str]
    ) -> None:
        await run(interaction, c.ReviewAlert(_alert(alert), decision.value == "release"))

    @app_commands.command(name="suspend", description="cmd_suspend")
    @app_commands.describe(member="opt_member", handle="opt_handle", undo="opt_undo")
    async def suspend(
        self,
        interaction: Interaction,
        member: discord.User | None = None,
        handle: Range[str, 1, 64] | None = None,
        undo: bool = False,
    ) -> None:
        # `unsuspend` rides on `suspend` (Discord's 25-subcommand limit).
        name = "unsuspend" if undo else "suspend"
        await run(interaction, lambda: c.Suspend(member_of(member, handle, name), not undo))

    @app_commands.command(name="audit", description="cmd_audit")
    @app_commands.describe(
        member="opt_audit_member",
        handle="opt_handle",
        alert="opt_audit_alert",
        count="opt_count",
    )
    async def audit(
        self,
        interaction: Interaction,
        member: discord.User | None = None,
        handle: Range[str, 1, 64] | None = None,
        alert: AlertNumber | None = None,
        count: Range[int, 1, 200] | None = None,
    ) -> None:
        def build() -> c.Command:
            given = member is not None or bool((handle or "").strip())
            named = member_of(member, handle, "audit") if given else None
            return c.ShowAudit(named, _alert(alert) if alert else None, count or 20)

        await run(interaction, build)

    @app_commands.command(name="digest", description="cmd_digest")
    async def digest(self, interaction: Interaction) -> None:
        await run(interaction, c.Digest())


async def setup(bot: RallyBot) -> None:
    """Load the /rally group and the /rally-library group into the bot (from its setup_hook)."""
    from bot.adapters.discord.library import LibraryCog, group_name

    await bot.add_cog(RallyCog(bot.services, bot.settings.command))
    await bot.add_cog(LibraryCog(bot.services, group_name(bot.settings.command)))
