"""A platform removed rallybot from a space: its data goes after a grace period, unless a
lead adds rallybot back and sets it up again."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.core.model import MemberStatus, Space
from bot.core.services import membership
from bot.core.services.context import Ctx
from bot.core.services.upkeep import day
from bot.core.views import notice

log = logging.getLogger(__name__)


def accounts_in(space: Space) -> str:
    """The workspace of the platform accounts used in a space: Discord accounts are not tied
    to one server (decision 12), so theirs is ""."""
    return "" if space.platform == "discord" else space.external_id


def where(ctx: Ctx, space: Space) -> str:
    """The space as the leads know it."""
    if space.platform == "slack":
        return ctx.copy("removal.where_slack", id=space.external_id)
    if space.platform == "discord":
        return ctx.copy("removal.where_discord", id=space.external_id)
    return ctx.copy("removal.where_other", platform=space.platform, id=space.external_id)


async def removed(ctx: Ctx, space: Space) -> None:
    """Slack uninstalled the app or revoked its token, or a Discord server removed the bot:
    its tokens are already gone (the adapter saw to it). Messages waiting for that space can
    never be delivered and go now; the deletion of its data is due after the grace period,
    and the leads are told wherever they can still be reached."""
    if space.removed:
        return  # a retried event
    space.removed_at = ctx.now
    space.delete_at = ctx.now + timedelta(days=ctx.policy.uninstall_grace_days)
    await ctx.uow.spaces.save(space)
    ctx.forget_spaces()
    dropped = await ctx.uow.outbox.delete_at_workspace(
        space.collective_id, space.platform, space.external_id, unsent_only=True
    )
    others = [s for s in await ctx.spaces() if s.id != space.id and not s.removed]
    collective = await ctx.collective()
    date = day(ctx, space.delete_at, collective.timezone)
    place = where(ctx, space)
    body = (
        ctx.copy("removal.removed_space", where=place, date=date)
        if others
        else ctx.copy("removal.removed_all", date=date)
    )
    sent = await ctx.to_leads(
        f"removed:{space.id}:{int(ctx.now.timestamp())}",
        notice(ctx.copy("removal.removed_title", where=place), body),
    )
    if not sent:
        # Nothing else reaches them: the data still goes on that date (docs/privacy.md).
        log.warning("a space was removed and no lead of its collective can be told")
    await ctx.audit(
        "space_removed",
        platform=space.platform,
        dropped=str(dropped),
        delete_on=space.delete_at.date().isoformat(),
    )


async def restored(ctx: Ctx, space: Space) -> None:
    """A lead set rallybot up again where it had been removed: nothing is deleted."""
    space.removed_at = space.delete_at = None
    space.check_at = ctx.now
    await ctx.uow.spaces.save(space)
    ctx.forget_spaces()
    place = where(ctx, space)
    await ctx.to_leads(
        f"restored:{space.id}:{int(ctx.now.timestamp())}",
        notice(ctx.copy("removal.restored_title", where=place), ctx.copy("removal.restored_body")),
    )
    await ctx.audit("space_restored", platform=space.platform)


async def delete(ctx: Ctx, space: Space) -> None:
    """The grace period is over. The collective's last space: the collective and everything
    it holds are deleted. Otherwise only this space goes: its channels, the messages sent
    there, its platform accounts, and the members who were only there are forgotten."""
    spaces = await ctx.spaces()
    others = [s for s in spaces if s.id != space.id]
    collective = await ctx.collective()
    removed_on = space.removed_at or ctx.now
    if not others:
        await ctx.uow.collectives.delete(collective.id)
        # Its audit log went with it: the operator's log keeps that it happened, by id.
        log.info(
            "deleted collective %s and everything it held: its last space was removed on %s",
            collective.id,
            removed_on.date().isoformat(),
        )
        return
    # A Discord account is one per platform, not per server: it stays while another Discord
    # server of the collective (still in its own grace period, perhaps) remains.
    shared = space.platform == "discord" and any(s.platform == "discord" for s in others)
    idents = (
        []
        if shared
        else await ctx.uow.identities.in_workspace(
            collective.id, space.platform, accounts_in(space)
        )
    )
    await ctx.uow.identities.delete([i.id for i in idents])
    await ctx.uow.outbox.delete_at_workspace(
        collective.id, space.platform, space.external_id, unsent_only=False
    )
    await ctx.uow.spaces.delete(space.id)
    ctx.forget_spaces()
    people = sorted({i.member_id for i in idents})
    left = {i.member_id for i in await ctx.uow.identities.for_members(people)}
    gone = [m for m in await ctx.uow.members.many(people) if m.id not in left]
    for member in gone:
        # Nobody can reach them or hear from them any more: nothing of them stays.
        if member.status is MemberStatus.PENDING:
            await membership.drop_request(ctx, member, "removed")
        elif member.status is not MemberStatus.FORGOTTEN:
            await membership.forget(ctx, member)
            await ctx.audit("member_forgotten", subject=member.id, why="space_deleted")
    place = where(ctx, space)
    await ctx.to_leads(
        f"deleted:{space.id}",
        notice(
            ctx.copy("removal.deleted_title", where=place),
            ctx.copy("removal.deleted_body", count=len(gone)),
        ),
    )
    await ctx.audit("space_deleted", platform=space.platform, forgotten=str(len(gone)))
