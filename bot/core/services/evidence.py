"""Evidence the target keeps for reports, and the packet only the target and leads export."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.core import commands as c
from bot.core.copy import Copy
from bot.core.errors import BadInput, Conflict, NotAllowed
from bot.core.messages import Attachment, Message, Reply
from bot.core.model import Alert, Evidence, EvidenceKind, Member
from bot.core.parse import parse_link
from bot.core.services.context import Ctx
from bot.core.views import kinds_text, notice

_CASE = re.compile(r"^case[\s:#-]+(\S.*)$", re.IGNORECASE)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def classify(content: str) -> tuple[EvidenceKind, str]:
    """A link, a report case number ("case 12345"), or a note."""
    text = content.strip()
    if not text:
        raise BadInput("error.usage", usage="evidence #12 <link, case number or note>")
    if text.lower().startswith(("http://", "https://")):
        return EvidenceKind.LINK, parse_link(text)
    m = _CASE.match(text)
    if m:
        return EvidenceKind.CASE, m.group(1).strip()
    return EvidenceKind.NOTE, text


def may_add(actor: Member, alert: Alert) -> bool:
    return actor.is_lead or actor.id == alert.target_id or actor.id in alert.delegates


def may_export(actor: Member, alert: Alert) -> bool:
    return actor.is_lead or actor.id == alert.target_id


async def add(ctx: Ctx, cmd: c.AddEvidence) -> Reply:
    """The target, members they delegate, and leads add evidence, each item hashed."""
    actor = await ctx.actor()
    alert = await ctx.alert(cmd.alert)
    if not may_add(actor, alert):
        raise NotAllowed("error.evidence_not_allowed")
    kind, content = classify(cmd.content)
    item = Evidence(
        id=ctx.ids.new(),
        alert_id=alert.id,
        added_by_id=actor.id,
        added_at=ctx.now,
        kind=kind,
        content=content,
        sha256=sha256(content),
    )
    await ctx.uow.evidence.add(item)
    await ctx.audit("evidence_added", alert, kind=kind.value)
    return Reply(
        notice(
            ctx.copy(
                "evidence.added",
                number=alert.number,
                kind=ctx.copy(f"evidence_kind.{kind}"),
                hash=item.sha256[:12],
            )
        )
    )


async def delegate(ctx: Ctx, cmd: c.Delegate) -> Reply:
    """The target lets a trusted member add evidence (not export it)."""
    actor = await ctx.actor()
    alert = await ctx.alert(cmd.alert)
    if actor.id != alert.target_id:
        raise NotAllowed("error.not_your_alert")
    member = await ctx.member(cmd.member)
    if not member.is_active:
        raise Conflict("error.target_not_active", name=member.display_name)
    alert.delegates = alert.delegates | {member.id}
    await ctx.uow.alerts.save(alert)
    await ctx.audit("evidence_delegated", alert, subject=member.id)
    return Reply(
        notice(ctx.copy("evidence.delegated", name=member.display_name, number=alert.number))
    )


@dataclass(frozen=True)
class PacketItem:
    at: str
    kind: str
    added_by: str
    content: str
    sha256: str


async def export(ctx: Ctx, cmd: c.ExportEvidence) -> Reply:
    """Markdown for people and JSON for tools, delivered privately; every export audited."""
    actor = await ctx.actor()
    alert = await ctx.alert(cmd.alert)
    if not may_export(actor, alert):
        raise NotAllowed("error.export_not_allowed")
    rows = await ctx.uow.evidence.for_alert(alert.id)
    people = await ctx.uow.members.many(
        sorted({alert.target_id, alert.raised_by_id, *(r.added_by_id for r in rows)})
    )
    names = {m.id: m.display_name for m in people}
    collective = await ctx.collective()
    items = packet_items(ctx.copy, alert, rows, names)
    md = packet_markdown(ctx.copy, collective.name, alert, names, items)
    js = packet_json(collective.name, alert, names, items, ctx.now.isoformat())
    base = f"alert-{alert.number}-evidence"
    message = Message(
        title=ctx.copy("evidence.packet_title", number=alert.number),
        attachments=(
            Attachment(f"{base}.md", md, "text/markdown"),
            Attachment(f"{base}.json", js, "application/json"),
        ),
    )
    await ctx.to_members([actor], f"export:{alert.id}:{ctx.ids.new()}", message)
    await ctx.audit("evidence_exported", alert, items=str(len(items)))
    return Reply(notice(ctx.copy("evidence.exported", number=alert.number, count=len(items))))


def packet_items(
    copy: Copy, alert: Alert, rows: Sequence[Evidence], names: dict[str, str]
) -> list[PacketItem]:
    raiser = names.get(alert.raised_by_id, copy("alert.anonymous_member"))
    items = [
        PacketItem(alert.raised_at.isoformat(), EvidenceKind.LINK.value, raiser, link, sha256(link))
        for link in alert.links
    ]
    items.extend(
        PacketItem(
            r.added_at.isoformat(),
            r.kind.value,
            names.get(r.added_by_id, copy("alert.anonymous_member")),
            r.content,
            r.sha256,
        )
        for r in sorted(rows, key=lambda r: (r.added_at, r.id))
    )
    return items


def packet_markdown(
    copy: Copy, collective: str, alert: Alert, names: dict[str, str], items: list[PacketItem]
) -> str:
    target = names.get(alert.target_id, copy("alert.anonymous_member"))
    lines = [
        f"# {copy('evidence.packet_title', number=alert.number)}",
        "",
        f"- {copy('packet.collective')}: {collective}",
        f"- {copy('packet.target')}: {target}",
        f"- {copy('packet.raised')}: {alert.raised_at.isoformat()}",
        f"- {copy('packet.where')}: {copy(f'venue.{alert.venue}')}",
        f"- {copy('packet.kinds')}: {kinds_text(copy, alert.kinds)}",
        f"- {copy('packet.severity')}: {copy(f'severity.{alert.severity}')}",
    ]
    if alert.closed_at:
        lines.append(f"- {copy('packet.closed')}: {alert.closed_at.isoformat()}")
    if alert.note:
        lines += ["", f"## {copy('packet.what_happened')}", "", alert.note]
    lines += ["", f"## {copy('packet.items')}", ""]
    for n, item in enumerate(items, 1):
        lines.append(f"{n}. {item.at} · {copy(f'evidence_kind.{item.kind}')} · {item.added_by}")
        lines.append(f"   {item.content}")
        lines.append(f"   sha256: `{item.sha256}`")
    lines += ["", copy("packet.footer")]
    return "\n".join(lines) + "\n"


def packet_json(
    collective: str, alert: Alert, names: dict[str, str], items: list[PacketItem], at: str
) -> str:
    data = {
        "schema": "rallybot.evidence/1",
        "exported_at": at,
        "collective": collective,
        "alert": {
            "number": alert.number,
            "target": names.get(alert.target_id),
            "raised_at": alert.raised_at.isoformat(),
            "closed_at": alert.closed_at.isoformat() if alert.closed_at else None,
            "where": alert.venue.value,
            "kinds": sorted(k.value for k in alert.kinds),
            "severity": alert.severity.value,
            "note": alert.note,
        },
        "items": [item.__dict__ for item in items],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
