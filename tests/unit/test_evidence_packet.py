"""The evidence packet as a document people hand over: a PDF beside the Markdown and JSON, a
SHA-256 per item and of the whole packet, and user text inert in every format."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import timedelta

import pytest
from markdown_it import MarkdownIt

from bot.core.packet import Packet, PacketRow
from bot.documents.pdf import LATIN_1, FpdfPackets, drawable, find_unicode_font
from tests.unit.conftest import Rally

HOSTILE_NOTE = (
    "# Forged heading\n- forged item\n1. forged numbered item\n"
    "[click](https://evil.example) ![img](https://evil.example/x.png) <https://evil.example>\n"
    "<script>alert(1)</script> <b>bold</b> &amp; **strong** `code` ``` fence\n"
    "> quote\n---\n| a | b |"
)
NON_LATIN = "Они опубликовали мой адрес · Ελληνικά · مرحبا · 例え · ✓"


async def export(rally: Rally, who: str = "ana"):
    reply = await rally.say(who, "export #1")
    assert reply.ok, reply.message.plain_text()
    sent = rally.outbox(prefix="export:")[-1]
    pdf, md, js = sent.message.attachments
    return sent, pdf, md, js


async def packet_with(rally: Rally, note: str, evidence: list[str]) -> None:
    reply = await rally.say("ana", f"alert https://x.com/troll/status/1 kinds=pile_on {note}")
    assert reply.ok, reply.message.plain_text()
    for item in evidence:
        assert (await rally.say("ana", f"evidence #1 {item}")).ok


# --- the PDF --------------------------------------------------------------------------------------


async def test_the_pdf_goes_with_the_markdown_and_json_and_their_hashes(rally: Rally) -> None:
    await packet_with(rally, "they keep coming", ["case 12345", "https://x.com/troll/status/2"])

    sent, pdf, md, js = await export(rally)

    assert (pdf.filename, pdf.mime) == ("alert-1-evidence.pdf", "application/pdf")
    assert pdf.payload.startswith(b"%PDF-") and pdf.payload.rstrip().endswith(b"%%EOF")
    packet = json.loads(js.content)
    # The DM names the packet's hash and each file's, so a copy can be checked.
    assert rally.copy("packet.whole", hash=packet["packet_sha256"]) in sent.text
    for f in (pdf, md, js):
        digest = hashlib.sha256(f.payload).hexdigest()
        assert rally.copy("packet.file_hash", name=f.filename, hash=digest) in sent.text


async def test_the_whole_packet_hash_can_be_checked_from_the_json(rally: Rally) -> None:
    await packet_with(rally, "they keep coming", ["case 12345"])
    _, _, md, js = await export(rally)
    packet = json.loads(js.content)
    content = {k: packet[k] for k in ("collective", "alert", "items")}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert packet["packet_sha256"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert packet["packet_sha256"] in md.content
    # A second export of the same evidence has the same packet hash (not its export time).
    rally.clock.advance(timedelta(minutes=5))
    _, _, _, again = await export(rally)
    assert json.loads(again.content)["packet_sha256"] == packet["packet_sha256"]


async def test_the_pdf_holds_every_item_with_its_hash(rally: Rally) -> None:
    """Checked on the packet the PDF is drawn from: the same rows, in order, every field."""
    await packet_with(rally, "note", ["case 777", "https://x.com/troll/status/2", "a note"])
    captured: list[Packet] = []
    real = rally.services.pdf
    assert real is not None

    class Spy:
        async def pdf(self, packet: Packet) -> bytes:
            captured.append(packet)
            return await real.pdf(packet)

    rally.services.pdf = Spy()
    _, _, _, js = await export(rally)
    (packet,) = captured
    items = json.loads(js.content)["items"]
    assert [(r.at, r.content, r.sha256) for r in packet.items] == [
        (i["at"], i["content"], i["sha256"]) for i in items
    ]
    assert [r.kind for r in packet.items] == [
        rally.copy(f"evidence_kind.{i['kind']}") for i in items
    ]
    assert packet.packet_sha256 == json.loads(js.content)["packet_sha256"]


def sample(note: str) -> Packet:
    return Packet(
        title="Evidence packet: alert #1",
        fields=(("Collective", "Demo"), ("Target", "Ана")),
        items_heading="Evidence, in order",
        items=(PacketRow(1, "2026-11-25T15:00:00+00:00", "note", note, "Бен", "ab" * 32),),
        hash_label="SHA-256 of the whole packet",
        packet_sha256="cd" * 32,
        footer="footer",
        what_happened_heading="What happened",
        what_happened=note,
        created_at="2026-11-25T15:00:00+00:00",
    )


@pytest.mark.skipif(find_unicode_font() is None, reason="no DejaVu Sans on this machine")
def test_non_latin_text_is_drawn_in_the_embedded_unicode_font() -> None:
    renderer = FpdfPackets()
    assert renderer.font is not None
    shown = renderer.text(NON_LATIN)
    # Cyrillic, Greek and Arabic are drawn; what DejaVu Sans lacks (CJK) is written as a code.
    assert "Они опубликовали мой адрес" in shown and "Ελληνικά" in shown and "مرحبا" in shown
    assert "[U+4F8B][U+3048]" in shown
    data = renderer.render(sample(NON_LATIN))
    assert data.startswith(b"%PDF-")
    assert b"/FontFile2" in data  # the font is embedded, so it reads the same anywhere


def test_without_a_unicode_font_nothing_is_lost_silently() -> None:
    renderer = FpdfPackets(font=None)
    shown = renderer.text(NON_LATIN)
    assert "[U+041E]" in shown  # the Cyrillic capital O
    assert all(ord(ch) in LATIN_1 or ch == "\n" for ch in shown)
    assert renderer.render(sample(NON_LATIN)).startswith(b"%PDF-")


def test_invisible_and_direction_changing_characters_are_made_visible() -> None:
    text = "safe\u202egnp.exe\u200b\u0000x"
    assert drawable(text, LATIN_1) == "safe[U+202E]gnp.exe[U+200B][U+0000]x"


@pytest.mark.parametrize("note", [HOSTILE_NOTE, NON_LATIN, "a" * 1000, "line\r\nline\tend"])
def test_any_text_a_person_types_makes_a_pdf(note: str) -> None:
    for renderer in (FpdfPackets(), FpdfPackets(font=None)):
        assert renderer.render(sample(note)).startswith(b"%PDF-")


# --- the Markdown: no forged headings, items, links or HTML ---------------------------------------


def tokens(markdown: str) -> list:
    parser = MarkdownIt("commonmark")
    out = []
    for token in parser.parse(markdown):
        out.append(token)
        out.extend(token.children or [])
    return out


async def test_typed_text_cannot_forge_markdown(rally: Rally) -> None:
    await rally.edit_member("ana", display_name="# Ana](https://evil.example)")
    await packet_with(rally, HOSTILE_NOTE.replace("\n", " "), [HOSTILE_NOTE.replace("\n", " ")])
    # A multi-line note, as a form would send it.
    async with rally.store.uow() as uow:
        alert = await uow.alerts.get(rally.alert(1).id)
        assert alert is not None
        alert.note = HOSTILE_NOTE
        await uow.alerts.save(alert)
        await uow.commit()

    _, _, md, _ = await export(rally)

    found = tokens(md.content)
    headings = [t for t in found if t.type == "heading_open"]
    # Ours only: the title, "What happened", the items, the packet's hash.
    assert len(headings) == 4
    assert [t for t in found if t.type in ("link_open", "image", "html_block", "html_inline")] == []
    items = [t for t in found if t.type == "list_item_open"]
    # Ours only: six facts about the alert, and two items (its link and the note).
    assert len(items) == 6 + 2
    assert [t for t in found if t.type in ("blockquote_open", "hr", "strong_open", "em_open")] == []
    # The words are all there, exactly: in fenced blocks, or escaped.
    fences = [t.content for t in found if t.type == "fence"]
    assert HOSTILE_NOTE + "\n" in fences


async def test_the_json_carries_typed_text_exactly(rally: Rally) -> None:
    await packet_with(rally, NON_LATIN, ['he said "leave" \\ now'])
    _, _, _, js = await export(rally)
    packet = json.loads(js.content)
    assert packet["alert"]["note"] == NON_LATIN
    assert packet["items"][-1]["content"] == 'he said "leave" \\ now'


def test_starting_rallybot_does_not_load_the_pdf_libraries() -> None:
    """fpdf2 and fontTools (with Pillow behind them) cost ~35 MB of every process's memory:
    they load with the first packet, not with the runtime."""
    probe = (
        "import sys, bot.runtime, bot.bootstrap\n"
        "loaded = [m for m in ('fpdf', 'fontTools', 'PIL') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
