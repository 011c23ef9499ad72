"""The evidence packet as a PDF (fpdf2, pure Python), in a Unicode font where one is found.

fpdf2's built-in fonts read only Latin-1, so the packet embeds DejaVu Sans: the copy
matplotlib ships (the `chart` extra), else the system's. Without either it falls back to
Helvetica. Either way every character the font can't draw, and every invisible control
character (bidi overrides, zero-width joiners), is written as [U+XXXX]: nothing a person
typed is dropped silently or disguised, and the Markdown and JSON beside the PDF carry the
exact text that each SHA-256 is computed from.
"""

from __future__ import annotations

import asyncio
import importlib.util
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import WrapMode, XPos, YPos

from bot.core.packet import Packet

SYSTEM_FONTS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
)
LATIN_1 = frozenset([*range(0x20, 0x7F), *range(0xA0, 0x100)])
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def find_unicode_font() -> tuple[Path, Path | None] | None:
    """DejaVu Sans (and its bold face) as matplotlib ships it, else from the system."""
    places: list[Path] = []
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin is not None:
        places.append(Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf")
    places.extend(SYSTEM_FONTS)
    for place in places:
        regular = place / "DejaVuSans.ttf"
        if regular.is_file():
            bold = place / "DejaVuSans-Bold.ttf"
            return regular, bold if bold.is_file() else None
    return None


def drawable(text: str, covered: frozenset[int] | set[int]) -> str:
    """The text with every character the font can't draw, and every invisible control
    character, written as [U+XXXX]; line breaks and tabs become plain breaks and spaces."""
    out = []
    for ch in text.replace("\r\n", "\n").replace("\t", " "):
        if ch == "\n":
            out.append(ch)
        elif unicodedata.category(ch) in _INVISIBLE or ord(ch) not in covered:
            out.append(f"[U+{ord(ch):04X}]")
        else:
            out.append(ch)
    return "".join(out)


class FpdfPackets:
    """The PacketRenderer the composition root uses."""

    def __init__(self, font: tuple[Path, Path | None] | bool | None = True) -> None:
        # True: look for DejaVu Sans; None or False: Helvetica (Latin-1) only.
        found = find_unicode_font() if font is True else font or None
        self.font = found
        self.covered: frozenset[int] = LATIN_1
        if found is not None:
            with TTFont(str(found[0]), lazy=True) as tt:
                self.covered = frozenset(tt.getBestCmap())

    def text(self, value: str) -> str:
        return drawable(value, self.covered)

    async def pdf(self, packet: Packet) -> bytes:
        # Laying out a hundred items takes about half a second: not on the event loop.
        return await asyncio.to_thread(self.render, packet)

    def render(self, packet: Packet) -> bytes:
        return bytes(_Document(packet, self).render())


class _Document(FPDF):
    def __init__(self, packet: Packet, renderer: FpdfPackets) -> None:
        super().__init__(format="A4")
        self.packet = packet
        self.renderer = renderer
        self.face = "helvetica"
        self.bold_style = "B"
        if renderer.font is not None:
            regular, bold = renderer.font
            self.add_font("packet", "", str(regular))
            if bold is not None:
                self.add_font("packet", "B", str(bold))
            else:
                self.bold_style = ""
            self.face = "packet"
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(True, margin=18)
        self.set_title(renderer.text(packet.title))
        self.set_creator("rallybot")
        self.set_producer("rallybot")
        if packet.created_at:
            self.set_creation_date(datetime.fromisoformat(packet.created_at).astimezone(UTC))

    def t(self, value: str) -> str:
        return self.renderer.text(value)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.face, "", 8)
        page = self.packet.labels.get("page", "Page")
        self.cell(0, 5, self.t(f"{self.packet.title} · {page} {self.page_no()}/{{nb}}"), align="C")

    def line_of(self, value: str, size: float = 10, bold: bool = False, mono: bool = False) -> None:
        face = "courier" if mono else self.face
        self.set_font(face, self.bold_style if bold else "", size)
        self.multi_cell(
            0,
            size * 0.5,
            self.t(value) if not mono else value,
            wrapmode=WrapMode.CHAR,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )

    def render(self) -> bytearray:
        packet = self.packet
        self.alias_nb_pages()
        self.add_page()
        self.line_of(packet.title, 16, bold=True)
        self.ln(2)
        for label, value in packet.fields:
            self.line_of(f"{label}: {value}")
        if packet.what_happened:
            self.ln(3)
            self.line_of(packet.what_happened_heading, 12, bold=True)
            self.line_of(packet.what_happened)
        self.ln(3)
        self.line_of(packet.items_heading, 12, bold=True)
        for row in packet.items:
            self.ln(2)
            self.line_of(f"{row.number}. {row.at} · {row.kind} · {row.added_by}", bold=True)
            self.line_of(row.content)
            self.line_of(f"{packet.labels.get('sha256', 'SHA-256')}: {row.sha256}", 8, mono=True)
        self.ln(4)
        self.line_of(packet.hash_label, 10, bold=True)
        self.line_of(packet.packet_sha256, 9, mono=True)
        self.ln(2)
        self.line_of(packet.footer, 9)
        return self.output()
