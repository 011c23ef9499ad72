"""The evidence packet as a neutral document: every word already in the reader's language,
so a renderer (the PDF in bot/documents/pdf.py) only lays it out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class PacketRow:
    """One item: when, what kind, the link / case number / note itself, who added it, and
    the SHA-256 of its content."""

    number: int
    at: str
    kind: str
    content: str
    added_by: str
    sha256: str


@dataclass(frozen=True)
class Packet:
    title: str
    fields: tuple[tuple[str, str], ...]  # (label, value): collective, target, raised, …
    items_heading: str
    items: tuple[PacketRow, ...]
    hash_label: str  # "SHA-256 of the whole packet"
    packet_sha256: str
    footer: str
    labels: dict[str, str] = field(default_factory=dict)  # "added_by", "sha256", "page", …
    what_happened_heading: str = ""
    what_happened: str = ""
    created_at: str = ""  # ISO 8601 UTC: the PDF's creation date, so output is reproducible


class PacketRenderer(Protocol):
    """Lays a packet out as a PDF; None where the PDF library is missing (Markdown and JSON
    still go)."""

    async def pdf(self, packet: Packet) -> bytes:
        """The PDF's bytes (laid out off the event loop: a long packet takes a while)."""
        ...
