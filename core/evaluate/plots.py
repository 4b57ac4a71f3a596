"""The report's figures as inline SVG strings (matplotlib, no pyplot, no network assets).

Text stays text in the SVG (``svg.fonttype = none``): smaller files, and the figures show
only numbers and label names, never record contents.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.evaluate.latency import Latency
from core.evaluate.metrics import IntArray, Reliability

_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_STYLE: Any = {
    "svg.fonttype": "none",
    "svg.hashsalt": "stillroom",  # stable element ids: the same run gives the same report
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
BLUE, ORANGE, GREY, RED = "#2f6db5", "#e08a1e", "#9aa3ad", "#c0392b"


def _svg(fig: Any) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    return inline_svg(buffer.getvalue())


def inline_svg(text: str) -> str:
    """A saved SVG made fit to sit inside an HTML page: no XML prolog, no DOCTYPE (with
    its DTD address) and no metadata (a creation date)."""
    text = text[text.index("<svg") :]
    return _METADATA.sub("", text)


def _figure(width: float, height: float, columns: int = 1) -> tuple[Any, list[Any]]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, columns, squeeze=False)[0]
    return fig, list(axes)


def reliability_svg(panels: Sequence[tuple[str, Reliability]]) -> str:
    """Reliability diagrams side by side: accuracy per confidence bin against the diagonal."""
    import matplotlib

    with matplotlib.rc_context(_STYLE):
        fig, axes = _figure(3.1 * len(panels), 3.0, len(panels))
        for ax, (title, rel) in zip(axes, panels, strict=True):
            _reliability_axes(ax, title, rel)
        return _svg(fig)


def _reliability_axes(ax: Any, title: str, rel: Reliability) -> None:
    width = rel.edges[1] - rel.edges[0]
    centres = rel.edges[:-1] + width / 2
    used = rel.counts > 0
    ax.plot([0, 1], [0, 1], linestyle="--", color=GREY, linewidth=1, label="perfect")
    ax.bar(centres[used], rel.accuracy[used], width=width * 0.9, color=BLUE, label="accuracy")
    ax.scatter(centres[used], rel.confidence[used], marker="_", s=120, linewidths=2,
               color=RED, label="mean confidence", zorder=3)  # fmt: skip
    for x, acc, n in zip(centres[used], rel.accuracy[used], rel.counts[used], strict=True):
        # Vertical: fifteen bins side by side leave no room for level labels.
        ax.text(x, min(acc, 0.85) + 0.02, f"{n}", ha="center", va="bottom", rotation=90,
                fontsize=6, color=GREY)  # fmt: skip
    ax.set(xlim=(0, 1), ylim=(0, 1.0), xlabel="confidence", ylabel="accuracy")
    ax.set_title(f"{title}\nECE {rel.ece:.3f}", fontsize=9)
    ax.legend(loc="upper left", fontsize=7, frameon=False)


def confusion_svg(confusion: IntArray, labels: Sequence[str], title: str) -> str:
    """A confusion matrix: colour by row share, cells annotated with counts."""
    import matplotlib

    counts = np.asarray(confusion)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    size = max(2.3, 0.5 * len(labels) + 1.3)
    with matplotlib.rc_context(_STYLE):
        fig, (ax,) = _figure(size, size)
        ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        ticks = range(len(labels))
        ax.set_xticks(ticks, labels=list(labels), rotation=30, ha="right")
        ax.set_yticks(ticks, labels=list(labels))
        ax.set(xlabel="predicted", ylabel="reference")
        ax.set_title(title, fontsize=9)
        for (i, j), value in np.ndenumerate(counts):
            colour = "white" if shares[i, j] > 0.6 else "black"
            ax.text(j, i, f"{int(value):,}", ha="center", va="center", color=colour, fontsize=8)
        return _svg(fig)


def latency_svg(latencies: Sequence[Latency], titles: dict[str, str]) -> str:
    """Batch-1 latency p50 and p95 per model and device, as horizontal bars."""
    import matplotlib

    names = [f"{x.title or titles.get(x.model, x.model)} [{x.device}]" for x in latencies]
    p50 = [x.p50_ms for x in latencies]
    p95 = [x.p95_ms for x in latencies]
    with matplotlib.rc_context(_STYLE):
        fig, (ax,) = _figure(6.4, 0.45 * len(names) + 0.9)
        y = np.arange(len(names))
        ax.barh(y - 0.18, p50, height=0.34, color=BLUE, label="p50")
        ax.barh(y + 0.18, p95, height=0.34, color=ORANGE, label="p95")
        ax.set_yticks(y, labels=names)
        ax.set_ylim(len(names) - 0.5, -0.5)  # first model on top
        ax.set_xlabel("milliseconds per request (batch 1)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
        return _svg(fig)
