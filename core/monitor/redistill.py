"""The REDISTILL stage: production traffic into a new student and a new bundle (DESIGN §11).

Steps, each its own run of the stage that does it (audited, resumable, cancellable like any
other; a stopped re-distillation skips the steps it finished, recorded in its run folder):

1. choose: a random slice held out, then up to the budget by uncertainty sampling
   (``core.monitor.choose``), among the requests whose input the server kept; the kept
   inputs become records of a dataset of their own (training split; the slice unassigned,
   which no stage trains or evaluates on), decrypted with the server's key where needed;
2. anonymize (the project's latest settings: only the new records are new work), before
   the teacher sees anything;
3. teach (the project's latest teacher: cached outputs are reused, the new ones costed);
4. train (:func:`start_config`): the served student further, with its run's settings; or
   the base's settings, or a larger student cut afresh from the base's source; keeping
   the final weights (the validation split holds none of the production traffic);
5. evaluate on the original test set, against the same floor;
6. export a new bundle whose manifest names its parent (its manifest's SHA-256);
7. score the production slice with the parent and the new bundle against the teacher's
   labels: the agreement must reach the floor the parent was accepted with
   (``min_retention`` x the test agreement of the parent's evaluation).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import UserError
from core.monitor.choose import choose
from core.monitor.config import MonitorError, RedistillConfig, RedistillResult, SliceFigures
from core.monitor.reference import BundleInfo, build_reference, find_bundle, project_floors
from core.monitor.windows import traffic
from core.project import Project
from core.reporter import Reporter
from core.store import production, records

if TYPE_CHECKING:
    from collections.abc import Callable

    from core.jobs.registry import RunContext, Stage
    from core.train.config import TrainConfig

_STEPS = "steps.json"
_RUNS = "runs"
NEEDS_INPUTS = (
    "re-distillation needs the requests' text: run the server with --keep-inputs anonymized "
    "(or encrypted, and give its key file with --input-key-file), then monitor its log again"
)


class _Scaled:
    """A sub-stage's progress drawn inside a span of the re-distillation's bar."""

    def __init__(self, outer: Reporter, low: float, high: float, name: str) -> None:
        self._outer, self._low, self._high, self._name = outer, low, high, name

    def progress(self, fraction: float, message: str = "") -> None:
        value = self._low + (self._high - self._low) * max(0.0, min(1.0, fraction))
        self._outer.progress(value, f"{self._name}: {message}")

    def metric(self, name: str, value: float, step: int | None = None) -> None:
        self._outer.metric(name, value, step)

    def cancel_requested(self) -> bool:
        return self._outer.cancel_requested()


def _steps(run: RunContext) -> dict[str, Any]:
    path = run.dir / _STEPS
    loaded: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    return loaded


def _record(run: RunContext, steps: dict[str, Any], key: str, value: Any) -> None:
    steps[key] = value
    scratch = run.dir / f".{_STEPS}"
    scratch.write_text(json.dumps(steps))
    os.replace(scratch, run.dir / _STEPS)


def _decryptor(config: RedistillConfig) -> Any:
    from cryptography.fernet import Fernet, InvalidToken

    from core.serve.config import INPUT_KEY_ENV

    key = os.environ.get(INPUT_KEY_ENV, "").encode() or None
    if config.input_key_file is not None:
        key = Path(config.input_key_file).expanduser().read_bytes().strip()
    if not key:
        raise MonitorError("the server kept its inputs encrypted and no key was given",
                           f"pass the server's key file with --input-key-file (or set "
                           f"{INPUT_KEY_ENV})")  # fmt: skip
    fernet = Fernet(key)

    def decrypt(token: bytes) -> str:
        try:
            return fernet.decrypt(token).decode("utf-8")
        except InvalidToken:
            raise MonitorError(
                "an input does not open with the given key",
                "pass the key file of the server that wrote this log",
            ) from None

    return decrypt


def _texts(project: Project, config: RedistillConfig, ids: list[int]) -> dict[int, str]:
    kept = production.kept_inputs(project.store, ids)
    decrypt = None
    texts = {}
    for row_id, (kind, stored) in kept.items():
        if kind == "encrypted":
            decrypt = decrypt or _decryptor(config)
            texts[row_id] = decrypt(stored)
        else:
            texts[row_id] = stored.decode("utf-8")
    return texts


def _choose(project: Project, config: RedistillConfig, parent: BundleInfo, run: RunContext) -> int:
    """Step 1: pick, decrypt, store as records. Returns the new dataset's id."""
    from core.monitor.drift import drift_scores, features

    rows = [r for r in production.production_rows(project.store, parent.sha)
            if r.input_kind is not None and r.used_as is None]  # fmt: skip
    if not rows:
        raise MonitorError("no logged request kept its input", NEEDS_INPUTS)
    found = traffic(rows, parent.labels)
    reference = build_reference(project, parent, seed=config.seed)
    scores = drift_scores(reference.inputs, features(found.fingerprints, found.chars),
                          seed=config.seed)  # fmt: skip
    picked = choose(
        found.probabilities.max(axis=1),
        scores,
        budget=config.budget,
        held_out=config.slice_size,
        sampling=config.sampling,
        seed=config.seed,
    )
    train_ids = [int(found.ids[i]) for i in picked.train]
    slice_ids = [int(found.ids[i]) for i in picked.held_out]
    texts = _texts(project, config, train_ids + slice_ids)
    digest = hashlib.sha256(f"production:{parent.sha}:{run.id}".encode()).hexdigest()
    dataset = records.insert_dataset(
        project.store, name=f"production {parent.sha[:12]} ({run.id})",
        source=(f"production:{parent.sha}", digest, 0), format="production", encoding=None,
        columns={"text": "input", "label": None, "flag": None},
        split={"budget": config.budget, "slice": config.slice_size, "sampling": config.sampling},
    )  # fmt: skip
    chosen = [(i, texts[i], "train") for i in train_ids if i in texts]
    chosen += [(i, texts[i], "unassigned") for i in slice_ids if i in texts]
    made = production.add_production_records(project.store, dataset, chosen, run.id)
    records.finish_dataset(project.store, dataset, row_count=len(made), rows_read=len(chosen))
    project.audit(
        "redistill.chose",
        {
            "run": run.id,
            "train": sum(s == "train" for *_, s in chosen),
            "slice": len(slice_ids),
            "sampling": config.sampling,
        },
    )
    return dataset


def _latest_config(project: Project, stage: Stage[Any, Any]) -> Any:
    from core.jobs.runs import latest, run_config

    found = latest(project, stage)
    if found is None:
        raise MonitorError(f"the project has no finished {stage.noun}", stage.first or "")
    return run_config(project, stage, found.run)


def _sub(project: Project, stage: Stage[Any, Any], config: Any, steps: dict[str, Any],
         run: RunContext, reporter: _Scaled) -> Any:  # fmt: skip
    """Run (or, when this re-distillation already ran it, read back) one step's stage."""
    from core.jobs.execute import run_stage
    from core.jobs.runs import get_run, run_result

    done = steps.get(stage.key)
    if done is not None:
        return run_result(project, stage, get_run(project, done))
    result = run_stage(project, stage, config, reporter=reporter)
    _record(run, steps, stage.key, getattr(result, "run_id", None) or _last_run(project, stage))
    return result


def _last_run(project: Project, stage: Stage[Any, Any]) -> str:
    from core.jobs.runs import latest

    found = latest(project, stage)
    return "" if found is None else found.run.id


def _slice_figures(model: str, answers: list[str], reference: list[str]) -> SliceFigures:
    """Agreement (accuracy against the teacher's labels) with its Wilson interval, and
    macro-F1, on the slice."""
    from scipy.stats import binomtest
    from sklearn.metrics import f1_score

    agree = sum(a == b for a, b in zip(answers, reference, strict=True))
    interval = binomtest(agree, len(answers)).proportion_ci(0.95, method="wilson")
    f1 = float(f1_score(reference, answers, average="macro", zero_division=0))
    return SliceFigures(model, len(answers), agree / len(answers), f1,
                        float(interval.low), float(interval.high))  # fmt: skip


def _score_slice(
    project: Project, run: RunContext, parent: BundleInfo, teach: Any, bundle: Path | None
) -> tuple[SliceFigures | None, SliceFigures | None]:
    """The parent's logged answers and the new bundle's on the slice, against the teacher."""
    from core.monitor.replay import score

    used = production.used_records(project.store, run.id, "slice")
    record_to_row = {record: row for row, record in used}
    found = production.slice_inputs(project.store, [r for _, r in used],
                                    (teach.teacher_id, teach.prompt_version))  # fmt: skip
    found = [(record, text, label) for record, text, label in found if label is not None]
    if not found:
        return None, None
    logged = {r.id: r.label for r in production.production_rows(project.store, parent.sha)}
    truth = [str(label) for _, _, label in found]
    before = _slice_figures("parent bundle", [logged[record_to_row[r]] for r, _, _ in found], truth)
    if bundle is None:
        return before, None
    probs = score(bundle, [text for _, text, _ in found])
    labels = parent.labels
    after = _slice_figures("new bundle", [labels[int(i)] for i in np.argmax(probs, axis=1)], truth)
    return before, after


def _parent_run(parent: BundleInfo, section: str, key: str) -> str | None:
    """A run id the parent bundle's manifest names: ``lineage.train_run`` (whose student it
    ships) or ``quality.evaluate_run`` (the evaluation it was exported after)."""
    manifest = json.loads((parent.path / "manifest.json").read_text(encoding="utf-8"))
    run_id = (manifest.get(section) or {}).get(key)
    return run_id if isinstance(run_id, str) and run_id else None


def start_config(
    config: RedistillConfig, run_id: str, config_of: Callable[[str], TrainConfig | None],
    runs: Path,
) -> TrainConfig:  # fmt: skip
    """The training settings a re-distillation starts from, given the train run ``run_id``
    whose student is served (``config_of``: a train run's stored settings, None when the
    project has no such run; ``runs``: the project's runs folder).

    ``student``: that run's settings, training its student further. ``base``: the
    settings of the run that began the line, following each run that trained a student of
    an earlier run back to one that did not (a re-distillation from the current student
    records that student, so the latest settings are not the base). ``layers``: the base's
    settings with a student of that many of its source's layers cut afresh.

    Raises:
        MonitorError: ``layers`` where the base did not cut its student from a larger model.
    """
    current = config_of(run_id)
    if current is None:
        raise MonitorError(f"the served student's training run {run_id} is not in this project",
                           "train a student first (`stillroom train`)")  # fmt: skip
    if config.start == "student" and config.layers is None:
        student = str(runs / run_id / "student")
        return dataclasses.replace(current, student=student, derive=None, layers=None,
                                   auto=False, parent_run=None)  # fmt: skip
    base, seen = current, {run_id}
    while base.student is not None:
        earlier = _run_of_student(base.student)
        found = None if earlier is None or earlier in seen else config_of(earlier)
        if found is None or found.teacher_id != base.teacher_id:
            break  # not a run, or one that trained for another teacher (the teacher itself)
        base = found
        seen.add(earlier or "")
    if config.layers is None:
        return dataclasses.replace(base, auto=False, parent_run=None)
    if base.derive is None:
        raise MonitorError(
            "--layers cuts a student from a larger model, and this project's student was not "
            "cut from one (it was trained from a model folder as it is)",
            "re-distil without --layers, or train a student with `stillroom train --derive`",
        )
    return dataclasses.replace(base, student=None, layers=config.layers, auto=False,
                               parent_run=None)  # fmt: skip


def _run_of_student(student: str) -> str | None:
    """The run id of a ``runs/<run>/student`` folder (stored paths may point at the folder
    the project was copied from: the run id is what matters)."""
    path = Path(student)
    if path.name != "student" or path.parent.parent.name != _RUNS:
        return None
    return path.parent.name


def _train_config(project: Project, config: RedistillConfig, parent: BundleInfo) -> TrainConfig:
    from core.jobs.registry import TRAIN
    from core.jobs.runs import get_run, latest, run_config

    def config_of(run_id: str) -> TrainConfig | None:
        try:
            record = get_run(project, run_id)
        except UserError:
            return None
        if record.stage != TRAIN.key:
            return None
        return run_config(project, TRAIN, record)

    run_id = _parent_run(parent, "lineage", "train_run")
    if run_id is None or config_of(run_id) is None:  # an older bundle, or another project's
        found = latest(project, TRAIN)
        if found is None:
            raise MonitorError("the project has no finished training", TRAIN.first or "")
        run_id = found.run.id
    chosen = start_config(config, run_id, config_of, project.runs_dir)

    def here(path: str | None) -> str | None:  # a run of this project, wherever it was copied
        found = None if path is None else _run_of_student(path)
        if found is None or config_of(found) is None:
            return path
        return str(project.runs_dir / found / "student")

    return dataclasses.replace(chosen, student=here(chosen.student), derive=here(chosen.derive))


def slice_interval_note(after: SliceFigures | None, floor: float | None) -> list[str]:
    """A note when the slice passes on its point estimate but its interval reaches below
    the floor: the slice is too small to settle the verdict."""
    if after is None or floor is None or not after.low < floor <= after.accuracy:
        return []
    return [f"the slice's 95% interval [{after.low:.1%}, {after.high:.1%}] reaches below the "
            f"floor {floor:.1%}: {after.rows:,} rows cannot settle it; a larger --slice (or "
            "watching the new bundle's shadow agreement) would"]  # fmt: skip


def _larger_hint(project: Project, config: RedistillConfig, parent: BundleInfo,
                 student: Path) -> str:  # fmt: skip
    """Where the student was cut from a larger model with layers to spare: the command that
    tries one more layer (on the demo's shifted slice, 3 layers stayed at 85-87% agreement
    with the teacher whatever the recipe, 4 layers reached 89%)."""
    from core.train.students import read_config

    try:
        base = _train_config(project, dataclasses.replace(config, start="base", layers=None),
                             parent)  # fmt: skip
        if base.derive is None:
            return ""
        kept = int(read_config(Path(student)).get("num_hidden_layers") or 0)
        total = int(read_config(Path(base.derive)).get("num_hidden_layers") or 0)
    except (OSError, ValueError, UserError):
        return ""
    return larger_student_hint(project.path, kept, total)


def larger_student_hint(project: Path, kept: int, total: int) -> str:
    """The note's suggestion of one more layer, or nothing when there is none to add."""
    if not 0 < kept < total:
        return ""
    return (
        f"; a {kept}-layer student may be too small for this traffic: try "
        f"`stillroom redistill {project} --layers {kept + 1}` (a student of {kept + 1} "
        f"of the {total} layers, cut afresh; slower, and the evaluation says by how much)"
    )


def _export_config(project: Project, config: RedistillConfig, parent: BundleInfo,
                   student: Path) -> Any:  # fmt: skip
    from core.jobs.registry import EXPORT

    previous = _latest_config(project, EXPORT)
    out = config.out
    if out is None:
        number = 1
        while (parent.path.parent / f"{parent.path.name}-r{number}").exists():
            number += 1
        out = parent.path.parent / f"{parent.path.name}-r{number}"
    return dataclasses.replace(
        previous, out=out, student=student, parent=parent.sha, force=False,
        override_floor=None, override_parity=config.override_parity,
    )  # fmt: skip


def run_redistill(project: Project, config: RedistillConfig, *, run: RunContext,
                  reporter: Reporter) -> RedistillResult:  # fmt: skip
    """Re-distil the served bundle on its production traffic (see the module docstring).

    Raises:
        MonitorError: no traffic with kept inputs, no key for encrypted inputs, or a
            project that has not been through the pipeline.
        UserError: what a step's stage raised (it resumes with the re-distillation).
    """
    from core.jobs.registry import ANONYMIZE, EVALUATE, EXPORT, TEACH, TRAIN

    config.validate()
    steps = _steps(run)
    known = production.bundles(project.store)
    sha = config.bundle_sha or (known[-1][0] if known else None)
    if sha is None:
        raise MonitorError("there is no production traffic", "run `stillroom monitor --log` first")
    parent = find_bundle(project, sha)
    start = _train_config(project, config, parent)  # refuses impossible settings up front
    if "choose" not in steps:
        reporter.progress(0.0, "choosing the requests the teacher labels")
        _record(run, steps, "choose", _choose(project, config, parent, run))
    anonymize = _sub(project, ANONYMIZE, _latest_config(project, ANONYMIZE), steps, run,
                     _Scaled(reporter, 0.05, 0.2, "anonymize"))  # fmt: skip
    del anonymize
    teach = _sub(project, TEACH, _latest_config(project, TEACH), steps, run,
                 _Scaled(reporter, 0.2, 0.35, "teach"))  # fmt: skip
    # The final weights: the validation split has none of the production traffic, and the
    # checkpoint it scores best is the one that learnt least of it (on the demo's shifted
    # slice, 84.4% agreement with the teacher against 89.5% for the final weights).
    train_config = dataclasses.replace(
        start, teacher_id=teach.teacher_id, prompt_version=teach.prompt_version,
        epochs=start.epochs if config.epochs is None else config.epochs,
        keep_best=False, early_stopping=0,
    )  # fmt: skip
    trained = _sub(project, TRAIN, train_config, steps, run, _Scaled(reporter, 0.35, 0.7, "train"))
    evaluate_config = dataclasses.replace(_latest_config(project, EVALUATE),
                                          student=trained.model_dir)  # fmt: skip
    evaluated = _sub(project, EVALUATE, evaluate_config, steps, run,
                     _Scaled(reporter, 0.7, 0.85, "evaluate"))  # fmt: skip
    notes: list[str] = []
    exported = None
    if evaluated.passed:
        exported = _sub(project, EXPORT, _export_config(project, config, parent, trained.model_dir),
                        steps, run, _Scaled(reporter, 0.85, 0.97, "export"))  # fmt: skip
    else:
        notes.append("the new student fails the floor on the original test set: no bundle was "
                      "exported (see its evaluation report)")  # fmt: skip
    reporter.progress(0.97, "scoring the production slice")
    bundle = None if exported is None else exported.bundle
    before, after = _score_slice(project, run, parent, teach, bundle)
    # The floor the served bundle was accepted with, not one moved by the new evaluation.
    floor = project_floors(project, _parent_run(parent, "quality", "evaluate_run")).agreement_floor
    slice_ok = after is None or floor is None or after.accuracy >= floor
    if not slice_ok:
        hint = _larger_hint(project, config, parent, trained.model_dir)
        notes.append("the new bundle's agreement with the teacher on the production slice is "
                     f"below the floor: do not ship it{hint}")  # fmt: skip
    notes += slice_interval_note(after, floor)
    used = production.used_records(project.store, run.id, "train")
    result = RedistillResult(
        parent_sha=parent.sha, chosen=len(used), slice_rows=0 if before is None else before.rows,
        teacher_cost=float(teach.cost), train_run=trained.run_id, evaluate_run=evaluated.run_id,
        export_run=None if exported is None else exported.run_id, bundle=bundle,
        passed=bool(evaluated.passed) and exported is not None and slice_ok,
        before=before, after=after, slice_floor=floor, notes=tuple(notes),
        test_passed=bool(evaluated.passed),
    )  # fmt: skip
    project.audit("redistill.done", {"run": run.id, "parent": parent.sha, "passed": result.passed,
                                     "export": result.export_run})  # fmt: skip
    reporter.progress(1.0, "re-distilled")
    return result
