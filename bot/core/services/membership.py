"""Members: joining, vetting, roles, linked identities, availability and forget-me."""

from __future__ import annotations

import re
import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core import commands as c
from bot.core.digest.weeks import next_digest_time
from bot.core.errors import Conflict, NotAllowed, NotFound
from bot.core.messages import Button, Message, Reply, from_dict, para, to_dict
from bot.core.model import (
    Alert,
    AlertStatus,
    CloseReason,
    Collective,
    Identity,
    LinkCode,
    Member,
    MemberStatus,
    Role,
    Space,
)
from bot.core.policy import DEMO_COLLECTIVE, DEMO_MEMBERS, Policy
from bot.core.services import library
from bot.core.services.context import KEY_IDS, Ctx, Forged, unname
from bot.core.services.rally import refresh_tally
from bot.core.services.upkeep import day, period
from bot.core.views import action_id, notice, rally_key, target_label

# Unambiguous characters (no 0/O, 1/I/L): about 40 bits in 8 characters.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

APPROVE_BUTTONS = 5  # pending requests with a button in /rally members (all are listed)

CONSOLE = "console"
CONSOLE_WORKSPACE = "local"


def new_collective(ctx: Ctx, name: str, policy: Policy, timezone: str | None = None) -> Collective:
    collective = Collective(
        id=ctx.ids.new(),
        name=name,
        timezone=timezone or policy.timezone,
        created_at=ctx.now,
        rally_cap=policy.rally_cap,
        escalation_wait_minutes=policy.escalation_wait_minutes,
        escalation_min_responders=policy.escalation_min_responders,
        escalation_max_steps=policy.escalation_max_steps,
        checkin_offsets_hours=policy.checkin_offsets_hours,
        alerts_per_day=policy.alerts_per_day,
        digest_weekday=policy.digest_weekday,
        digest_hour=policy.digest_hour,
        digest_to_channel=policy.digest_to_channel,
        review_first_alerts=policy.review_first_alerts,
        brigade_threshold=policy.brigade_threshold,
    )
    collective.next_digest_at = next_digest_time(collective, ctx.now)
    return collective


async def unique_handle(ctx: Ctx, collective_id: str, name: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:24] or "member"
    handle, n = base, 1
    while await ctx.uow.members.by_handle(collective_id, handle) is not None:
        n += 1
        handle = f"{base}{n}"
    return handle


async def ensure_demo(ctx: Ctx) -> Collective:
    """The console's demo collective, seeded once: ana, ben, cam, dee, lee and sam."""
    existing = await ctx.uow.collectives.by_name(DEMO_COLLECTIVE)
    if existing is not None:
        return existing
    collective = new_collective(ctx, DEMO_COLLECTIVE, ctx.policy)
    await ctx.uow.collectives.add(collective)
    await library.seed(ctx, collective)
    await ctx.uow.spaces.add(
        Space(
            ctx.ids.new(),
            collective.id,
            CONSOLE,
            CONSOLE_WORKSPACE,
            rally_channel="#rally",
            leads_channel="#leads",
        )
    )
    for demo in DEMO_MEMBERS:
        member = Member(
            id=ctx.ids.new(),
            collective_id=collective.id,
            handle=demo.handle,
            display_name=demo.name,
            joined_at=ctx.now,
            roles=frozenset(Role(r) for r in demo.roles),
        )
        await ctx.uow.members.add(member)
        await ctx.uow.identities.add(
            Identity(ctx.ids.new(), member.id, CONSOLE, CONSOLE_WORKSPACE, demo.handle)
        )
    return collective


async def setup(ctx: Ctx, cmd: c.Setup) -> Reply:
    """First use in a workspace makes a collective; afterwards leads adjust it."""
    caller = ctx.caller
    assert caller is not None
    if not caller.space_id:
        raise Conflict("error.setup_needs_channel")
    space = await ctx.uow.spaces.find(caller.platform, caller.space_id)
    member = await ctx.caller_member()
    if space is None and member is None:
        if not caller.can_manage:
            raise NotAllowed("error.setup_needs_admin")
        name = cmd.value if cmd.what == "name" and cmd.value else ctx.copy("setup.default_name")
        tz = cmd.value if cmd.what == "timezone" else None
        collective = new_collective(ctx, name, ctx.policy, tz)
        await ctx.uow.collectives.add(collective)
        await library.seed(ctx, collective)
        space = Space(
            ctx.ids.new(),
            collective.id,
            caller.platform,
            caller.space_id,
            rally_channel=caller.channel,
            check_at=ctx.now,  # who can read the rally channel is checked at once
        )
        await ctx.uow.spaces.add(space)
        handle = await unique_handle(ctx, collective.id, caller.display_name or caller.user)
        member = Member(
            id=ctx.ids.new(),
            collective_id=collective.id,
            handle=handle,
            display_name=caller.display_name or handle,
            joined_at=ctx.now,
            roles=frozenset({Role.LEAD, Role.RESPONDER}),
        )
        await ctx.uow.members.add(member)
        await ctx.uow.identities.add(
            Identity(ctx.ids.new(), member.id, caller.platform, caller.workspace, caller.user)
        )
        ctx.set_member(member, collective)
        await ctx.audit("collective_created", subject=member.id)
        return Reply(
            notice(
                ctx.copy("setup.created_title", name=collective.name),
                ctx.copy("setup.created_body"),
            )
        )
    lead = await ctx.lead()
    collective = await ctx.collective()
    if space is None:
        if not caller.can_manage:  # a lead of ours still needs to manage that server
            raise NotAllowed("error.setup_needs_admin")
        space = Space(
            ctx.ids.new(),
            collective.id,
            caller.platform,
            caller.space_id,
            rally_channel=caller.channel,
            check_at=ctx.now,
        )
        await ctx.uow.spaces.add(space)
        ctx.forget_spaces()
        await ctx.audit("space_added", platform=caller.platform)
    elif space.collective_id != collective.id:
        raise Forged("error.not_member")
    restored = space.removed
    if restored:
        # Set up again within the grace period after the platform removed rallybot: the
        # deletion is cancelled. (Imported here: removal uses this module's forget.)
        from bot.core.services import removal

        await removal.restored(ctx, space)
    if cmd.what in ("rally", "leads"):
        if not caller.channel:
            raise Conflict("error.setup_needs_channel")
        if cmd.what == "rally":
            space.rally_channel = caller.channel
        else:
            space.leads_channel = caller.channel
        space.check_at = ctx.now  # who can read it is checked at once, then daily
        await ctx.uow.spaces.save(space)
    elif cmd.what == "name" and cmd.value:
        collective.name = cmd.value
        await ctx.uow.collectives.save(collective)
    elif cmd.what == "timezone" and cmd.value:
        collective.timezone = cmd.value
        await ctx.uow.collectives.save(collective)
    elif cmd.what == "leadrole":
        space.lead_role = cmd.value
        await ctx.uow.spaces.save(space)
    if cmd.what:
        await ctx.audit("setup_changed", subject=lead.id, what=cmd.what)
    return Reply(
        notice(
            ctx.copy("setup.title", name=collective.name),
            ctx.copy("setup.restored") if restored else "",
            ctx.copy("setup.checks") if cmd.what in ("rally", "leads") else "",
            ctx.copy(
                "setup.body",
                timezone=collective.timezone,
                rally=space.rally_channel or ctx.copy("word.none"),
                leads=space.leads_channel or ctx.copy("setup.leads_by_dm"),
                cap=collective.rally_cap,
                wait=collective.escalation_wait_minutes,
                min=collective.escalation_min_responders,
                checkins=", ".join(str(h) for h in collective.checkin_offsets_hours),
            ),
        )
    )


async def join(ctx: Ctx, cmd: c.Join) -> Reply:
    """A stranger asks to join; a lead vets them before they see or raise anything."""
    caller = ctx.caller
    assert caller is not None
    member = await ctx.caller_member()
    if member is not None and member.status is MemberStatus.PENDING:
        return Reply(notice(ctx.copy("join.still_pending")))
    if member is not None and member.status is not MemberStatus.FORGOTTEN:
        raise Conflict("error.already_member")
    space = await ctx.uow.spaces.find(caller.platform, caller.space_id)
    if space is None:
        raise NotFound("error.no_space")
    collective = await ctx.uow.collectives.get(space.collective_id)
    assert collective is not None
    handle = await unique_handle(ctx, collective.id, caller.display_name or caller.user)
    member = Member(
        id=ctx.ids.new(),
        collective_id=collective.id,
        handle=handle,
        display_name=caller.display_name or handle,
        joined_at=ctx.now,
        status=MemberStatus.PENDING,
        trusted=False,
    )
    await ctx.uow.members.add(member)
    await ctx.uow.identities.add(
        Identity(ctx.ids.new(), member.id, caller.platform, caller.workspace, caller.user)
    )
    ctx.set_member(member, collective)
    await ctx.audit("join_requested", subject=member.id)
    await ctx.to_leads(
        f"join:{member.id}",
        notice(
            ctx.copy("join.leads_title", name=member.display_name),
            ctx.copy("join.leads_body", name=member.display_name, handle=member.handle),
            ctx.copy("join.leads_note", note=cmd.note) if cmd.note else "",
            buttons=(
                Button(
                    action_id("member", member.id, "approve"), ctx.copy("button.approve"), "primary"
                ),
                Button(
                    action_id("member", member.id, "decline"), ctx.copy("button.decline"), "danger"
                ),
            ),
        ),
    )
    return Reply(notice(ctx.copy("join.title"), ctx.copy("join.body")))


async def approve(ctx: Ctx, cmd: c.Approve) -> Reply:
    lead = await ctx.lead()
    member = await ctx.member(cmd.member)
    if member.status is MemberStatus.ACTIVE:
        raise Conflict("error.already_approved", name=member.display_name)
    member.status = MemberStatus.ACTIVE
    await ctx.uow.members.save(member)
    await ctx.audit("member_approved", subject=member.id, by=lead.id)
    await ctx.to_members(
        [member],
        f"welcome:{member.id}",
        notice(ctx.copy("approve.welcome_title"), ctx.copy("approve.welcome_body")),
    )
    return Reply(notice(ctx.copy("approve.done", name=member.display_name)))


def join_key(member: Member) -> str:
    return f"join:{member.id}"


async def decline(ctx: Ctx, cmd: c.Decline) -> Reply:
    """A lead turns a join request down: the request, its platform account and its note are
    deleted, and the leads' copies of the request say it is closed."""
    await ctx.lead()
    member = await ctx.member(cmd.member)
    if member.status is not MemberStatus.PENDING:
        raise Conflict("error.not_pending", name=member.display_name)
    name = member.display_name
    await drop_request(ctx, member, "declined")
    return Reply(notice(ctx.copy("decline.done", name=name)))


async def expire_request(ctx: Ctx, member: Member) -> None:
    """A join request nobody decided on within join_request_days is deleted (due work)."""
    await drop_request(ctx, member, "expired")


async def drop_request(ctx: Ctx, member: Member, why: str) -> None:
    """A pending member leaves nothing behind: the row, the platform accounts, the unsent
    messages about them, what they sent that waits unworked in the inbox; the request already
    posted to the leads is edited to say it closed (its name and note removed). `why`:
    declined, expired or withdrawn."""
    await forget_outbox(ctx, member, {member.id})
    for ident in await ctx.uow.identities.for_members([member.id]):
        await ctx.uow.outbox.delete_dms_to(ident.platform, ident.user)
        await ctx.uow.inbox.drop_waiting(ident.platform, ident.workspace, ident.user)
    await ctx.uow.members.delete(member.id)
    days = ctx.policy.join_request_days
    await ctx.update(
        join_key(member),
        notice(
            ctx.copy("decline.closed_title"),
            ctx.copy(f"decline.closed_{why}", period=period(ctx, days)),
        ),
    )
    await ctx.audit(f"join_{why}", subject=member.id)


async def set_role(ctx: Ctx, cmd: c.SetRole) -> Reply:
    """Leads grant and remove roles; a collective always keeps at least one lead."""
    await ctx.lead()
    member = await ctx.member(cmd.member)
    if not member.is_active:
        raise Conflict("error.target_not_active", name=member.display_name)
    if cmd.role is None:
        roles: frozenset[Role] = frozenset()
    elif cmd.on:
        roles = member.roles | {cmd.role}
    else:
        roles = member.roles - {cmd.role}
    losing_lead = member.is_lead and not ({Role.LEAD, Role.SAFETY_LEAD} & roles)
    if losing_lead and len(await ctx.leads()) <= 1:
        raise Conflict("error.last_lead")
    member.roles = roles
    await ctx.uow.members.save(member)
    await ctx.audit(
        "role_changed",
        subject=member.id,
        roles=",".join(sorted(r.value for r in roles)) or "member",
    )
    return Reply(notice(ctx.copy("role.done", name=member.display_name, roles=_roles(ctx, member))))


def _roles(ctx: Ctx, member: Member) -> str:
    return ", ".join(ctx.copy(f"role.{r}") for r in sorted(member.roles)) or ctx.copy("role.member")


async def list_members(ctx: Ctx, _: c.ListMembers) -> Reply:
    await ctx.lead()
    members = sorted(
        await ctx.members(), key=lambda m: (m.status is not MemberStatus.PENDING, m.handle)
    )
    lines = [
        ctx.copy(
            "members.line",
            handle=m.handle,
            name=m.display_name,
            roles=_roles(ctx, m),
            status=ctx.copy(f"member_status.{m.status}"),
            available=ctx.copy("word.yes" if m.available else "word.no"),
        )
        for m in members
    ]
    pending = [m for m in members if m.status is MemberStatus.PENDING][:APPROVE_BUTTONS]
    buttons = tuple(
        button
        for m in pending
        for button in (
            Button(
                action_id("member", m.id, "approve"),
                ctx.copy("members.approve", name=m.display_name),
                "primary",
            ),
            Button(
                action_id("member", m.id, "decline"),
                ctx.copy("members.decline", name=m.display_name),
                "danger",
            ),
        )
    )
    return Reply(notice(ctx.copy("members.title", count=len(members)), *lines, buttons=buttons))


async def me(ctx: Ctx, _: c.ShowMe) -> Reply:
    """What the bot knows of you and how you are reached: your settings in one place."""
    member = await ctx.actor()
    collective = await ctx.collective()
    tz = member.timezone or collective.timezone
    paused = member.paused_until is not None and member.paused_until > ctx.now
    quiet = (
        ctx.copy("me.quiet", start=_hhmm(member.quiet_start), end=_hhmm(member.quiet_end))
        if member.quiet_start is not None and member.quiet_end is not None
        else ctx.copy("me.no_quiet")
    )
    linked = sorted({i.platform for i in await ctx.uow.identities.for_members([member.id])})
    lines = [
        ctx.copy("me.roles", roles=_roles(ctx, member)),
        ctx.copy("me.available" if member.available else "me.unavailable"),
        ctx.copy("me.paused", until=_local(member.paused_until, tz))
        if paused and member.paused_until is not None
        else "",
        quiet,
        ctx.copy("me.timezone", tz=tz),
        ctx.copy(
            "me.reached",
            platforms=", ".join(linked),
            preferred=member.preferred_platform or ctx.copy("word.none"),
            dm=ctx.copy("word.yes" if member.prefers_dm else "word.no"),
        ),
    ]
    return Reply(notice(ctx.copy("me.title", name=member.display_name), *lines))


async def set_available(ctx: Ctx, cmd: c.SetAvailable) -> Reply:
    member = await ctx.actor()
    member.available = cmd.on
    await ctx.uow.members.save(member)
    return Reply(notice(ctx.copy("available.on" if cmd.on else "available.off")))


async def pause(ctx: Ctx, cmd: c.Pause) -> Reply:
    member = await ctx.actor()
    member.paused_until = None if cmd.duration is None else ctx.now + cmd.duration
    await ctx.uow.members.save(member)
    if member.paused_until is None:
        return Reply(notice(ctx.copy("pause.off")))
    tz = member.timezone or (await ctx.collective()).timezone
    return Reply(notice(ctx.copy("pause.on", until=_local(member.paused_until, tz))))


def _local(when: datetime, tz: str) -> str:
    return when.astimezone(ZoneInfo(tz)).strftime("%a %d %b %H:%M %Z")


async def quiet(ctx: Ctx, cmd: c.SetQuiet) -> Reply:
    member = await ctx.actor()
    member.quiet_start, member.quiet_end = cmd.start, cmd.end
    await ctx.uow.members.save(member)
    if cmd.start is None or cmd.end is None:
        return Reply(notice(ctx.copy("quiet.off")))
    return Reply(notice(ctx.copy("quiet.on", start=_hhmm(cmd.start), end=_hhmm(cmd.end))))


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


async def prefer(ctx: Ctx, cmd: c.Prefer) -> Reply:
    """Where a member is reached: a platform they have linked, and DMs or channel pings."""
    member = await ctx.actor()
    if cmd.platform is not None:
        linked = {i.platform for i in await ctx.uow.identities.for_members([member.id])}
        if cmd.platform not in linked:
            raise Conflict("error.not_linked_there", platform=cmd.platform)
        member.preferred_platform = cmd.platform
        text = ctx.copy("prefer.platform", platform=cmd.platform)
    else:
        member.prefers_dm = bool(cmd.dm)
        text = ctx.copy("prefer.dm" if cmd.dm else "prefer.channel")
    await ctx.uow.members.save(member)
    return Reply(notice(text))


async def timezone(ctx: Ctx, cmd: c.SetTimezone) -> Reply:
    member = await ctx.actor()
    member.timezone = cmd.tz
    await ctx.uow.members.save(member)
    return Reply(notice(ctx.copy("timezone.done", tz=cmd.tz)))


async def link(ctx: Ctx, cmd: c.LinkIdentity) -> Reply:
    """One person, many platforms: a code made on one platform is typed on the other."""
    caller = ctx.caller
    assert caller is not None
    if cmd.code is None:
        member = await ctx.actor()
        code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
        minutes = ctx.policy.link_code_minutes
        await ctx.uow.link_codes.add(
            LinkCode(code, member.id, ctx.now + timedelta(minutes=minutes))
        )
        await ctx.audit("link_code_made")
        return Reply(
            notice(
                ctx.copy("link.code_title"), ctx.copy("link.code_body", code=code, minutes=minutes)
            )
        )
    if await ctx.caller_member() is not None:
        raise Conflict("error.already_linked")
    found = await ctx.uow.link_codes.get(cmd.code)
    if found is None or found.expires_at <= ctx.now:
        raise NotFound("error.bad_link_code")
    owner = await ctx.uow.members.get(found.member_id)
    if owner is None or not owner.is_active:
        raise NotFound("error.bad_link_code")
    await ctx.uow.identities.add(
        Identity(ctx.ids.new(), owner.id, caller.platform, caller.workspace, caller.user)
    )
    await ctx.uow.link_codes.delete(found.code)
    collective = await ctx.uow.collectives.get(owner.collective_id)
    assert collective is not None
    ctx.set_member(owner, collective)
    await ctx.audit("identity_linked", subject=owner.id, platform=caller.platform)
    return Reply(
        notice(ctx.copy("link.done_title"), ctx.copy("link.done_body", name=owner.display_name))
    )


async def _refresh_tallies_naming(ctx: Ctx, member: Member, collective: Collective) -> None:
    """Other live tallies still name her: each is edited to the scrubbed name, and the new
    edit supersedes any edit still waiting to go out."""
    for alert in await ctx.uow.alerts.open_for_collective(collective.id):
        if alert.status is AlertStatus.ACTIVE:
            involved = {r.member_id for r in await ctx.uow.rallied.for_alert(alert.id)}
            if member.id in involved or await ctx.uow.responses.get(alert.id, member.id):
                await refresh_tally(ctx, alert)


async def forget_me(ctx: Ctx, cmd: c.ForgetMe) -> Reply:
    """Anyone the bot knows (pending, suspended, member, lead) removes their personal data
    everywhere. Their open alerts close; a safety case's record stays with the safety leads
    for a stated time (they are told until when), then goes too."""
    member = await ctx.person()
    copy = ctx.copy
    if not cmd.confirmed:
        return Reply(
            notice(
                copy("forget.confirm_title"),
                copy(
                    "forget.confirm_request"
                    if member.status is MemberStatus.PENDING
                    else "forget.confirm_body",
                    period=period(ctx, ctx.policy.safety_case_days),
                ),
                buttons=(
                    Button(
                        action_id("forgetme", member.id, "confirm"),
                        copy("button.forget_confirm"),
                        "danger",
                    ),
                ),
            )
        )
    if cmd.member_id != member.id:
        raise Forged("error.bad_button", member_id=cmd.member_id or "")
    if member.status is MemberStatus.PENDING:
        # Asked to join, never vetted: the request is withdrawn and nothing of it stays.
        await drop_request(ctx, member, "withdrawn")
        await ctx.audit("forget_me", subject=member.id, kept="")
        return Reply(notice(copy("forget.done_title"), copy("forget.done_request")))
    if member.is_active and member.is_lead and len(await ctx.leads()) <= 1:
        raise Conflict("error.last_lead")
    collective = await ctx.collective()
    until = ctx.now + timedelta(days=ctx.policy.safety_case_days)
    kept = await forget(ctx, member)
    tz = collective.timezone
    numbers = [a.number for a in kept]
    await ctx.audit("forget_me", subject=member.id, kept=",".join(map(str, numbers)))
    lines = [copy("forget.done_body")]
    if kept:
        lines.append(
            copy(
                "forget.kept",
                numbers=", ".join(f"#{n}" for n in numbers),
                date=day(ctx, until, tz),
            )
        )
    return Reply(notice(copy("forget.done_title"), *lines))


async def forget(ctx: Ctx, member: Member) -> list[Alert]:
    """A vetted or suspended member's personal data goes everywhere (forget-me, or the only
    space they were in was deleted); returns the open safety cases kept for a stated time."""
    copy = ctx.copy
    collective = await ctx.collective()
    until = ctx.now + timedelta(days=ctx.policy.safety_case_days)
    alerts = await ctx.uow.alerts.for_target(member.id)
    checkins = [ch for a in alerts for ch in await ctx.uow.checkins.for_alert(a.id)]
    # Unsent messages about her, her alerts or her check-ins never go; those that only name
    # her go without her name. Done first: what follows writes new messages.
    await forget_outbox(
        ctx, member, {member.id, *(a.id for a in alerts), *(ch.id for ch in checkins)}
    )
    for ident in await ctx.uow.identities.for_members([member.id]):
        await ctx.uow.outbox.delete_dms_to(ident.platform, ident.user)
        # What she sent from any of her accounts and no worker holds goes unworked (a later
        # request, one from another platform); one a worker holds is answered and emptied.
        await ctx.uow.inbox.drop_waiting(ident.platform, ident.workspace, ident.user)
    kept: list[Alert] = []
    rallied: list[Alert] = []
    for alert in alerts:
        safety_case = alert.is_open and (
            alert.status is AlertStatus.SAFETY_REVIEW or alert.is_severe
        )
        if alert.activated_at is not None:
            rallied.append(alert)  # open or closed, its rally is still on the platforms
        if alert.is_open:
            # Closed, not left running: no escalation, reminder or check-in about her again.
            alert.status, alert.close_reason = AlertStatus.CLOSED, CloseReason.FORGOTTEN
            alert.closed_at, alert.closed_by_id, alert.escalate_at = ctx.now, member.id, None
            alert.idle_notice_at = None
        if safety_case:
            kept.append(alert)  # its record stays for the safety leads until `until`
        else:
            alert.links, alert.note, alert.target_post = (), "", None
            alert.delegates = frozenset()
            alert.purged_at = alert.purged_at or ctx.now
            await ctx.uow.evidence.delete_for_alert(alert.id)
        await ctx.uow.alerts.save(alert)
    await ctx.uow.identities.delete_for_member(member.id)
    await ctx.uow.link_codes.delete_for_member(member.id)
    await ctx.uow.checkins.delete_for_member(member.id)
    await ctx.uow.library.forget_member(member.id)
    member.status = MemberStatus.FORGOTTEN
    member.display_name = copy("forget.former_member")
    member.handle = f"forgotten-{member.id[:12]}"
    member.roles = frozenset()
    member.skills = frozenset()
    member.available = False
    member.paused_until = None
    member.quiet_start = member.quiet_end = None
    member.timezone = member.preferred_platform = None
    member.prefers_dm = False
    await ctx.uow.members.save(member)
    # Her rallies, still on the platforms, are edited: closed, no name, note or links.
    for alert in rallied:
        await _close_rally_posts(ctx, alert)
    await _refresh_tallies_naming(ctx, member, collective)
    await ctx.update(
        join_key(member),
        notice(copy("decline.closed_title"), copy("decline.closed_withdrawn")),
    )
    tz = collective.timezone
    for alert in kept:
        await ctx.to_leads(
            f"forgotten:{alert.id}",
            notice(
                copy("forget.case_title", number=alert.number),
                copy("forget.case_body", number=alert.number, date=day(ctx, until, tz)),
            ),
            safety_only=True,
        )
    return kept


async def _close_rally_posts(ctx: Ctx, alert: Alert) -> None:
    """Every copy of a forgotten target's rally, and its later waves' posts, edited: closed,
    with no name, note or links (a kept safety case keeps them only in the database)."""
    scrubbed = replace(alert, links=(), note="", target_post=None)
    await refresh_tally(ctx, scrubbed)
    closed = Message(
        title=ctx.copy(
            "rally.more_hands_title",
            number=alert.number,
            who=target_label(ctx.copy, alert, None, for_leads=False),
        ),
        blocks=(para(ctx.copy("rally.closed", reason=ctx.copy(f"close.{alert.close_reason}"))),),
    )
    for key in await ctx.uow.outbox.post_keys(alert.collective_id, rally_key(alert) + ":"):
        await ctx.update(key, closed)


async def forget_outbox(ctx: Ctx, member: Member, things: set[str]) -> None:
    """Unsent and parked messages about a member who is being forgotten: those about their
    own things (their request, alerts, check-ins: `things`, their id included) are dropped;
    those that only mention or name them lose their name."""
    label = ctx.copy("forget.former_member")
    names = {member.display_name}
    drop = []
    for item in await ctx.uow.outbox.unsent_about(sorted(things)):
        if set(KEY_IDS.findall(item.key)) & things:
            drop.append(item.id)
            continue
        payload = item.payload
        if payload:
            payload = to_dict(unname(from_dict(payload), member.id, names, label))
        about = [i for i in item.about if i != member.id]
        await ctx.uow.outbox.rewrite(item.id, payload, about)
    await ctx.uow.outbox.delete(drop)
