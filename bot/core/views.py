"""Neutral messages shared by several services: the rally and its live tally."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from bot.core.messages import Block, Button, Link, Mention, Message, Span, Text, para
from bot.core.model import (
    SEVERE_KINDS,
    Alert,
    AlertStatus,
    Help,
    Kind,
    Member,
    Response,
    ResponseState,
    Visibility,
)
from bot.core.wording import Copy


def rally_key(alert: Alert) -> str:
    return f"rally:{alert.id}"


def action_id(scope: str, ident: str, verb: str, *extra: str) -> str:
    return ":".join(("rally", scope, ident, verb, *extra))


def target_label(
    copy: Copy, alert: Alert, target: Member | None, for_leads: bool, start: bool = False
) -> str:
    """Who the alert is about, as this audience may know it (`start`: it begins a
    sentence)."""
    if target is None or (alert.anonymous and not for_leads):
        return copy("alert.anonymous_target_start" if start else "alert.anonymous_target")
    return target.display_name


def list_words(copy: Copy, prefix: str, values: Sequence[str]) -> str:
    return ", ".join(copy(f"{prefix}.{v}") for v in sorted(values)) or copy("word.none")


def upper_first(text: str) -> str:
    """Text that starts a sentence ("Doxxing, threats on X"); the rest is left as it is."""
    return text[:1].upper() + text[1:]


def kinds_text(copy: Copy, kinds: Iterable[Kind]) -> str:
    return ", ".join(copy(f"kind.{k}") for k in sorted(kinds)) or copy("kind.unspecified")


TALLY_NAMES = 25  # helpers a rally's tally names; the others are counted


def tally(
    copy: Copy,
    responses: Sequence[Response],
    names: Mapping[str, str],
    counts: Mapping[ResponseState, int] | None = None,
) -> tuple[Block, ...]:
    """The counts, then the helpers in the order they answered. With `counts` (the totals,
    counted in the database) `responses` may be only the first few; the rest are a number."""
    if counts is None:
        counts = {s: sum(1 for r in responses if r.state is s) for s in ResponseState}
    blocks = [
        para(
            copy(
                "rally.tally",
                on_it=counts[ResponseState.ON_IT],
                done=counts[ResponseState.DONE],
                cant=counts[ResponseState.CANT],
            )
        )
    ]
    helping = [r for r in responses if r.state is not ResponseState.CANT]
    if helping:
        parts = []
        for r in sorted(helping, key=lambda r: r.first_at):
            who = names.get(r.member_id, copy("alert.anonymous_member"))
            if r.state is ResponseState.DONE and r.actions:
                parts.append(
                    copy(
                        "rally.tally_done_person",
                        name=who,
                        actions=list_words(copy, "action", list(r.actions)),
                    )
                )
            elif r.state is ResponseState.DONE:
                parts.append(copy("rally.tally_done_plain", name=who))
            else:
                parts.append(copy("rally.tally_on_it_person", name=who))
        unnamed = counts[ResponseState.ON_IT] + counts[ResponseState.DONE] - len(helping)
        if unnamed > 0:
            parts.append(copy("rally.tally_more", count=unnamed))
        blocks.append(para("; ".join(parts), heading=copy("rally.tally_heading")))
    return tuple(blocks)


def rally_message(
    copy: Copy,
    alert: Alert,
    target: Member | None,
    called: Sequence[Member],
    responses: Sequence[Response],
    names: Mapping[str, str],
    live_tally: bool = True,
    counts: Mapping[ResponseState, int] | None = None,
) -> Message:
    """The rally: what happened, what to do (the practice), who is called, the live tally
    (or, in a copy that is not kept live, where to find it)."""
    who = target_label(copy, alert, target, for_leads=False)
    blocks: list[Block] = [
        para(
            copy(
                "rally.what",
                who=target_label(copy, alert, target, for_leads=False, start=True),
                kinds=kinds_text(copy, alert.kinds),
                venue=copy(f"venue.{alert.venue}"),
            )
        ),
    ]
    private = alert.keeps_details_private
    if private:
        # A doxx or a threat repeated to a wider audience is itself harm: the note and
        # every link go privately to those who press "I'm on it".
        blocks.append(para(copy("rally.private_details")))
    else:
        if alert.target_post and not alert.anonymous and Help.AMPLIFY in alert.help_wanted:
            blocks.append(Block((Link(alert.target_post),), copy("rally.amplify_heading")))
        if alert.note:
            blocks.append(para(alert.note, heading=copy("rally.note_heading")))
        if alert.links:  # none once its target is forgotten: no heading over nothing
            blocks.append(Block(link_lines(alert.links), copy("rally.links_heading")))
    blocks.append(para(copy("rally.help", help=list_words(copy, "want", list(alert.help_wanted)))))
    blocks.append(
        para(
            copy("rally.practice_private" if private else "rally.practice"),
            heading=copy("rally.practice_heading"),
        )
    )
    if called:
        blocks.append(calling(copy, called))
    if live_tally:
        blocks.extend(tally(copy, responses, names, counts))
    else:
        blocks.append(para(copy("rally.tally_in_channel", number=alert.number)))
    buttons: tuple[Button, ...] = ()
    if alert.is_open:
        buttons = rally_buttons(copy, alert)
    else:
        blocks.append(para(copy("rally.closed", reason=copy(f"close.{alert.close_reason}"))))
    return Message(
        title=copy("rally.title", number=alert.number, who=who),
        blocks=tuple(blocks),
        buttons=buttons,
        has_attack_links=not private,
    )


def practice_for(copy: Copy, alert: Alert) -> list[str]:
    """What to do, and not do, for each kind of severe attack in the alert."""
    kinds = sorted(alert.kinds & SEVERE_KINDS)
    return [copy(f"practice.{k}") for k in kinds] or [copy("practice.critical")]


def private_details(copy: Copy, alert: Alert, target: Member | None) -> Message:
    """For one responder who took a severe alert on: the practice, then the details the
    crowd never sees (her own post unless anonymous, the note, the attack links)."""
    blocks: list[Block] = [
        para(line, heading=copy("details.practice_heading") if i == 0 else None)
        for i, line in enumerate(practice_for(copy, alert))
    ]
    if alert.target_post and not alert.anonymous:
        blocks.append(Block((Link(alert.target_post),), copy("details.post_heading")))
    if alert.note:
        blocks.append(para(alert.note, heading=copy("details.note_heading")))
    if alert.links:
        blocks.append(Block(link_lines(alert.links), copy("details.links_heading")))
    blocks.append(para(copy("details.keep_private")))
    return Message(
        title=copy("details.title", number=alert.number),
        blocks=tuple(blocks),
        has_attack_links=True,
    )


def more_hands_message(
    copy: Copy, alert: Alert, target: Member | None, called: Sequence[Member]
) -> Message:
    """A later wave in the rally channel: who is newly called, and the same buttons."""
    return Message(
        title=copy(
            "rally.more_hands_title",
            number=alert.number,
            who=target_label(copy, alert, target, for_leads=False),
        ),
        blocks=(para(copy("rally.more_hands_body", number=alert.number)), calling(copy, called)),
        buttons=rally_buttons(copy, alert),
    )


def calling(copy: Copy, called: Sequence[Member]) -> Block:
    """The one line that pings: the responders the core chose, and nobody else."""
    spans: list[Span] = [Text(copy("rally.calling") + " ")]
    for i, m in enumerate(called):
        if i:
            spans.append(Text(" "))
        spans.append(Mention(m.id, m.display_name))
    return Block(tuple(spans))


def rally_buttons(copy: Copy, alert: Alert) -> tuple[Button, ...]:
    return (
        Button(action_id("alert", alert.id, "on_it"), copy("button.on_it"), "primary"),
        Button(action_id("alert", alert.id, "done"), copy("button.done")),
        Button(action_id("alert", alert.id, "cant"), copy("button.cant")),
        Button(action_id("alert", alert.id, "suggest"), copy("button.suggest")),
    )


def link_lines(urls: Sequence[str]) -> tuple[Span, ...]:
    """Links one to a line, as plain text (never unfurled, never a label)."""
    spans: list[Span] = []
    for i, url in enumerate(urls):
        if i:
            spans.append(Text("\n"))
        spans.append(Link(url))
    return tuple(spans)


def notice(
    title: str, *lines: str, buttons: tuple[Button, ...] = (), links: Sequence[str] = ()
) -> Message:
    """A short message: a title, lines of plain text, optional attack links and buttons."""
    blocks = [para(line) for line in lines if line]
    if links:
        blocks.append(Block(link_lines(links)))
    return Message(title=title, blocks=tuple(blocks), buttons=buttons, has_attack_links=bool(links))


def held_reasons(alert: Alert) -> list[str]:
    """Why a lead looks at a held alert first: "first_alert", "brigading", "link"."""
    return [r for r in (alert.held_reason or "").split(",") if r]


_SAFETY_STAGES: dict[tuple[bool | None, bool | None], str] = {
    (None, None): "safety_open",
    (None, True): "safety_target_yes",
    (None, False): "safety_target_no",
    (True, None): "safety_lead_yes",
    (True, True): "safety_lead_yes",
    (True, False): "safety_lead_yes_target_no",
    (False, None): "safety_kept",
    (False, False): "safety_kept",
    (False, True): "safety_kept_target_yes",
}


def stage(copy: Copy, alert: Alert, who: str, you: bool, taker: str | None = None) -> str:
    """Where the alert stands, truthfully, for someone who may know who it is about (`who`;
    `you`: the target herself reads it)."""
    key = f"stage.{alert.status}"
    if alert.status is AlertStatus.SAFETY_REVIEW:
        lead = None if alert.safety_lead_id is None else alert.safety_lead_ok
        if alert.visibility is Visibility.LEADS:
            key = "stage.safety_picked_up" if lead is not None else "stage.safety_leads_only"
        else:
            target = None if alert.target_choice_at is None else alert.target_ok
            key = "stage." + _SAFETY_STAGES[(lead, target)]
    elif alert.status is AlertStatus.ACTIVE and taker is not None:
        key = "stage.active_taken"
    elif alert.status is AlertStatus.CLOSED:
        return copy("stage.closed", reason=copy(f"close.{alert.close_reason}"))
    if you and copy.has(key + "_you"):
        key += "_you"
    return copy(key, who=who, lead=taker or "")
