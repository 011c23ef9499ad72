"""Documents the core asks for and can't draw itself: the digest's chart (matplotlib) and the
evidence packet's PDF (fpdf2), behind the core's `ChartRenderer` and `PacketRenderer` ports."""
