"""The alert lifecycle: raise, consent, triage, safety review, responses, stand-down."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from bot.core import commands as c
from bot.core.errors import Conflict, NotAllowed
from bot.core.library import check_known_topics
from bot.core.messages import Button, Message, Reply, para
from bot.core.model import (
    SEVERE_KINDS,
    Action,
    Alert,
    AlertStatus,
    CloseReason,
    Help,
    Member,
    Response,
    ResponseState,
    Role,
    Severity,
    Venue,
    Visibility,
)
from bot.core.services import checkins, review, upkeep
from bot.core.services.context import Ctx
from bot.core.services.rally import is_public, rally_wave, refresh_tally, who
from bot.core.views import action_id, kinds_text, list_words, notice, tally

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
    """Anyone vetted may raise; for someone else it waits for that person's consent."""
    actor = await ctx.actor()
    collective = await ctx.collective()
    recent = await ctx.uow.alerts.raised_by_since(actor.id, ctx.now - timedelta(days=1))
    if recent >= collective.alerts_per_day:
        raise NotAllowed("error.rate_limited", limit=collective.alerts_per_day)
    target = actor
    if cmd.target is not None:
        target = await ctx.member(cmd.target)
        if not target.is_active:
            raise Conflict("error.target_not_active", name=target.display_name)
    kinds = cmd.kinds
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
    await ctx.audit("alert_raised", alert, subject=target.id, on_behalf=str(alert.on_behalf))
    reason = await review.hold_reason(ctx, collective, actor, alert)
    if reason is not None:
        return await review.hold(ctx, alert, reason, actor, target)
    await ctx.uow.alerts.add(alert)
    return Reply(await proceed(ctx, alert, actor, target))


async def proceed(ctx: Ctx, alert: Alert, raiser: Member, target: Member) -> Message:
    """After any review: an alert for someone else waits for their consent; one's own is
    triaged at once."""
    if alert.on_behalf:
        alert.status = AlertStatus.PENDING_CONSENT
        # Unanswered, the request expires (escalation's timer does double duty).
        alert.escalate_at = ctx.now + timedelta(hours=ctx.policy.consent_expiry_hours)
        await ctx.uow.alerts.save(alert)
        await _ask_consent(ctx, alert, raiser, target)
        return notice(
            ctx.copy("raised.title", number=alert.number),
            ctx.copy("raised.waiting_consent", name=target.display_name),
        )
    return await triage(ctx, alert, target)


async def _ask_consent(ctx: Ctx, alert: Alert, raiser: Member, target: Member) -> None:
    copy = ctx.copy
    message = notice(
        copy("consent.title", number=alert.number),
        copy(
            "consent.body",
            raiser=raiser.display_name,
            kinds=kinds_text(copy, alert.kinds),
            venue=copy(f"venue.{alert.venue}"),
        ),
        copy("consent.note", note=alert.note) if alert.note else "",
        copy("consent.question"),
        links=alert.links,
        buttons=(
            Button(action_id("consent", alert.id, "yes"), copy("button.consent_yes"), "primary"),
            Button(action_id("consent", alert.id, "no"), copy("button.consent_no")),
        ),
    )
    await ctx.to_members([target], f"consent:{alert.id}", message)
    if alert.is_severe:
        # Safety leads hear of a severe report at once; still nobody is rallied without consent.
        await ctx.to_leads(
            f"consent-severe:{alert.id}",
            notice(
                copy("safety.pending_consent_title", number=alert.number),
                copy(
                    "safety.pending_consent_body",
                    name=target.display_name,
                    kinds=kinds_text(copy, alert.kinds),
                ),
            ),
            safety_only=True,
        )


async def triage(ctx: Ctx, alert: Alert, target: Member) -> Message:
    """Severe alerts go to safety review; leads-only alerts are catalogued; the rest rally."""
    copy = ctx.copy
    collective = await ctx.collective()
    await checkins.schedule(ctx, alert, collective)
    if alert.is_severe:
        alert.status = AlertStatus.SAFETY_REVIEW
        alert.escalate_at = ctx.now + timedelta(minutes=collective.escalation_wait_minutes)
        await ctx.uow.alerts.save(alert)
        await _start_safety_review(ctx, alert, target)
        return notice(copy("raised.title", number=alert.number), copy("raised.safety_review"))
    if alert.visibility is Visibility.LEADS:
        alert.status = AlertStatus.ACTIVE
        alert.activated_at = ctx.now
        await ctx.uow.alerts.save(alert)
        await ctx.to_leads(
            f"catalogue:{alert.id}", _lead_summary(ctx, alert, target, "leads.catalogued_title")
        )
        return notice(copy("raised.title", number=alert.number), copy("raised.catalogued"))
    called = await activate(ctx, alert)
    return notice(
        copy("raised.title", number=alert.number), copy("raised.rallied", count=len(called))
    )


async def activate(ctx: Ctx, alert: Alert) -> list[Member]:
    """Make the alert active and rally the first wave; nobody available reaches the leads."""
    collective = await ctx.collective()
    alert.status = AlertStatus.ACTIVE
    alert.activated_at = ctx.now
    alert.escalate_at = ctx.now + timedelta(minutes=collective.escalation_wait_minutes)
    await ctx.uow.alerts.save(alert)
    called = await rally_wave(ctx, alert, 0)
    if not called:
        await ctx.to_leads(
            f"nobody:{alert.id}",
            notice(
                ctx.copy("leads.nobody_title", number=alert.number), ctx.copy("leads.nobody_body")
            ),
        )
    await ctx.audit("alert_rallied", alert, count=str(len(called)))
    return called


def _lead_summary(ctx: Ctx, alert: Alert, target: Member, title_key: str) -> Message:
    copy = ctx.copy
    return notice(
        copy(title_key, number=alert.number),
        copy(
            "leads.summary",
            name=target.display_name,
            kinds=kinds_text(copy, alert.kinds),
            venue=copy(f"venue.{alert.venue}"),
            severity=copy(f"severity.{alert.severity}"),
        ),
        copy("leads.note", note=alert.note) if alert.note else "",
        links=alert.links,
        buttons=(Button(action_id("alert", alert.id, "standdown"), copy("button.standdown")),),
    )


async def _start_safety_review(ctx: Ctx, alert: Alert, target: Member) -> None:
    """Safety leads get the case and resources; the crowd is offered only if the alert
    may ever reach it (a leads-only alert never does)."""
    copy = ctx.copy
    crowd_possible = alert.visibility is not Visibility.LEADS
    lead_msg = _lead_summary(ctx, alert, target, "safety.review_title")
    hold = Button(action_id("safety", alert.id, "hold"), copy("button.safety_hold"), "primary")
    lead_msg = Message(
        title=lead_msg.title,
        blocks=(
            *lead_msg.blocks,
            para(copy("safety.resources"), heading=copy("safety.resources_heading")),
            para(copy("safety.lead_question" if crowd_possible else "safety.lead_no_crowd")),
        ),
        buttons=(
            (
                Button(
                    action_id("safety", alert.id, "rally"), copy("button.safety_rally"), "danger"
                ),
                hold,
            )
            if crowd_possible
            else (hold,)
        ),
        has_attack_links=True,
    )
    await ctx.to_leads(f"safety:{alert.id}", lead_msg, safety_only=True)
    target_buttons = (
        Button(action_id("target", alert.id, "rally"), copy("button.target_rally")),
        Button(action_id("target", alert.id, "hold"), copy("button.target_hold"), "primary"),
    )
    await ctx.to_members(
        [target],
        f"safety-target:{alert.id}",
        notice(
            copy("safety.target_title", number=alert.number),
            copy("safety.target_body"),
            copy("safety.resources"),
            copy("safety.target_question") if crowd_possible else "",
            buttons=target_buttons if crowd_possible else (),
        ),
    )


async def give_consent(ctx: Ctx, cmd: c.GiveConsent) -> Reply:
    """Only the target answers; yes triages the alert, no closes it and thanks the raiser."""
    actor = await ctx.actor()
    alert = await ctx.alert(cmd.alert)
    if alert.target_id != actor.id:
        raise NotAllowed("error.not_your_consent")
    if alert.status is not AlertStatus.PENDING_CONSENT:
        raise Conflict("error.consent_not_pending", number=alert.number)
    alert.escalate_at = None
    raiser = await ctx.uow.members.get(alert.raised_by_id)
    await ctx.audit("consent_given" if cmd.yes else "consent_declined", alert)
    if not cmd.yes:
        _close(alert, ctx, CloseReason.DECLINED, actor)
        await ctx.uow.alerts.save(alert)
        if raiser is not None:
            await ctx.to_members(
                [raiser],
                f"declined:{alert.id}",
                notice(
                    ctx.copy("consent.declined_title", number=alert.number),
                    ctx.copy("consent.declined_raiser", name=actor.display_name),
                ),
            )
        return Reply(
            notice(
                ctx.copy("consent.declined_title", number=alert.number),
                ctx.copy("consent.declined_target"),
            )
        )
    alert.consented_at = ctx.now
    message = await triage(ctx, alert, actor)
    if raiser is not None:
        await ctx.to_members(
            [raiser],
            f"consented:{alert.id}",
            notice(
                ctx.copy("consent.given_title", number=alert.number),
                ctx.copy("consent.given_raiser", name=actor.display_name),
            ),
        )
    return Reply(message)


async def safety_decision(ctx: Ctx, cmd: c.SafetyDecision) -> Reply:
    """A safety lead (any lead where the collective has none) decides about the crowd."""
    actor = await ctx.lead()
    alert = await ctx.alert(cmd.alert)
    if not actor.has(Role.SAFETY_LEAD) and await ctx.leads(safety_only=True):
        raise NotAllowed("error.safety_leads_only")
    if alert.status is not AlertStatus.SAFETY_REVIEW:
        raise Conflict("error.not_in_safety_review", number=alert.number)
    alert.safety_lead_id = actor.id
    alert.safety_lead_ok = cmd.rally
    alert.escalate_at = None  # a safety lead has it: no more escalation of the review
    await ctx.audit("safety_rally_ok" if cmd.rally else "safety_hold", alert)
    return Reply(await _maybe_rally_after_review(ctx, alert, "safety.decided_lead"))


async def target_safety_choice(ctx: Ctx, cmd: c.TargetSafetyChoice) -> Reply:
    """The target of a severe alert chooses whether the crowd is rallied."""
    actor = await ctx.actor()
    alert = await ctx.alert(cmd.alert)
    if alert.target_id != actor.id:
        raise NotAllowed("error.not_your_alert")
    if alert.status is not AlertStatus.SAFETY_REVIEW:
        raise Conflict("error.not_in_safety_review", number=alert.number)
    alert.target_ok = cmd.rally
    await ctx.audit("target_rally_ok" if cmd.rally else "target_hold", alert)
    return Reply(await _maybe_rally_after_review(ctx, alert, "safety.decided_target"))


async def _maybe_rally_after_review(ctx: Ctx, alert: Alert, key: str) -> Message:
    copy = ctx.copy
    if alert.visibility is Visibility.LEADS and (alert.safety_lead_ok or alert.target_ok):
        raise Conflict("error.leads_only_no_crowd", number=alert.number)
    if alert.safety_lead_ok and alert.target_ok:
        called = await activate(ctx, alert)
        return notice(
            copy("safety.rallied_title", number=alert.number),
            copy("raised.rallied", count=len(called)),
        )
    await ctx.uow.alerts.save(alert)
    waiting = []
    if not alert.target_ok:
        waiting.append(copy("safety.waiting_target"))
    if not alert.safety_lead_ok:
        waiting.append(copy("safety.waiting_lead"))
    return notice(copy(key, number=alert.number), *waiting)


def _close(alert: Alert, ctx: Ctx, reason: CloseReason, by: Member) -> None:
    alert.status = AlertStatus.CLOSED
    alert.closed_at = ctx.now
    alert.close_reason = reason
    alert.closed_by_id = by.id
    alert.escalate_at = None


async def stand_down(ctx: Ctx, cmd: c.StandDown) -> Reply:
    """The target or a lead stands an alert down (the raiser may withdraw before consent)."""
    actor = await ctx.actor()
    alert = await ctx.alert(cmd.alert)
    withdrawing = alert.status is AlertStatus.PENDING_CONSENT and actor.id == alert.raised_by_id
    if not (actor.is_lead or actor.id == alert.target_id or withdrawing):
        raise NotAllowed("error.standdown_not_allowed")
    if not alert.is_open:
        raise Conflict("error.already_closed", number=alert.number)
    was_rallied = alert.status is AlertStatus.ACTIVE
    _close(alert, ctx, CloseReason.STOOD_DOWN, actor)
    await ctx.uow.alerts.save(alert)
    await ctx.audit("alert_stood_down", alert)
    await upkeep.after_close(ctx, alert)
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
                ctx.copy("standdown.thanks_title", number=alert.number),
                ctx.copy("standdown.thanks_body"),
            ),
        )
    if actor.id != alert.target_id:
        title, body = (
            ("standdown.withdrawn_title", "standdown.withdrawn_body")
            if withdrawing
            else ("standdown.target_title", "standdown.target_body")
        )
        target = await ctx.uow.members.get(alert.target_id)
        if target is not None:
            await ctx.to_members(
                [target],
                f"closed:{alert.id}",
                notice(
                    ctx.copy(title, number=alert.number),
                    ctx.copy(body),
                ),
            )
    return Reply(
        notice(ctx.copy("standdown.title", number=alert.number), ctx.copy("standdown.body"))
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


async def visible_alert(ctx: Ctx, ref: c.AlertRef) -> tuple[Member, Alert]:
    actor = await ctx.actor()
    alert = await ctx.alert(ref)
    if not await can_see(ctx, actor, alert):
        # The same words as a missing alert: an alert you may not see does not exist for you.
        raise NotAllowed("error.no_alert", number=alert.number)
    return actor, alert


async def respond(ctx: Ctx, cmd: c.Respond) -> Reply:
    """One row per responder per alert; pressing the same thing twice changes nothing."""
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
    if existing and existing.state is cmd.state and existing.actions == actions:
        return Reply(notice(ctx.copy("respond.already", number=alert.number)))
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
    first = helping and alert.first_response_at is None
    if first:
        alert.first_response_at = ctx.now
        await ctx.uow.alerts.save(alert)
        target = await ctx.uow.members.get(alert.target_id)
        if target is not None:
            await ctx.to_members(
                [target],
                f"first:{alert.id}",
                notice(
                    ctx.copy("respond.first_title", number=alert.number),
                    ctx.copy("respond.first_body", name=actor.display_name),
                ),
            )
    await refresh_tally(ctx, alert, tally_only=True)
    return Reply(notice(ctx.copy(f"respond.{cmd.state}", number=alert.number)))


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
    if cmd.alert is None:
        return await _open_alerts(ctx)
    actor, alert = await visible_alert(ctx, cmd.alert)
    copy = ctx.copy
    target = await ctx.uow.members.get(alert.target_id)
    insider = actor.is_lead or actor.id == alert.target_id
    responses = await ctx.uow.responses.for_alert(alert.id)
    members = await ctx.uow.members.many([r.member_id for r in responses])
    names = {m.id: m.display_name for m in members}
    lines = [
        copy(
            "status.line",
            who=who(ctx, alert, target, actor),
            status=copy(f"status.{alert.status}"),
            kinds=kinds_text(copy, alert.kinds),
            venue=copy(f"venue.{alert.venue}"),
            severity=copy(f"severity.{alert.severity}"),
        ),
        copy(
            "status.visibility",
            visibility=copy(f"visibility.{alert.visibility}"),
            help=list_words(copy, "want", list(alert.help_wanted)),
        ),
    ]
    if insider:
        evidence = await ctx.uow.evidence.for_alert(alert.id)
        lines.append(copy("status.evidence", count=len(evidence)))
    message = notice(copy("status.title", number=alert.number), *lines, links=alert.links)
    return Reply(
        Message(
            title=message.title,
            blocks=(*message.blocks, *tally(copy, responses, names)),
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
            lines.append(
                ctx.copy(
                    "status.open_line",
                    number=alert.number,
                    who=who(ctx, alert, targets.get(alert.target_id), actor),
                    status=ctx.copy(f"status.{alert.status}"),
                    kinds=kinds_text(ctx.copy, alert.kinds),
                )
            )
    if not lines:
        return Reply(notice(ctx.copy("status.none")))
    return Reply(notice(ctx.copy("status.open_title", count=len(lines)), *lines))
