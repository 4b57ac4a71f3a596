"""Markdown pieces of the model card: numbers, intervals and tables, never a raw mapping."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

DASH = "—"


def num(value: Any, digits: int = 3) -> str:
    """A number for the card (a dash for a missing one); text passes through."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def with_ci(value: float | None, interval: Mapping[str, float] | None, digits: int = 3) -> str:
    """``0.838 [0.806 to 0.869]``: a figure with its 95% interval, as stored in JSON."""
    if value is None:
        return DASH
    if not interval:
        return num(value, digits)
    return f"{value:.{digits}f} [{interval['low']:.{digits}f} to {interval['high']:.{digits}f}]"


def table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    """A Markdown table; cells are formatted with :func:`num`, pipes escaped."""
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [num(v).replace("|", "\\|").replace("\n", " ") for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def bullets(items: Iterable[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def section(title: str, *parts: str) -> str:
    """A ``##`` section of the given paragraphs (empty ones dropped)."""
    return "\n\n".join([f"## {title}", *(p for p in parts if p)])


def share(value: float | None) -> str:
    return DASH if value is None else f"{value:.1%}"
