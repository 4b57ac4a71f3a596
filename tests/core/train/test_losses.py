"""The distillation losses against cases computed by hand (plain math, no torch)."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from core.train.losses import (  # noqa: E402
    IGNORE_INDEX,
    classification_kd_loss,
    generation_loss,
    tempered_log_probs,
)


def _softmax(values):
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    return [e / sum(exps) for e in exps]


def test_classification_loss_matches_the_hand_computed_value():
    # Student logits [1, 0]; teacher [0.8, 0.2]; T = 2; alpha = 0.5; human label 0.
    # Teacher at T: sqrt(p) normalised = [2/3, 1/3]; student at T: softmax([0.5, 0]).
    p_t = [2 / 3, 1 / 3]
    q_t = _softmax([0.5, 0.0])
    kl = sum(p * math.log(p / q) for p, q in zip(p_t, q_t, strict=True))
    ce = math.log(1 + math.exp(-1.0))
    expected = 0.5 * 4 * kl + 0.5 * ce
    assert expected == pytest.approx(0.165089, abs=1e-6)
    loss = classification_kd_loss(
        torch.tensor([[1.0, 0.0]]), torch.tensor([[0.8, 0.2]]), torch.tensor([0]),
        alpha=0.5, temperature=2.0,
    )  # fmt: skip
    assert float(loss) == pytest.approx(expected, abs=1e-6)


def test_tempering_probabilities_equals_tempering_logits():
    logits = torch.tensor([[2.0, -1.0, 0.5]])
    probs = torch.softmax(logits, dim=-1)
    assert torch.allclose(
        tempered_log_probs(probs, 3.0), torch.log_softmax(logits / 3.0, dim=-1), atol=1e-6
    )


def test_alpha_one_is_pure_kd_and_alpha_zero_pure_ce():
    logits, probs = torch.tensor([[0.3, 1.2]]), torch.tensor([[0.9, 0.1]])
    label = torch.tensor([1])
    pure_ce = classification_kd_loss(logits, probs, label, alpha=0.0, temperature=4.0)
    assert float(pure_ce) == pytest.approx(-math.log(_softmax([0.3, 1.2])[1]), abs=1e-6)
    pure_kd = classification_kd_loss(logits, probs, label, alpha=1.0, temperature=1.0)
    q = _softmax([0.3, 1.2])
    assert float(pure_kd) == pytest.approx(
        0.9 * math.log(0.9 / q[0]) + 0.1 * math.log(0.1 / q[1]), abs=1e-6
    )


def test_rows_without_a_hard_label_only_get_the_soft_term():
    logits = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    probs = torch.tensor([[0.8, 0.2], [0.5, 0.5]])
    both = classification_kd_loss(logits, probs, torch.tensor([0, IGNORE_INDEX]), alpha=0.5,
                                  temperature=1.0)  # fmt: skip
    kd = classification_kd_loss(logits, probs, torch.tensor([IGNORE_INDEX, IGNORE_INDEX]),
                                alpha=0.5, temperature=1.0)  # fmt: skip
    # CE over the single labelled row only (not diluted by the unlabelled one).
    assert float(both - kd) == pytest.approx(0.5 * math.log(1 + math.exp(-1.0)), abs=1e-6)


def test_one_hot_teacher_is_finite():
    loss = classification_kd_loss(torch.tensor([[0.0, 3.0]]), torch.tensor([[1.0, 0.0]]),
                                  torch.tensor([0]), alpha=0.7, temperature=2.0)  # fmt: skip
    assert torch.isfinite(loss)


def test_generation_loss_masks_the_prompt_and_renormalises_the_top_k():
    # Sequence of 3 tokens: [prompt, target 2, target 0]; vocabulary of 3.
    logits = torch.tensor([[[0.0, 1.0, 2.0], [1.0, 0.0, 0.0], [5.0, 5.0, 5.0]]])
    labels = torch.tensor([[IGNORE_INDEX, 2, 0]])
    # Position 0 predicts token 2, position 1 predicts token 0 (position 2 predicts nothing).
    sft_terms = [-math.log(_softmax([0.0, 1.0, 2.0])[2]), -math.log(_softmax([1.0, 0.0, 0.0])[0])]
    sft = sum(sft_terms) / 2
    assert float(generation_loss(logits, labels, alpha=0.5)) == pytest.approx(sft, abs=1e-6)
    # Teacher top-2 at the first target only: tokens 2 and 1 with log-probs -0.2 and -1.8.
    ids = torch.zeros((1, 3, 2), dtype=torch.long)
    logprobs = torch.full((1, 3, 2), float("-inf"))
    ids[0, 1] = torch.tensor([2, 1])
    logprobs[0, 1] = torch.tensor([-0.2, -1.8])
    q = _softmax([-0.2, -1.8])
    student = _softmax([0.0, 1.0, 2.0])
    kl = q[0] * math.log(q[0] / student[2]) + q[1] * math.log(q[1] / student[1])
    loss = generation_loss(logits, labels, alpha=0.25, topk_ids=ids, topk_logprobs=logprobs)
    assert float(loss) == pytest.approx(0.75 * sft + 0.25 * kl, abs=1e-6)


def test_generation_kl_gradients_stay_finite_where_top_k_is_missing():
    logits = torch.randn(2, 4, 5, requires_grad=True)
    labels = torch.tensor([[IGNORE_INDEX, 1, 2, 3], [IGNORE_INDEX, IGNORE_INDEX, 4, 0]])
    ids = torch.randint(0, 5, (2, 4, 3))
    logprobs = torch.full((2, 4, 3), float("-inf"))
    logprobs[0, 2, :2] = torch.tensor([-0.1, -2.5])
    generation_loss(logits, labels, alpha=0.5, topk_ids=ids, topk_logprobs=logprobs).backward()
    assert torch.isfinite(logits.grad).all()
