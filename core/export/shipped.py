"""The file the bundle ships and its figures: the very file the evaluation scored, or the
file this export wrote, scored the same way.

The evaluation keeps the student's ONNX INT8 file, with its SHA-256, in its run folder.
An export with the same settings ships a copy of it (same SHA-256), so the evaluation's
figures are the shipped file's. Any other export (another kernel target, no quantization,
a changed or missing file, a generation student's weight-only file) re-scores what it
writes on the test and edge-case sets, one input at a time as the evaluation and
``stillroom predict`` do, and judges those figures against the floor: the gate, the
manifest and the card always describe the file that ships.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.evaluate.compare import classification_set
from core.evaluate.config import SHIPPED, HeadlineRow, ShippedModel
from core.evaluate.gate import SetVerdict
from core.evaluate.inputs import StudentSource, load_set, resolve_teacher
from core.evaluate.summary import model_row
from core.evaluate.verdict import judge
from core.export.build import Built, settings_of
from core.export.bundle_format import sha256_file
from core.export.config import ExportConfig
from core.export.quantize import detect_isa
from core.export.runtime import OnnxClassifier
from core.export.sources import Evaluation
from core.project import Project

EVALUATED, RESCORED = "evaluated", "re-scored"


@dataclass(frozen=True, slots=True)
class ShippedFigures:
    """The shipped file's checksum and figures (for the gate, manifest, card and result).

    Attributes:
        sha256: the SHA-256 of the bundle's ``model.onnx``.
        source: ``evaluated`` (the evaluated file, copied) or ``re-scored`` (written by
            this export and scored here).
        why: why the evaluated file was not reused (empty when it was).
        evaluate_run: the evaluation whose figures these are (``evaluated``).
        rows: the file's figures on the test (and edge-case) set, with their intervals.
        verdict: its test-set verdict against the floor (None: not scored, generation).
    """

    sha256: str
    source: str
    why: str
    evaluate_run: str | None
    rows: tuple[HeadlineRow, ...]
    verdict: SetVerdict | None


def reusable(evaluation: Evaluation, config: ExportConfig) -> tuple[ShippedModel | None, str]:
    """The evaluated file when this export would write the same one, else why not."""
    result = evaluation.result
    shipped = None if result is None else result.shipped
    if result is not None and result.task == "generation":
        return None, "a generation student's file is quantized, chosen by parity and scored here"
    if shipped is None:
        return None, "the evaluation did not score an ONNX INT8 file"
    isa = detect_isa() if config.isa == "auto" else config.isa
    differs = [
        (config.quantize != "int8", "this export does not quantize to INT8"),
        (isa != shipped.isa, f"this export targets {isa}, the evaluated file {shipped.isa}"),
        (config.exporter not in ("auto", shipped.exporter), f"the {config.exporter} exporter"),
        (config.opset is not None, "an explicit opset"),
        (config.max_length not in (None, shipped.max_length), "another --max-length"),
    ]
    for differ, why in differs:
        if differ:
            return None, why
    if not shipped.file.is_file():
        return None, "the evaluated file is no longer in its run folder"
    if sha256_file(shipped.file) != shipped.sha256:
        return None, "the evaluated file changed after it was scored"
    return shipped, ""


def evaluated_figures(evaluation: Evaluation, shipped: ShippedModel) -> ShippedFigures:
    """The evaluation's own figures of the file it scored (and the export ships)."""
    result = evaluation.result
    assert result is not None  # a reusable file comes from an evaluation
    rows = tuple(r for r in result.headline if r.model == shipped.model)
    test = result.set("test")
    return ShippedFigures(shipped.sha256, EVALUATED, "", result.run_id, rows,
                          None if test is None else test.verdict)  # fmt: skip


def rescore(
    project: Project,
    student: StudentSource,
    built: Built,
    evaluation: Evaluation,
    temperature: float,
    why: str,
) -> ShippedFigures:
    """Score the file this export wrote on the test and edge-case sets, and judge it."""
    sha = sha256_file(built.shipped)
    result = evaluation.result
    if project.settings.task != "classification":
        return _rescore_generation(project, student, built, evaluation, sha, why)
    labels = project.settings.labels
    teacher = resolve_teacher(project, None if result is None else result.teacher_id, student)
    runner = OnnxClassifier.open(built.shipped, built.folder / "tokenizer.json",
                                 settings_of(built), cpu_only=True)  # fmt: skip
    order = [built.labels.index(label) for label in labels]
    on_bound = result is not None and result.gate_on_lower_bound
    rows, verdict = [], None
    for split in ("test", "edge"):
        eset = load_set(project, split, labels, teacher, student.text_source)
        if not len(eset):
            continue
        logits = runner.logits(eset.texts, 1)[:, order]
        temperatures = {SHIPPED: temperature} if temperature != 1.0 else {}
        scored = classification_set(eset, {SHIPPED: logits}, temperatures, len(labels))
        if scored is None:
            continue
        rows.append(model_row(split, _title(built), scored.models[SHIPPED]))
        if split == "test":
            verdict = judge(split, scored, project.settings.floor, SHIPPED, on_bound)
    return ShippedFigures(sha, RESCORED, why, None, tuple(rows), verdict)


def _title(built: Built) -> str:
    return f"student as shipped (ONNX {built.precision.upper()})"


def _rescore_generation(
    project: Project, student: StudentSource, built: Built, evaluation: Evaluation, sha: str,
    why: str,
) -> ShippedFigures:  # fmt: skip
    """The shipped decoder's greedy answers on the test and edge-case sets, one input at a
    time as ``stillroom predict`` runs it, scored as the evaluation scores the student
    (ROUGE-L, exact match, length ratio, retention), and judged."""
    from core.evaluate.compare import generation_set

    result = evaluation.result
    teacher = resolve_teacher(project, None if result is None else result.teacher_id, student)
    on_bound = result is not None and result.gate_on_lower_bound
    rows, verdict = [], None
    for split in ("test", "edge"):
        eset = load_set(project, split, (), teacher, student.text_source)
        if not len(eset):
            continue
        answers = built.answers.get((built.shipped, split))
        if answers is None:
            answers = generate_answers(project, built, evaluation, built.shipped, eset.texts)
        scored = generation_set(eset, {SHIPPED: answers})
        if scored is None:
            continue
        rows.append(model_row(split, _title(built), scored.models[SHIPPED]))
        if split == "test":
            verdict = judge(split, scored, project.settings.floor, SHIPPED, on_bound)
    return ShippedFigures(sha, RESCORED, why, None, tuple(rows), verdict)


def generate_answers(
    project: Project, built: Built, evaluation: Evaluation, model: Path, texts: list[str]
) -> list[str]:
    """``model``'s greedy answers to ``texts``, as ``stillroom predict`` writes them, up to
    the evaluation's longest answer (so a file is scored as the student was)."""
    from core.export.runtime_causal import OnnxCausalLM, PromptWrapper

    runner = OnnxCausalLM.open(model, built.folder / "tokenizer.json",
                               PromptWrapper.from_dict(built.prompt or {}),
                               settings_of(built))  # fmt: skip
    max_new = _max_new_tokens(project, evaluation)
    return [runner.generate(t, max_new) for t in texts]


def test_metric_of(
    project: Project, student: StudentSource, built: Built, evaluation: Evaluation, model: Path
) -> float | None:
    """``model``'s metric (ROUGE-L, or exact match without references) on the test set, its
    answers kept in ``built.answers`` for the shipped file's figures; None: no test rows."""
    from core.evaluate.compare import generation_set

    result = evaluation.result
    teacher = resolve_teacher(project, None if result is None else result.teacher_id, student)
    eset = load_set(project, "test", (), teacher, student.text_source)
    if not len(eset):
        return None
    answers = generate_answers(project, built, evaluation, model, eset.texts)
    built.answers[(model, "test")] = answers
    scored = generation_set(eset, {SHIPPED: answers})
    return None if scored is None else scored.models[SHIPPED].primary


def _max_new_tokens(project: Project, evaluation: Evaluation) -> int:
    """The evaluation's longest answer, so the shipped file is scored as the student was."""
    from core.evaluate.config import EvaluateConfig
    from core.jobs.registry import EVALUATE
    from core.jobs.runs import get_run, run_config

    if evaluation.run_id is None:
        return EvaluateConfig().max_new_tokens
    return run_config(project, EVALUATE, get_run(project, evaluation.run_id)).max_new_tokens
