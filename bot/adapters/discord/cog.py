"""The /rally command group: typed, described options in, the core's command language out."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.app_commands import Choice, Range
from discord.ext import commands

from bot.adapters.discord.interactions import answer, caller_of, fail, run_text
from bot.adapters.discord.views import AlertModal, AlertOptions
from bot.core.copy import Copy
from bot.core.messages import Reply
from bot.core.model import Help, Kind, Role, Severity, Venue, Visibility
from bot.core.parse import MAX_EVIDENCE_CHARS, MAX_LINK_CHARS, MAX_NOTE_CHARS, alert_from_form
from bot.core.services import Services

if TYPE_CHECKING:
    from bot.adapters.discord.client import RallyBot

MAX_ALERT_NUMBER = 999_999_999
AlertNumber = Range[int, 1, MAX_ALERT_NUMBER]
Interaction = discord.Interaction[Any]
ChoicesOf = Callable[[str, Sequence[str]], list[Choice[str]]]


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


def member_word(member: discord.User | discord.Member | None, handle: str | None) -> str:
    """A member as the core reads one: a mention for a Discord user, else the first word."""
    if member is not None:
        return f"<@{member.id}>"
    words = (handle or "").split()
    return words[0] if words else ""


def described(copy: Copy) -> tuple[Callable[[str], str], ChoicesOf]:
    """A description from [copy.discord], and choices named from the copy (Discord: ≤ 100)."""

    def t(key: str) -> str:
        return copy(f"discord.{key}")[:100]

    def choices(prefix: str, values: Sequence[str]) -> list[Choice[str]]:
        return [Choice(name=copy(f"{prefix}{v}")[:100], value=v) for v in values]

    return t, choices


def make_cog(services: Services, group: str) -> commands.GroupCog:
    """The cog, with every description and choice name taken from the copy."""
    copy: Copy = services.copy
    t, choices = described(copy)

    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
    @app_commands.allowed_installs(guilds=True, users=False)
    class RallyCog(commands.GroupCog, group_name=group, group_description=t("group")):
        def __init__(self) -> None:
            self.services = services

        async def run(self, interaction: Interaction, text: str) -> None:
            await run_text(interaction, text)

        async def cog_app_command_error(
            self, interaction: Interaction, error: app_commands.AppCommandError
        ) -> None:
            await fail(interaction, error)

        # --- alerts ---------------------------------------------------------------------

        @app_commands.command(name="alert", description=t("cmd_alert"))
        @app_commands.rename(for_member="for")
        @app_commands.describe(
            link=t("opt_link"),
            more_links=t("opt_more_links"),
            note=t("opt_note"),
            for_member=t("opt_for"),
            post=t("opt_post"),
            where=t("opt_where"),
            kinds=t("opt_kinds"),
            severity=t("opt_severity"),
            help=t("opt_help"),
            visibility=t("opt_visibility"),
            anonymous=t("opt_anonymous"),
            topics=t("opt_alert_topics"),
        )
        @app_commands.choices(
            where=choices("venue.", [v.value for v in Venue]),
            severity=choices("severity.", [s.value for s in Severity]),
            visibility=choices("visibility.", [v.value for v in Visibility]),
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
            options = AlertOptions(
                note=note or "",
                post=post or "",
                where=where.value if where else "",
                kinds=split_list(kinds),
                severity=severity.value if severity else "",
                help_wanted=split_list(help),
                visibility=visibility.value if visibility else "",
                anonymous=anonymous,
                target=member_word(for_member, None) or None,
                topics=",".join(split_list(topics)),
            )
            caller = caller_of(interaction)
            services = self.services
            if not link:
                # The core checks the caller may raise alerts, then asks for the form.
                async def form() -> Reply:
                    return await services.handle_text(caller, "alert")

                opener = interaction.user.id
                await answer(interaction, form, lambda: AlertModal(copy, opener, options))
                return
            links = " ".join(w for w in (link, more_links or "") if w)

            async def work() -> Reply:
                command = alert_from_form(
                    links=links,
                    note=options.note,
                    post=options.post,
                    where=options.where,
                    kinds=options.kinds,
                    severity=options.severity,
                    help_wanted=options.help_wanted,
                    visibility=options.visibility,
                    anonymous=options.anonymous,
                    target=options.target,
                    topics=options.topics,
                )
                return await services.handle(caller, command)

            await answer(interaction, work)

        @alert.autocomplete("kinds")
        async def _kinds(self, interaction: Interaction, current: str) -> list[Choice[str]]:
            return suggest(current, [k.value for k in Kind])

        @alert.autocomplete("help")
        async def _help(self, interaction: Interaction, current: str) -> list[Choice[str]]:
            return suggest(current, [h.value for h in Help])

        @app_commands.command(name="status", description=t("cmd_status"))
        @app_commands.describe(alert=t("opt_alert_any"))
        async def status(self, interaction: Interaction, alert: AlertNumber | None = None) -> None:
            await self.run(interaction, f"status #{alert}" if alert else "status")

        @app_commands.command(name="standdown", description=t("cmd_standdown"))
        @app_commands.describe(alert=t("opt_alert"))
        async def standdown(self, interaction: Interaction, alert: AlertNumber) -> None:
            await self.run(interaction, f"standdown #{alert}")

        @app_commands.command(name="consent", description=t("cmd_consent"))
        @app_commands.describe(alert=t("opt_alert"), answer=t("opt_consent"))
        @app_commands.choices(answer=choices("word.", ["yes", "no"]))
        async def consent(
            self, interaction: Interaction, alert: AlertNumber, answer: Choice[str]
        ) -> None:
            await self.run(interaction, f"consent #{alert} {answer.value}")

        @app_commands.command(name="evidence", description=t("cmd_evidence"))
        @app_commands.describe(alert=t("opt_alert"), item=t("opt_item"))
        async def evidence(
            self,
            interaction: Interaction,
            alert: AlertNumber,
            item: Range[str, 1, MAX_EVIDENCE_CHARS],
        ) -> None:
            await self.run(interaction, f"evidence #{alert} {item}")

        @app_commands.command(name="export", description=t("cmd_export"))
        @app_commands.describe(alert=t("opt_alert"))
        async def export(self, interaction: Interaction, alert: AlertNumber) -> None:
            await self.run(interaction, f"export #{alert}")

        @app_commands.command(name="delegate", description=t("cmd_delegate"))
        @app_commands.describe(alert=t("opt_alert"), member=t("opt_member"), handle=t("opt_handle"))
        async def delegate(
            self,
            interaction: Interaction,
            alert: AlertNumber,
            member: discord.User | None = None,
            handle: Range[str, 1, 64] | None = None,
        ) -> None:
            await self.run(interaction, f"delegate #{alert} {member_word(member, handle)}")

        @app_commands.command(name="checkins", description=t("cmd_checkins"))
        @app_commands.describe(alert=t("opt_alert"), action=t("opt_checkins"))
        @app_commands.choices(action=choices("discord.choice_", ["pause", "resume", "stop"]))
        async def checkins(
            self, interaction: Interaction, alert: AlertNumber, action: Choice[str]
        ) -> None:
            await self.run(interaction, f"checkins #{alert} {action.value}")

        # --- you ------------------------------------------------------------------------

        @app_commands.command(name="me", description=t("cmd_me"))
        @app_commands.describe(prefer=t("opt_prefer"))
        @app_commands.choices(
            prefer=choices("discord.choice_", ["discord", "slack", "dm", "channel"])
        )
        async def me(self, interaction: Interaction, prefer: Choice[str] | None = None) -> None:
            # Discord allows 25 subcommands in a group: `prefer` rides on `me` here.
            await self.run(interaction, f"prefer {prefer.value}" if prefer else "me")

        @app_commands.command(name="available", description=t("cmd_available"))
        @app_commands.describe(state=t("opt_available"))
        @app_commands.choices(state=choices("discord.choice_", ["on", "off"]))
        async def available(self, interaction: Interaction, state: Choice[str]) -> None:
            await self.run(interaction, f"available {state.value}")

        @app_commands.command(name="pause", description=t("cmd_pause"))
        @app_commands.describe(duration=t("opt_duration"))
        async def pause(self, interaction: Interaction, duration: Range[str, 1, 16]) -> None:
            await self.run(interaction, f"pause {duration}")

        @app_commands.command(name="quiet", description=t("cmd_quiet"))
        @app_commands.describe(hours=t("opt_hours"))
        async def quiet(self, interaction: Interaction, hours: Range[str, 1, 16]) -> None:
            await self.run(interaction, f"quiet {hours}")

        @app_commands.command(name="timezone", description=t("cmd_timezone"))
        @app_commands.describe(zone=t("opt_zone"))
        async def timezone(self, interaction: Interaction, zone: Range[str, 1, 64]) -> None:
            await self.run(interaction, f"timezone {zone}")

        @timezone.autocomplete("zone")
        async def _zone(self, interaction: Interaction, current: str) -> list[Choice[str]]:
            return suggest_zone(current)

        @app_commands.command(name="link", description=t("cmd_link"))
        @app_commands.describe(code=t("opt_code"))
        async def link(
            self, interaction: Interaction, code: Range[str, 1, 32] | None = None
        ) -> None:
            await self.run(interaction, f"link {code}" if code else "link")

        @app_commands.command(name="forgetme", description=t("cmd_forgetme"))
        async def forgetme(self, interaction: Interaction) -> None:
            await self.run(interaction, "forgetme")

        @app_commands.command(name="join", description=t("cmd_join"))
        @app_commands.describe(note=t("opt_join_note"))
        async def join(
            self, interaction: Interaction, note: Range[str, 1, MAX_NOTE_CHARS] | None = None
        ) -> None:
            await self.run(interaction, f"join {note}" if note else "join")

        @app_commands.command(name="help", description=t("cmd_help"))
        @app_commands.describe(topic=t("opt_topic"))
        @app_commands.choices(topic=choices("discord.choice_", ["alert"]))
        async def help_(self, interaction: Interaction, topic: Choice[str] | None = None) -> None:
            await self.run(interaction, f"help {topic.value}" if topic else "help")

        # --- leads ----------------------------------------------------------------------

        @app_commands.command(name="setup", description=t("cmd_setup"))
        @app_commands.describe(
            what=t("opt_setup_what"), value=t("opt_setup_value"), role=t("opt_role_lead")
        )
        @app_commands.choices(
            what=choices("discord.choice_", ["rally", "leads", "name", "timezone", "leadrole"])
        )
        async def setup_(
            self,
            interaction: Interaction,
            what: Choice[str] | None = None,
            value: Range[str, 1, 80] | None = None,
            role: discord.Role | None = None,
        ) -> None:
            words = ["setup"]
            if what is not None:
                words.append(what.value)
                if what.value == "leadrole" and role is not None:
                    words.append(f"<@&{role.id}>")
                elif value:
                    words.append(value)
            await self.run(interaction, " ".join(words))

        @setup_.autocomplete("value")
        async def _setup_value(self, interaction: Interaction, current: str) -> list[Choice[str]]:
            what = getattr(interaction.namespace, "what", None)
            return suggest_zone(current) if what == "timezone" else []

        @app_commands.command(name="members", description=t("cmd_members"))
        async def members(self, interaction: Interaction) -> None:
            await self.run(interaction, "members")

        @app_commands.command(name="approve", description=t("cmd_approve"))
        @app_commands.describe(
            member=t("opt_member"), handle=t("opt_handle"), decline=t("opt_decline")
        )
        async def approve(
            self,
            interaction: Interaction,
            member: discord.User | None = None,
            handle: Range[str, 1, 64] | None = None,
            decline: bool = False,
        ) -> None:
            # `decline` rides on `approve` (Discord's 25-subcommand limit).
            verb = "decline" if decline else "approve"
            await self.run(interaction, f"{verb} {member_word(member, handle)}".strip())

        @app_commands.command(name="role", description=t("cmd_role"))
        @app_commands.describe(
            role=t("opt_role"), member=t("opt_member"), handle=t("opt_handle"), on=t("opt_on")
        )
        @app_commands.choices(role=choices("role.", [*(r.value for r in Role), "member"]))
        async def role(
            self,
            interaction: Interaction,
            role: Choice[str],
            member: discord.User | None = None,
            handle: Range[str, 1, 64] | None = None,
            on: bool = True,
        ) -> None:
            who = member_word(member, handle)  # none: the core answers with the usage
            await self.run(interaction, f"role {who} {role.value}" + ("" if on else " off"))

        @app_commands.command(name="review", description=t("cmd_review"))
        @app_commands.describe(alert=t("opt_alert"), decision=t("opt_review"))
        @app_commands.choices(decision=choices("discord.choice_", ["release", "reject"]))
        async def review(
            self, interaction: Interaction, alert: AlertNumber, decision: Choice[str]
        ) -> None:
            await self.run(interaction, f"review #{alert} {decision.value}")

        @app_commands.command(name="suspend", description=t("cmd_suspend"))
        @app_commands.describe(member=t("opt_member"), handle=t("opt_handle"), undo=t("opt_undo"))
        async def suspend(
            self,
            interaction: Interaction,
            member: discord.User | None = None,
            handle: Range[str, 1, 64] | None = None,
            undo: bool = False,
        ) -> None:
            # `unsuspend` rides on `suspend` (Discord's 25-subcommand limit).
            verb = "unsuspend" if undo else "suspend"
            await self.run(interaction, f"{verb} {member_word(member, handle)}".strip())

        @app_commands.command(name="audit", description=t("cmd_audit"))
        @app_commands.describe(
            member=t("opt_audit_member"),
            handle=t("opt_handle"),
            alert=t("opt_audit_alert"),
            count=t("opt_count"),
        )
        async def audit(
            self,
            interaction: Interaction,
            member: discord.User | None = None,
            handle: Range[str, 1, 64] | None = None,
            alert: AlertNumber | None = None,
            count: Range[int, 1, 200] | None = None,
        ) -> None:
            words = ["audit", member_word(member, handle)]
            if alert:
                words.append(f"#{alert}")
            if count:
                words.append(str(count))
            await self.run(interaction, " ".join(w for w in words if w))

        @app_commands.command(name="digest", description=t("cmd_digest"))
        async def digest(self, interaction: Interaction) -> None:
            await self.run(interaction, "digest")

    return RallyCog()


SUBCOMMANDS = (
    *("alert", "status", "standdown", "consent", "evidence", "export", "delegate", "checkins"),
    *("me", "available", "pause", "quiet", "timezone", "link", "forgetme", "join", "help"),
    *("setup", "members", "approve", "role", "review", "suspend", "audit", "digest"),
)
# Discord allows at most 25 subcommands in a group; these ride on another one.
FOLDED = {"prefer": "me", "unsuspend": "suspend", "decline": "approve"}


async def setup(bot: RallyBot) -> None:
    """Load the /rally group and the /rally-library group into the bot (from its setup_hook)."""
    from bot.adapters.discord.library import make_library_cog

    await bot.add_cog(make_cog(bot.services, bot.settings.command))
    await bot.add_cog(make_library_cog(bot.services, bot.settings.command))
