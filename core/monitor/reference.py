"""What the served bundle looked like on the project's own data: the monitor's reference.

- Inputs: the fingerprints of a seeded sample of the training split (:data:`REFERENCE_ROWS`),
  computed as the server computes them, from the text a server would see (raw).
- Predictions: the bundle's labels and confidences on the test split, computed once per
  bundle with ``core.export.predict`` and cached beside the runs (``runs/.monitor``); their
  mean probability vector is the label mix the confidences are calibrated under (the
  training prior of the label-mix correction, ``core.monitor.estimate.adjust_to_priors``).
- The bundle's temperature (whether the confidences are calibrated), labels and floors.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.errors import UserError
from core.monitor.config import MonitorError
from core.monitor.drift import features
from core.monitor.plan import REFERENCE_ROWS, Floors, floors
from core.project import Project
from core.store import production

_CACHE = ".monitor"
_SCORE_BATCH = 16


@dataclass(frozen=True, slots=True)
class BundleInfo:
    """A served bundle: where it is, its manifest's SHA-256, labels and temperature."""

    path: Path
    sha: str
    labels: tuple[str, ...]
    temperature: float
    calibrated: bool


@dataclass(frozen=True, slots=True)
class Reference:
    """The reference a window is compared with (see the module docstring)."""

    inputs: npt.NDArray[np.float64]
    bucket_share: npt.NDArray[np.float64]
    chars: npt.NDArray[np.float64]
    label_counts: npt.NDArray[np.int64]
    confidences: npt.NDArray[np.float64]
    prior: npt.NDArray[np.float64]


def manifest_sha(bundle: Path) -> str:
    """SHA-256 of a bundle folder's manifest bytes (what the server logs)."""
    return hashlib.sha256((bundle / "manifest.json").read_bytes()).hexdigest()


def bundle_info(path: Path) -> BundleInfo:
    """Read a bundle folder's manifest.

    Raises:
        MonitorError: it is not a bundle folder.
    """
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        raise MonitorError(f"{path} is not a bundle folder", "pass the exported bundle folder")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    calibration = manifest.get("calibration") or {}
    temperature = float(calibration.get("temperature", 1.0))
    calibrated = not str(calibration.get("source", "default")).startswith("default")
    labels = tuple(str(x) for x in manifest.get("labels", ()))
    return BundleInfo(path, manifest_sha(path), labels, temperature, calibrated)


def find_bundle(project: Project, sha: str, given: Path | None = None) -> BundleInfo:
    """The project's exported bundle with this manifest SHA-256 (or ``given``).

    Raises:
        MonitorError: no export of this project wrote it.
    """
    from core.jobs.registry import EXPORT
    from core.jobs.runs import list_runs, run_result

    candidates = [] if given is None else [Path(given)]
    for run in reversed(list_runs(project, EXPORT.key)):
        if run.status == "succeeded":
            result = run_result(project, EXPORT, run)
            if result is not None:
                candidates.append(result.bundle)
    for path in candidates:
        if (path / "manifest.json").is_file() and manifest_sha(path) == sha:
            return bundle_info(path)
    raise MonitorError(
        f"the logged bundle {sha[:12]}… is not one this project exported",
        "pass the bundle folder with --bundle",
    )


def project_floors(project: Project, evaluate_run: str | None = None) -> Floors:
    """The floors from the project's floor and the test figures of its evaluation
    ``evaluate_run`` (a bundle's, from its manifest) or, without one, its latest."""
    from core.jobs.registry import EVALUATE
    from core.jobs.runs import get_run, latest_result, run_result

    floor = project.settings.floor
    evaluation = None
    if evaluate_run is not None:
        try:
            evaluation = run_result(project, EVALUATE, get_run(project, evaluate_run))
        except UserError:
            evaluation = None
    if evaluation is None:
        evaluation = latest_result(project, EVALUATE)
    teacher = judged = None
    if evaluation is not None:
        teacher = evaluation.row("test", "teacher")
        judged = evaluation.row("test", evaluation.judged)
    return floors(
        float(floor.min_retention or 0.0),
        teacher_metric=None if teacher is None else teacher.metric,
        test_agreement=None if judged is None else judged.agreement,
        min_metric=floor.min_metric,
    )


def _test_predictions(project: Project, bundle: BundleInfo) -> npt.NDArray[np.float64]:
    """The bundle's probabilities on the test split (cached per bundle)."""
    from core.export.predict import predict

    cache = project.runs_dir / _CACHE / f"test-{bundle.sha[:24]}.npy"
    if cache.is_file():
        return np.asarray(np.load(cache), dtype=np.float64)
    texts = [text for _, text in production.split_texts(project.store, "test")]
    if not texts:
        raise MonitorError("the project has no test split", "import data with a test split")
    result = predict(bundle.path, texts, batch_size=_SCORE_BATCH)
    probs = np.array(
        [[p.probabilities[label] for label in bundle.labels] for p in result.predictions]
    )
    cache.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    np.save(cache, probs)
    return probs


def reference_from(
    train_texts: list[str], test_probabilities: npt.NDArray[np.float64], *, seed: int = 0
) -> Reference:
    """A reference from texts and probabilities (the bench builds one this way too)."""
    from core.serve.fingerprint import counts

    rng = np.random.default_rng(seed)
    if len(train_texts) > REFERENCE_ROWS:
        picked = rng.choice(len(train_texts), REFERENCE_ROWS, replace=False)
        train_texts = [train_texts[i] for i in sorted(picked)]
    prints = np.array([counts(t) for t in train_texts], dtype=np.int64)
    chars = np.array([len(t) for t in train_texts], dtype=np.int64)
    mass = prints.sum(axis=0).astype(np.float64)
    k = test_probabilities.shape[1]
    answers = np.argmax(test_probabilities, axis=1)
    return Reference(
        inputs=features(prints, chars),
        bucket_share=mass / max(mass.sum(), 1.0),
        chars=chars.astype(np.float64),
        label_counts=np.bincount(answers, minlength=k).astype(np.int64),
        confidences=test_probabilities.max(axis=1),
        # floored: a label the test split never suggests must not divide by zero
        prior=_floored(test_probabilities.mean(axis=0)),
    )


def _floored(prior: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    kept = np.maximum(prior, 1e-6)
    return np.asarray(kept / kept.sum(), dtype=np.float64)


def build_reference(project: Project, bundle: BundleInfo, *, seed: int = 0) -> Reference:
    """The reference for one bundle (see the module docstring).

    Raises:
        MonitorError: the project has no training or test split.
    """
    train = [text for _, text in production.split_texts(project.store, "train")]
    if not train:
        raise MonitorError("the project has no training split", "import data first")
    return reference_from(train, _test_predictions(project, bundle), seed=seed)
