"""The digest in words: one text for every surface (plain text, Markdown, a message)."""

from __future__ import annotations

from bot.core.digest.figures import DigestData
from bot.core.messages import Attachment, Block, Message, para
from bot.core.ports import ChartRenderer
from bot.core.wording import Copy

OPEN_SHOWN = 10  # the oldest open alerts listed; the JSON form lists them all


def _signed(n: int) -> str:
    return f"+{n}" if n > 0 else str(n)


def _pairs(copy: Copy, prefix: str, values: dict[str, list[int]]) -> str:
    """Names with this week's count and the change: "pile-on 1 (+1), threats 0 (-1)"."""
    if not values:
        return copy("word.none")
    return ", ".join(
        f"{copy(f'{prefix}.{k}')} {n} ({_signed(d)})" for k, (n, d) in values.items() if n or d
    )


def _minutes(value: float | int | None, copy: Copy) -> str:
    return copy("word.none") if value is None else f"{value:g}"


def _open_lines(copy: Copy, d: DigestData) -> list[str]:
    if not d.open_alerts:
        return [copy("digest.open_none")]
    lines = [
        copy(
            "digest.open_line",
            number=o["alert"],
            status=copy(f"status.{o['status']}"),
            days=o["age_days"],
        )
        for o in d.open_alerts[:OPEN_SHOWN]
    ]
    if len(d.open_alerts) > OPEN_SHOWN:
        lines.append(copy("digest.open_more", count=len(d.open_alerts) - OPEN_SHOWN))
    return lines


def sections(copy: Copy, d: DigestData) -> list[tuple[str, list[str]]]:
    """(heading, lines) pairs: the digest's text, shared by every renderer."""
    fr = d.first_response
    out: list[tuple[str, list[str]]] = [
        (
            copy("digest.h_alerts"),
            [
                copy("digest.alerts", count=d.alerts[0], change=_signed(d.alerts[1])),
                copy("digest.kinds", kinds=_pairs(copy, "kind_name", d.by_kind)),
                copy("digest.venues", venues=_pairs(copy, "venue", d.by_platform)),
                copy("digest.severities", severities=_pairs(copy, "severity", d.by_severity)),
            ],
        ),
        (
            copy("digest.h_response"),
            [
                copy(
                    "digest.first_response",
                    median=_minutes(fr["median_minutes"], copy),
                    p90=_minutes(fr["p90_minutes"], copy),
                    answered=fr["answered"],
                )
                if fr["answered"]
                else copy("digest.first_response_none"),
                copy("digest.unanswered", count=d.unanswered[0], change=_signed(d.unanswered[1])),
                copy(
                    "digest.escalated",
                    count=len(d.escalated),
                    furthest=max((int(e["steps"]) for e in d.escalated), default=0),
                ),
                copy("digest.responders", count=d.responders_engaged),
                copy(
                    "digest.actions",
                    actions=", ".join(f"{copy(f'action.{k}')} {n}" for k, n in d.actions.items())
                    or copy("word.none"),
                ),
            ],
        ),
        (
            copy("digest.h_open"),
            _open_lines(copy, d),
        ),
        (
            copy("digest.h_care"),
            [
                copy("digest.checkins", count=d.checkins["due"], **d.checkins),
                *(
                    copy(
                        "digest.follow_up",
                        name=f["member"],
                        number=f["alert"],
                        answer=copy(f"digest.answer_{f['answer']}"),
                    )
                    for f in d.follow_up
                ),
            ],
        ),
        (
            copy("digest.h_load"),
            [
                copy(
                    "digest.load",
                    people=", ".join(f"{x['member']} {x['responses']}" for x in d.load)
                    or copy("word.none"),
                ),
                copy("digest.tiring", names=", ".join(d.tiring))
                if d.tiring
                else copy("digest.not_tiring", count=d.load_total),
            ],
        ),
        (
            copy("digest.h_library"),
            [
                *(
                    copy(
                        "digest.library_used", number=u["message"], count=u["uses"], text=u["text"]
                    )
                    for u in d.library_used
                ),
                *([] if d.library_used else [copy("digest.library_unused")]),
                copy(
                    "digest.library_gaps",
                    topics=", ".join(d.topics_without_messages) or copy("word.none"),
                ),
            ],
        ),
        (
            copy("digest.h_members"),
            [
                copy("digest.new_members", names=", ".join(d.new_members) or copy("word.none")),
                copy("digest.pending", names=", ".join(d.pending_members) or copy("word.none")),
            ],
        ),
    ]
    return out


def title(copy: Copy, d: DigestData) -> str:
    return copy("digest.title", name=d.collective, week=d.week)


def render_text(copy: Copy, d: DigestData) -> str:
    lines = [title(copy, d), ""]
    for heading, body in sections(copy, d):
        lines.append(heading)
        lines.extend(f"  {line}" for line in body)
    return "\n".join(lines) + "\n"


def render_markdown(copy: Copy, d: DigestData) -> str:
    lines = [f"# {title(copy, d)}"]
    for heading, body in sections(copy, d):
        lines += ["", f"## {heading}", ""]
        lines.extend(f"- {line}" for line in body)
    return "\n".join(lines) + "\n"


def render_message(copy: Copy, d: DigestData, chart: ChartRenderer | None = None) -> Message:
    blocks: list[Block] = [
        para("\n".join(body), heading=heading) for heading, body in sections(copy, d)
    ]
    attachments: tuple[Attachment, ...] = ()
    png = (
        chart.weekly(d.weeks, copy("digest.chart_alerts"), copy("digest.chart_median"))
        if chart
        else None
    )
    if png is not None:
        attachments = (Attachment(f"digest-{d.week}.png", "", "image/png", png),)
    return Message(title=title(copy, d), blocks=tuple(blocks), attachments=attachments)
