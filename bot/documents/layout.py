"""The evidence packet laid out with fpdf2, imported on the first packet only (see
bot/documents/pdf.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fpdf import FPDF
from fpdf.enums import WrapMode, XPos, YPos

from bot.core.packet import Packet

if TYPE_CHECKING:
    from bot.documents.pdf import FpdfPackets


class Document(FPDF):
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
