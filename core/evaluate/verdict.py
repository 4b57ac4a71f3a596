"""From scored columns to a decision: the gate per set on the model that ships, the same gate
on the quantize-only baseline, the recommendation, the referral threshold and the
sample-size warnings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.evaluate import gate
from core.evaluate.compare import SetResult, macro_f1_difference
from core.evaluate.config import (
    BASELINE,
    SHIPPED,
    STUDENT,
    TEACHER,
    EvaluateConfig,
    HeadlineRow,
    Recommendation,
    Referral,
    SpeedRow,
)
from core.evaluate.metrics import ClassificationScores
from core.evaluate.recommend import Candidate, recommend
from core.evaluate.referral import referral
from core.evaluate.sample_size import sample_size_warnings
from core.evaluate.uncertainty import Interval
from core.project import QualityFloor


@dataclass(frozen=True, slots=True)
class Decision:
    """What the evaluation concludes (see :class:`core.evaluate.config.EvaluateResult`)."""

    judged: str
    verdicts: dict[str, gate.SetVerdict]
    passed: bool
    baseline: gate.SetVerdict | None
    recommendation: Recommendation | None
    referral: Referral | None
    warnings: dict[str, str]  # split -> why it is too small


def judge(
    split: str, result: SetResult, floor: QualityFloor, model: str, on_bound: bool
) -> gate.SetVerdict:
    """One model's verdict on one set, against the project's floor."""
    scored = result.models[model]
    missing = "no teacher answers on this set"
    if result.has_teacher and scored.retention is None:
        missing = "the teacher scores 0 on this set"
    calibrated = scored.reliability_calibrated or scored.reliability
    intervals = {name: scored.intervals.get(key) for name, key in
                 (("retention", "retention"), ("metric", "metric"), ("ECE", "ECE"))}  # fmt: skip
    return gate.judge(
        split,
        floor,
        retention=scored.retention,
        metric=scored.primary,
        ece=None if calibrated is None else calibrated.ece,
        retention_missing=missing,
        intervals=intervals,
        on_bound=on_bound,
    )


def decide(
    sets: dict[str, SetResult],
    config: EvaluateConfig,
    floor: QualityFloor,
    *,
    task: str,
    rows: dict[str, int],
    headline: Sequence[HeadlineRow],
    speed: Sequence[SpeedRow],
    baseline_reason: str,
    latency_need_ms: float | None,
) -> Decision:
    """The verdicts, the recommendation and what to tell the user about the data's size."""
    test = sets["test"]
    judged = SHIPPED if SHIPPED in test.models else STUDENT
    on_bound = config.gate_on_lower_bound
    verdicts = {split: judge(split, r, floor, judged, on_bound) for split, r in sets.items()}
    passed = gate.ships(verdicts["test"], verdicts.get("edge"), strict_edge=config.strict_edge)
    baseline = judge("test", test, floor, BASELINE, on_bound) if BASELINE in test.models else None
    warnings = sample_size_warnings(rows, config.sample_sizes, task=task)
    deciding = ("test", "edge") if config.strict_edge else ("test",)
    if task != "classification":
        return Decision(judged, verdicts, passed, None, None, None, warnings)

    def candidate(name: str, verdict: gate.SetVerdict | None) -> Candidate:
        row = next((r for r in headline if r.split == "test" and r.model == name), None)
        return Candidate(name, verdict, row, next((s for s in speed if s.model == name), None))

    advice = recommend(
        candidate(judged, verdicts["test"]),
        None if baseline is None else candidate(BASELINE, baseline),
        baseline_reason=baseline_reason,
        metric="macro-F1",
        difference=_difference(test, judged) if baseline is not None else None,
        latency_need_ms=latency_need_ms,
        too_little_data="; ".join(w for split, w in warnings.items() if split in deciding),
    )
    return Decision(judged, verdicts, passed, baseline, advice, _referral(test, judged, floor),
                    warnings)  # fmt: skip


def _difference(test: SetResult, judged: str) -> tuple[float, Interval | None] | None:
    base, mine = test.models[BASELINE].predictions, test.models[judged].predictions
    if test.truth is None or base is None or mine is None:
        return None
    k = test.models[judged].probabilities
    classes = 0 if k is None else k.shape[1]
    return macro_f1_difference(test.truth, base, mine, classes)


def _referral(test: SetResult, judged: str, floor: QualityFloor) -> Referral | None:
    model = test.models[judged]
    if model.probabilities is None or test.truth is None:
        return None
    teacher = test.models.get(TEACHER)
    if test.reference == "human" and teacher is not None:
        scores = teacher.scores
        if isinstance(scores, ClassificationScores):
            basis = "the teacher's accuracy on the same test rows"
            return referral(model.probabilities, test.truth, scores.accuracy, basis)
    basis = "the floor's retention of the teacher's answers"
    return referral(model.probabilities, test.truth, floor.min_retention, basis)
