"""Teacher outputs as they are stored (:mod:`core.store.teacher_outputs`): checked first,
written a batch at a time, and the teacher's agreement with the human labels.

A record's cost is added exactly when its output row is inserted, so a retry, a resumed run
or a second process racing on the same project cannot bill it twice.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from core.project import Project
from core.store import teacher_outputs
from core.store.db import utc_now
from core.teacher.base import TeachBatch, TeacherOutput, TeachItem
from core.teacher.softlabels import PROBABILITY_TOLERANCE, logprob_problem, soft_label_problem


@dataclass
class Tally:
    """What stored batches added up to (rows a parallel run stored first are not counted)."""

    labelled: int = 0
    invalid: int = 0
    failed: int = 0  # records with no answer after every retry (nothing stored)
    cost: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    attempts: int = 0
    sources: dict[str, int] = field(default_factory=dict)  # soft-label source -> outputs
    reasons: dict[str, int] = field(default_factory=dict)  # invalid outputs by flag
    failed_reasons: dict[str, int] = field(default_factory=dict)
    usage_ignored: int = 0


def checked(out: TeacherOutput, labels: int) -> TeacherOutput:
    """An output as it may be stored: every source's answers pass through here.

    Probabilities that are no distribution over ``labels`` classes, and token logprobs
    that are no log-probabilities (NaN, infinite, above 0), make the output invalid, with
    the reason as its flag and the bad numbers dropped, so that nothing downstream can
    train on them. Negative token counts are not billed.
    """
    if out.input_tokens < 0 or out.output_tokens < 0:
        out = replace(out, input_tokens=0, output_tokens=0, usage_ignored=True)
    if not out.valid:
        return out
    problem = None
    if out.probabilities is not None:
        problem = soft_label_problem(out.probabilities, labels)
    if problem is None and out.token_logprobs:
        problem = logprob_problem(out.token_logprobs)
    mass = out.label_mass
    if problem is None and mass is not None and not 0.0 <= mass <= 1.0 + PROBABILITY_TOLERANCE:
        problem = "non_finite" if not math.isfinite(mass) else "not_a_distribution"
    if problem is None:
        return out
    return replace(out, valid=False, flag=problem, label=None, probabilities=None,
                   label_mass=None, token_logprobs=None)  # fmt: skip


def pending_items(
    project: Project,
    teacher_id: str,
    prompt_version: str,
    *,
    need_text: bool,
    labels: Sequence[str],
    limit: int | None = None,
) -> Iterator[TeachItem]:
    """Eligible records with no stored output yet, in id order, read a page at a time."""
    rows = teacher_outputs.pending_records(
        project.store, teacher_id, prompt_version, need_text=need_text, labels=labels, limit=limit
    )
    for record_id, split, label, text in rows:
        yield TeachItem(record_id, split, label, "" if text is None else text)


def cost_of(output: TeacherOutput, price_in: float, price_out: float) -> float:
    """The estimated cost of one output, from its token counts and prices per 1M tokens
    (never negative)."""
    tokens_in, tokens_out = max(output.input_tokens, 0), max(output.output_tokens, 0)
    return (tokens_in * price_in + tokens_out * price_out) / 1_000_000


def write_batch(
    project: Project,
    batch: TeachBatch,
    *,
    teacher_id: str,
    prompt_version: str,
    run_id: str | None,
    prices: tuple[float, float],
    labels: int = 0,
    tally: Tally | None = None,
) -> Tally:
    """Insert a batch's outputs in one transaction; count only the rows really inserted.

    Each output is :func:`checked` first (``labels``: the number of classes; 0 for a
    generation task), so invalid numbers are stored flagged, never as a soft label.

    Returns:
        ``tally`` (a new one if None) with the batch's stored outputs and failures added.
    """
    tally = Tally() if tally is None else tally
    now = utc_now()
    checked_outputs = [checked(o, labels) for o in batch.outputs]
    rows = [_row(out, teacher_id, prompt_version, run_id, prices, now) for out in checked_outputs]
    inserted = teacher_outputs.insert_outputs(project.store, rows)
    for out in (out for out, new in zip(checked_outputs, inserted, strict=True) if new):
        tally.labelled += 1
        if not out.valid:
            tally.invalid += 1
            _count(tally.reasons, out.flag or "invalid")
        tally.usage_ignored += out.usage_ignored
        tally.cost += cost_of(out, *prices)
        tally.input_tokens += out.input_tokens
        tally.output_tokens += out.output_tokens
        tally.attempts += out.attempts
        _count(tally.sources, _source(out))
    tally.failed += len(batch.failed)
    for reason in batch.failed.values():
        _count(tally.failed_reasons, reason)
    return tally


def _source(out: TeacherOutput) -> str:
    """What the student can learn from this output: its soft-label source, or (generation)
    the text with or without token log-probabilities."""
    if not out.valid:
        return "invalid"
    if out.soft_label_source:
        return out.soft_label_source
    if out.text is None:
        return "invalid"
    return "text+token_logprobs" if out.token_logprobs else "text"


def _count(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


def _row(
    out: TeacherOutput,
    teacher_id: str,
    prompt_version: str,
    run_id: str | None,
    prices: tuple[float, float],
    now: str,
) -> tuple[object, ...]:
    probabilities = None if out.probabilities is None else json.dumps(list(out.probabilities))
    logprobs = None if out.token_logprobs is None else json.dumps(out.token_logprobs)
    return (
        out.record_id, teacher_id, prompt_version, run_id, int(out.valid), out.flag,
        out.label, probabilities, out.soft_label_source, out.label_mass, out.text, logprobs,
        out.latency_ms, out.input_tokens, out.output_tokens, cost_of(out, *prices),
        out.attempts, now,
    )  # fmt: skip


def agreement(
    project: Project, teacher_id: str, prompt_version: str
) -> tuple[dict[str, float], dict[str, int]]:
    """The teacher's figure against the human references, per split and over ``all``:
    accuracy against the labels (classification) or mean ROUGE-L against the reference
    texts (generation).

    Only outputs of records with a human label count; invalid answers count as wrong (a
    ROUGE-L of 0), since a teacher that cannot answer is not good enough either.
    """
    if project.settings.task == "generation":
        return _rouge_l(project, teacher_id, prompt_version)
    rows = teacher_outputs.agreement_counts(project.store, teacher_id, prompt_version)
    accuracy = {split: right / n for split, right, n in rows if n}
    counts = {split: int(n) for split, _, n in rows if n}
    total = sum(counts.values())
    if total:
        accuracy["all"] = sum(right for _, right, _ in rows) / total
        counts["all"] = total
    return accuracy, counts


def _rouge_l(
    project: Project, teacher_id: str, prompt_version: str
) -> tuple[dict[str, float], dict[str, int]]:
    from core.evaluate.textmetrics import rouge_l

    scores: dict[str, list[float]] = {}
    for split, text, reference in teacher_outputs.reference_pairs(
        project.store, teacher_id, prompt_version
    ):
        value = 0.0 if text is None else rouge_l(text, reference)
        scores.setdefault(split, []).append(value)
        scores.setdefault("all", []).append(value)
    order = sorted(scores, key=lambda split: split == "all")
    return ({k: sum(scores[k]) / len(scores[k]) for k in order},
            {k: len(scores[k]) for k in order})  # fmt: skip


_NUMBERS_WRONG = ("non_finite", "negative_probability", "not_a_distribution", "wrong_length",
                  "non_finite_logprob", "logprob_above_zero", "no_label_probability")  # fmt: skip


def invalid_warnings(reasons: dict[str, int], usage_ignored: int) -> list[str]:
    """What to tell the user about invalid outputs and ignored usage (counts only)."""
    notes = []
    off_label = reasons.get("outside_label_set", 0)
    if off_label:
        notes.append(
            f"{off_label:,} answers were outside the label set even with a stricter "
            "prompt; they are stored flagged (valid = 0) and training skips them — edit the "
            "prompt (--prompt FILE) to fix them"
        )
    numbers = {k: v for k, v in reasons.items() if k in _NUMBERS_WRONG}
    if numbers:
        shown = ", ".join(f"{k} {v:,}" for k, v in sorted(numbers.items()))
        notes.append(
            f"{sum(numbers.values()):,} answers came with probabilities or logprobs that are "
            f"not a distribution ({shown}); they are stored flagged (valid = 0) and training "
            "skips them — check the teacher model or server"
        )
    if usage_ignored:
        notes.append(
            f"{usage_ignored:,} answers reported impossible token counts (negative, not whole, "
            "or far beyond the request); they were not billed, so the cost is an "
            "underestimate — check the server"
        )
    return notes
