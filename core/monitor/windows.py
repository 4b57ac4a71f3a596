"""Production traffic cut into windows, and each window's figures against the reference."""

from __future__ import annotations

import bisect
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from core.monitor import drift
from core.monitor.config import WindowFigures
from core.monitor.estimate import estimate_quality
from core.monitor.plan import (
    AUTO_WINDOW_ROWS,
    INTERVAL,
    MIN_TEST_ROWS,
    PRIOR_SHIFT_P,
    WINDOW_UNITS,
)
from core.monitor.reference import Reference
from core.store.production import LoggedError, ProductionRow

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Traffic:
    """A bundle's requests as arrays (row order = time order).

    ``teacher`` is the teacher's label index where a shadow answer came back, else -1;
    ``lost`` marks sampled shadow calls that failed or were dropped; ``requests`` holds
    each row's request id (empty: each row is a request of its own).
    """

    ids: IntArray
    times: tuple[str, ...]
    probabilities: FloatArray
    answers: IntArray
    fingerprints: IntArray
    chars: IntArray
    sampled: npt.NDArray[np.bool_]
    teacher: IntArray
    lost: npt.NDArray[np.bool_]
    requests: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, rows: IntArray) -> Traffic:
        """The requests at ``rows``."""
        return Traffic(
            self.ids[rows], tuple(self.times[i] for i in rows), self.probabilities[rows],
            self.answers[rows], self.fingerprints[rows], self.chars[rows], self.sampled[rows],
            self.teacher[rows], self.lost[rows],
            tuple(self.requests[i] for i in rows) if self.requests else (),
        )  # fmt: skip

    def request_count(self) -> int:
        """Answered requests (a request of several texts is several rows)."""
        return len(set(self.requests)) if self.requests else len(self)


def traffic(rows: Sequence[ProductionRow], labels: Sequence[str]) -> Traffic:
    """Stored rows as arrays (probabilities in the bundle's label order)."""
    from core.serve.fingerprint import BUCKETS, decode

    index = {label: i for i, label in enumerate(labels)}
    probabilities = np.array([json.loads(r.probabilities) for r in rows], dtype=np.float64)
    prints = [decode(r.fingerprint) for r in rows]
    return Traffic(
        ids=np.array([r.id for r in rows], dtype=np.int64),
        times=tuple(r.time for r in rows),
        probabilities=probabilities.reshape(len(rows), len(labels)),
        answers=np.array([index.get(r.label, 0) for r in rows], dtype=np.int64),
        fingerprints=np.array(prints, dtype=np.int64).reshape(len(rows), BUCKETS),
        chars=np.array([r.input_chars for r in rows], dtype=np.int64),
        sampled=np.array([r.shadow for r in rows], dtype=bool),
        teacher=np.array(
            [
                index.get(r.teacher_label or "", -1) if r.shadow_status == "answered" else -1
                for r in rows
            ],
            dtype=np.int64,
        ),
        lost=np.array([r.shadow_status in ("failed", "dropped") for r in rows], dtype=bool),
        requests=tuple(r.request_id or str(r.id) for r in rows),
    )


def _floor_time(stamp: str, unit: str) -> str:
    moment = datetime.fromisoformat(stamp)
    if unit == "hour":
        return moment.strftime("%Y-%m-%dT%H:00")
    if unit == "day":
        return moment.strftime("%Y-%m-%d")
    monday = moment - timedelta(days=moment.weekday())
    return monday.strftime("%Y-%m-%d") + " (week)"


def split_windows(
    times: Sequence[str], unit: str, window_rows: int | None
) -> tuple[str, list[IntArray]]:
    """Row indices per window, oldest first, and the window's name."""
    if window_rows is not None:
        starts = range(0, len(times), window_rows)
        return f"{window_rows} requests", [
            np.arange(s, min(s + window_rows, len(times))) for s in starts
        ]
    units = WINDOW_UNITS if unit == "auto" else (unit,)
    chosen: list[IntArray] = []
    for candidate in units:
        keys = [_floor_time(t, candidate) for t in times]
        groups: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            groups.setdefault(key, []).append(i)
        chosen = [np.array(v, dtype=np.int64) for _, v in sorted(groups.items())]
        unit = candidate
        if np.median([len(g) for g in chosen] or [0]) >= AUTO_WINDOW_ROWS:
            break
    return unit, chosen


def _moment(stamp: str) -> datetime:
    moment = datetime.fromisoformat(stamp)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def errors_per_window(
    starts: Sequence[str], errors: Sequence[LoggedError]
) -> list[list[LoggedError]]:
    """Each failed request in the window whose time span holds it: window i spans from its
    first answered request to the next window's first (the first window also takes what
    came before it, the last what came after). An outage with no answered request thus
    counts in the window before it, where its rate shows."""
    found: list[list[LoggedError]] = [[] for _ in starts]
    if not starts or not errors:
        return found
    edges = [_moment(s) for s in starts]
    for error in errors:
        found[max(0, bisect.bisect_right(edges, _moment(error.time)) - 1)].append(error)
    return found


def error_figures(window: Traffic, errors: Sequence[LoggedError]) -> dict[str, object]:
    """The window's failed requests among all it received, with a Wilson interval."""
    answered = window.request_count()
    total = answered + len(errors)
    kinds = tuple(sorted(Counter(e.kind for e in errors).items()))
    figures: dict[str, object] = {"requests": answered, "errors": len(errors),
                                  "error_kinds": kinds}  # fmt: skip
    if total:
        low, high = _wilson(len(errors), total)
        figures |= {"error_rate": len(errors) / total, "error_low": low, "error_high": high}
    return figures


def _wilson(successes: int, trials: int) -> tuple[float, float]:
    from scipy.stats import binomtest

    interval = binomtest(successes, trials).proportion_ci(INTERVAL, method="wilson")
    return float(interval.low), float(interval.high)


def _shadow(window: Traffic) -> dict[str, float | int | None]:
    answered = window.teacher >= 0
    n = int(answered.sum())
    figures: dict[str, float | int | None] = {
        "shadow_sampled": int(window.sampled.sum()),
        "shadow_answers": n,
        "shadow_lost": int(window.lost.sum()),
    }
    if n:
        agree = int((window.teacher[answered] == window.answers[answered]).sum())
        low, high = _wilson(agree, n)
        figures |= {"shadow_agreement": agree / n, "shadow_low": low, "shadow_high": high}
    return figures


def _drift(window: Traffic, reference: Reference, seed: int) -> dict[str, float | None]:
    rows = drift.features(window.fingerprints, window.chars)
    inputs = drift.input_drift(reference.inputs, rows, seed=seed)
    k = len(reference.label_counts)
    counts = np.bincount(window.answers, minlength=k)
    labels = drift.label_drift(reference.label_counts, counts)
    confidence = drift.distribution_drift(reference.confidences, window.probabilities.max(axis=1))
    length = drift.distribution_drift(reference.chars, window.chars.astype(np.float64))
    mass = window.fingerprints.sum(axis=0).astype(np.float64)
    share = mass / max(mass.sum(), 1.0)
    return {
        "input_auc": inputs.statistic, "input_p": inputs.p_value,
        "label_chi2": labels.statistic, "label_p": labels.p_value,
        "label_psi": drift.psi(reference.label_counts, counts),
        "confidence_ks": confidence.statistic, "confidence_p": confidence.p_value,
        "length_ks": length.statistic, "length_p": length.p_value,
        "bucket_distance": float(0.5 * np.abs(share - reference.bucket_share).sum()),
    }  # fmt: skip


def window_figures(
    index: int,
    window: Traffic,
    reference: Reference,
    *,
    seed: int = 0,
    errors: Sequence[LoggedError] = (),
) -> WindowFigures:
    """One window's figures: drift tests and the estimate only from :data:`MIN_TEST_ROWS`
    requests up; traffic, error and shadow figures always."""
    k = window.probabilities.shape[1]
    base = WindowFigures(
        index=index, start=window.times[0], end=window.times[-1], rows=len(window),
        tested=len(window) >= MIN_TEST_ROWS,
        mean_confidence=float(window.probabilities.max(axis=1).mean()),
        label_counts=tuple(int(c) for c in np.bincount(window.answers, minlength=k)),
        **_shadow(window),  # type: ignore[arg-type]
        **error_figures(window, errors),  # type: ignore[arg-type]
    )  # fmt: skip
    if not base.tested:
        return base
    drifted = _drift(window, reference, seed + index)
    # The label-mix correction only where the label-drift test says the mix changed: on an
    # unshifted window the EM fits noise in the mix (see PRIOR_SHIFT_P).
    label_p = drifted["label_p"]
    adjust = label_p is not None and label_p < PRIOR_SHIFT_P
    quality = estimate_quality(window.probabilities, window.answers, seed=seed + index,
                               training_prior=reference.prior if adjust else None)  # fmt: skip
    return replace(
        base,
        accuracy=quality.accuracy, accuracy_low=quality.accuracy_low,
        accuracy_high=quality.accuracy_high, macro_f1=quality.macro_f1,
        macro_f1_low=quality.macro_f1_low, macro_f1_high=quality.macro_f1_high,
        prior_adjusted=adjust,
        **drifted,  # type: ignore[arg-type]
    )  # fmt: skip
