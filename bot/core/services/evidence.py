"""Evidence the target keeps for reports, and the packet only the target and leads export."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from bot.core import commands as c
from bot.core.errors import Conflict, NotAllowed
from bot.core.messages import Attachment, Message, Reply, para
from bot.core.model import Alert, Evidence, EvidenceKind, Member
from bot.core.packet import Packet, PacketRow
from bot.core.parse import parse_link, usage
from bot.core.services.context import Ctx
from bot.core.views import kinds_text, notice
from bot.core.wording import Copy

_CASE = re.compile(r"^case[\s:#-]+(\S.*)$", re.IGNORECASE)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def classify(content: str) -> tuple[EvidenceKind, str]:
    """A link, a report case number ("case 12345"), or a note."""
    text = content.strip()
    if not text:
        raise usage("evidence")
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
    """A PDF to hand over, Markdown for people and JSON for tools, delivered privately;
    every export audited."""
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
    copy = ctx.copy
    items = packet_items(copy, alert, rows, names)
    whole = packet_sha256(collective.name, alert, names, items)
    md = packet_markdown(copy, collective.name, alert, names, items, whole)
    js = packet_json(collective.name, alert, names, items, ctx.now.isoformat(), whole)
    base = f"alert-{alert.number}-evidence"
    files = [
        Attachment(f"{base}.md", md, "text/markdown"),
        Attachment(f"{base}.json", js, "application/json"),
    ]
    if ctx.pdf is not None:
        document = packet_document(copy, collective.name, alert, names, items, whole, ctx.now)
        files.insert(
            0, Attachment(f"{base}.pdf", "", "application/pdf", await ctx.pdf.pdf(document))
        )
    message = Message(
        title=copy("evidence.packet_title", number=alert.number),
        blocks=(
            para(copy("packet.intro")),
            para(copy("packet.whole", hash=whole)),
            *(
                para(copy("packet.file_hash", name=f.filename, hash=sha256_bytes(f.payload)))
                for f in files
            ),
        ),
        attachments=tuple(files),
    )
    await ctx.to_members([actor], f"export:{alert.id}:{ctx.ids.new()}", message)
    await ctx.audit("evidence_exported", alert, items=str(len(items)), packet=whole[:16])
    return Reply(notice(copy("evidence.exported", number=alert.number, count=len(items))))


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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


def packet_content(
    collective: str, alert: Alert, names: dict[str, str], items: list[PacketItem]
) -> dict[str, object]:
    """What the packet's own SHA-256 covers: the alert and every item (not when it was
    exported, so two exports of the same evidence have the same hash)."""
    return {
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
        "items": [asdict(item) for item in items],
    }


def packet_sha256(
    collective: str, alert: Alert, names: dict[str, str], items: list[PacketItem]
) -> str:
    """SHA-256 of the packet's content as canonical JSON (keys sorted, no spaces, UTF-8):
    docs/privacy.md shows how to check it from the JSON file."""
    content = packet_content(collective, alert, names, items)
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return sha256(canonical)


# --- Markdown: every text a person typed is inert --------------------------------------------

_MD_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def md_text(value: str) -> str:
    """A person's words inside a line of Markdown: one line, every ASCII punctuation
    character escaped, so they can't make a heading, list item, link, image, emphasis, HTML
    or an autolink (CommonMark lets any ASCII punctuation be escaped)."""
    flat = " ".join(value.split())
    return _MD_PUNCTUATION.sub(r"\\\1", flat)


def md_block(value: str) -> str:
    """A person's longer text as a fenced block: shown exactly as typed, never read as
    Markdown (the fence is longer than any run of backticks inside it)."""
    longest = max((len(m) for m in re.findall(r"`+", value)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{value}\n{fence}"


def packet_markdown(
    copy: Copy,
    collective: str,
    alert: Alert,
    names: dict[str, str],
    items: list[PacketItem],
    whole: str,
) -> str:
    target = names.get(alert.target_id, copy("alert.anonymous_member"))
    lines = [
        f"# {md_text(copy('evidence.packet_title', number=alert.number))}",
        "",
        f"- {copy('packet.collective')}: {md_text(collective)}",
        f"- {copy('packet.target')}: {md_text(target)}",
        f"- {copy('packet.raised')}: {alert.raised_at.isoformat()}",
        f"- {copy('packet.where')}: {md_text(copy(f'venue.{alert.venue}'))}",
        f"- {copy('packet.kinds')}: {md_text(kinds_text(copy, alert.kinds))}",
        f"- {copy('packet.severity')}: {md_text(copy(f'severity.{alert.severity}'))}",
    ]
    if alert.closed_at:
        lines.append(f"- {copy('packet.closed')}: {alert.closed_at.isoformat()}")
    if alert.note:
        lines += ["", f"## {copy('packet.what_happened')}", "", md_block(alert.note)]
    lines += ["", f"## {copy('packet.items')}", ""]
    for n, item in enumerate(items, 1):
        kind = md_text(copy(f"evidence_kind.{item.kind}"))
        lines.append(f"{n}. {item.at} · {kind} · {md_text(item.added_by)}")
        lines.append("")
        lines.extend("   " + line for line in md_block(item.content).split("\n"))
        lines.append("")
        lines.append(f"   sha256: `{item.sha256}`")
        lines.append("")
    lines += [f"## {copy('packet.whole_heading')}", "", f"`{whole}`", "", copy("packet.footer")]
    return "\n".join(lines) + "\n"


def packet_json(
    collective: str,
    alert: Alert,
    names: dict[str, str],
    items: list[PacketItem],
    at: str,
    whole: str,
) -> str:
    data = {
        "schema": "rallybot.evidence/2",
        "exported_at": at,
        **packet_content(collective, alert, names, items),
        "packet_sha256": whole,
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def packet_document(
    copy: Copy,
    collective: str,
    alert: Alert,
    names: dict[str, str],
    items: list[PacketItem],
    whole: str,
    now: datetime,
) -> Packet:
    """The packet for the PDF: the same words as the Markdown, laid out by a renderer."""
    target = names.get(alert.target_id, copy("alert.anonymous_member"))
    fields = [
        (copy("packet.collective"), collective),
        (copy("packet.target"), target),
        (copy("packet.raised"), alert.raised_at.isoformat()),
        (copy("packet.where"), copy(f"venue.{alert.venue}")),
        (copy("packet.kinds"), kinds_text(copy, alert.kinds)),
        (copy("packet.severity"), copy(f"severity.{alert.severity}")),
    ]
    if alert.closed_at:
        fields.append((copy("packet.closed"), alert.closed_at.isoformat()))
    fields.append((copy("packet.exported"), now.isoformat()))
    return Packet(
        title=copy("evidence.packet_title", number=alert.number),
        fields=tuple(fields),
        what_happened_heading=copy("packet.what_happened"),
        what_happened=alert.note,
        items_heading=copy("packet.items"),
        items=tuple(
            PacketRow(
                n,
                item.at,
                copy(f"evidence_kind.{item.kind}"),
                item.content,
                item.added_by,
                item.sha256,
            )
            for n, item in enumerate(items, 1)
        ),
        hash_label=copy("packet.whole_heading"),
        packet_sha256=whole,
        footer=copy("packet.footer"),
        labels={"page": copy("packet.page"), "sha256": "SHA-256"},
        created_at=now.isoformat(),
    )
