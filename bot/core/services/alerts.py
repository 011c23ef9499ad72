"""The alert lifecycle: raise, consent, triage, safety review, responses, stand-down."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from urllib.parse import urlsplit

from bot.core import commands as c
from bot.core import links
from bot.core.errors import BadInput, Conflict, NotAllowed
from bot.core.library import check_known_topics
from bot.core.messages import Block, Button, Link, Message, Reply, para
from bot.core.model import (
    SEVERE_KINDS,
    Action,
    Alert,
    AlertStatus,
    CloseReason,
    Collective,
    Help,
    Member,
    Response,
    ResponseState,
    Role,
    Severity,
    Venue,
    Visibility,
)
from bot.core.services import checkins, notices, review, safety, upkeep
from bot.core.services.context import Ctx
from bot.core.services.rally import activate, is_public, refresh_tally, who
from bot.core.severe_words import kinds_named
from bot.core.views import (
    action_id,
    held_reasons,
    kinds_text,
    link_lines,
    list_words,
    notice,
    private_details,
    stage,
    tally,
    upper_first,
)

DEFAULT_HELP = frozenset({Help.AMPLIFY, Help.COUNTER, Help.REPORT})
_VENUE_HOSTS = {
    "x.com": Venue.X,
    "twitter.com": Venue.X,
    "instagram.com": Venue.INSTAGRAM,
    "tiktok.com": Venue.TIKTOK,
    "facebook.com": Venue.FACEBOOK,
    "fb.com": Venue.FACEBOOK,
    "youtube.com": Venue.YOUTUBE,
    "youtu.be": Venue.YOUTUBE,
    "reddit.com": Venue.REDDIT,
    "linkedin.com": Venue.LINKEDIN,
    "yelp.com": Venue.REVIEW_SITE,
    "healthgrades.com": Venue.REVIEW_SITE,
    "vitals.com": Venue.REVIEW_SITE,
    "ratemds.com": Venue.REVIEW_SITE,
    "zocdoc.com": Venue.REVIEW_SITE,
}


def guess_venue(link: str) -> Venue:
    host = (urlsplit(link).hostname or "").lower()
    for suffix, venue in _VENUE_HOSTS.items():
        if host == suffix or host.endswith("." + suffix):
            return venue
    return Venue.OTHER


async def raise_alert(ctx: Ctx, cmd: c.RaiseAlert) -> Reply:
    """Anyone vetted may raise; for someone else it waits for that person's consent. A severe
    alert reaches the safety leads at once, whatever else it waits for."""
    actor = await ctx.actor()
    collective = await ctx.collective()
    recent = await ctx.uow.alerts.raised_by_since(actor.id, ctx.now - timedelta(days=1))
    if recent >= collective.alerts_per_day:
        raise NotAllowed("error.rate_limited", count=collective.alerts_per_day)
    target = actor
    if cmd.target is not None:
        target = await ctx.member(cmd.target)
        if not target.is_active:
            raise Conflict("error.target_not_active", name=target.display_name)
    # A severe kind named in the note and not chosen: the note would reach the crowd with it.
    named = kinds_named(cmd.note) - cmd.kinds
    kinds = cmd.kinds | named
    alert = Alert(
        id=ctx.ids.new(),
        collective_id=collective.id,
        number=await ctx.uow.collectives.next_alert_number(collective.id),
        target_id=target.id,
        raised_by_id=actor.id,
        raised_at=ctx.now,
        links=cmd.links,
        kinds=kinds,
        severity=cmd.severity or (Severity.HIGH if kinds & SEVERE_KINDS else Severity.MEDIUM),
        help_wanted=cmd.help_wanted or DEFAULT_HELP,
        visibility=cmd.visibility or Visibility.ALL,
        venue=cmd.venue or guess_venue(cmd.links[0]),
        target_post=cmd.post,
        note=cmd.note,
        anonymous=cmd.anonymous,
        topics=cmd.topics,
    )
    check_known_topics(collective.topics, cmd.topics)
    # Trackers are refused here; shorteners and mixed-script hosts wait for a lead.
    held_links = links.assess_all((*cmd.links, *filter(None, [cmd.post])), ctx.policy.link_rules)
    await ctx.audit("alert_raised", alert, subject=target.id, on_behalf=str(alert.on_behalf))
    if named:
        await ctx.audit("alert_kinds_from_note", alert, kinds=",".join(sorted(named)))
    reply = await _raise(ctx, collective, alert, actor, target, held_links)
    if not named:
        return reply
    why = para(ctx.copy("raised.kinds_from_note", kinds=kinds_text(ctx.copy, named)))
    return replace(reply, message=replace(reply.message, blocks=(why, *reply.message.blocks)))


async def _raise(
    ctx: Ctx,
    collective: Collective,
    alert: Alert,
    actor: Member,
    target: Member,
    held_links: list[links.Held],
) -> Reply:
    reasons = [r for r in [await review.hold_reason(ctx, collective, actor, alert)] if r]
    if held_links:
        reasons.append(review.LINK)
    if reasons:
        return await review.hold(ctx, alert, reasons, actor, target)
    await ctx.uow.alerts.add(alert)
    if alert.is_severe:
        # The safety leads first, with what the crowd still waits for.
        alert.status = AlertStatus.PENDING_CONSENT if alert.on_behalf else AlertStatus.SAFETY_REVIEW
        await safety.tell_safety_leads(ctx, alert, actor, target)
        if not alert.on_behalf:
            await safety.ask_target(ctx, alert, target)
    return Reply(await proceed(ctx, alert, actor, target))


async def proceed(ctx: Ctx, alert: Alert, raiser: Member, target: Member) -> Message:
    """After any review: an alert for someone else waits for their consent; one's own is
    triaged at once."""
    copy = ctx.copy
    if alert.on_behalf and alert.consented_at is None:
        alert.status = AlertStatus.PENDING_CONSENT
        # Unanswered, the request expires (escalation's timer does double duty).
        alert.escalate_at = ctx.now + timedelta(hours=ctx.policy.consent_expiry_hours)
        await ctx.uow.alerts.save(alert)
        await ctx.to_members([target], f"consent:{alert.id}", consent_message(ctx, alert, raiser))
        return notice(
            copy("raised.title", number=alert.number),
            copy("raised.waiting_consent", name=target.display_name),
            copy("raised.safety_told") if alert.is_severe else "",
        )
    return await triage(ctx, alert, target)


def consent_message(ctx: Ctx, alert: Alert, raiser: Member) -> Message:
    """Everything the target needs to decide: who raised it, what, where, what they wrote,
    the links (her own post too), who would see it and whether it names her; for a severe
    alert the safety resources at once, whatever she answers."""
    copy = ctx.copy
    lines = [
        copy(
            "consent.body",
            raiser=raiser.display_name,
            kinds=kinds_text(copy, alert.kinds),
            venue=copy(f"venue.{alert.venue}"),
        ),
        copy("consent.note", note=alert.note) if alert.note else "",
        copy(
            "consent.seen_by",
            visibility=copy(f"visibility.{alert.visibility}"),
            help=list_words(copy, "want", list(alert.help_wanted)),
        ),
        copy("consent.raised_anonymous" if alert.anonymous else "consent.raised_named"),
    ]
    blocks = [para(line) for line in lines if line]
    if alert.target_post:
        blocks.append(Block((Link(alert.target_post),), copy("consent.post_heading")))
    blocks.append(Block(link_lines(alert.links), copy("consent.links_heading")))
    if alert.is_severe:
        blocks.append(para(copy("safety.consent_safety")))
        blocks.append(para(copy("safety.resources"), heading=copy("safety.resources_heading")))
    crowd = alert.visibility is not Visibility.LEADS
    blocks.append(
        para(
            copy(
                ("consent.question_severe" if alert.is_severe else "consent.question")
                if crowd
                else "consent.question_leads"
            )
        )
    )
    return Message(
        title=copy("consent.title", number=alert.number),
        blocks=tuple(blocks),
        buttons=consent_buttons(ctx, alert),
        has_attack_links=True,
    )


def consent_buttons(ctx: Ctx, alert: Alert) -> tuple[Button, ...]:
    """Yes naming her, yes without her name, (for a severe alert) the safety team only, or
    no; a leads-only alert has nothing to rally: yes or no."""
    copy = ctx.copy
    crowd = alert.visibility is not Visibility.LEADS
    buttons: list[Button] = []
    if crowd:
        buttons += [
            Button(action_id("consent", alert.id, "yes"), copy("button.crowd_named"), "primary"),
            Button(action_id("consent", alert.id, "yes_anon"), copy("button.crowd_anonymous")),
        ]
        if alert.is_severe:
            buttons.append(
                Button(action_id("consent", alert.id, "safety"), copy("button.consent_safety_only"))
            )
    else:
        buttons.append(
            Button(action_id("consent", alert.id, "yes"), copy("button.consent_leads"), "primary")
        )
    buttons.append(Button(action_id("consent", alert.id, "no"), copy("button.consent_no")))
    return tuple(buttons)


async def triage(ctx: Ctx, alert: Alert, target: Member, tell: bool = True) -> Message:
    """Severe alerts go to safety review; leads-only alerts are catalogued; the rest rally."""
    copy = ctx.copy
    collective = await ctx.collective()
    await checkins.schedule(ctx, alert, collective, target)
    if alert.is_severe:
        alert.status = AlertStatus.SAFETY_REVIEW
        alert.escalate_at = (
            ctx.now + timedelta(minutes=collective.escalation_wait_minutes)
            if alert.safety_lead_id is None
            else None
        )
        await ctx.uow.alerts.save(alert)
        called = await safety.after_choices(ctx, alert, target, tell=tell)
        if called is not None:
            return notice(
                copy("safety.rallied_title", number=alert.number),
                copy("raised.rallied", count=called),
            )
        return notice(copy("raised.title", number=alert.number), copy("raised.safety_review"))
    if alert.visibility is Visibility.LEADS:
        alert.status = AlertStatus.ACTIVE
        alert.activated_at = ctx.now
        await ctx.uow.alerts.save(alert)
        await ctx.to_leads(
            f"catalogue:{alert.id}", _lead_summary(ctx, alert, target, "leads.catalogued_title")
        )
        return notice(copy("raised.title", number=alert.number), copy("raised.catalogued"))
    rallied = await activate(ctx, alert)
    return notice(
        copy("raised.title", number=alert.number), copy("raised.rallied", count=len(rallied))
    )


def _lead_summary(ctx: Ctx, alert: Alert, target: Member, title_key: str) -> Message:
    copy = ctx.copy
    message = notice(
        copy(title_key, number=alert.number),
        copy(
            "leads.summary",
            name=target.display_name,
            kinds=kinds_text(copy, alert.kinds),
            venue=copy(f"venue.{alert.venue}"),
            severity=copy(f"severity.{alert.severity}"),
        ),
        buttons=(Button(action_id("alert", alert.id, "standdown"), copy("button.standdown")),),
    )
    return replace(
        message,
        blocks=(*message.blocks, *safety.details_blocks(ctx, alert)),
        has_attack_links=True,
    )


async def give_consent(ctx: Ctx, cmd: c.GiveConsent) -> Reply:
    """Only the target answers. Yes triages the alert (she chooses whether the rally names
    her); no closes it and thanks the raiser. A request that expired unanswered can still be
    answered yes for `late_consent_days`."""
    actor = await ctx.actor()
    alert = await ctx.alert(cmd.alert)
    copy = ctx.copy
    if alert.target_id != actor.id:
        raise NotAllowed("error.not_your_consent")
    late = alert.status is AlertStatus.CLOSED and alert.close_reason is CloseReason.EXPIRED
    if late:
        limit = timedelta(days=ctx.policy.late_consent_days)
        if alert.closed_at is None or ctx.now - alert.closed_at > limit or alert.purged_at:
            raise Conflict("error.consent_too_late", number=alert.number)
        if not cmd.yes:
            return Reply(notice(copy("consent.late_no", number=alert.number)))
        alert.status, alert.closed_at, alert.close_reason = AlertStatus.PENDING_CONSENT, None, None
        alert.closed_by_id = None
    elif alert.status is not AlertStatus.PENDING_CONSENT:
        you = stage(copy, alert, actor.display_name, you=True)
        raise Conflict("error.consent_not_pending", number=alert.number, stage=you)
    if not cmd.crowd and not alert.is_severe:
        raise BadInput("error.bad_button")  # "only the safety team" is offered for severe ones
    alert.escalate_at = None
    raiser = await ctx.uow.members.get(alert.raised_by_id)
    await ctx.audit(
        "consent_given" if cmd.yes else "consent_declined", alert, late=str(late).lower()
    )
    if not cmd.yes:
        _close(alert, ctx, CloseReason.DECLINED, actor)
        await ctx.uow.alerts.save(alert)
        if raiser is not None:
            await ctx.to_members(
                [raiser],
                f"declined:{alert.id}",
                notice(
                    copy("consent.declined_title", number=alert.number),
                    copy("consent.declined_raiser", name=actor.display_name),
                ),
            )
        if alert.is_severe:
            await ctx.to_leads(
                f"safety-declined:{alert.id}",
                notice(
                    copy("safety.choice_title", number=alert.number, name=actor.display_name),
                    copy("safety.declined", name=actor.display_name),
                ),
                safety_only=True,
            )
        return Reply(
            notice(
                copy("consent.declined_title", number=alert.number),
                copy("consent.declined_target"),
            )
        )
    alert.consented_at = ctx.now
    if cmd.anonymous is not None:
        alert.anonymous = cmd.anonymous
    if alert.is_severe:
        alert.target_ok = cmd.crowd and safety.crowd_possible(alert)
        alert.target_choice_at = ctx.now
    message = await triage(ctx, alert, actor, tell=False)
    if alert.is_severe:
        await safety.tell_leads_of_choice(
            ctx, alert, actor, rallied=alert.status is AlertStatus.ACTIVE
        )
        if alert.status is not AlertStatus.ACTIVE:
            message = notice(
                copy("consent.given_title", number=alert.number),
                *safety.choice_lines(ctx, alert),
            )
    if raiser is not None:
        body = "consent.given_raiser_severe" if alert.is_severe else "consent.given_raiser"
        await ctx.to_members(
            [raiser],
            f"consented:{alert.id}",
            notice(
                copy("consent.given_title", number=alert.number),
                copy(body, name=actor.display_name),
            ),
        )
    return Reply(message)


async def safety_decision(ctx: Ctx, cmd: c.SafetyDecision) -> Reply:
    """A safety lead (any lead where the collective has none) decides about the crowd."""
    return await safety.decide(ctx, cmd)


async def target_safety_choice(ctx: Ctx, cmd: c.TargetSafetyChoice) -> Reply:
    """The target of a severe alert chooses whether the crowd is rallied."""
    return await safety.choose(ctx, cmd)


def _close(alert: Alert, ctx: Ctx, reason: CloseReason, by: Member) -> None:
    alert.status = AlertStatus.CLOSED
    alert.closed_at = ctx.now
    alert.close_reason = reason
    alert.closed_by_id = by.id
    alert.escalate_at = None


async def stand_down(ctx: Ctx, cmd: c.StandDown) -> Reply:
    """The target or a lead stands an alert down (the raiser may withdraw before consent);
    the target hears of it when someone else did."""
    actor = await ctx.actor()
    alert = await ctx.alert(cmd.alert)
    withdrawing = alert.status is AlertStatus.PENDING_CONSENT and actor.id == alert.raised_by_id
    if not (actor.is_lead or actor.id == alert.target_id or withdrawing):
        raise NotAllowed("error.standdown_not_allowed")
    if not alert.is_open:
        raise Conflict("error.already_closed", number=alert.number)
    was_rallied = alert.status is AlertStatus.ACTIVE
    was_severe_review = alert.is_severe and alert.status in safety.OPEN_STATES
    target_was_asked = safety.target_knows(alert) or alert.status is AlertStatus.PENDING_CONSENT
    _close(alert, ctx, CloseReason.STOOD_DOWN, actor)
    await ctx.audit("alert_stood_down", alert)
    await upkeep.after_close(ctx, alert)
    copy = ctx.copy
    if was_rallied:
        await refresh_tally(ctx, alert)
        responses = await ctx.uow.responses.for_alert(alert.id)
        helpers = await ctx.uow.members.many(
            [r.member_id for r in responses if r.state is not ResponseState.CANT]
        )
        await ctx.to_members(
            helpers,
            f"thanks:{alert.id}",
            notice(
                copy("standdown.thanks_title", number=alert.number),
                copy("standdown.thanks_body"),
            ),
        )
    if was_severe_review and not actor.has(Role.SAFETY_LEAD):
        await ctx.to_leads(
            f"safety-closed:{alert.id}",
            notice(
                copy("standdown.title", number=alert.number),
                copy("standdown.safety_leads", name=actor.display_name),
            ),
            safety_only=True,
        )
    if actor.id != alert.target_id and target_was_asked:
        body = "standdown.withdrawn_body" if withdrawing else "standdown.target_body"
        await notices.tell_target(
            ctx,
            alert,
            notice(
                copy("standdown.target_title", number=alert.number),
                copy(body, name=actor.display_name, number=alert.number),
            ),
        )
    await ctx.uow.alerts.save(alert)
    if actor.id == alert.target_id:
        body = "standdown.body_target"
    elif withdrawing:
        body = "standdown.body_withdrawn"
    else:
        body = "standdown.body"
    return Reply(
        notice(copy("standdown.title", number=alert.number), copy(body, number=alert.number))
    )


async def can_see(ctx: Ctx, viewer: Member, alert: Alert) -> bool:
    """Leads see every alert; the target, raiser and delegates see theirs; others see
    an active rally only if it is public or they were called to it."""
    if viewer.is_lead or viewer.id in (alert.target_id, alert.raised_by_id):
        return True
    if viewer.id in alert.delegates:
        return True
    if alert.status is not AlertStatus.ACTIVE and not (
        alert.status is AlertStatus.CLOSED and alert.activated_at is not None
    ):
        return False
    if alert.visibility is Visibility.LEADS:
        return False
    if is_public(alert):
        return True
    return viewer.id in {r.member_id for r in await ctx.uow.rallied.for_alert(alert.id)}


def is_insider(viewer: Member, alert: Alert) -> bool:
    """Leads, the target, the raiser and the target's delegates know the whole alert."""
    return (
        viewer.is_lead
        or viewer.id in (alert.target_id, alert.raised_by_id)
        or viewer.id in alert.delegates
    )


async def sees_details(ctx: Ctx, viewer: Member, alert: Alert) -> bool:
    """The note and links of a severe alert go only to insiders and to responders who took
    it on; the crowd sees what help is wanted."""
    if is_insider(viewer, alert) or not alert.keeps_details_private:
        return True
    mine = await ctx.uow.responses.get(alert.id, viewer.id)
    return mine is not None and mine.state is not ResponseState.CANT


async def visible_alert(ctx: Ctx, ref: c.AlertRef) -> tuple[Member, Alert]:
    actor = await ctx.actor()
    alert = await ctx.alert(ref)
    if not await can_see(ctx, actor, alert):
        # The same words as a missing alert: an alert you may not see does not exist for you.
        raise NotAllowed("error.no_alert", number=alert.number)
    return actor, alert


async def respond(ctx: Ctx, cmd: c.Respond) -> Reply:
    """One row per responder per alert; pressing the same thing twice changes nothing. A
    responder who takes a severe alert on gets its details privately, with the practice."""
    actor, alert = await visible_alert(ctx, cmd.alert)
    # Responses to one alert take turns (its row is locked until commit), so each tally is
    # rendered from every response committed before it and the last edit sent is exact.
    alert = await ctx.uow.alerts.lock(alert.id) or alert
    if alert.status is not AlertStatus.ACTIVE:
        raise Conflict("error.not_active", number=alert.number)
    if actor.id == alert.target_id:
        raise Conflict("error.own_alert")
    existing = await ctx.uow.responses.get(alert.id, actor.id)
    actions = existing.actions if existing else frozenset()
    if cmd.action is not None:
        actions = actions | {cmd.action}
    details: tuple[Message, ...] = ()
    if cmd.state is ResponseState.ON_IT and alert.keeps_details_private:
        target = await ctx.uow.members.get(alert.target_id)
        details = (private_details(ctx.copy, alert, target),)
    if existing and existing.state is cmd.state and existing.actions == actions:
        return Reply(notice(ctx.copy("respond.already", number=alert.number)), extras=details)
    response = Response(
        alert_id=alert.id,
        member_id=actor.id,
        state=cmd.state,
        actions=actions,
        first_at=existing.first_at if existing else ctx.now,
        updated_at=ctx.now,
    )
    await ctx.uow.responses.save(response)
    helping = cmd.state is not ResponseState.CANT
    if helping and alert.first_response_at is None:
        alert.first_response_at = ctx.now
        await notices.tell_target(
            ctx,
            alert,
            notice(
                ctx.copy("respond.first_title", number=alert.number),
                ctx.copy("respond.first_body", name=actor.display_name),
            ),
        )
        await ctx.uow.alerts.save(alert)
    await refresh_tally(ctx, alert, tally_only=True)
    if details:
        await ctx.audit("details_shared", alert, subject=actor.id)
    return Reply(notice(ctx.copy(f"respond.{cmd.state}", number=alert.number)), extras=details)


async def done_choices(ctx: Ctx, cmd: c.ShowDoneChoices) -> Reply:
    _, alert = await visible_alert(ctx, cmd.alert)
    if alert.status is not AlertStatus.ACTIVE:
        raise Conflict("error.not_active", number=alert.number)
    return Reply(
        notice(
            ctx.copy("respond.done_question", number=alert.number),
            buttons=tuple(
                Button(action_id("alert", alert.id, "did", a.value), ctx.copy(f"action.{a}"))
                for a in Action
            ),
        )
    )


async def status(ctx: Ctx, cmd: c.ShowStatus) -> Reply:
    """One alert as this person may know it: where it stands (truthfully, every gate it
    waits at), and the links it sends people to, for those who may see them."""
    if cmd.alert is None:
        return await _open_alerts(ctx)
    actor, alert = await visible_alert(ctx, cmd.alert)
    copy = ctx.copy
    target = await ctx.uow.members.get(alert.target_id)
    insider = is_insider(actor, alert)
    you = actor.id == alert.target_id
    name = who(ctx, alert, target, actor)
    taker = await ctx.uow.members.get(alert.taken_by_id) if alert.taken_by_id else None
    responses = await ctx.uow.responses.for_alert(alert.id)
    members = await ctx.uow.members.many([r.member_id for r in responses])
    names = {m.id: m.display_name for m in members}
    lines = [
        copy(
            "status.line",
            who=who(ctx, alert, target, actor, start=True),
            stage=stage(copy, alert, name, you, taker.display_name if taker else None),
            kinds=upper_first(kinds_text(copy, alert.kinds)),  # it starts a sentence
            venue=copy(f"venue.{alert.venue}"),
            severity=copy(f"severity.{alert.severity}"),
        ),
        copy(
            "status.visibility",
            visibility=copy(f"visibility.{alert.visibility}"),
            help=list_words(copy, "want", list(alert.help_wanted)),
        ),
    ]
    waits: Block | None = None
    if insider:
        lines.append(copy("status.anonymous" if alert.anonymous else "status.named"))
        if alert.is_severe and alert.is_open and alert.status is not AlertStatus.ACTIVE:
            waits = safety.waits_block(ctx, alert, target, you)
        elif alert.held_reason:
            reasons = [copy(f"gate.held_{r}") for r in held_reasons(alert)]
            waits = para("\n".join(reasons), heading=copy("safety.waits_heading"))
        evidence = await ctx.uow.evidence.for_alert(alert.id)
        lines.append(copy("status.evidence", count=len(evidence)))
    blocks = [para(line) for line in lines if line]
    if waits is not None:
        blocks.append(waits)
    if await sees_details(ctx, actor, alert):
        if alert.target_post and (insider or not alert.anonymous):
            blocks.append(Block((Link(alert.target_post),), copy("status.post_heading")))
        if alert.links:
            blocks.append(Block(link_lines(alert.links), copy("status.links_heading")))
    elif alert.keeps_details_private:
        blocks.append(para(copy("status.details_private")))
    return Reply(
        Message(
            title=copy("status.title", number=alert.number),
            blocks=(*blocks, *tally(copy, responses, names)),
            has_attack_links=True,
        )
    )


async def _open_alerts(ctx: Ctx) -> Reply:
    actor = await ctx.actor()
    collective = await ctx.collective()
    alerts = await ctx.uow.alerts.open_for_collective(collective.id)
    targets = {m.id: m for m in await ctx.uow.members.many([a.target_id for a in alerts])}
    lines = []
    for alert in alerts:
        if await can_see(ctx, actor, alert):
            name = who(ctx, alert, targets.get(alert.target_id), actor)
            lines.append(
                ctx.copy(
                    "status.open_line",
                    number=alert.number,
                    who=name,
                    stage=stage(ctx.copy, alert, name, actor.id == alert.target_id),
                    kinds=kinds_text(ctx.copy, alert.kinds),
                )
            )
    if not lines:
        return Reply(notice(ctx.copy("status.none")))
    return Reply(notice(ctx.copy("status.open_title", count=len(lines)), *lines))
