"""The digest's picture: alerts per week and median minutes to first responder, as a PNG."""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence

log = logging.getLogger(__name__)

WIDTH_PX, HEIGHT_PX, DPI = 800, 360, 100


class MatplotlibCharts:
    """Draws with matplotlib's Agg backend (no display); None when matplotlib is missing."""

    def weekly(
        self,
        weeks: Sequence[Mapping[str, str | int | float | None]],
        alerts_label: str,
        median_label: str,
    ) -> bytes | None:
        try:
            import matplotlib

            matplotlib.use("Agg")
            from matplotlib.figure import Figure
            from matplotlib.ticker import MaxNLocator
        except ImportError:
            log.info("matplotlib is not installed: the digest goes without its chart")
            return None
        labels = [str(w["week"])[-3:] for w in weeks]
        alerts = [int(w["alerts"] or 0) for w in weeks]
        medians = [
            float(m) if (m := w["median_first_response"]) is not None else float("nan")
            for w in weeks
        ]
        # A Figure, not pyplot: no global state, safe in a long-running process.
        fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
        ax = fig.add_subplot()
        ax.bar(labels, alerts, color="#5b8def", label=alerts_label)
        ax.set_ylabel(alerts_label)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        right = ax.twinx()
        right.plot(labels, medians, color="#d9534f", marker="o", label=median_label)
        right.set_ylabel(median_label)
        right.set_ylim(bottom=0)
        fig.legend(loc="upper center", ncols=2, frameon=False, fontsize="small")
        fig.tight_layout(rect=(0, 0, 1, 0.92))  # room for the legend above the plot
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=DPI)
        return out.getvalue()
