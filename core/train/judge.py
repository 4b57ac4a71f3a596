"""Judging one ``--auto`` trial on the validation split: retention of the teacher's macro-F1
with its bootstrap interval (the evaluation's, :mod:`core.evaluate.uncertainty`), the worst
class's retention, and the student's latency on this machine."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from core.train.config import TrialFigures
from core.train.prepare import Prepared
from core.train.validation import ValidationScorer, figures

if TYPE_CHECKING:
    from core.evaluate.metrics import IntArray
    from core.evaluate.uncertainty import Interval
    from core.train.auto import Candidate, SearchState

LATENCY_ROWS = 32  # validation inputs timed one at a time (after two warm-up calls)


def judge_trial(
    trainer: Any, prepared: Prepared, run_id: str, candidate: Candidate, state: SearchState,
    started: float,
) -> TrialFigures:  # fmt: skip
    """The trial's figures; it passes when its interval's low end clears the floor (the
    point figure where the validation set is too small for an interval)."""
    scorer = ValidationScorer(prepared.data.validation, len(prepared.labels))
    logits = trainer.predict(prepared.validation.items).predictions
    student = scorer.predictions(logits)
    values = figures(scorer.truth, student, scorer.teacher, scorer.k) if scorer.rows else {}
    interval = retention_interval(scorer.truth, student, scorer.teacher, scorer.k)
    retention = values.get("retention")
    bound = interval.low if interval is not None else retention
    model = trainer.model
    return TrialFigures(
        run_id=run_id, layers=candidate.layers, lr=candidate.lr,
        alpha=prepared_alpha(trainer), temperature=trainer._loss.temperature,
        retention=retention,
        retention_low=None if interval is None else interval.low,
        retention_high=None if interval is None else interval.high,
        worst_class_retention=values.get("worst_class_retention"),
        macro_f1=values.get("macro_f1"),
        latency_ms=latency_ms(model, prepared),
        parameters=sum(p.numel() for p in model.parameters()),
        seconds=round(time.perf_counter() - started, 1),
        passed=bound is not None and bound >= state.floor,
        cut_by_budget=state.budget_hit,
    )  # fmt: skip


def prepared_alpha(trainer: Any) -> float:
    return float(trainer._loss.alpha)


def retention_interval(truth: IntArray, student: IntArray, teacher: IntArray,
                       k: int) -> Interval | None:  # fmt: skip
    """Paired bootstrap interval of macro-F1 retention (student and teacher on the same
    resampled rows), as the evaluation computes it on the test split."""
    from core.evaluate.metrics import classification_scores
    from core.evaluate.uncertainty import bootstrap

    def retention(rows: IntArray) -> float:
        base = classification_scores(truth[rows], teacher[rows], k).macro_f1
        ours = classification_scores(truth[rows], student[rows], k).macro_f1
        return ours / base if base > 0 else float("nan")

    return bootstrap(int(truth.size), retention)


def latency_ms(model: Any, prepared: Prepared) -> float | None:
    """Median milliseconds of one validation input at batch 1 (fp32 PyTorch, this CPU)."""
    import statistics

    import torch

    items = prepared.validation.items[:LATENCY_ROWS]
    if not items:
        return None
    device = next(model.parameters()).device
    model.eval()
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in items[0]]
    timings = []
    with torch.inference_mode():
        for index, item in enumerate([items[0], items[0], *items]):
            batch = {k: torch.tensor([item[k]], device=device) for k in keys}
            begun = time.perf_counter()
            model(**batch)
            if index >= 2:
                timings.append((time.perf_counter() - begun) * 1000)
    return round(statistics.median(timings), 3)
