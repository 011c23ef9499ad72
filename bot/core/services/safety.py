"""The severe path (threats, doxxing, sexual harassment, critical): the safety leads hear at
once whatever else the alert waits for, the target gets resources at once, and the crowd is
called only when a safety lead and the target both agree. The states and who is told what
are in docs/safety.md."""

from __future__ import annotations

from dataclasses import replace

from bot.core import commands as c
from bot.core.errors import Conflict, NotAllowed
from bot.core.messages import Block, Button, Link, Message, Reply, para
from bot.core.model import Alert, AlertStatus, Member, Role, Visibility
from bot.core.services import notices
from bot.core.services.context import Ctx
from bot.core.services.rally import activate
from bot.core.views import (
    action_id,
    held_reasons,
    kinds_text,
    link_lines,
    notice,
    stage,
    target_label,
)

# Where a safety lead's decision or the target's choice can still change the outcome.
OPEN_STATES = (AlertStatus.HELD, AlertStatus.PENDING_CONSENT, AlertStatus.SAFETY_REVIEW)


def crowd_possible(alert: Alert) -> bool:
    return alert.visibility is not Visibility.LEADS


def gates(ctx: Ctx, alert: Alert, target: Member | None, you: bool = False) -> list[str]:
    """What the crowd still waits for, one line each (the reason it waits, shown); `you`:
    the target is reading, and her own part is worded to her."""
    copy, name = ctx.copy, target_label(ctx.copy, alert, target, for_leads=True)
    mine = "_you" if you else ""
    lines = [copy(f"gate.held_{r}") for r in held_reasons(alert)]
    if alert.status is AlertStatus.PENDING_CONSENT or (
        alert.on_behalf and alert.consented_at is None and alert.status is AlertStatus.HELD
    ):
        lines.append(copy(f"gate.consent{mine}", name=name))
    if not crowd_possible(alert):
        return lines
    if alert.safety_lead_id is None:
        lines.append(copy("gate.safety"))
    elif not alert.safety_lead_ok:
        lines.append(copy("gate.safety_kept"))
    if alert.target_choice_at is None:
        lines.append(copy(f"gate.target{mine}", name=name))
    elif not alert.target_ok:
        lines.append(copy(f"gate.target_no{mine}", name=name))
    return lines


def details_blocks(ctx: Ctx, alert: Alert) -> list[Block]:
    """The note, the target's own post and the attack links, for those who may see them."""
    copy = ctx.copy
    blocks: list[Block] = []
    if alert.note:
        blocks.append(para(alert.note, heading=copy("leads.note_heading")))
    if alert.target_post:
        blocks.append(Block((Link(alert.target_post),), copy("leads.post_heading")))
    if alert.links:
        blocks.append(Block(link_lines(alert.links), copy("leads.links_heading")))
    return blocks


def safety_message(
    ctx: Ctx, alert: Alert, raiser: Member, target: Member, title_key: str = "safety.review_title"
) -> Message:
    """The case for the safety leads: who, what, where, the details, what the crowd still
    waits for, the resources, and their decision (which also releases a lead's hold)."""
    copy = ctx.copy
    who = target.display_name
    lines = [
        copy(
            "safety.summary",
            name=who,
            kinds=kinds_text(copy, alert.kinds),
            venue=copy(f"venue.{alert.venue}"),
            severity=copy(f"severity.{alert.severity}"),
        ),
        copy("safety.raised_for", raiser=raiser.display_name, name=who) if alert.on_behalf else "",
        copy(
            "status.visibility",
            visibility=copy(f"visibility.{alert.visibility}"),
            help=", ".join(copy(f"want.{h}") for h in sorted(alert.help_wanted)),
        ),
        copy("safety.anonymous") if alert.anonymous else "",
    ]
    waits = waits_block(ctx, alert, target)
    blocks = [para(line) for line in lines if line]
    blocks.extend(details_blocks(ctx, alert))
    if waits is not None:
        blocks.append(waits)
    blocks.append(para(copy("safety.resources"), heading=copy("safety.resources_heading")))
    if crowd_possible(alert):
        blocks.append(para(copy("safety.lead_question")))
        buttons = [
            Button(action_id("safety", alert.id, "rally"), copy("button.safety_rally"), "danger"),
            Button(action_id("safety", alert.id, "hold"), copy("button.safety_hold"), "primary"),
        ]
    else:
        blocks.append(para(copy("safety.lead_no_crowd")))
        buttons = [
            Button(
                action_id("safety", alert.id, "hold"), copy("button.safety_picked_up"), "primary"
            )
        ]
    if alert.status is AlertStatus.HELD:
        buttons.append(Button(action_id("review", alert.id, "reject"), copy("button.reject")))
    return Message(
        title=copy(title_key, number=alert.number),
        blocks=tuple(blocks),
        buttons=tuple(buttons),
        has_attack_links=True,
    )


async def tell_safety_leads(ctx: Ctx, alert: Alert, raiser: Member, target: Member) -> None:
    """At once, whatever else the alert waits for (a lead's review, the target's consent)."""
    await ctx.to_leads(
        f"safety:{alert.id}",
        safety_message(ctx, alert, raiser, target),
        safety_only=True,
        first=True,  # before the target's resources, a consent request or anything else
    )
    await ctx.audit("safety_leads_told", alert, waits=",".join(held_reasons(alert)))


def target_buttons(ctx: Ctx, alert: Alert, no_crowd: bool = True) -> tuple[Button, ...]:
    """The target's choice: the crowd naming her, the crowd without her name, or none."""
    copy = ctx.copy
    buttons = [
        Button(action_id("target", alert.id, "rally"), copy("button.crowd_named")),
        Button(action_id("target", alert.id, "rally_anon"), copy("button.crowd_anonymous")),
    ]
    if no_crowd:
        buttons.append(
            Button(action_id("target", alert.id, "hold"), copy("button.target_hold"), "primary")
        )
    return tuple(buttons)


async def ask_target(ctx: Ctx, alert: Alert, target: Member) -> None:
    """The target of a severe alert she raised herself: resources at once, and her choice."""
    copy = ctx.copy
    crowd = crowd_possible(alert)
    await ctx.to_members(
        [target],
        f"safety-target:{alert.id}",
        notice(
            copy("safety.target_title", number=alert.number),
            copy("safety.target_body"),
            copy("safety.resources"),
            copy("safety.target_question") if crowd else copy("safety.target_no_crowd"),
            buttons=target_buttons(ctx, alert) if crowd else (),
        ),
    )


def target_knows(alert: Alert) -> bool:
    """She raised it, or she answered the request to consent."""
    return not alert.on_behalf or alert.consented_at is not None


async def _people(ctx: Ctx, alert: Alert) -> tuple[Member, Member]:
    raiser = await ctx.uow.members.get(alert.raised_by_id)
    target = await ctx.uow.members.get(alert.target_id)
    if raiser is None or target is None:
        raise Conflict("error.not_in_safety_review", number=alert.number)
    return raiser, target


async def decide(ctx: Ctx, cmd: c.SafetyDecision) -> Reply:
    """A safety lead (any lead where the collective has none) decides whether the crowd may
    be rallied. Their decision also releases a lead's hold: for them review and decision
    are one step."""
    from bot.core.services import review  # releasing the hold goes on through there

    actor = await ctx.lead()
    alert = await ctx.alert(cmd.alert)
    if not actor.has(Role.SAFETY_LEAD) and await ctx.leads(safety_only=True):
        raise NotAllowed("error.safety_leads_only")
    if not alert.is_severe or alert.status not in OPEN_STATES:
        raise Conflict("error.not_in_safety_review", number=alert.number)
    if not crowd_possible(alert) and cmd.rally:
        raise Conflict("error.leads_only_no_crowd", number=alert.number)
    raiser, target = await _people(ctx, alert)
    alert.safety_lead_id, alert.safety_lead_ok = actor.id, cmd.rally
    await ctx.audit("safety_rally_ok" if cmd.rally else "safety_hold", alert)
    copy = ctx.copy
    if alert.status is AlertStatus.HELD:
        # Into the consent request, or the review (where the crowd may be called at once).
        await review.release(ctx, alert, raiser, target)
    elif alert.status is AlertStatus.SAFETY_REVIEW:
        alert.escalate_at = None  # a safety lead has it: the review escalates no more
        await after_choices(ctx, alert, target)
    await ctx.uow.alerts.save(alert)
    lines: list[str] = []
    if alert.status is AlertStatus.ACTIVE:
        title = copy("safety.rallied_title", number=alert.number)
    else:
        title = copy("safety.decided_lead", number=alert.number)
        name = target.display_name
        if not crowd_possible(alert):
            lines.append(copy("safety.picked_up_lead", name=name))
        elif cmd.rally:
            lines.append(copy("safety.rally_recorded", name=name))
        else:
            lines.append(copy("safety.kept_lead", name=name))
    lines.insert(0, copy("status.stage", stage=stage(copy, alert, target.display_name, False)))
    message = notice(title, *lines)
    waits = waits_block(ctx, alert, target)
    if waits is not None and alert.status is not AlertStatus.ACTIVE:
        message = replace(message, blocks=(*message.blocks, waits))
    return Reply(message)


def waits_block(ctx: Ctx, alert: Alert, target: Member | None, you: bool = False) -> Block | None:
    """What the crowd still waits for, under its heading (None: nothing)."""
    waits = gates(ctx, alert, target, you)
    if not waits:
        return None
    return para("\n".join(waits), heading=ctx.copy("safety.waits_heading"))


async def after_choices(ctx: Ctx, alert: Alert, target: Member, tell: bool = True) -> int | None:
    """Rally when both have agreed (returns how many were called); otherwise tell the target
    (if she knows of the alert, and `tell`) where it stands and what she can still do."""
    copy = ctx.copy
    if not crowd_possible(alert):
        if tell and target_knows(alert) and alert.safety_lead_id is not None:
            await notices.tell_target(
                ctx,
                alert,
                notice(
                    copy("safety.news_title", number=alert.number),
                    copy("safety.picked_up_target"),
                ),
                target,
            )
        return None
    if alert.safety_lead_ok and alert.target_ok and not alert.held_reason:
        called = await activate(ctx, alert)
        if tell:
            await notices.tell_target(
                ctx,
                alert,
                notice(
                    copy("safety.rallied_title", number=alert.number),
                    copy("safety.rallied_target", count=len(called), number=alert.number),
                ),
                target,
            )
        return len(called)
    if not tell or not target_knows(alert) or alert.safety_lead_id is None:
        return None
    if alert.safety_lead_ok:
        body = (
            copy("safety.lead_yes_target_no")
            if alert.target_choice_at is not None
            else copy("safety.lead_yes_target")
        )
        buttons = target_buttons(ctx, alert, no_crowd=alert.target_choice_at is None)
    else:
        body = copy("safety.kept_target")
        buttons = target_buttons(ctx, alert, no_crowd=False)
    await notices.tell_target(
        ctx,
        alert,
        notice(copy("safety.news_title", number=alert.number), body, buttons=buttons),
        target,
    )
    return None


async def choose(ctx: Ctx, cmd: c.TargetSafetyChoice) -> Reply:
    """The target of a severe alert chooses whether the crowd is rallied, and whether the
    rally may name her. The safety leads hear of her choice."""
    actor = await ctx.actor()
    alert = await ctx.alert(cmd.alert)
    if alert.target_id != actor.id:
        raise NotAllowed("error.not_your_alert")
    if not alert.is_severe or alert.status not in (AlertStatus.HELD, AlertStatus.SAFETY_REVIEW):
        raise Conflict("error.not_in_safety_review", number=alert.number)
    if not target_knows(alert):
        raise Conflict("error.not_in_safety_review", number=alert.number)
    if not crowd_possible(alert) and cmd.rally:
        raise Conflict("error.leads_only_no_crowd", number=alert.number)
    alert.target_ok, alert.target_choice_at = cmd.rally, ctx.now
    if cmd.rally and cmd.anonymous is not None:
        alert.anonymous = cmd.anonymous
    await ctx.audit(
        "target_rally_ok" if cmd.rally else "target_hold",
        alert,
        named=str(not alert.anonymous).lower(),
    )
    copy = ctx.copy
    if alert.status is AlertStatus.SAFETY_REVIEW and cmd.rally and alert.safety_lead_ok:
        called = await activate(ctx, alert)
        await tell_leads_of_choice(ctx, alert, actor, rallied=True)
        return Reply(
            notice(
                copy("safety.rallied_title", number=alert.number),
                copy("safety.rallied_target", count=len(called), number=alert.number),
            )
        )
    await ctx.uow.alerts.save(alert)
    await tell_leads_of_choice(ctx, alert, actor)
    return Reply(
        notice(copy("safety.decided_target", number=alert.number), *choice_lines(ctx, alert))
    )


def choice_lines(ctx: Ctx, alert: Alert) -> list[str]:
    """What the target's choice means now, in plain words, and what happens next."""
    copy = ctx.copy
    if not crowd_possible(alert):
        lines = [copy("safety.target_leads_only")]
    elif not alert.target_ok:
        lines = [copy("safety.target_no_recorded")]
    elif alert.safety_lead_id is not None and not alert.safety_lead_ok:
        lines = [copy("safety.target_yes_but_kept")]
    else:
        lines = [copy("safety.target_yes_waiting")]
    if alert.status is AlertStatus.HELD:
        lines.append(copy("safety.target_also_review"))
    return lines


async def tell_leads_of_choice(
    ctx: Ctx, alert: Alert, target: Member, rallied: bool = False
) -> None:
    """The safety leads hear the target's choice; a safety lead who kept it with the safety
    team hears that she now wants the crowd, with the buttons to reconsider."""
    copy = ctx.copy
    name = target.display_name
    buttons: tuple[Button, ...] = ()
    if rallied:
        line = copy("safety.choice_rallied", name=name)
    elif not alert.target_ok:
        line = copy("safety.choice_no", name=name)
    else:
        line = copy(
            "safety.choice_yes_anonymous" if alert.anonymous else "safety.choice_yes", name=name
        )
        if alert.safety_lead_id is None or not alert.safety_lead_ok:
            buttons = (
                Button(
                    action_id("safety", alert.id, "rally"), copy("button.safety_rally"), "danger"
                ),
                Button(action_id("safety", alert.id, "hold"), copy("button.safety_hold")),
            )
    if alert.safety_lead_id is not None and not alert.safety_lead_ok and alert.target_ok:
        line = copy("safety.choice_reconsider", name=name)
    message = notice(
        copy("safety.choice_title", number=alert.number, name=name), line, buttons=buttons
    )
    decider = await ctx.uow.members.get(alert.safety_lead_id) if alert.safety_lead_id else None
    key = f"safety-choice:{alert.id}:{ctx.ids.new()}"
    if decider is not None and decider.is_active and decider.id != target.id:
        await ctx.to_members([decider], key, message)
    else:
        await ctx.to_leads(key, message, safety_only=True)
