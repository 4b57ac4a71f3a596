"""``reliability.json``: the reliability diagrams' bins, kept next to ``report.html``.

The report draws them as SVG and the stored result keeps only the ECE (and this file's path),
so without it a reopened project could not redraw the diagrams without scoring again. Bins hold
counts and means only, never a record.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.configs import from_json
from core.errors import StoredDataError
from core.evaluate.compare import SetResult
from core.evaluate.metrics import Reliability

RELIABILITY_FILE = "reliability.json"
_VERSION = 1


@dataclass(frozen=True, slots=True)
class ReliabilityCurve:
    """One model's reliability bins on one set, before or after its fitted temperature.

    Attributes:
        split: ``test`` or ``edge``.
        model: the model column (``student``, ``teacher``, ``student_onnx_int8``…).
        title: the column's display name.
        calibrated: True for the bins after temperature scaling.
        edges: the bin edges (``len(counts) + 1`` values from 0 to 1).
        counts: rows per bin.
        confidence: mean confidence per bin (0 where empty).
        accuracy: share correct per bin (0 where empty).
        ece: the expected calibration error over these bins.
    """

    split: str
    model: str
    title: str
    calibrated: bool
    edges: tuple[float, ...]
    counts: tuple[int, ...]
    confidence: tuple[float, ...]
    accuracy: tuple[float, ...]
    ece: float


def _curve(
    split: str, model: str, title: str, calibrated: bool, rel: Reliability
) -> dict[str, Any]:
    return {
        "split": split,
        "model": model,
        "title": title,
        "calibrated": calibrated,
        "edges": [float(x) for x in rel.edges],
        "counts": [int(x) for x in rel.counts],
        "confidence": [float(x) for x in rel.confidence],
        "accuracy": [float(x) for x in rel.accuracy],
        "ece": float(rel.ece),
    }


def write_reliability(
    folder: Path, sets: Mapping[str, SetResult], titles: Mapping[str, str]
) -> Path | None:
    """Write every model's reliability bins on every set to ``folder/reliability.json``.

    Returns:
        The file, or None when no model has calibration figures (generation).

    Raises:
        OSError: the folder cannot be written.
    """
    curves = []
    for split, result in sets.items():
        for name, model in result.models.items():
            title = titles.get(name, name)
            if model.reliability is not None:
                curves.append(_curve(split, name, title, False, model.reliability))
            if model.reliability_calibrated is not None:
                curves.append(_curve(split, name, title, True, model.reliability_calibrated))
    if not curves:
        return None
    target = folder / RELIABILITY_FILE
    scratch = folder / f".{RELIABILITY_FILE}.tmp"
    fd = os.open(scratch, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"version": _VERSION, "curves": curves}, handle)
    os.replace(scratch, target)
    return target


def read_reliability(path: Path | None) -> list[ReliabilityCurve]:
    """The curves :func:`write_reliability` stored in ``path``; empty when there are none.

    A missing, unreadable or foreign file reads as no curves: the diagrams are a view of a
    finished evaluation, and their absence must not hide its other figures.
    """
    if path is None:
        return []
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        raw = payload["curves"] if payload.get("version") == _VERSION else []
        return [_parse(item) for item in raw]
    except (OSError, ValueError, KeyError, TypeError, AttributeError, StoredDataError):
        return []


def _parse(item: Any) -> ReliabilityCurve:
    curve = from_json(ReliabilityCurve, item)
    bins = len(curve.counts)
    if len(curve.edges) != bins + 1 or {len(curve.confidence), len(curve.accuracy)} != {bins}:
        raise ValueError("reliability bins of unequal length")
    return curve
