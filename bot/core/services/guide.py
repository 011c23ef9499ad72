"""/rally help: the command language, and what a stranger needs to know to join."""

from __future__ import annotations

from bot.core import commands as c
from bot.core.messages import Reply
from bot.core.model import MemberStatus
from bot.core.services.context import Ctx
from bot.core.views import notice


async def show_help(ctx: Ctx, cmd: c.ShowHelp) -> Reply:
    member = await ctx.caller_member()
    copy = ctx.copy
    if member is None or member.status is not MemberStatus.ACTIVE:
        return Reply(notice(copy("help.title"), copy("help.intro"), copy("error.how_to_join")))
    if cmd.topic == "alert":
        return Reply(notice(copy("help.alert_title"), copy("help.alert")))
    lines = [copy("help.intro"), copy("help.member")]
    if member.is_lead:
        lines.append(copy("help.lead"))
    lines.append(copy("help.more"))
    return Reply(notice(copy("help.title"), *lines))


async def alert_form(ctx: Ctx, _: c.OpenAlertForm) -> Reply:
    """Platforms with forms open one; the console explains the one-line form instead."""
    await ctx.actor()
    return Reply(notice(ctx.copy("help.alert_title"), ctx.copy("help.alert")), form="alert")
