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
from functools import cached_property
from pathlib import Path

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
        self.font = find_unicode_font() if font is True else font or None

    @cached_property
    def covered(self) -> frozenset[int]:
        """The characters the font draws. fontTools here, and fpdf2 (with Pillow) in
        `render`, are imported on the first packet, not when rallybot starts: ~35 MB that
        every process carried before (B7)."""
        if self.font is None:
            return LATIN_1
        from fontTools.ttLib import TTFont

        with TTFont(str(self.font[0]), lazy=True) as tt:
            return frozenset(tt.getBestCmap())

    def text(self, value: str) -> str:
        return drawable(value, self.covered)

    async def pdf(self, packet: Packet) -> bytes:
        # Laying out a hundred items takes about half a second: not on the event loop.
        return await asyncio.to_thread(self.render, packet)

    def render(self, packet: Packet) -> bytes:
        from bot.documents.layout import Document

        return bytes(Document(packet, self).render())
