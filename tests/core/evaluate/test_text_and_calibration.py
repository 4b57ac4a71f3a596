"""Generation metrics, temperature fitting, and the cost arithmetic."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.evaluate.calibration import fit_temperature, nll, save_calibration
from core.evaluate.cost import breakeven_per_day, estimate, per_million
from core.evaluate.inputs import TeacherCost
from core.evaluate.metrics import softmax
from core.evaluate.textmetrics import (
    exact_match,
    generation_scores,
    lcs_length,
    rouge_l,
    tokens,
)

WORDS = st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=7)


def brute_force_lcs(a: list[str], b: list[str]) -> int:
    for size in range(min(len(a), len(b)), 0, -1):
        subsequences = set(itertools.combinations(b, size))
        if any(combo in subsequences for combo in itertools.combinations(a, size)):
            return size
    return 0


@settings(max_examples=200, deadline=None)
@given(WORDS, WORDS)
def test_lcs_matches_brute_force(a, b):
    assert lcs_length(a, b) == brute_force_lcs(a, b)


def test_rouge_l_known_values():
    # LCS "the cat on the mat" = 5 of 6 and 5 of 7 tokens.
    value = rouge_l("the cat sat on the mat", "the cat was sitting on the mat")
    precision, recall = 5 / 6, 5 / 7
    assert value == pytest.approx(2 * precision * recall / (precision + recall))
    assert rouge_l("Yes.", "yes") == 1.0
    assert rouge_l("", "") == 1.0
    assert rouge_l("something", "") == 0.0
    assert rouge_l("a b", "c d") == 0.0


def test_exact_match_ignores_case_punctuation_and_spacing():
    assert exact_match("  The answer:  42. ", "the answer 42")
    assert not exact_match("the answer 42", "the answer 43")
    assert tokens("Don't stop") == ["don't", "stop"]


def test_generation_scores_length_ratio_and_errors():
    scores = generation_scores(["a b", "a b c d"], ["a b", "a b"])
    assert scores.n == 2
    assert scores.exact_match == 0.5
    assert scores.length_ratio == pytest.approx(6 / 4)
    with pytest.raises(ValueError, match="equal length"):
        generation_scores(["a"], [])


@pytest.mark.parametrize("true_temperature", [0.5, 1.0, 2.5])
def test_temperature_fit_recovers_a_known_temperature(true_temperature):
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(20_000, 4))
    probs = softmax(logits, true_temperature)
    labels = np.array([rng.choice(4, p=row) for row in probs])
    fit = fit_temperature(logits, labels)
    assert fit.temperature == pytest.approx(true_temperature, rel=0.06)
    assert fit.nll_after <= fit.nll_before + 1e-12
    assert fit.nll_after == pytest.approx(nll(logits, labels, fit.temperature))


def test_temperature_fit_sharpens_an_underconfident_model_and_saves_it(tmp_path):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, size=600)
    logits = rng.normal(size=(600, 3)) * 0.3
    logits[np.arange(600), labels] += 0.8  # right most of the time, but timid
    fit = fit_temperature(logits, labels)
    assert fit.temperature < 1.0
    path = save_calibration(tmp_path, fit, run_id="evaluate-x")
    saved = json.loads(path.read_text())
    assert saved["temperature"] == fit.temperature
    assert saved["fitted_on"] == "validation"
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_temperature_fit_refuses_no_rows():
    with pytest.raises(ValueError, match="one label per row"):
        fit_temperature(np.zeros((0, 3)), np.zeros(0, dtype=int))


def test_cost_per_million_and_break_even():
    # 100 requests/s at 3.6 per hour: 0.01 per 1,000 s → 10 per million.
    assert per_million(3.6, 100.0) == pytest.approx(10.0)
    assert per_million(1.0, 0.0) is None
    # Saving 90 per million = 0.00009 per request; 27 over 30 days → 10,000 a day.
    assert breakeven_per_day(27.0, 100.0, 10.0, 30) == pytest.approx(10_000)
    assert breakeven_per_day(27.0, 10.0, 10.0, 30) is None


def test_cost_estimate_prefers_recorded_teacher_cost_then_speed():
    billed = TeacherCost(outputs=1000, total_cost=2.0, mean_latency_ms=50.0)
    result = estimate(
        teacher=billed,
        teacher_price_per_request=None,
        teacher_throughput=None,
        student_throughput=100.0,
        hardware_cost_per_hour=3.6,
        train_hours=0.5,
        payback_days=30,
    )
    assert result.teacher_per_million == pytest.approx(2000.0)
    assert result.student_per_million == pytest.approx(10.0)
    assert result.one_off_cost == pytest.approx(2.0 + 1.8)
    assert result.breakeven_per_day == pytest.approx(3.8 / (30 * (2000 - 10) / 1e6))
    local = TeacherCost(outputs=1000, total_cost=0.0, mean_latency_ms=36.0)
    result = estimate(
        teacher=local,
        teacher_price_per_request=None,
        teacher_throughput=None,
        student_throughput=None,
        hardware_cost_per_hour=3.6,
        train_hours=None,
        payback_days=30,
    )
    assert result.teacher_per_million == pytest.approx(36.0)  # 36 ms at 3.6/h = 3.6e-5 each
    assert "latency" in result.teacher_basis
    assert result.student_per_million is None
    assert result.breakeven_per_day is None
