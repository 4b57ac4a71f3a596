"""The monitor's statistics on seeded synthetic data: the drift tests fire on a planted
shift and stay quiet on an unshifted stream; the label-free estimate (CBPE) is close to the
truth on a calibrated toy model; uncertainty sampling takes the unsure and drifted first."""

from __future__ import annotations

import numpy as np

from core.monitor import drift
from core.monitor.choose import choose
from core.monitor.config import MonitorConfig
from core.monitor.estimate import estimate_quality
from core.monitor.plan import TEST_ALPHA, floors
from core.monitor.reference import reference_from
from core.monitor.stage import judge
from core.monitor.windows import Traffic

WORDS = [f"word{i}" for i in range(300)]
OTHER = [f"other{i}" for i in range(300)]


def _texts(rng: np.random.Generator, vocabulary: list[str], n: int) -> list[str]:
    return [" ".join(rng.choice(vocabulary, rng.integers(5, 25))) for _ in range(n)]


def _calibrated(rng: np.random.Generator, n: int, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and labels drawn from them: calibrated by construction."""
    logits = rng.normal(0, 2.0, (n, k))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    truth = np.array([rng.choice(k, p=p) for p in probs])
    return probs, truth


def _traffic(texts: list[str], probs: np.ndarray) -> Traffic:
    from core.serve.fingerprint import counts

    n = len(texts)
    return Traffic(
        ids=np.arange(n),
        times=tuple(f"2026-01-01T{i // 60:02d}:{i % 60:02d}:00" for i in range(n)),
        probabilities=probs, answers=probs.argmax(axis=1),
        fingerprints=np.array([counts(t) for t in texts], dtype=np.int64),
        chars=np.array([len(t) for t in texts]), sampled=np.zeros(n, dtype=bool),
        teacher=np.full(n, -1), lost=np.zeros(n, dtype=bool),
    )  # fmt: skip


def _setup(seed: int = 0):
    rng = np.random.default_rng(seed)
    train = _texts(rng, WORDS, 600)
    test_probs, _ = _calibrated(rng, 400)
    return rng, reference_from(train, test_probs, seed=seed)


def test_drift_fires_on_a_planted_shift_and_not_on_an_unshifted_replay():
    rng, reference = _setup()
    probs, _ = _calibrated(rng, 1200)
    same = _texts(rng, WORDS, 1200)
    judged = judge(_traffic(same, probs), reference, MonitorConfig(window_rows=200), floors(0.9,
                   teacher_metric=None, test_agreement=None))  # fmt: skip
    assert len(judged.figures) == 6
    assert judged.alerts == []
    assert all(w.input_p is not None and w.input_p > TEST_ALPHA for w in judged.figures)
    shifted = same[:600] + _texts(rng, WORDS[:150] + OTHER[:150], 600)
    judged = judge(_traffic(shifted, probs), reference, MonitorConfig(window_rows=200),
                   floors(0.9, teacher_metric=None, test_agreement=None))  # fmt: skip
    fired = {a.window for a in judged.alerts if a.kind == "input drift"}
    assert fired == {3, 4, 5}


def test_label_and_confidence_drift_fire_on_a_label_share_tripled():
    rng = np.random.default_rng(3)
    reference_counts = np.array([300, 300, 300])
    window = np.array([60, 20, 20]) * 3
    assert drift.label_drift(reference_counts, window).p_value < TEST_ALPHA
    assert drift.label_drift(reference_counts, np.array([100, 98, 102])).p_value > 0.05
    low = rng.uniform(0.4, 0.7, 300)
    high = rng.uniform(0.6, 0.99, 300)
    assert drift.distribution_drift(high, low).p_value < TEST_ALPHA


def test_label_free_estimate_is_close_to_the_truth_on_a_calibrated_toy_model():
    rng = np.random.default_rng(7)
    errors, covered = [], 0
    for _ in range(20):
        probs, truth = _calibrated(rng, 300)
        answers = probs.argmax(axis=1)
        estimate = estimate_quality(probs, answers, seed=1)
        accuracy = float((answers == truth).mean())
        errors.append(abs(estimate.accuracy - accuracy))
        covered += estimate.accuracy_low <= accuracy <= estimate.accuracy_high
    assert np.mean(errors) < 0.03
    assert covered >= 17  # a 95% interval, 20 windows


def test_a_window_whose_error_rate_is_above_the_threshold_alerts_and_one_below_does_not():
    from core.store.production import LoggedError

    rng, reference = _setup()
    probs, _ = _calibrated(rng, 600)
    found = _traffic(_texts(rng, WORDS, 600), probs)
    at = found.times

    def failed(i: int, kind: str = "bad_request", status: int = 400) -> LoggedError:
        return LoggedError("ab" * 32, f"e{i}-{kind}", at[i], status, kind, 1)

    # window 1 (rows 200..399): 8 of 208 failed; window 2: 1 of 201 (0.5%)
    errors = (
        [failed(200 + i) for i in range(6)]
        + [failed(250 + i, "model_error", 500) for i in range(2)]
        + [failed(450)]
    )
    config = MonitorConfig(window_rows=200)
    judged = judge(found, reference, config, floors(0.9, teacher_metric=None,
                   test_agreement=None), errors=errors)  # fmt: skip
    rates = [(w.requests, w.errors) for w in judged.figures]
    assert rates == [(200, 0), (200, 8), (200, 1)]
    (alert,) = [a for a in judged.alerts if a.kind == "error rate"]
    assert alert.window == 1
    assert "8 of 208 requests" in alert.message
    assert "6 bad_request, 2 model_error" in alert.message
    assert "fix the calling application" in alert.next_step
    assert "read the server's log" in alert.next_step
    assert (judged.figures[2].error_low or 0.0) < 0.01
    plain = floors(0.9, teacher_metric=None, test_agreement=None)
    strict = judge(found, reference, MonitorConfig(window_rows=200, max_error_rate=0.0), plain,
                   errors=errors)  # fmt: skip
    assert {a.window for a in strict.alerts if a.kind == "error rate"} == {1, 2}


def _gaussian_stream(rng: np.random.Generator, prior: np.ndarray, n: int):
    """A toy model whose probabilities are exact posteriors under a uniform training mix:
    three labels, Gaussians in 2-D, label 0 broad and the others narrow (so a label mix
    change moves the accuracy differently from the confidences). Calibrated by construction
    while the mix stays uniform. Returns (probabilities, answers, truth)."""
    means, spread = np.array([[0.0, 0.0], [1.5, 0.0], [0.0, 1.5]]), np.array([2.0, 0.7, 0.7])
    truth = rng.choice(3, n, p=prior)
    x = means[truth] + rng.normal(size=(n, 2)) * spread[truth][:, None]
    log_density = (-0.5 * ((x[:, None, :] - means[None]) ** 2).sum(axis=2) / spread**2
                   - 2 * np.log(spread))  # fmt: skip
    probs = np.exp(log_density - log_density.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    return probs, probs.argmax(axis=1), truth


UNIFORM = np.full(3, 1 / 3)
TRIPLED = np.array([0.6, 0.2, 0.2])  # label 0's share tripled against each other's


def test_the_label_mix_correction_fixes_the_estimate_under_a_prior_shift_and_keeps_it_otherwise():
    from core.monitor.estimate import adjust_to_priors

    rng = np.random.default_rng(11)
    plain, corrected, moved, mixes = [], [], [], []
    for _ in range(20):
        probs, answers, truth = _gaussian_stream(rng, TRIPLED, 400)
        accuracy = float((answers == truth).mean())
        plain.append(abs(estimate_quality(probs, answers).accuracy - accuracy))
        fixed = estimate_quality(probs, answers, training_prior=UNIFORM)
        corrected.append(abs(fixed.accuracy - accuracy))
        mixes.append(adjust_to_priors(probs, UNIFORM)[1])
        probs, answers, _ = _gaussian_stream(rng, UNIFORM, 400)
        moved.append(abs(estimate_quality(probs, answers, training_prior=UNIFORM).accuracy
                         - estimate_quality(probs, answers).accuracy))  # fmt: skip
    assert np.mean(plain) > 0.06  # the shift breaks the uncorrected estimate
    assert np.mean(corrected) < 0.03
    assert np.abs(np.mean(mixes, axis=0) - TRIPLED).max() < 0.03  # the EM finds the mix
    assert np.mean(moved) < 0.01  # an unshifted window barely moves


def test_the_monitor_corrects_the_estimate_only_in_windows_whose_label_mix_changed():
    rng = np.random.default_rng(2)
    train = _texts(rng, WORDS, 600)
    reference = reference_from(train, _gaussian_stream(rng, UNIFORM, 900)[0], seed=0)
    same, _, truth_same = _gaussian_stream(rng, UNIFORM, 800)
    moved, _, truth_moved = _gaussian_stream(rng, TRIPLED, 800)
    probs = np.vstack([same, moved])
    truth = np.concatenate([truth_same, truth_moved])
    found = _traffic(_texts(rng, WORDS, 1600), probs)
    judged = judge(found, reference, MonitorConfig(window_rows=400),
                   floors(0.9, teacher_metric=None, test_agreement=None))  # fmt: skip
    assert [w.prior_adjusted for w in judged.figures] == [False, False, True, True]
    for w in judged.figures:
        rows = slice(w.index * 400, (w.index + 1) * 400)
        true = float((probs[rows].argmax(axis=1) == truth[rows]).mean())
        plain = estimate_quality(probs[rows], probs[rows].argmax(axis=1), seed=w.index)
        if w.prior_adjusted:
            assert abs(w.accuracy - true) < abs(plain.accuracy - true) - 0.03
        else:
            assert w.accuracy == plain.accuracy  # untouched where the mix did not change


def test_uncertainty_sampling_takes_the_unsure_and_drifted_first_and_holds_out_a_slice():
    confidence = np.array([0.99, 0.4, 0.95, 0.5, 0.98, 0.45, 0.97, 0.9])
    drifted = np.array([0.1, 0.9, 0.2, 0.8, 0.1, 0.95, 0.3, 0.2])
    picked = choose(confidence, drifted, budget=3, held_out=0)
    assert set(picked.train) == {1, 3, 5}
    split = choose(confidence, drifted, budget=3, held_out=2, seed=4)
    assert not set(split.train) & set(split.held_out)
    assert len(split.held_out) == 2
    randomly = choose(confidence, drifted, budget=3, held_out=0, sampling="random", seed=1)
    assert len(randomly.train) == 3


def test_the_estimate_says_it_is_valid_because_calibrated_and_warns_when_not():
    from pathlib import Path

    from core.monitor.reference import BundleInfo
    from core.monitor.stage import estimate_note

    kept = estimate_note(BundleInfo(Path("b"), "ab", ("a", "b"), 1.3, calibrated=True))
    assert "valid because the student is temperature-calibrated (T = 1.300" in kept
    missing = estimate_note(BundleInfo(Path("b"), "ab", ("a", "b"), 1.0, calibrated=False))
    assert missing.startswith("Warning: the bundle kept no fitted temperature")


def test_a_redistillation_says_the_test_set_and_the_slice_verdicts_apart():
    # A demo run passed the test set but missed the slice floor; the old line said it
    # "does not pass the floor on the original test set and on the production slice".
    from core.monitor.config import RedistillResult, SliceFigures

    after = SliceFigures("new bundle", 333, 0.865, 0.698, 0.824, 0.897)
    result = RedistillResult(
        parent_sha="a" * 64, chosen=492, slice_rows=333, teacher_cost=0.0, train_run="t",
        evaluate_run="e", export_run="x", bundle=None, passed=False, before=None, after=after,
        slice_floor=0.874, test_passed=True,
    )  # fmt: skip
    assert result.verdicts() == [
        "original test set: the new student passes the floor (evaluation e)",
        "production slice: agreement 86.5% is below the floor 87.4%",
    ]
