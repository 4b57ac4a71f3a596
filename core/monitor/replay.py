"""Replay texts through a bundle into a prediction log, as ``stillroom serve`` writes it.

For the bench, the tests and a dry run of monitoring before a server exists: the same
log format (``core.serve.predlog``), the same fingerprints, the same calibrated
probabilities (``core.export.predict``), without starting a server.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.monitor.reference import bundle_info


@dataclass(frozen=True, slots=True)
class Replayed:
    """What a replay wrote: the bundle's probabilities, in its label order."""

    folder: Path
    probabilities: npt.NDArray[np.float64]
    labels: tuple[str, ...]


def score(bundle: Path, texts: Sequence[str], batch_size: int = 16) -> npt.NDArray[np.float64]:
    """The bundle's calibrated probabilities for ``texts`` (rows x labels)."""
    from core.export.predict import predict

    labels = bundle_info(bundle).labels
    found = predict(bundle, list(texts), batch_size=batch_size).predictions
    return np.array([[p.probabilities[label] for label in labels] for p in found])


def replay(
    bundle: Path,
    texts: Sequence[str],
    folder: Path,
    *,
    times: Sequence[str],
    teacher: Sequence[str | None] | None = None,
    keep: Callable[[str], tuple[str, bytes]] | None = None,
    prefix: str = "replay",
    probabilities: npt.NDArray[np.float64] | None = None,
    errors: Sequence[tuple[str, str, int]] = (),
) -> Replayed:
    """Write one log row per text (one request each) into the log ``folder``.

    Args:
        bundle: the bundle folder that "served" them.
        texts: the requests.
        folder: the log folder to write (created).
        times: each request's ISO-8601 time.
        teacher: a shadow teacher's label per text (None: not sampled).
        keep: ``text → (kind, stored bytes)`` to keep inputs (as ``--keep-inputs``).
        prefix: request ids are ``<prefix>-<n>``.
        probabilities: precomputed probabilities (skips scoring).
        errors: failed requests to log besides, as ``(time, kind, HTTP status)``.
    """
    from core.serve.fingerprint import VERSION, fingerprint
    from core.serve.predlog import PredictionLog

    info = bundle_info(bundle)
    probs = score(bundle, texts) if probabilities is None else probabilities
    meta = {"bundle_sha": info.sha, "labels": json.dumps(info.labels), "fingerprint": VERSION}
    log = PredictionLog(folder, meta, rotate_bytes=1 << 40, max_bytes=1 << 41)
    try:
        for n, (text, row, time) in enumerate(zip(texts, probs, times, strict=True)):
            request = f"{prefix}-{n}"
            label = info.labels[int(np.argmax(row))]
            shadow = teacher is not None and teacher[n] is not None
            log.append("predictions", (time, request, 0, info.sha, label,
                                       json.dumps([float(p) for p in row]), float(row.max()),
                                       1.0, len(text), fingerprint(text), int(shadow)))  # fmt: skip
            if shadow and teacher is not None:
                answer = teacher[n]
                log.append("shadow", (time, request, 0, "answered", answer, None, 5.0,
                                      int(answer == label)))  # fmt: skip
            if keep is not None:
                kind, stored = keep(text)
                log.append("inputs", (request, 0, kind, stored))
        for n, (time, kind, status) in enumerate(errors):
            log.append("errors", (time, f"{prefix}-error-{n}", info.sha, status, kind, 1))
    finally:
        log.close()
    return Replayed(folder, probs, info.labels)
