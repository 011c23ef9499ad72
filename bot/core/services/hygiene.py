"""Channel hygiene: who can read the rally and leads channels, told privately to the leads
when someone there is not a vetted member (or not a lead, for the leads channel)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from bot.core.model import Channel, Identity, Member, MemberStatus, Space
from bot.core.ports import Readers
from bot.core.services.context import Ctx
from bot.core.services.removal import where
from bot.core.views import notice

CHECK_EVERY = timedelta(days=1)
RETRY_AFTER = timedelta(hours=1)  # the platform failed: try again sooner than tomorrow

# What rallybot could not check, and why (ChannelUnreadable.reason).
CANNOT = {
    "missing_scope": "hygiene.cannot_scope",
    "no_access": "hygiene.cannot_access",
    "not_found": "hygiene.cannot_find",
}


@dataclass(frozen=True)
class Finding:
    """What one channel's check found that the leads should know."""

    channel: Channel
    everyone: bool = False
    named: tuple[str, ...] = ()  # people of the collective there who shouldn't be
    strangers: int = 0  # accounts rallybot doesn't know
    cannot: str | None = None  # why it could not check

    @property
    def any(self) -> bool:
        return self.everyone or bool(self.named) or self.strangers > 0 or self.cannot is not None


def channels(space: Space) -> list[tuple[Channel, str]]:
    found = [(Channel.RALLY, space.rally_channel), (Channel.LEADS, space.leads_channel)]
    return [(kind, channel) for kind, channel in found if channel]


def allowed(member: Member, channel: Channel) -> bool:
    """Who may read it: vetted members the rally channel; leads the leads channel."""
    if member.status is not MemberStatus.ACTIVE:
        return False
    return member.is_lead if channel is Channel.LEADS else True


def finding(
    ctx: Ctx,
    channel: Channel,
    readers: Readers,
    identities: Sequence[Identity],
    members: Mapping[str, Member],
) -> Finding:
    who = {i.user: members[i.member_id] for i in identities if i.member_id in members}
    named = sorted(
        {
            ctx.copy("hygiene.person", name=m.display_name)
            if m.status is MemberStatus.ACTIVE
            else ctx.copy(
                "hygiene.person_status",
                name=m.display_name,
                status=ctx.copy(f"member_status.{m.status}"),
            )
            for user, m in who.items()
            if user in readers.users and not allowed(m, channel)
        }
    )
    strangers = len([u for u in readers.users if u not in who]) + readers.others
    return Finding(channel, readers.everyone, tuple(named), strangers)


def digest(findings: Sequence[Finding]) -> str:
    """The findings in a few bytes: the same findings are told once a week, not daily."""
    text = repr([f for f in findings if f.any])
    return hashlib.sha256(text.encode()).hexdigest()


async def report(ctx: Ctx, space: Space, findings: Sequence[Finding]) -> None:
    """Tell the leads, privately (never in the leads channel, which may be the one with the
    wrong people in it), what the check found: new findings at once, the same ones again
    after channel_check_days, and once that all is clear after a finding."""
    problems = [f for f in findings if f.any]
    told = space.check_told_at
    again = told is None or ctx.now - told >= timedelta(days=ctx.policy.channel_check_days)
    place = where(ctx, space)
    if not problems:
        if space.check_digest is not None:
            space.check_digest, space.check_told_at = None, ctx.now
            await ctx.uow.spaces.save(space)
            await ctx.to_members(
                await ctx.leads(),
                f"channels:{space.id}:{int(ctx.now.timestamp())}",
                notice(ctx.copy("hygiene.title", where=place), ctx.copy("hygiene.clear")),
            )
        return
    fingerprint = digest(problems)
    if fingerprint == space.check_digest and not again:
        return
    space.check_digest, space.check_told_at = fingerprint, ctx.now
    await ctx.uow.spaces.save(space)
    lines: list[str] = []
    for f in problems:
        lines.extend(describe(ctx, f))
    steps = "hygiene.steps_slack" if space.platform == "slack" else "hygiene.steps_discord"
    if any(f.cannot is None for f in problems):
        lines.append(ctx.copy(steps))
    await ctx.to_members(
        await ctx.leads(),
        f"channels:{space.id}:{int(ctx.now.timestamp())}",
        notice(ctx.copy("hygiene.title", where=place), *lines),
    )
    await ctx.audit(
        "channels_checked",
        platform=space.platform,
        findings=",".join(sorted({f.channel.value for f in problems})),
    )


def describe(ctx: Ctx, f: Finding) -> list[str]:
    rally = f.channel is Channel.RALLY
    which = ctx.copy("hygiene.rally_channel") if rally else ctx.copy("hygiene.leads_channel")
    if f.cannot is not None:
        return [ctx.copy("hygiene.cannot", which=which, reason=ctx.copy(CANNOT[f.cannot]))]
    lines: list[str] = []
    if f.everyone:
        lines.append(
            ctx.copy("hygiene.everyone_rally") if rally else ctx.copy("hygiene.everyone_leads")
        )
    if f.named:
        names = ", ".join(f.named)
        lines.append(
            ctx.copy("hygiene.named_rally", names=names)
            if rally
            else ctx.copy("hygiene.named_leads", names=names)
        )
    if f.strangers:
        lines.append(ctx.copy("hygiene.strangers", which=which, count=f.strangers))
    return lines
