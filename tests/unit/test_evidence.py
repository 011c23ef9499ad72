"""Evidence: who may add it, what kind it is, and the packet only the target and leads export."""

from __future__ import annotations

import hashlib
import json

import pytest

from bot.adapters.slack.syntax import SLACK
from bot.core.errors import BadInput
from bot.core.model import EvidenceKind
from bot.core.services.evidence import classify, md_text

LINK = "https://x.com/troll/status/1"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def evidence(rally) -> list:
    return sorted(rally.data.evidence.values(), key=lambda e: (e.added_at, e.id))


@pytest.mark.parametrize(
    ("content", "kind", "stored"),
    [
        ("https://x.com/troll/status/2", EvidenceKind.LINK, "https://x.com/troll/status/2"),
        # Stored as every link is shown: scheme and host in lower case (punycode if need be).
        ("HTTP://Example.org/a", EvidenceKind.LINK, "http://example.org/a"),
        ("case 12345", EvidenceKind.CASE, "12345"),
        ("Case #ABC-99", EvidenceKind.CASE, "ABC-99"),
        ("case: 77 (X safety)", EvidenceKind.CASE, "77 (X safety)"),
        ("they posted my clinic address", EvidenceKind.NOTE, "they posted my clinic address"),
        ("casework notes", EvidenceKind.NOTE, "casework notes"),
        ("  padded note  ", EvidenceKind.NOTE, "padded note"),
    ],
)
def test_evidence_is_a_link_a_case_number_or_a_note(content, kind, stored) -> None:
    assert classify(content) == (kind, stored)


@pytest.mark.parametrize("content", ["", "   ", "https://", "http://exa mple.org"])
def test_empty_or_broken_evidence_is_refused(content) -> None:
    with pytest.raises(BadInput):
        classify(content)


async def test_the_target_adds_evidence_each_item_hashed(rally) -> None:
    alert = await rally.raise_alert("ana")

    replies = [
        await rally.say("ana", "evidence #1 https://x.com/troll/status/2"),
        await rally.say("ana", "evidence #1 case 12345"),
        await rally.say("ana", "evidence #1 they posted my clinic address"),
    ]

    assert all(r.ok for r in replies)
    rows = evidence(rally)
    assert [(e.kind, e.content) for e in rows] == [
        (EvidenceKind.LINK, "https://x.com/troll/status/2"),
        (EvidenceKind.CASE, "12345"),
        (EvidenceKind.NOTE, "they posted my clinic address"),
    ]
    assert all(e.sha256 == sha(e.content) for e in rows)
    assert {e.alert_id for e in rows} == {alert.id}
    assert {e.added_by_id for e in rows} == {rally.member("ana").id}
    assert (
        rally.copy(
            "evidence.added",
            number=1,
            kind=rally.copy("evidence_kind.case"),
            hash=sha("12345")[:12],
        )
        in replies[1].message.plain_text()
    )
    assert [e.detail for e in rally.audit("evidence_added")] == [
        {"kind": "link"},
        {"kind": "case"},
        {"kind": "note"},
    ]


async def test_a_slack_wrapped_link_is_kept_without_its_label(rally) -> None:
    await rally.raise_alert("ana")
    await rally.say("ana", "evidence #1 <https://x.com/troll/status/3|innocent label>", SLACK)
    (row,) = evidence(rally)
    assert (row.kind, row.content) == (EvidenceKind.LINK, "https://x.com/troll/status/3")


@pytest.mark.parametrize("who", ["ana", "lee", "sam"])
async def test_the_target_and_leads_add_evidence(rally, who) -> None:
    await rally.raise_alert("ana")
    assert (await rally.say(who, "evidence #1 a note")).ok
    assert [e.added_by_id for e in evidence(rally)] == [rally.member(who).id]


@pytest.mark.parametrize("who", ["ben", "cam"])
async def test_other_members_cannot_add_evidence(rally, who) -> None:
    await rally.raise_alert("ana")
    before = rally.snapshot()
    reply = await rally.say(who, "evidence #1 a note")
    assert not reply.ok
    assert rally.copy("error.evidence_not_allowed") in reply.message.plain_text()
    assert rally.snapshot() == before


async def test_a_delegate_of_the_target_adds_evidence_but_cannot_export(rally) -> None:
    await rally.raise_alert("ana")

    delegated = await rally.say("ana", "delegate #1 cam")

    assert rally.copy("evidence.delegated", name="Cam", number=1) in delegated.message.plain_text()
    assert rally.alert(1).delegates == {rally.member("cam").id}
    assert rally.audit()[-1].action == "evidence_delegated"
    assert (await rally.say("cam", "evidence #1 case 42")).ok
    assert not (await rally.say("ben", "evidence #1 case 43")).ok
    before = rally.snapshot()
    refused = await rally.say("cam", "export #1")
    assert not refused.ok
    assert rally.copy("error.export_not_allowed") in refused.message.plain_text()
    assert rally.snapshot() == before


@pytest.mark.parametrize(("who", "text"), [("lee", "delegate #1 cam"), ("ben", "delegate #1 ben")])
async def test_only_the_target_delegates(rally, who, text) -> None:
    await rally.raise_alert("ana")
    before = rally.snapshot()
    reply = await rally.say(who, text)
    assert not reply.ok
    assert rally.copy("error.not_your_alert") in reply.message.plain_text()
    assert rally.snapshot() == before


async def test_a_pending_member_cannot_be_a_delegate(rally) -> None:
    await rally.say("zoe", "join")
    await rally.raise_alert("ana")
    before = rally.snapshot()
    reply = await rally.say("ana", "delegate #1 zoe")
    assert not reply.ok
    assert rally.snapshot() == before


@pytest.mark.parametrize("who", ["ana", "lee"])
async def test_the_packet_is_markdown_and_json_with_a_correct_hash_per_item(rally, who) -> None:
    await rally.raise_alert("ana", f"link={LINK}2 kinds=pile_on they keep coming")
    await rally.say("ana", "evidence #1 https://x.com/troll/status/3")
    await rally.say("lee", "evidence #1 case 12345")
    await rally.say("ana", "evidence #1 they tagged my employer")

    reply = await rally.say(who, "export #1")

    assert reply.ok
    assert rally.copy("evidence.exported", number=1, count=5) in reply.message.plain_text()
    (sent,) = rally.outbox(prefix="export:")
    assert sent.to == ("dm", who)
    pdf, md, js = sent.message.attachments
    assert (pdf.filename, pdf.mime) == ("alert-1-evidence.pdf", "application/pdf")
    assert pdf.payload.startswith(b"%PDF-")
    assert (md.filename, md.mime) == ("alert-1-evidence.md", "text/markdown")
    assert (js.filename, js.mime) == ("alert-1-evidence.json", "application/json")

    packet = json.loads(js.content)
    assert packet["schema"] == "rallybot.evidence/2"
    assert packet["collective"] == "Demo collective"
    assert packet["alert"]["number"] == 1
    assert packet["alert"]["target"] == "Ana"
    assert packet["alert"]["kinds"] == ["pile_on"]
    assert packet["alert"]["note"] == "they keep coming"
    items = packet["items"]
    assert [(i["kind"], i["content"], i["added_by"]) for i in items] == [
        ("link", LINK, "Ana"),
        ("link", f"{LINK}2", "Ana"),
        ("link", "https://x.com/troll/status/3", "Ana"),
        ("case", "12345", "Lee"),
        ("note", "they tagged my employer", "Ana"),
    ]
    for item in items:
        assert item["sha256"] == sha(item["content"])
        assert f"sha256: `{item['sha256']}`" in md.content
        assert item["content"] in md.content
    assert md.content.startswith(f"# {md_text(rally.copy('evidence.packet_title', number=1))}\n")
    assert rally.copy("packet.footer") in md.content
    event = rally.audit("evidence_exported")[-1]
    assert (event.actor_id, event.detail) == (
        rally.member(who).id,
        {"items": "5", "packet": packet["packet_sha256"][:16]},
    )


async def test_every_export_is_a_new_private_message_and_a_new_audit_event(rally) -> None:
    await rally.raise_alert("ana")
    await rally.say("ana", "export #1")
    await rally.say("ana", "export #1")
    assert len(rally.outbox(prefix="export:")) == 2
    assert len(rally.audit("evidence_exported")) == 2


@pytest.mark.parametrize("who", ["ben", "cam", "dee"])
async def test_only_the_target_and_leads_export(rally, who) -> None:
    await rally.raise_alert("ana", "they keep coming")
    before = rally.snapshot()
    reply = await rally.say(who, "export #1")
    assert not reply.ok
    assert rally.copy("error.export_not_allowed") in reply.message.plain_text()
    assert rally.snapshot() == before


async def test_a_closed_alert_keeps_its_packet(rally) -> None:
    await rally.raise_alert("ana")
    await rally.say("ana", "evidence #1 case 1")
    await rally.say("ana", "standdown #1")

    assert (await rally.say("ana", "export #1")).ok

    _, md, js = rally.outbox(prefix="export:")[0].message.attachments
    assert json.loads(js.content)["alert"]["closed_at"] == rally.clock.now().isoformat()
    assert rally.copy("packet.closed") in md.content
    assert [i["content"] for i in json.loads(js.content)["items"]] == [LINK, "1"]
